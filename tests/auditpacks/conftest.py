"""Audit-pack fixtures: alpha's register built through the other apps' services under a clock frozen on
20 Nov 2026 (10:00 UTC; alpha is in Europe/Paris), evidence files in this test's own media folder.

    tp-ai v1 (role organisation)          tp-ops v1 (role organisation)
      ART9  risk management  → AI-RISK-01     OPS-1 backups → OPS-BKP-01
      ART12 logging          → AI-LOG-01
      ART4  AI literacy      (no control)
    evidence: "Logging policy" (PDF, approved) and "Log retention export" (CSV, approved) prove AI-LOG-01;
    "Risk register" (PDF, draft) for AI-RISK-01; "Backup test" (PDF, approved) proves OPS-BKP-01.
    An AI incident (data leak, GDPR) aware on 18 Nov.

`build_pack(**request)` requests a pack and runs the queued build the way a commit would (eager Celery);
`members(data)` opens a ZIP's bytes; `rewrite(data, ...)` makes a tampered copy.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from freezegun import freeze_time

from apps.core.context import acting_as
from tests.compliance.conftest import PDF, make_framework, node, pdf_file, urn

TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
CSV_BODY = b"day,events\n2026-11-01,1200\n2026-11-02,1187\n"


@pytest.fixture
def clock():
    with freeze_time(NOW, tick=True) as frozen:
        yield frozen


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture(autouse=True)
def throttle_clock(monkeypatch):
    """DRF keeps time.time as a class attribute; under freezegun's fake it would be bound as a method."""
    import time

    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(lambda: time.time()))


def _upload(name: str, body: bytes, content_type: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, body, content_type=content_type)


@pytest.fixture
def register(in_alpha, media, clock):
    from apps.compliance.services import control_save, evidence_create, framework_enable, mapping_add
    from apps.incidents.services import incident_save

    ai = make_framework(
        "tp-ai",
        [node("ART9", "Risk management system"), node("ART12", "Record-keeping"), node("ART4", "AI literacy")],
    )
    ops = make_framework("tp-ops", [node("OPS-1", "Backups are tested")])
    with acting_as(user_email="eng@msp.test", source="portal"):
        cf_ai = framework_enable(framework=ai.framework, version=ai, roles=["organisation"])
        cf_ops = framework_enable(framework=ops.framework, version=ops, roles=["organisation"])
        logging_control = control_save(
            code="AI-LOG-01", name="Central AI logging", status="active", owner_email="ops@alpha.test"
        )
        risk_control = control_save(code="AI-RISK-01", name="AI risk register", status="active")
        backup_control = control_save(code="OPS-BKP-01", name="Backup restore test", status="active")
        mapping_add(control=logging_control, urn=urn("tp-ai", "ART12"))
        mapping_add(control=risk_control, urn=urn("tp-ai", "ART9"))
        mapping_add(control=backup_control, urn=urn("tp-ops", "OPS-1"))
        policy = evidence_create(
            title="Logging policy",
            file=pdf_file("Logging policy (v2).pdf"),
            effective_date=TODAY - dt.timedelta(days=10),
            expires_on=TODAY + dt.timedelta(days=200),
            controls=[logging_control],
            approve=True,
        )
        export = evidence_create(
            title="Log retention export",
            file=_upload("retention.csv", CSV_BODY, "text/csv"),
            effective_date=TODAY - dt.timedelta(days=3),
            controls=[logging_control],
            approve=True,
        )
        draft = evidence_create(
            title="Risk register",
            file=pdf_file("risk-register.pdf", body=PDF.replace(b"1.4", b"1.5")),
            effective_date=TODAY,
            controls=[risk_control],
        )
        backup = evidence_create(
            title="Backup test",
            file=pdf_file("backup-test.pdf", body=PDF.replace(b"1.4", b"1.6")),
            effective_date=TODAY - dt.timedelta(days=1),
            controls=[backup_control],
            approve=True,
        )
        incident = incident_save(
            title="Support bot revealed another customer's address",
            kind="data_leak",
            severity="high",
            detected_at=NOW - dt.timedelta(days=2, hours=3),
            aware_at=NOW - dt.timedelta(days=2),
            personal_data=True,
            regimes=["gdpr-art33-34"],
            description="The retrieval index mixed two tenants' documents.",
        )
    return {
        "cf_ai": cf_ai,
        "cf_ops": cf_ops,
        "controls": {"log": logging_control, "risk": risk_control, "backup": backup_control},
        "policy": policy,
        "export": export,
        "draft": draft,
        "backup": backup,
        "incident": incident,
    }


def build_pack(django_capture_on_commit_callbacks, *, user_email="am@msp.test", **fields):
    """Request a pack and run what the commit queues (the build, eagerly); the pack as stored afterwards."""
    from apps.auditpacks.services import auditpack_request

    values = {"period_from": TODAY - dt.timedelta(days=30), "period_to": TODAY} | fields
    with django_capture_on_commit_callbacks(execute=True), acting_as(user_email=user_email, source="portal"):
        pack = auditpack_request(**values)
    pack.refresh_from_db()
    return pack


@pytest.fixture
def pack_factory(register, django_capture_on_commit_callbacks):
    def make(**fields):
        return build_pack(django_capture_on_commit_callbacks, **fields)

    return make


def pack_bytes(pack) -> bytes:
    with default_storage.open(pack.file.name, "rb") as handle:
        return handle.read()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rewrite(data: bytes, *, replace: dict | None = None, drop=(), add: dict | None = None) -> bytes:
    """A copy of the ZIP with some members replaced, dropped or added (what a tamperer would do)."""
    replace, add = replace or {}, add or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename in drop:
                continue
            target.writestr(info, replace.get(info.filename, source.read(info)))
        for name, body in add.items():
            target.writestr(name, body)
    return out.getvalue()
