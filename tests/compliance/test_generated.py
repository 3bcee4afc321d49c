"""Evidence Keel generates: each generator's file, stored and hashed like an upload, approved by Keel, with the
generation date as its effective date; a new revision only when the content changes; lapsing when the generator
stops; counting towards readiness once linked to a control."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from freezegun import freeze_time

from apps.accounts.roles import Role
from apps.alerts.models import Alert
from apps.compliance.generated import GENERATORS, evidence_generate
from apps.compliance.models import Evidence
from apps.compliance.selectors import readiness
from apps.compliance.services import evidence_check, evidence_update, mapping_add
from tests.conftest import make_user

from .conftest import TODAY, enable, make_control, urn


def content(evidence: Evidence) -> dict:
    with default_storage.open(evidence.current_revision.file_name, "rb") as handle:
        raw = handle.read()
    assert hashlib.sha256(raw).hexdigest() == evidence.current_revision.sha256
    return json.loads(raw)


def by_key(results):
    return {r.generator: r for r in results}


def test_every_generator_makes_approved_hashed_evidence(in_alpha, media, clock):
    results = by_key(evidence_generate())
    assert (
        set(results)
        == set(GENERATORS)
        == {
            "ai_bom",
            "cost_monitoring",
            "budgets",
            "staff_mfa",
            "audit_chain",
            "sla_attainment",
        }
    )
    for key, result in results.items():
        evidence, revision = result.evidence, result.revision
        assert evidence.kind == "generated" and evidence.generator == key and result.changed
        assert evidence.status == "approved" and evidence.approved_by == "Keel (generated)"
        assert not evidence.self_approved
        assert revision.generated and revision.uploaded_by == "Keel (generated)"
        assert revision.effective_date == TODAY and evidence.expires_on == TODAY + dt.timedelta(days=7)
        assert revision.file_name.startswith(f"evidence/{in_alpha.schema_name}/{evidence.pk}/1-")
        assert revision.content_type == "application/json"
        assert content(evidence)  # valid JSON, hash matches the stored bytes
    bom = content(results["ai_bom"].evidence)
    assert bom["bomFormat"] == "CycloneDX" and "serialNumber" not in bom
    audit = content(results["audit_chain"].evidence)
    assert audit["keel_evidence"] == "audit_chain" and audit["data"]["intact"] is True


def test_a_new_revision_only_when_the_content_changes(in_alpha, media, clock):
    evidence_generate(generators=["ai_bom", "budgets", "cost_monitoring", "staff_mfa"])
    again = by_key(evidence_generate(generators=["ai_bom", "budgets", "cost_monitoring", "staff_mfa"]))
    assert not any(r.changed for r in again.values())
    assert all(r.revision.number == 1 for r in again.values())
    assert Evidence.objects.get(generator="budgets").last_generated_at is not None

    from apps.budgets.services import budget_save
    from apps.inventory.models import AIModel

    AIModel.objects.create(kind="model", name="New model", provider="openai", model_id="gpt-4o")
    budget_save(name="Whole client", amount="1000")
    changed = by_key(evidence_generate(generators=["ai_bom", "budgets", "cost_monitoring"]))
    assert changed["ai_bom"].changed and changed["ai_bom"].revision.number == 2
    assert changed["budgets"].changed
    assert content(changed["budgets"].evidence)["data"]["budgets"][0]["amount"] == "1000.00"
    assert not changed["cost_monitoring"].changed
    assert changed["ai_bom"].evidence.revisions.count() == 2  # the first one kept


def test_cost_monitoring_lists_sources_and_detection(in_alpha, media, clock):
    from apps.finops.models import BillingSource

    BillingSource.objects.create(name="OpenAI", kind="openai", status="ok", last_success_at=timezone.now())
    [result] = evidence_generate(generators=["cost_monitoring"])
    data = content(result.evidence)["data"]
    assert data["billing_sources"][0] == {
        "name": "OpenAI",
        "kind": "openai",
        "enabled": True,
        "status": "ok",
        "interval_minutes": 360,
        "last_successful_run": "2026-11-20",
    }
    assert data["billing_sources_healthy"] == 1
    assert data["runaway_detection"]["enabled"] is True and data["anomaly_detection"]["schedule"] == "daily"
    assert Decimal(data["anomaly_detection"]["sensitivity_k"]) == Decimal("4")


def test_staff_mfa_names_staff_without_an_authenticator(alpha, in_alpha, media, clock, settings):
    make_user("admin@msp.test", role=Role.MSP_ADMIN)
    make_user("am@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)
    make_user("nomfa@msp.test", role=Role.ENGINEER, client=alpha, mfa=False)
    make_user("elsewhere@msp.test", role=Role.ENGINEER, mfa=False)  # not assigned to alpha
    make_user("exec@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)  # not staff
    [result] = evidence_generate(generators=["staff_mfa"])
    data = content(result.evidence)["data"]
    assert data["staff_mfa_required"] is True
    assert [p["email"] for p in data["staff_with_access"]] == ["admin@msp.test", "am@msp.test", "nomfa@msp.test"]
    assert data["lacking_authenticator"] == ["nomfa@msp.test"]
    assert "2 of 3 have an authenticator" in result.revision.note


def test_generated_evidence_lapses_when_the_generator_stops(in_alpha, media):
    with freeze_time("2026-11-20 06:00:00"):
        [result] = evidence_generate(generators=["budgets"])
    with freeze_time("2026-11-27 06:00:00"):
        evidence_check(verify_files=False)
        assert not Alert.objects.filter(kind__startswith="evidence_").exists()  # no "expiring" noise
    with freeze_time("2026-11-28 06:00:00"):
        evidence_check(verify_files=False)
    result.evidence.refresh_from_db()
    assert result.evidence.status == "expired"
    alert = Alert.objects.get(kind="evidence_expired")
    with freeze_time("2026-11-28 07:00:00"):
        [again] = evidence_generate(generators=["budgets"])
    assert again.evidence.status == "approved" and not again.changed
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_a_tampered_generated_file_is_replaced_by_a_new_revision(in_alpha, media, clock):
    [first] = evidence_generate(generators=["budgets"])
    (media / first.revision.file_name).write_text("{}")
    evidence_check()
    [again] = evidence_generate(generators=["budgets"])
    assert again.changed and again.revision.number == 2 and again.revision.integrity == "ok"


def test_generated_evidence_linked_to_a_control_counts(library, assets, media, clock):
    cf = enable(library["ai_act"], roles=["deployer"], assets=[assets["scorer"]])
    control = make_control("AI-INV-01", "AI inventory kept current")
    mapping_add(control=control, urn=urn("tf-ai-act", "ART4"))
    [result] = evidence_generate(generators=["ai_bom"])
    evidence_update(
        evidence=result.evidence, title=result.evidence.title, controls=[control], expires_on=result.evidence.expires_on
    )
    result.evidence.refresh_from_db()
    assert result.evidence.status == "approved"  # linking does not need a new approval
    assert readiness(cf).row(urn("tf-ai-act", "ART4")).status == "met"


def test_unknown_generators_are_refused(in_alpha):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Unknown: sla"):
        evidence_generate(generators=["sla"])


# --- SLA attainment ---------------------------------------------------------------------------------------------

UTC = dt.UTC
TIERS = [{"below": "99", "credit_percent": "10"}, {"below": "95", "credit_percent": "25"}]


@pytest.fixture
def sla(in_alpha, media, clock):
    """Alpha (Europe/Paris, EUR) with a retainer of 12,000, acting as an engineer."""
    from django.db import connection

    from apps.core.context import acting_as
    from apps.tenancy.models import Client

    Client.objects.filter(schema_name=connection.schema_name).update(monthly_retainer=Decimal("12000.00"))
    with acting_as(user_email="eng@msp.test"):
        yield in_alpha


def make_slo(name="api-availability", **fields):
    from apps.service_levels.models import SLO

    values = {
        "display_name": name.replace("-", " ").capitalize(),
        "sli_kind": "availability",
        "objective": Decimal("0.99"),
        "credit_tiers": TIERS,
        "starts_at": dt.datetime(2026, 10, 1, tzinfo=UTC),
        **fields,
    }
    return SLO.objects.create(name=name, **values)


def push(slo, start: dt.datetime, count: int, *, good: int, total: int, key: str = "") -> None:
    """`count` per-minute measurements of `good` of `total` events from `start`, then one evaluation."""
    from apps.service_levels.evaluation import slos_evaluate
    from apps.service_levels.ingest import measurements_ingest

    items = [
        {"slo": slo.name, "at": (start + dt.timedelta(minutes=i)).isoformat(), "good": good, "total": total}
        for i in range(count)
    ]
    for number, item in enumerate(items):
        if key:
            item["id"] = f"{key}-{number}"
    result = measurements_ingest(items, now=timezone.now())
    assert result.rejected == 0, result.errors
    slos_evaluate(now=timezone.now())


def sla_data(result) -> dict:
    document = content(result.evidence)
    assert document["keel_evidence"] == "sla_attainment" and document["client"] == "alpha"
    return document["data"]


def test_sla_attainment_reports_each_slo_from_its_measurements(sla, assets):
    availability = make_slo(asset=assets["scorer"])
    make_slo("chat-latency", sli_kind="latency", threshold=Decimal("800"), window_kind="rolling", window_days=30)
    # October (closed): 96 of every 100 events → 96 % against 99 %: breached, 10 % of 12,000 owed.
    push(availability, dt.datetime(2026, 10, 3, tzinfo=UTC), 100, good=96, total=100)
    # November so far: 100 minutes at 99 %, 100 at 100 % → 19,900 / 20,000 = 99.5 %, half the budget left.
    push(availability, dt.datetime(2026, 11, 2, tzinfo=UTC), 100, good=99, total=100)
    push(availability, dt.datetime(2026, 11, 4, tzinfo=UTC), 100, good=100, total=100)

    [result] = evidence_generate(generators=["sla_attainment"])
    assert result.evidence.title == "SLA attainment report" and result.revision.display_name == "sla-attainment.json"
    data = sla_data(result)
    assert data["time_zone"] == "Europe/Paris" and data["currency"] == "EUR"
    assert (data["slos_defined"], data["slos_meeting_target"], data["slos_without_data"]) == (2, 1, 1)
    rows = {row["name"]: row for row in data["slos"]}
    assert list(rows) == ["api-availability", "chat-latency"]
    row = rows["api-availability"]
    assert row["sli_kind"] == "availability" and row["objective"] == "0.99" and row["target_percent"] == "99"
    assert row["window"] == {
        "kind": "calendar_month",
        "days": None,
        "budgeting": "occurrences",
        "timeslice_minutes": None,
        "timeslice_target": None,
    }
    assert row["asset"] == {"id": assets["scorer"].pk, "name": "Credit scorer", "kind": "model"}
    assert row["current_window"] == {
        "period": "2026-11",
        "start": "2026-10-31T23:00:00+00:00",  # the client's month (Paris)
        "end": "2026-11-30T23:00:00+00:00",
        "counted": "events",
        "good": 19_900,
        "total": 20_000,
        "attainment": "0.995",
        "attainment_percent": "99.500",
        "meeting_target": True,
        "budget_remaining": "0.5",
        "budget_remaining_percent": "50.0",
    }
    closed = row["last_closed_window"]
    assert (closed["period"], closed["good"], closed["total"], closed["met"]) == ("2026-10", 9_600, 10_000, False)
    assert (closed["attainment"], closed["budget_consumed"], closed["budget_remaining"]) == ("0.96", "4", "-3")
    latency = rows["chat-latency"]
    assert latency["asset"] is None and latency["window"]["kind"] == "rolling" and latency["window"]["days"] == 30
    assert latency["current_window"]["period"] == "last 30 days"
    assert latency["current_window"]["start"] is None and latency["current_window"]["attainment"] is None
    assert latency["current_window"]["meeting_target"] is None
    no_data = latency["last_closed_window"]  # its first 30 days closed without a measurement
    assert (no_data["total"], no_data["met"], no_data["attainment"]) == (0, None, None)
    assert no_data["budget_remaining"] is None

    breaches = data["breaches"]
    assert breaches["since"] == "2025-12-01" and breaches["months"] == 12 and breaches["count"] == 1
    [breach] = breaches["items"]
    assert (breach["slo"], breach["period"], breach["objective"], breach["attainment"]) == (
        "api-availability",
        "2026-10",
        "0.99",
        "0.96",
    )
    assert breach["credit"] == {
        "contract_month": "2026-10",
        "percent": "10",
        "amount": "1200.00",
        "currency": "EUR",
        "capped": False,
        "status": "due",
    }
    assert breaches["credits"] == {"EUR": {"total": "1200.00", "due": "1200.00", "issued": "0.00", "waived": "0.00"}}
    assert result.summary == (
        "2 SLOs, 1 meeting target (1 without data); 1 breach in the last 12 months, credits EUR 1,200.00."
    )
    assert result.revision.note == result.summary
    raw = json.dumps(content(result.evidence))
    assert "evaluated_at" not in raw and "generated_at" not in raw  # no run time (the breach's recorded_at stays)


def test_sla_attainment_unchanged_facts_make_no_new_revision(sla):
    from apps.service_levels.evaluation import slos_evaluate

    slo = make_slo()
    push(slo, dt.datetime(2026, 11, 2, tzinfo=UTC), 60, good=99, total=100)
    [first] = evidence_generate(generators=["sla_attainment"])
    # Later evaluations rewrite the live status (evaluated_at, burn rates) but not the facts in the file.
    for minutes_later in (1, 90):
        slos_evaluate(now=timezone.now() + dt.timedelta(minutes=minutes_later))
    [again] = evidence_generate(generators=["sla_attainment"])
    assert not again.changed and again.revision.number == 1
    assert again.revision.sha256 == first.revision.sha256
    assert again.evidence.revisions.count() == 1


def test_a_new_breach_changes_the_sla_attainment_hash(sla):
    slo = make_slo()
    push(slo, dt.datetime(2026, 10, 3, tzinfo=UTC), 30, good=100, total=100)  # October met
    push(slo, dt.datetime(2026, 11, 2, tzinfo=UTC), 30, good=100, total=100)
    [first] = evidence_generate(generators=["sla_attainment"])
    assert sla_data(first)["breaches"]["count"] == 0
    assert first.summary.endswith("; no breaches in the last 12 months.")

    # Late data for October takes it under target: the period is recomputed and a breach recorded.
    push(slo, dt.datetime(2026, 10, 20, tzinfo=UTC), 30, good=0, total=100, key="late")
    [second] = evidence_generate(generators=["sla_attainment"])
    assert second.changed and second.revision.number == 2
    assert second.revision.sha256 != first.revision.sha256
    data = sla_data(second)
    assert data["breaches"]["count"] == 1 and data["breaches"]["items"][0]["attainment"] == "0.5"
    assert data["breaches"]["items"][0]["credit"]["percent"] == "25"  # 50 % is under both tiers
    assert data["slos"][0]["last_closed_window"]["revision"] == 2
    assert "1 breach in the last 12 months, credits EUR 3,000.00" in second.summary
    assert second.evidence.revisions.count() == 2


def test_sla_attainment_leaves_out_breaches_older_than_twelve_contract_months(sla):
    slo = make_slo(starts_at=dt.datetime(2025, 11, 1, tzinfo=UTC))
    push(slo, dt.datetime(2025, 11, 10, tzinfo=UTC), 10, good=50, total=100)  # 13 months ago: left out
    push(slo, dt.datetime(2025, 12, 10, tzinfo=UTC), 10, good=50, total=100)  # the first month of the range
    [result] = evidence_generate(generators=["sla_attainment"])
    assert [b["period"] for b in sla_data(result)["breaches"]["items"]] == ["2025-12"]


def test_sla_attainment_without_slos_says_none_are_defined(in_alpha, media, clock):
    [result] = evidence_generate(generators=["sla_attainment"])
    data = sla_data(result)
    assert data["slos"] == [] and data["slos_defined"] == 0
    assert data["note"] == "No SLOs are defined for this client."
    assert data["breaches"]["count"] == 0 and data["breaches"]["credits"] == {}
    assert result.summary == "No SLOs defined; no breaches in the last 12 months."
    assert result.evidence.status == "approved"
