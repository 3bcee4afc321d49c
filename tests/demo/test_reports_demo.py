"""The reports demo on the whole demo (demo_load, as `keel_setup --demo` runs it): each demo client has its value
inputs and the last three whole months of issued reports — PDF stored and matching its hash, every section
computed, the account manager's commentary, one delivery per executive — and the console has the three clients
in three health bands. A second run changes nothing.

One test, because the whole demo is the fixture (about three minutes to build: twelve months of bills for three
clients)."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from apps.audit.models import AuditEvent
from apps.demo.reports_demo import EXECUTIVES, MANAGER, REPORTED, demo_reports, report_months
from apps.demo.services import demo_load
from apps.portfolio.selectors import portfolio_rows
from apps.reports.models import Delivery, Report, ValueDriver, ValueSettings
from apps.reports.sections import SECTION_MODULES
from apps.reports.services import executive_recipients
from apps.tenancy.models import Client
from apps.unit_economics.models import BusinessUnit

BANDS = {"acme": "at-risk", "harbor": "watch", "maple": "healthy"}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def demo(db, media, monkeypatch, mailoutbox):
    """What keel_setup loads before the demo, then the demo.

    keel_setup runs in autocommit, so every commit callback (alert deliveries, rollup refreshes, the report's
    email) runs as soon as it is registered, inside the step's schema; the test's transaction would hold them
    to its end, outside any schema. They run at once here, as there."""
    from apps.assessment_templates.library import templates_load_bundled
    from apps.catalog.services import catalog_load_bundled
    from apps.frameworks.library import frameworks_load_bundled

    with schema_context("public"):
        catalog_load_bundled(loaded_by="test")
        frameworks_load_bundled(loaded_by="test")
        templates_load_bundled(loaded_by="test")
    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())
    started = timezone.now()
    demo_load()
    return {"started": started, "finished": timezone.now(), "outbox": mailoutbox}


def _sha256(name: str) -> str:
    with default_storage.open(name, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_each_demo_client_has_three_issued_reports_and_the_console_three_bands(demo):
    clients = {c.slug: c for c in Client.objects.filter(slug__in=[*REPORTED, "northwind"])}
    report_emails = [m for m in demo["outbox"] if "AI operations report" in m.subject]
    state = {}
    for slug in REPORTED:
        client = clients[slug]
        with tenant_context(client):
            # the value inputs, written through the audited services by the account manager
            settings = ValueSettings.objects.get()
            assert settings.loaded_hourly_rate > 0 and settings.rate_basis and settings.updated_by == MANAGER
            units = set(BusinessUnit.objects.values_list("pk", flat=True))
            assert units and set(ValueDriver.objects.values_list("unit_id", flat=True)) == units
            assert all(d.assisted_minutes < d.baseline_minutes and d.note for d in ValueDriver.objects.all())
            assert set(AuditEvent.objects.filter(action__startswith="value_").values_list("action", "actor_email")) == {
                ("value_settings.create", MANAGER),
                ("value_driver.create", MANAGER),
            }

            # the last three whole months in the client's calendar, as the demo saw them (it may have crossed
            # a month boundary while it ran)
            reports = list(Report.objects.order_by("month"))
            months = [r.month for r in reports]
            assert months in (report_months(client, demo["started"]), report_months(client, demo["finished"]))
            recipients = executive_recipients(client)
            assert recipients, f"{slug} has no executive to send the report to"
            assert all(email.endswith(".example") for email in recipients)  # reserved: never deliverable
            if slug in EXECUTIVES:
                assert recipients == [EXECUTIVES[slug][0]]
            for report in reports:
                assert report.status == Report.Status.ISSUED and report.version == 1
                assert report.trigger == Report.Trigger.DEMO
                assert report.created_by == report.reviewed_by == report.issued_by == MANAGER
                failed = {k: s["error"] for k, s in report.data["sections"].items() if "error" in s}
                assert not failed, f"{slug} {report.month}: {failed}"
                assert set(report.data["sections"]) == set(SECTION_MODULES)  # stored as jsonb: key order not kept
                assert report.commentary.strip()
                assert report.pdf and default_storage.exists(report.pdf.name)
                assert _sha256(report.pdf.name) == report.pdf_sha256 and report.pdf_size > 10_000
                deliveries = list(report.deliveries.values_list("recipient", "status"))
                assert sorted(deliveries) == [(email, Delivery.Status.SENT) for email in recipients]
                sent = [m for m in report_emails if m.to == [recipients[0]] and report.label in m.subject]
                assert len(sent) == 1 and sent[0].attachments[0][0] == report.pdf_name
            # value: the drivers and the rate turn the counted units into hours saved and their worth
            value = reports[-1].data["sections"]["value"]
            assert value["has_drivers"] and value["rate_set"] and float(value["time_saved_hours"]) > 0
            state[slug] = (
                [r.pk for r in reports],
                Delivery.objects.count(),
                AuditEvent.objects.filter(action__startswith="value_").count(),
            )
    assert len(report_emails) == 3 * len(REPORTED)

    # the internal workspace gets no report (nothing a monthly report would show, nobody to send it to)
    with tenant_context(clients["northwind"]):
        assert not Report.objects.exists() and not ValueSettings.objects.exists()

    # the console: rollups refreshed after the last step, each client in its own band, the latest report issued
    rows = {r.slug: r for r in portfolio_rows(Client.objects.filter(slug__in=REPORTED))}
    scores = {slug: row.health.score for slug, row in rows.items()}
    assert None not in scores.values() and len(set(scores.values())) == 3, scores
    assert {slug: row.health.band for slug, row in rows.items()} == BANDS, {
        slug: row.health.breakdown for slug, row in rows.items()
    }
    assert all(row.report_status == "issued" for row in rows.values())
    assert rows["acme"].health.part("budget").score < 50  # this month's budget, cut after the runaway loop
    assert rows["harbor"].health.part("budget").score < 100  # its saving target

    # a second run finds everything in place: same reports, no new delivery, no new value input
    demo_reports(clients)
    for slug in REPORTED:
        with tenant_context(clients[slug]):
            assert (
                [r.pk for r in Report.objects.order_by("month")],
                Delivery.objects.count(),
                AuditEvent.objects.filter(action__startswith="value_").count(),
            ) == state[slug]
