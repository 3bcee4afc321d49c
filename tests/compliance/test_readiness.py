"""Applicability (roles, risk tiers, asset types, manual N/A), requirement status and the readiness score, the gap
list, the crosswalk (library mappings both ways, suggestions), and readiness snapshots."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.audit.models import AuditEvent
from apps.compliance.models import ControlMapping, ReadinessSnapshot
from apps.compliance.selectors import (
    applicability,
    crosswalk_matrix,
    library_equivalents,
    profile_from,
    readiness,
    suggestions_for,
)
from apps.compliance.services import (
    client_framework_update,
    mapping_add,
    readiness_snapshots_take,
    requirement_assess,
)

from .conftest import TODAY, approved_evidence, enable, make_control, urn

AI = "tf-ai-act"


def statuses(result) -> dict[str, str]:
    return {row.requirement.ref_id: row.status for row in result.rows}


def test_applicability_follows_roles_tiers_and_asset_types(library, assets, clock):
    cf = enable(library["ai_act"], roles=["deployer"], assets=[assets["scorer"]])
    result = readiness(cf)
    assert statuses(result) == {
        "CH3": "group",
        "ART9": "not_applicable",  # provider only
        "ART26-1": "no_control",
        "ART26-6": "no_control",
        "ART4": "no_control",  # no hints: applies to everyone
        "ART50-1": "not_applicable",
        "ART50-3": "not_applicable",  # limited-risk only; the scorer is high risk
    }
    assert result.row(urn(AI, "ART9")).reason == "Applies to provider; the client is deployer."
    assert "limited-risk" in result.row(urn(AI, "ART50-3")).reason

    client_framework_update(client_framework=cf, roles=["deployer"], assets=[assets["chatbot"]])
    result = readiness(cf)
    assert statuses(result)["ART50-3"] == "no_control"  # the chatbot is limited risk
    assert statuses(result)["ART26-1"] == "not_applicable"  # nothing high-risk in scope any more
    assert statuses(result)["ART50-1"] == "not_applicable"  # still provider-only


def test_asset_type_hints_and_tier_vocabulary(library):
    logs = library["ai_act"].requirements.get(ref_id="ART26-6")
    assert applicability(logs, profile_from(["deployer"], [("model", "high")]))[0]
    applies, reason = applicability(logs, profile_from(["deployer"], [("prompt", "high")]))
    assert not applies and reason == "Concerns model, agent assets; none is in scope."
    # Inventory says "prohibited" where the AI Act says "unacceptable"; unassessed assets count as no tier.
    profile = profile_from(["deployer"], [("model", "prohibited"), ("agent", "unassessed")])
    assert profile.risk_tiers == {"prohibited", "unacceptable"} and profile.unclassified == 1


def test_roles_must_be_the_frameworks_own(library, assets):
    with pytest.raises(ValidationError) as exc:
        enable(library["ai_act"], roles=["importer"])
    assert "importer: not a role" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        enable(library["ai_act"], roles=[])
    assert "Choose the client's role" in str(exc.value)
    iso = enable(library["iso"])  # a single role is taken for granted
    assert iso.roles == ["organisation"]
    with pytest.raises(ValidationError):
        enable(library["iso"])  # once per client


@pytest.fixture
def acme_like(library, assets, clock):
    """Deployer with the high-risk scorer in scope: ART26-1, ART26-6 and ART4 apply (3 assessable)."""
    cf = enable(library["ai_act"], roles=["deployer"], assets=[assets["scorer"]])
    logging = make_control("AI-LOG-01", "Central AI logging")
    oversight = make_control("AI-OVS-01", "Human oversight procedure")
    literacy = make_control("AI-LIT-01", "AI literacy training")
    mapping_add(control=logging, urn=urn(AI, "ART26-6"), coverage="full")
    mapping_add(control=oversight, urn=urn(AI, "ART26-1"), coverage="partial")
    mapping_add(control=literacy, urn=urn(AI, "ART4"))
    return {"cf": cf, "logging": logging, "oversight": oversight, "literacy": literacy}


def test_readiness_arithmetic(acme_like, media):
    cf, logging, oversight = acme_like["cf"], acme_like["logging"], acme_like["oversight"]
    result = readiness(cf)
    assert result.score == Decimal("0.0") and result.counts["missing_evidence"] == 3

    log_evidence = approved_evidence(logging, title="Log retention settings")
    approved_evidence(oversight, title="Oversight procedure")
    result = readiness(cf)
    assert statuses(result)["ART26-6"] == "met"
    assert statuses(result)["ART26-1"] == "partial"
    assert statuses(result)["ART4"] == "missing_evidence"
    assert result.counts == {"met": 1, "partial": 1, "missing_evidence": 1, "no_control": 0, "not_applicable": 3}
    assert result.score == Decimal("50.0")  # (1 + 0.5) / 3

    requirement_assess(
        client_framework=cf,
        urn=urn(AI, "ART4"),
        not_applicable=True,
        justification="Covered by the group-wide literacy programme of the parent company.",
    )
    result = readiness(cf)
    assert statuses(result)["ART4"] == "not_applicable"
    assert result.score == Decimal("75.0")  # 1.5 / 2

    # Expired evidence no longer counts: ART26-6 drops to missing evidence.
    log_evidence.expires_on = TODAY - dt.timedelta(days=1)
    log_evidence.save(update_fields=["expires_on"])
    result = readiness(cf, today=TODAY)
    assert statuses(result)["ART26-6"] == "missing_evidence"
    assert result.score == Decimal("25.0")
    gap = next(g for g in result.control_gaps if g.control == logging)
    assert "expired on 19 Nov 2026" in gap.problems[0]


def test_draft_future_and_planned_do_not_count(acme_like, media):
    from apps.compliance.services import control_save, evidence_create

    from .conftest import pdf_file

    cf, logging, literacy = acme_like["cf"], acme_like["logging"], acme_like["literacy"]
    evidence_create(title="Draft", file=pdf_file(), effective_date=TODAY, controls=[logging])  # not approved
    approved_evidence(acme_like["oversight"], effective=TODAY + dt.timedelta(days=3))  # proves a later date
    control_save(control=literacy, code=literacy.code, name=literacy.name, status="planned")
    result = readiness(cf)
    assert statuses(result)["ART26-6"] == "missing_evidence"
    assert statuses(result)["ART26-1"] == "missing_evidence"
    row = result.row(urn(AI, "ART4"))
    assert row.status == "no_control" and row.reason == "Planned, not active yet: AI-LIT-01."
    assert [r.requirement.ref_id for r in result.no_control] == ["ART4"]
    problems = {g.control.code: g.problems for g in result.control_gaps}
    assert problems["AI-LOG-01"] == ["“Draft”: draft, not approved"]
    assert "effective only from 23 Nov 2026" in problems["AI-OVS-01"][0]


def test_gap_list_names_missing_evidence_and_what_expires_soon(acme_like, media):
    cf = acme_like["cf"]
    approved_evidence(acme_like["logging"], title="Soon stale", expires_on=TODAY + dt.timedelta(days=12))
    result = readiness(cf)
    assert [s.evidence.title for s in result.expiring] == ["Soon stale"]
    assert result.expiring[0].days_left == 12
    problems = {g.control.code: g.problems for g in result.control_gaps}
    assert problems == {"AI-LIT-01": ["no evidence attached"], "AI-OVS-01": ["no evidence attached"]}
    assert result.gap_count == 3


def test_not_applicable_needs_a_justification_and_is_audited(acme_like):
    cf = acme_like["cf"]
    with pytest.raises(ValidationError) as exc:
        requirement_assess(client_framework=cf, urn=urn(AI, "ART4"), not_applicable=True, justification="no")
    assert "Say why" in str(exc.value)
    with pytest.raises(ValidationError):
        requirement_assess(client_framework=cf, urn="urn:keel:fw:nope:x", not_applicable=False)
    requirement_assess(
        client_framework=cf, urn=urn(AI, "ART4"), not_applicable=True, justification="Nobody uses AI here at all."
    )
    event = AuditEvent.objects.filter(action="compliance.requirement_assess").latest("seq")
    assert event.after["not_applicable"] is True and event.after["justification"] == "Nobody uses AI here at all."
    assert event.object_repr == "TF-AI-ACT ART4"


def test_a_tree_of_groups_rolls_up_their_children(acme_like):
    result = readiness(acme_like["cf"])
    [chapter, *_rest] = result.roots
    assert chapter.requirement.ref_id == "CH3"
    assert [c.requirement.ref_id for c in chapter.children] == ["ART9", "ART26-1", "ART26-6"]
    assert chapter.counts == {"not_applicable": 1, "missing_evidence": 2}


def test_crosswalk_both_directions_and_suggestions(library, clock):
    enable(library["iso"])
    enable(library["nist"])
    iso_logs, nist_monitoring = urn("tf-iso", "A.6.2.8"), urn("tf-nist", "MS-2.4")
    equivalents = library_equivalents({iso_logs})
    found = {(e.requirement.urn, e.relation) for e in equivalents[iso_logs]}
    # Written on the AI Act's and NIST's side only: read both ways (subset seen from the other side is superset).
    assert found == {(urn(AI, "ART26-6"), "equal"), (nist_monitoring, "superset")}

    control = make_control()
    mapping_add(control=control, urn=iso_logs)
    [suggestion] = suggestions_for([control])  # the AI Act is not enabled: not suggested
    assert suggestion.requirement.urn == nist_monitoring and suggestion.coverage == "partial"

    enable(library["ai_act"], roles=["deployer"])
    suggested = {s.requirement.urn: s.coverage for s in suggestions_for([control])}
    assert suggested == {urn(AI, "ART26-6"): "full", nist_monitoring: "partial"}
    mapping_add(control=control, urn=urn(AI, "ART26-6"))
    assert {s.requirement.urn for s in suggestions_for([control])} == {nist_monitoring}

    frameworks, rows = crosswalk_matrix([control])
    assert {cf.framework.ref for cf in frameworks} == {"tf-ai-act", "tf-iso", "tf-nist"}
    [(row_control, cells)] = rows
    by_framework = {library[k].framework_id: k for k in ("ai_act", "iso", "nist")}
    assert {by_framework[f]: [c.requirement.ref_id for c in cs] for f, cs in cells.items()} == {
        "ai_act": ["ART26-6"],
        "iso": ["A.6.2.8"],
    }


def test_mappings_refuse_headings_unknown_urns_and_repeats(library):
    control = make_control()
    with pytest.raises(ValidationError, match="a heading"):
        mapping_add(control=control, urn=urn(AI, "CH3"))
    with pytest.raises(ValidationError, match="No requirement"):
        mapping_add(control=control, urn="urn:keel:fw:tf-ai-act:art999")
    mapping_add(control=control, urn=urn(AI, "ART4"), coverage="partial", rationale="Training only")
    with pytest.raises(ValidationError, match="already mapped"):
        mapping_add(control=control, urn=urn(AI, "ART4"))
    mapping = ControlMapping.objects.get(control=control)
    assert mapping.framework_id == library["ai_act"].framework_id


def test_snapshots_one_per_day_refreshed_after_changes(acme_like, media):
    cf = acme_like["cf"]
    assert ReadinessSnapshot.objects.filter(client_framework=cf).count() == 1  # taken after each change
    approved_evidence(acme_like["logging"])
    snap = ReadinessSnapshot.objects.get(client_framework=cf)
    assert snap.day == TODAY and snap.score == Decimal("33.3") and snap.counts["met"] == 1
    readiness_snapshots_take(today=TODAY + dt.timedelta(days=1))
    assert ReadinessSnapshot.objects.filter(client_framework=cf).count() == 2
