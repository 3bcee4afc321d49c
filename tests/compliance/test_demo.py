"""The compliance demo on the bundled framework library: Acme (in alpha) as an EU AI Act deployer with its
high-risk systems in scope and DORA, partial evidence and one item expiring within 30 days; Harbor (in beta)
with ISO 42001 and NIST AI RMF sharing controls; a second load changes nothing."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context
from freezegun import freeze_time

from apps.accounts.roles import Role
from apps.alerts.models import Alert
from apps.compliance.models import ClientFramework, Control, ControlMapping, Evidence, EvidenceRevision
from apps.compliance.selectors import readiness, suggestions_for
from apps.demo.compliance_demo import demo_compliance
from apps.demo.inventory_demo import demo_departments, demo_inventory
from tests.conftest import make_user


@pytest.fixture
def demo(alpha, beta, media):
    from apps.frameworks.library import frameworks_load_bundled

    with schema_context("public"):
        frameworks_load_bundled(loaded_by="test")
    clients = {"acme": alpha, "harbor": beta}
    engineer = make_user("engineer@northwind.example", role=Role.ENGINEER, client=alpha)
    make_user("am@northwind.example", role=Role.ACCOUNT_MANAGER, client=alpha)
    from apps.accounts.services import membership_grant

    membership_grant(user=engineer, client=beta, role=Role.ENGINEER)
    with freeze_time("2026-11-20 09:00:00", tick=True):
        demo_departments(clients)
        demo_inventory(clients)
        demo_compliance(clients)
    return clients


def test_acme_deployer_with_high_risk_scope_partial_evidence_and_an_expiring_item(demo, alpha):
    with schema_context(alpha.schema_name):
        frameworks = {cf.framework.ref: cf for cf in ClientFramework.objects.select_related("framework")}
        assert set(frameworks) == {"eu-ai-act", "dora"}
        ai_act = frameworks["eu-ai-act"]
        assert ai_act.roles == ["deployer"]
        assert {a.risk_tier for a in ai_act.assets.all()} == {"high"}
        assert "Credit score model v3" in {a.name for a in ai_act.assets.all()}
        result = readiness(ai_act)
        assert 0 < result.score < 100
        assert result.counts["met"] and result.counts["no_control"] and result.counts["missing_evidence"]
        statuses = {r.requirement.ref_id: r.status for r in result.rows}
        assert statuses["Art 26(6)"] == "met" and statuses["Art 9"] == "not_applicable"  # provider duty
        assert [s.evidence.title for s in result.expiring] == ["FRIA: credit scoring of natural persons"]
        assert Alert.objects.filter(kind="evidence_expiring").count() == 1
        assert Evidence.objects.filter(status="draft").exists()
        assert Evidence.objects.filter(kind="generated").count() == 6
        inv = Control.objects.get(code="AI-INV-01")
        assert inv.evidence.filter(generator="ai_bom").exists()
        approved = Evidence.objects.get(title="ICT risk management framework v4")
        assert approved.approved_by == "am@northwind.example" and not approved.self_approved
        assert readiness(frameworks["dora"]).score > 0
        assert EvidenceRevision.objects.filter(integrity="ok").exclude(file_name="").count() >= 6


def test_harbor_shares_controls_across_iso_and_nist_and_gets_suggestions(demo, beta):
    with schema_context(beta.schema_name):
        refs = set(ClientFramework.objects.values_list("framework__ref", flat=True))
        assert refs == {"iso-42001", "nist-ai-rmf"}
        policy = Control.objects.get(code="AIMS-POL-01")
        assert set(policy.mappings.values_list("framework__ref", flat=True)) == {"iso-42001", "nist-ai-rmf"}
        logging = Control.objects.get(code="AIMS-LOG-01")
        suggested = {s.requirement.ref_id for s in suggestions_for([logging])}
        assert "MEASURE 2.4" in suggested  # mapped on the ISO side only: the crosswalk offers NIST's
        for cf in ClientFramework.objects.all():
            assert readiness(cf).score is not None


def test_a_second_load_changes_nothing(demo, alpha, beta):
    def counts(client):
        with schema_context(client.schema_name):
            return (
                ClientFramework.objects.count(),
                Control.objects.count(),
                ControlMapping.objects.count(),
                Evidence.objects.count(),
                EvidenceRevision.objects.count(),
                Alert.objects.filter(kind__startswith="evidence_").count(),
            )

    before = (counts(alpha), counts(beta))
    with freeze_time("2026-11-20 09:30:00", tick=True):
        demo_compliance(demo)
    assert (counts(alpha), counts(beta)) == before


def test_maple_pipeda_with_residency_evidence_and_the_msp_nis2(alpha, beta, media):
    from apps.frameworks.library import frameworks_load_bundled

    with schema_context("public"):
        frameworks_load_bundled(loaded_by="test")
    make_user("engineer@northwind.example", role=Role.ENGINEER, client=alpha)
    make_user("am@northwind.example", role=Role.ACCOUNT_MANAGER, client=alpha)
    clients = {"maple": alpha, "northwind": beta}
    with freeze_time("2026-11-20 09:00:00", tick=True):
        demo_departments(clients)
        demo_inventory(clients)
        demo_compliance(clients)
    with schema_context(alpha.schema_name):
        [cf] = ClientFramework.objects.all()
        assert cf.framework.ref == "pipeda"
        residency = Evidence.objects.get(title="Canadian data-residency attestation")
        assert residency.status == "approved" and "Canada" in residency.description
        statuses = {r.requirement.ref_id: r.status for r in readiness(cf).rows}
        assert statuses["4.7"] == "met"
    with schema_context(beta.schema_name):
        [cf] = ClientFramework.objects.all()
        assert cf.framework.ref == "nis2" and cf.roles == ["important_entity"]
        mfa = Control.objects.get(code="MSP-MFA-01")
        assert mfa.evidence.filter(generator="staff_mfa").exists()
        assert readiness(cf).score > 0
