"""Append to the audit chain. Call inside the same transaction as the change it records."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from decimal import Decimal
from typing import Any

import rfc8785
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from apps.core.context import current_actor

from .models import AuditEvent

GENESIS_HASH = "0" * 64
# Never copied into the chain: secrets, and hashes of secrets.
REDACTED_FIELDS = {"password", "key_hash", "secret", "credentials", "token_hash", "signing_secret"}


def to_jsonable(value: Any) -> Any:
    """Round-trip through JSON so the hashed form equals what the database stores and returns."""
    return json.loads(json.dumps(value, cls=_Encoder))


class _Encoder(DjangoJSONEncoder):
    def default(self, o):
        if isinstance(o, Decimal):
            return str(o)
        if isinstance(o, models.Model):
            return o.pk
        if isinstance(o, set | frozenset):
            return sorted(o)
        return super().default(o)


def snapshot(instance: models.Model | None, fields: list[str] | None = None) -> dict | None:
    """The concrete field values of a model instance, secrets redacted."""
    if instance is None:
        return None
    data = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        if field.name in REDACTED_FIELDS or getattr(field, "audit_redact", False):
            data[field.name] = "[redacted]"
            continue
        data[field.name] = field.value_from_object(instance)
    return to_jsonable(data)


def snapshot_stored(instance: models.Model | None, fields: list[str] | None = None) -> dict | None:
    """The "before" of a change: the row as stored, not the instance a form may already have changed."""
    if instance is None or instance.pk is None:
        return None
    stored = type(instance)._default_manager.filter(pk=instance.pk).first()
    return snapshot(stored, fields)


def event_hash(payload: dict, prev_hash: str) -> str:
    return hashlib.sha256(prev_hash.encode() + rfc8785.dumps(payload)).hexdigest()


def hashed_payload(event: AuditEvent) -> dict:
    """The fields the hash covers, in the exact form the database returns them."""
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "actor_user_id": event.actor_user_id,
        "actor_email": event.actor_email,
        "actor_api_key": event.actor_api_key,
        "source": event.source,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "before": event.before,
        "after": event.after,
    }


def audit_record(
    *,
    action: str,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Append one event to the current schema's chain (public for MSP staff actions)."""
    actor = current_actor()
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
        object_repr = object_repr or str(target)[:300]
    with transaction.atomic():
        with connection.cursor() as cur:
            # Serialise appends per schema so seq and prev_hash never fork.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':keel-audit'))")
        last = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        event = AuditEvent(
            seq=seq,
            occurred_at=timezone.now(),
            action=action,
            object_type=object_type,
            object_id=str(object_id)[:64],
            object_repr=object_repr[:300],
            actor_user_id=actor.user_id,
            actor_email=actor.user_email,
            actor_api_key=actor.api_key_prefix,
            source=actor.source,
            ip=actor.ip,
            user_agent=actor.user_agent,
            request_id=actor.request_id,
            before=to_jsonable(before) if before is not None else None,
            after=to_jsonable(after) if after is not None else None,
            prev_hash=prev_hash,
        )
        event.hash = event_hash(hashed_payload(event), prev_hash)
        event.save(force_insert=True)
    return event
