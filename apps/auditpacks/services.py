"""Audit packs: request (audited, queued once the transaction commits), build (the task's body), download
(audited). Who may request: everyone who may read the register (`view_register`): MSP staff and auditors —
reading the register is an auditor's job and a pack changes nothing in it. Over the API, creating needs a key
with the write scope, or a portal session with `view_register`."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import tempfile

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.core.context import actor_label

from .builder import Period, build_zip
from .models import AuditPack

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024
EARLIEST = dt.date(2000, 1, 1)


def client_today() -> dt.date:
    from apps.compliance.selectors import client_today as today

    return today()


def client_zone():
    from zoneinfo import ZoneInfo

    from apps.tenancy.selectors import current_client

    client = current_client()
    return client.tz if client is not None else ZoneInfo("UTC")


def default_period(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last twelve months, today included."""
    from apps.compliance.services import add_months

    today = today or client_today()
    return add_months(today, -12) + dt.timedelta(days=1), today


def _state(pack: AuditPack, frameworks) -> dict:
    return {
        "period_from": pack.period_from,
        "period_to": pack.period_to,
        "frameworks": sorted(f"{cf.framework.ref} v{cf.version.version}" for cf in frameworks),
        "status": pack.status,
    }


def _clean_frameworks(frameworks) -> list:
    """ClientFramework rows or their ids; none given means every enabled framework."""
    from apps.compliance.models import ClientFramework
    from apps.compliance.selectors import client_frameworks

    enabled = list(client_frameworks())
    if not frameworks:
        return enabled
    by_id = {cf.pk: cf for cf in enabled}
    chosen, unknown = [], []
    for item in frameworks:
        pk = item.pk if isinstance(item, ClientFramework) else item
        try:
            chosen.append(by_id[int(pk)])
        except (KeyError, TypeError, ValueError):
            unknown.append(str(pk))
    if unknown:
        raise ValidationError({"frameworks": f"Not enabled for this client: {', '.join(unknown)}."})
    return sorted(set(chosen), key=lambda cf: cf.framework.short_name)


def auditpack_request(*, period_from: dt.date | None, period_to: dt.date | None, frameworks=None) -> AuditPack:
    """Queue a pack for the period (client's calendar days, both included)."""
    errors: dict[str, str] = {}
    today = client_today()
    if period_from is None:
        errors["period_from"] = "Give the first day of the period."
    if period_to is None:
        errors["period_to"] = "Give the last day of the period."
    if period_to and period_to > today:
        errors["period_to"] = f"The period cannot end after today ({today:%-d %b %Y})."
    if period_from and period_to and period_from > period_to:
        errors["period_from"] = "The period must start on or before its last day."
    if period_from and period_from < EARLIEST:
        errors["period_from"] = f"The period cannot start before {EARLIEST:%-d %b %Y}."
    if errors:
        raise ValidationError(errors)
    chosen = _clean_frameworks(frameworks)
    with transaction.atomic():
        pack = AuditPack.objects.create(
            requested_by=actor_label(), requested_at=timezone.now(), period_from=period_from, period_to=period_to
        )
        pack.frameworks.set(chosen)
        audit_record(action="auditpack.request", target=pack, after=_state(pack, chosen))
        pk, schema = pack.pk, connection.schema_name
        transaction.on_commit(lambda: _queue_build_in(schema, pk))  # the commit may come after the caller left it
    return pack


def _queue_build_in(schema: str, pk: int) -> None:
    with schema_context(schema):
        queue_build(pk)


def queue_build(pk: int) -> None:
    from .tasks import build_audit_pack_task

    try:
        build_audit_pack_task.delay(pk)
    except Exception:  # eager mode runs the build here: its failure is already recorded on the pack
        logger.exception("audit pack %s failed to build", pk)


def _file_digest(handle) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    handle.seek(0)
    for chunk in iter(lambda: handle.read(CHUNK), b""):
        digest.update(chunk)
        size += len(chunk)
    handle.seek(0)
    return digest.hexdigest(), size


def storage_name(pack: AuditPack, generated_at: dt.datetime) -> str:
    return f"audit-packs/{connection.schema_name}/{pack.pk}-{generated_at.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}.zip"


def auditpack_build(pack_id: int) -> dict:
    """Build a queued pack (the task's body). A pack already built or failed is left alone; one left
    "building" by a worker that died is built again."""
    from apps.compliance.selectors import client_frameworks

    with transaction.atomic():
        pack = AuditPack.objects.select_for_update().filter(pk=pack_id).first()
        if pack is None:
            return {"pack": pack_id, "status": "missing"}
        if pack.status not in AuditPack.PENDING:
            return {"pack": pack_id, "status": pack.status}
        pack.status, pack.started_at, pack.error = AuditPack.Status.BUILDING, timezone.now(), ""
        pack.save(update_fields=["status", "started_at", "error"])
    # The audit trail segment stops at the chain head as it is now (the build's own events come after it).
    head_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    period = Period(pack.period_from, pack.period_to, client_zone())
    cfs = list(client_frameworks().filter(pk__in=pack.frameworks.values("pk")))
    try:
        with tempfile.TemporaryFile() as handle:
            result = build_zip(
                handle,
                period=period,
                client_frameworks=cfs,
                generated_by=pack.requested_by or "Keel",
                msp=settings.KEEL_MSP_NAME,
                head_seq=head_seq,
            )
            digest, size = _file_digest(handle)
            name = default_storage.save(storage_name(pack, result.generated_at), File(handle))
    except Exception as exc:
        with transaction.atomic():
            pack.status, pack.finished_at = AuditPack.Status.FAILED, timezone.now()
            pack.error = f"{exc.__class__.__name__}: {exc}"[:2000]
            pack.save(update_fields=["status", "finished_at", "error"])
            audit_record(action="auditpack.build_failed", target=pack, after={"error": pack.error})
        raise
    with transaction.atomic():
        pack.status, pack.finished_at, pack.generated_at = AuditPack.Status.READY, timezone.now(), result.generated_at
        pack.file.name, pack.size, pack.sha256 = name, size, digest
        pack.key_fingerprint, pack.summary = result.fingerprint, result.summary
        pack.save()
        audit_record(
            action="auditpack.build",
            target=pack,
            after={
                "sha256": digest,
                "size": size,
                "key_fingerprint": result.fingerprint,
                "files": result.summary["files"],
                "evidence_files": result.summary["evidence_files"],
                "integrity_failed": result.summary["integrity_failed"],
                "audit_trail": result.summary["audit_trail"],
            },
        )
    return {"pack": pack_id, "status": pack.status, "sha256": digest, "size": size}


class PackUnavailable(Exception):
    """Not ready yet, failed, or its file is gone from storage."""


def auditpack_open(*, pack: AuditPack):
    """The ZIP opened for reading, the download audited (who took which pack, by its SHA-256)."""
    if not pack.is_ready or not pack.file.name:
        raise PackUnavailable(f"Audit pack #{pack.pk} is {pack.get_status_display().lower()}, not ready to download.")
    try:
        handle = default_storage.open(pack.file.name, "rb")
    except FileNotFoundError:
        raise PackUnavailable(f"The file of audit pack #{pack.pk} is no longer in storage.") from None
    audit_record(action="auditpack.download", target=pack, after={"sha256": pack.sha256, "size": pack.size})
    return handle
