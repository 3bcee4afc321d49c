"""Requesting and building: request → queued (nothing built until the transaction commits) → the task builds it
(eager Celery, as a worker would) → ready, each step audited; a failing build is recorded on the pack and the
run; bad periods and frameworks are refused with clear messages; the signing key's two sources."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError

from apps.audit.models import AuditEvent
from apps.auditpacks.models import AuditPack
from apps.auditpacks.services import auditpack_build, auditpack_request
from apps.auditpacks.signing import signing_key
from apps.auditpacks.verify import key_fingerprint
from apps.core.context import acting_as
from apps.core.models import TaskRun

from .conftest import TODAY


def test_request_queues_and_the_commit_builds_it(register, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks, acting_as(user_email="am@msp.test"):
        pack = auditpack_request(period_from=TODAY - dt.timedelta(days=7), period_to=TODAY)
    pack.refresh_from_db()
    assert pack.status == AuditPack.Status.QUEUED and not pack.file
    assert pack.requested_by == "am@msp.test"
    assert set(pack.frameworks.all()) == {register["cf_ai"], register["cf_ops"]}  # default: every enabled one
    request_event = AuditEvent.objects.get(action="auditpack.request")
    assert request_event.object_id == str(pack.pk) and request_event.after["frameworks"] == ["tp-ai v1", "tp-ops v1"]
    assert len(callbacks) == 1

    callbacks[0]()  # the commit: queue the task (eager: it runs now)
    pack.refresh_from_db()
    assert pack.status == AuditPack.Status.READY and pack.sha256 and pack.size > 0
    assert pack.started_at and pack.finished_at and pack.generated_at
    run = TaskRun.objects.get(task_name="auditpacks.build")
    assert run.status == TaskRun.Status.SUCCEEDED and run.arguments["args"] == [pack.pk]
    built = AuditEvent.objects.get(action="auditpack.build")
    assert built.after["sha256"] == pack.sha256 and built.after["evidence_files"] == 3


def test_a_built_pack_is_not_built_twice(register, pack_factory):
    pack = pack_factory()
    sha = pack.sha256
    assert auditpack_build(pack.pk) == {"pack": pack.pk, "status": "ready"}
    pack.refresh_from_db()
    assert pack.sha256 == sha and AuditEvent.objects.filter(action="auditpack.build").count() == 1


def test_a_failing_build_is_recorded(register, pack_factory, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("storage unreachable")

    monkeypatch.setattr("apps.auditpacks.services.build_zip", broken)
    pack = pack_factory()
    assert pack.status == AuditPack.Status.FAILED and pack.error == "RuntimeError: storage unreachable"
    assert AuditEvent.objects.get(action="auditpack.build_failed").after == {"error": pack.error}
    assert TaskRun.objects.get(task_name="auditpacks.build").status == TaskRun.Status.FAILED


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"period_from": TODAY, "period_to": TODAY + dt.timedelta(days=1)}, "period_to", "cannot end after today"),
        ({"period_from": TODAY, "period_to": TODAY - dt.timedelta(days=1)}, "period_from", "start on or before"),
        ({"period_from": None, "period_to": TODAY}, "period_from", "first day"),
        ({"period_from": dt.date(1999, 1, 1), "period_to": TODAY}, "period_from", "cannot start before"),
    ],
)
def test_bad_periods_are_refused(register, fields, field, message):
    with pytest.raises(ValidationError) as caught:
        auditpack_request(**fields)
    assert message in caught.value.message_dict[field][0]
    assert not AuditPack.objects.exists()


def test_a_framework_not_enabled_is_refused(register):
    with pytest.raises(ValidationError) as caught:
        auditpack_request(period_from=TODAY, period_to=TODAY, frameworks=[register["cf_ai"].pk, 987654])
    assert caught.value.message_dict["frameworks"] == ["Not enabled for this client: 987654."]


def test_signing_key_from_the_setting(settings):
    seed = bytes(range(32))
    settings.KEEL_AUDIT_SIGNING_KEY = base64.b64encode(seed).decode()
    key = signing_key()
    assert key.source == "KEEL_AUDIT_SIGNING_KEY" and key.fingerprint == key_fingerprint(key.public_key)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    expected = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    assert key.public_key == expected


def test_signing_key_derived_from_the_secret_key_changes_with_it(settings):
    settings.KEEL_AUDIT_SIGNING_KEY = ""
    first = signing_key()
    assert first.source == "derived from SECRET_KEY"
    assert signing_key().public_key == first.public_key  # stable while the secret is
    settings.SECRET_KEY = settings.SECRET_KEY + "-rotated"
    assert signing_key().public_key != first.public_key


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_bad_signing_key_setting_is_a_clear_error(settings, value):
    settings.KEEL_AUDIT_SIGNING_KEY = value
    with pytest.raises(ImproperlyConfigured, match="KEEL_AUDIT_SIGNING_KEY"):
        signing_key()
