"""Selectors other apps call: current versions, the tree, applicable requirements by role / tier / asset type,
the crosswalk in both directions, nodes by URN, what a version changed."""

from __future__ import annotations

from django_tenants.utils import schema_context

from apps.frameworks.library import framework_load
from apps.frameworks.selectors import (
    applicable_requirements,
    crosswalk,
    current_versions,
    requirement_tree,
    requirements_by_urn,
    version_changes,
)

from .conftest import SMALL_V2


def _urns(nodes) -> list[str]:
    return [node.urn.rsplit(":", 1)[-1] for node in nodes]


def test_current_versions_are_the_current_one_of_each_framework(small):
    v2 = framework_load(SMALL_V2, loaded_by="test").version
    versions = list(current_versions())
    assert v2 in versions and small.version not in versions
    assert [v.framework.ref for v in versions].count("small") == 1


def test_requirement_tree_nests_children_in_file_order(small):
    roots = requirement_tree(small.version)
    assert _urns(roots) == ["1", "2"]
    assert _urns(roots[0].children) == ["1-1", "1-2"] and roots[1].children == []


def test_a_filtered_tree_keeps_the_ancestors_of_matches(small, selects):
    logs = small.version.requirements.get(ref_id="1.2")
    with selects() as queries:
        roots = requirement_tree(small.version, only={logs.pk})
    assert queries.count == 1
    assert _urns(roots) == ["1"] and _urns(roots[0].children) == ["1-2"]
    assert roots[0].matched is False and roots[0].children[0].matched is True


def test_applicable_requirements_filter_on_each_hint(small):
    version = small.version
    assert _urns(applicable_requirements(version)) == ["1", "1-1", "1-2", "2"]
    assert _urns(applicable_requirements(version, roles=["provider"])) == ["1", "1-1", "1-2"]
    assert _urns(applicable_requirements(version, roles=["deployer"])) == ["1", "1-1", "2"]
    assert _urns(applicable_requirements(version, roles=["provider", "deployer"])) == ["1", "1-1", "1-2", "2"]
    assert _urns(applicable_requirements(version, roles=["provider"], risk_tiers=["limited"])) == ["1", "1-1"]
    assert _urns(applicable_requirements(version, asset_types=["agent"])) == ["1", "1-1", "1-2", "2"]
    assert _urns(applicable_requirements(version, asset_types=["model"])) == ["1", "1-1", "2"]
    # An empty list is "none of these": only nodes without that hint.
    assert _urns(applicable_requirements(version, asset_types=[])) == ["1", "1-1", "2"]


def test_applicable_requirements_on_the_real_ai_act(library):
    version = library["eu-ai-act"].version
    deployer_high = {n.ref_id for n in applicable_requirements(version, roles=["deployer"], risk_tiers=["high"])}
    assert {"Art 4", "Art 26(6)", "Art 27(1)", "Art 73(2)"} <= deployer_high
    assert not {"Art 9", "Art 17(1)(a)", "Art 53"} & deployer_high
    provider_minimal = {n.ref_id for n in applicable_requirements(version, roles=["provider"], risk_tiers=["minimal"])}
    assert "Art 4" in provider_minimal and "Art 5(1)(a)" in provider_minimal and "Art 9" not in provider_minimal


def test_crosswalk_shows_mappings_from_both_sides(library, selects):
    with selects() as queries:
        from_iso = crosswalk("urn:keel:fw:iso-42001:a-6-2-8")
    assert queries.count <= 3
    outgoing = {(link.requirement.urn, link.relation, link.direction) for link in from_iso}
    assert ("urn:keel:fw:eu-ai-act:art-12", "intersect", "outgoing") in outgoing
    assert ("urn:keel:fw:nist-ai-rmf:measure-2-4", "intersect", "outgoing") in outgoing
    # Art 12 stores no mapping itself: ISO and NIST point at it, and it shows both.
    to_art12 = {(link.requirement.urn, link.direction) for link in crosswalk("urn:keel:fw:eu-ai-act:art-12")}
    assert {
        ("urn:keel:fw:iso-42001:a-6-2-8", "incoming"),
        ("urn:keel:fw:nist-ai-rmf:measure-2-4", "incoming"),
    } <= to_art12
    assert all(link.requirement.version.framework.current_id == link.requirement.version_id for link in from_iso)


def test_crosswalk_reads_the_relation_from_the_asked_side(library):
    # NIS2 IR 12.4 (every asset) is stored as a superset of NIST GOVERN 1.6 (AI systems).
    from_nis2 = {link.requirement.urn: link.relation for link in crosswalk("urn:keel:fw:nis2:ir-12-4")}
    assert from_nis2["urn:keel:fw:nist-ai-rmf:govern-1-6"] == "superset"
    from_nist = {link.requirement.urn: link.relation for link in crosswalk("urn:keel:fw:nist-ai-rmf:govern-1-6")}
    assert from_nist["urn:keel:fw:nis2:ir-12-4"] == "subset"
    assert crosswalk("urn:keel:fw:nowhere:x") == []


def test_requirements_by_urn_reads_current_versions_only(small):
    urns = ["urn:keel:fw:small:2", "urn:keel:fw:small:3", "urn:keel:fw:nope:1"]
    assert set(requirements_by_urn(urns)) == {"urn:keel:fw:small:2"}
    with schema_context("public"):
        v2 = framework_load(SMALL_V2, loaded_by="test").version
    found = requirements_by_urn(urns)
    assert set(found) == {"urn:keel:fw:small:3"} and found["urn:keel:fw:small:3"].version == v2
    assert requirements_by_urn([]) == {}


def test_version_changes_resolve_the_nodes(small):
    first = version_changes(small.version)
    assert first.is_first and len(first.added) == 4 and first.removed == [] and first.changed == []
    v2 = framework_load(SMALL_V2, loaded_by="test").version
    changes = version_changes(v2)
    assert changes.previous == small.version
    assert [n.ref_id for n in changes.added] == ["3"] and changes.added[0].version == v2
    assert [n.ref_id for n in changes.removed] == ["2"] and changes.removed[0].version == small.version
    assert [(n.ref_id, fields) for n, fields in changes.changed] == [("1.2", ["title", "review_frequency"])]
