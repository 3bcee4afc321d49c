"""The validator reports every problem with its file and path, schema and semantic alike; mapping targets nobody
has are warnings, not errors."""

from __future__ import annotations

import pytest

from apps.frameworks.library import FrameworkFileError, node_slug, parse_framework_file


def _problems(path, **kwargs) -> list[str]:
    with pytest.raises(FrameworkFileError) as caught:
        parse_framework_file(path, known_urns=set(), **kwargs)
    return [str(p) for p in caught.value.problems if not p.warning]


def test_a_valid_file_parses_with_urns_depths_and_defaults(write_framework):
    parsed = parse_framework_file(write_framework(), known_urns=set())
    assert [(n.urn, n.depth, n.position) for n in parsed.nodes] == [
        ("urn:keel:fw:small:1", 1, 1),
        ("urn:keel:fw:small:1-1", 2, 2),
        ("urn:keel:fw:small:1-2", 2, 3),
        ("urn:keel:fw:small:2", 1, 4),
    ]
    policy = parsed.nodes[1]
    assert policy.assessable and policy.roles == [] and policy.applies_from is None and policy.mappings == []
    assert parsed.nodes[0].assessable is False and len(parsed.sha256) == 64


def test_dangling_parent(write_framework):
    path = write_framework(replace={'parent: "1"\n    title: Logs': 'parent: "Art 22"\n    title: Logs'})
    assert _problems(path) == ["framework.yaml: requirements[2].parent: no node 'Art 22'"]


def test_duplicate_urn(write_framework):
    path = write_framework(replace={'- ref_id: "2"\n': '- ref_id: "2"\n    urn: "urn:keel:fw:small:1-1"\n'})
    assert _problems(path) == [
        "framework.yaml: requirements[3].urn: duplicate urn 'urn:keel:fw:small:1-1' (also requirements[1])"
    ]


def test_duplicate_ref_id(write_framework):
    path = write_framework(replace={'- ref_id: "2"': '- ref_id: "1.1"'})
    assert _problems(path) == ["framework.yaml: requirements[3].ref_id: duplicate ref_id '1.1' (also requirements[1])"]


def test_bad_duration(write_framework):
    path = write_framework(replace={"review_frequency: P1Y": "review_frequency: yearly"})
    assert _problems(path) == [
        "framework.yaml: requirements[1].review_frequency: 'yearly' is not an ISO 8601 duration (e.g. P3M, P6M, P1Y)"
    ]


def test_bad_date_even_with_the_right_shape(write_framework):
    path = write_framework(replace={"applies_from: 2026-08-02": "applies_from: 2026-02-30"})
    assert _problems(path) == ["framework.yaml: requirements[2].applies_from: '2026-02-30' is not a date (YYYY-MM-DD)"]


def test_unknown_keys_at_every_level(write_framework):
    path = write_framework(
        replace={
            "licence: Test data": "licence: Test data\ncolour: blue",
            "title: Policy": "title: Policy\n    weight: 2",
        }
    )
    assert _problems(path) == [
        "framework.yaml: colour: unknown key",
        "framework.yaml: requirements[1].weight: unknown key",
    ]


def test_cycles_are_reported_once(write_framework):
    text = (
        write_framework()
        .read_text()
        .replace('- ref_id: "1"\n    title: Governance', '- ref_id: "1"\n    parent: "1.1"\n    title: Governance')
    )
    assert _problems(write_framework(text)) == ["framework.yaml: requirements[0].parent: cycle: 1 → 1.1 → 1"]


def test_relation_role_tier_and_same_framework_target(write_framework):
    path = write_framework(
        replace={
            "deadline_rules: [eu-ai-act-art73]": (
                "deadline_rules: [eu-ai-act-art73]\n    mappings:\n"
                "      - {target: 'urn:keel:fw:other:x', relation: equals}\n"
            ),
            "applies: {roles: [deployer], risk_tiers: [limited]}": (
                "applies: {roles: [importer], risk_tiers: [low]}\n"
                "    mappings: [{target: 'urn:keel:fw:small:9', relation: subset}]"
            ),
        }
    )
    problems = _problems(path)
    assert problems[0].startswith("framework.yaml: requirements[2].mappings[0].relation: 'equals' is not a relation")
    assert problems[1:] == [
        "framework.yaml: requirements[3].applies.roles[0]: 'importer' is not one of the framework's roles",
        "framework.yaml: requirements[3].applies.risk_tiers[0]: 'low' is not one of the framework's risk_tiers",
        "framework.yaml: requirements[3].mappings[0].target: no node 'urn:keel:fw:small:9' in this file",
    ]


def test_a_target_no_framework_has_is_a_warning(write_framework):
    path = write_framework(
        replace={
            "evidence_types: [policy]": (
                "evidence_types: [policy]\n    mappings: [{target: 'urn:keel:fw:later:x', relation: equal}]"
            )
        }
    )
    parsed = parse_framework_file(path, known_urns=set())
    assert [str(w) for w in parsed.warnings] == [
        "framework.yaml: requirements[1].mappings[0].target: warning: no loaded or bundled framework has "
        "'urn:keel:fw:later:x'"
    ]
    assert parse_framework_file(path, known_urns={"urn:keel:fw:later:x"}).warnings == []


def test_top_level_problems(write_framework):
    path = write_framework(
        replace={
            "urn: urn:keel:fw:small": "urn: urn:keel:fw:other",
            "version: 1": "version: one",
            "audience: client": "",
        }
    )
    assert _problems(path) == [
        "framework.yaml: audience: missing",
        "framework.yaml: version: 'one' must be a whole number",
        "framework.yaml: urn: must be urn:keel:fw:small (from ref)",
    ]
    explicit = write_framework(replace={'- ref_id: "2"\n': '- ref_id: "2"\n    urn: "urn:keel:fw:elsewhere:2"\n'})
    assert _problems(explicit) == [
        "framework.yaml: requirements[3].urn: 'urn:keel:fw:elsewhere:2' must start with urn:keel:fw:small:"
    ]


def test_yaml_problems_have_line_numbers(write_framework):
    unclosed = _problems(write_framework("format: [unclosed\n"))
    assert (
        len(unclosed) == 1 and unclosed[0].startswith("framework.yaml: is not valid YAML") and "line 2" in unclosed[0]
    )
    assert _problems(write_framework("ref: a\nref: b\n")) == [
        "framework.yaml: is not valid YAML: the key 'ref' is written twice (line 2, column 1)"
    ]
    assert _problems(write_framework("- a list\n"))[0] == "framework.yaml: ['a list'] must be a mapping"


def test_numbers_must_be_quoted(write_framework):
    assert _problems(write_framework(replace={'ref_id: "1.1"': "ref_id: 1.1"})) == [
        "framework.yaml: requirements[1].ref_id: 1.1 must be text (quote it in YAML)"
    ]


@pytest.mark.parametrize(
    ("ref_id", "slug"),
    [("Art 5(1)(a)", "art-5-1-a"), ("GOVERN 1.6", "govern-1-6"), ("LLM01:2025", "llm01-2025"), ("A.6.2.8", "a-6-2-8")],
)
def test_node_slugs(ref_id, slug):
    assert node_slug(ref_id) == slug
