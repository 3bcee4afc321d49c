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
    assert set(results) == set(GENERATORS) == {"ai_bom", "cost_monitoring", "budgets", "staff_mfa", "audit_chain"}
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
