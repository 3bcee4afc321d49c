"""The bundled framework files: each is valid against schema.json and the loader's checks, loads, and holds what
the register needs (structure, roles, dates, clocks, a crosswalk whose every target exists)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from django_tenants.utils import schema_context
from jsonschema import Draft202012Validator

from apps.core.datafiles import _Loader
from apps.frameworks.library import (
    SCHEMA_PATH,
    bundled_files,
    framework_load,
    node_urns_of,
    parse_framework_file,
)
from apps.frameworks.models import Framework, Requirement

BUNDLED = {path.stem: path for path in bundled_files()}
EXPECTED = {
    "eu-ai-act",
    "iso-42001",
    "nist-ai-rmf",
    "nis2",
    "dora",
    "owasp-llm-2025",
    "owasp-agentic-2026",
    "pipeda",
}
DOC = Path(__file__).resolve().parents[2] / "docs" / "framework-format.md"
CLOCKS = {"eu-ai-act-art73", "nis2-art23", "dora-art19-rts-2025-301", "gdpr-art33-34", "pipeda-s10-1"}


def _parsed(name: str):
    return parse_framework_file(BUNDLED[name], known_urns=node_urns_of(bundled_files()))


def _nodes(name: str) -> dict:
    return {node.ref_id: node for node in _parsed(name).nodes}


def test_the_schema_is_valid_draft_2020_12():
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_framework_is_bundled_once():
    assert set(BUNDLED) == EXPECTED
    refs = [yaml.load(path.read_text(), Loader=_Loader)["ref"] for path in BUNDLED.values()]  # noqa: S506
    assert sorted(refs) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_file_validates_against_the_schema(name):
    document = yaml.load(BUNDLED[name].read_text(), Loader=_Loader)  # noqa: S506 — a safe loader
    validator = Draft202012Validator(
        json.loads(SCHEMA_PATH.read_text()), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    assert [error.message for error in validator.iter_errors(document)] == []
    parsed = _parsed(name)  # and the loader's own checks, with no warning: every mapping target exists
    assert parsed.warnings == []
    assert parsed.ref == name and parsed.urn == f"urn:keel:fw:{name}"


def _nulls(value, path="metadata"):
    if value is None:
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _nulls(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _nulls(item, f"{path}[{i}]")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_metadata_has_no_accidental_nulls(name):
    # An unquoted ", " inside a YAML {flow mapping} silently makes a key with a null value.
    assert list(_nulls(_parsed(name).metadata)) == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_file_loads(name, db):
    with schema_context("public"):
        result = framework_load(BUNDLED[name], loaded_by="test")
        assert result.created and result.version.requirement_count == len(_parsed(name).nodes)
        assert Requirement.objects.filter(version=result.version).count() == result.version.requirement_count
        assert Framework.objects.get(ref=name).current == result.version


def test_nist_ai_rmf_has_4_functions_19_categories_72_subcategories():
    depths = Counter(node.depth for node in _parsed("nist-ai-rmf").nodes)
    assert depths == {1: 4, 2: 19, 3: 72}
    nodes = _nodes("nist-ai-rmf")
    assert "GOVERN 1.1" in nodes and "MANAGE 4.3" in nodes and "MEASURE 2.13" in nodes
    assert nodes["GOVERN 1.6"].urn == "urn:keel:fw:nist-ai-rmf:govern-1-6"
    assert all(n.assessable == (n.depth == 3) for n in nodes.values())


def test_iso_42001_has_clauses_4_to_10_and_the_38_annex_a_controls():
    nodes = _nodes("iso-42001")
    controls = [n for ref, n in nodes.items() if re.fullmatch(r"A\.\d+(\.\d+)+", ref) and n.assessable]
    assert len(controls) == 38
    assert {"A.2.2", "A.6.2.8", "A.10.4"} <= {n.ref_id for n in controls}
    assert {str(c) for c in range(4, 11)} <= set(nodes) and "6.1.2" in nodes and "9.3" in nodes
    assert all(n.description == "" for n in nodes.values())  # (c) ISO: ids and short titles only


def test_eu_ai_act_covers_the_obligations_roles_and_dates():
    nodes = _nodes("eu-ai-act")
    for ref in ("Art 4", "Art 9", "Art 10", "Art 11", "Art 12", "Art 13", "Art 14", "Art 15", "Art 17", "Art 26"):
        assert ref in nodes, ref
    for ref in ("Art 27", "Art 50", "Art 72", "Art 73"):
        assert ref in nodes, ref
    assert len([r for r in nodes if r.startswith("Art 5(1)(")]) == 8
    assert len([r for r in nodes if r.startswith("Annex III.")]) == 8
    assert nodes["Art 4"].applies_from.isoformat() == "2025-02-02"
    assert nodes["Art 5(1)(c)"].applies_from.isoformat() == "2025-02-02"
    assert nodes["Art 9"].applies_from.isoformat() == "2027-12-02"  # Annex III high-risk, Digital Omnibus
    assert nodes["Art 50(1)"].applies_from.isoformat() == "2026-08-02"
    assert nodes["Art 73"].deadline_rules == ["eu-ai-act-art73"]
    assert nodes["Art 26(6)"].roles == ["deployer"] and nodes["Art 9"].roles == ["provider"]
    assert nodes["Art 26(1)"].parent_urn == nodes["Art 26"].urn and nodes["Art 26(1)"].depth == 4
    assert "art-12" in nodes["Art 12"].urn and nodes["Art 12"].risk_tiers == ["high"]


def test_nis2_is_for_the_msp_with_art_21_and_the_implementing_regulation():
    parsed = _parsed("nis2")
    assert parsed.audience == "msp"
    nodes = {node.ref_id: node for node in parsed.nodes}
    assert [f"Art 21(2)({c})" for c in "abcdefghij"] == [r for r in nodes if r.startswith("Art 21(2)(")]
    assert nodes["Art 23"].deadline_rules == ["nis2-art23"]
    assert {f"IR {n}" for n in range(1, 14)} <= set(nodes)
    assert (
        len([r for r in nodes if r.startswith("IR 6.")]) == 10
        and len([r for r in nodes if r.startswith("IR 11.")]) == 7
    )
    assert nodes["IR 12.4"].title == "Asset inventory"


def test_dora_pipeda_and_owasp_catalogues():
    dora = _nodes("dora")
    assert {f"Art {n}" for n in (*range(5, 15), 16, 17, 18, 19, 24, 25, 26, 27, 28, 29, 30, 45)} <= set(dora)
    assert dora["Art 19"].deadline_rules == ["dora-art19-rts-2025-301"]
    pipeda = _nodes("pipeda")
    assert {f"4.{n}" for n in range(1, 11)} <= set(pipeda)
    assert pipeda["s.10.1(1)"].deadline_rules == ["pipeda-s10-1"] and "s.10.3" in pipeda
    llm = _nodes("owasp-llm-2025")
    assert [f"LLM{n:02d}:2025" for n in range(1, 11)] == list(llm)
    assert llm["LLM08:2025"].asset_types == ["pipeline"] and "CC BY-SA 4.0" in _parsed("owasp-llm-2025").licence
    assert [f"ASI{n:02d}" for n in range(1, 11)] == list(_nodes("owasp-agentic-2026"))


def test_every_deadline_rule_names_a_clock_regime():
    used = {rule for name in EXPECTED for node in _parsed(name).nodes for rule in node.deadline_rules}
    assert used <= CLOCKS and {"eu-ai-act-art73", "nis2-art23", "pipeda-s10-1"} <= used


def test_the_crosswalk_has_at_least_40_mappings_all_resolving():
    every_urn = node_urns_of(bundled_files())
    mappings = [(node.urn, m) for name in EXPECTED for node in _parsed(name).nodes for m in node.mappings]
    assert len(mappings) >= 40
    assert all(m["target"] in every_urn for _, m in mappings)
    pairs = {(urn.split(":")[3], m["target"].split(":")[3]) for urn, m in mappings}
    assert {("iso-42001", "nist-ai-rmf"), ("iso-42001", "eu-ai-act"), ("nist-ai-rmf", "eu-ai-act")} <= pairs
    targets = {(urn, m["target"]) for urn, m in mappings}
    assert ("urn:keel:fw:iso-42001:a-6-2-8", "urn:keel:fw:eu-ai-act:art-12") in targets
    assert ("urn:keel:fw:iso-42001:a-6-2-8", "urn:keel:fw:nist-ai-rmf:measure-2-4") in targets
    assert ("urn:keel:fw:owasp-llm-2025:llm10-2025", "urn:keel:fw:nist-ai-rmf:manage-2-4") in targets


def test_the_documented_example_is_a_valid_file(tmp_path):
    block = re.search(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert block, "docs/framework-format.md has a ```yaml example"
    path = tmp_path / "example.yaml"
    path.write_text(block.group(1))
    parsed = parse_framework_file(path, known_urns=node_urns_of(bundled_files()))
    assert parsed.warnings == [] and len(parsed.nodes) >= 3
