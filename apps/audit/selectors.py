from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from .models import AuditEvent
from .services import GENESIS_HASH, event_hash, hashed_payload


@dataclass(frozen=True)
class ChainVerification:
    ok: bool
    checked: int
    head_seq: int | None
    head_hash: str
    first_broken_seq: int | None = None
    reason: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"Audit chain intact: {self.checked} events, head #{self.head_seq} {self.head_hash[:12]}…"
        return f"Audit chain broken at event #{self.first_broken_seq}: {self.reason}"


def audit_chain_verify(*, batch_size: int = 5000) -> ChainVerification:
    """Recompute every hash in order; name the first event that does not fit its predecessor."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    last_seq = None
    queryset = AuditEvent.objects.order_by("seq")
    for event in queryset.iterator(chunk_size=batch_size):
        if event.seq != expected_seq:
            return ChainVerification(
                False,
                checked,
                last_seq,
                prev_hash,
                expected_seq,
                f"event #{expected_seq} is missing (next stored event is #{event.seq})",
            )
        if event.prev_hash != prev_hash:
            return ChainVerification(
                False,
                checked,
                last_seq,
                prev_hash,
                event.seq,
                "its link to the previous event does not match (an earlier event was altered or removed)",
            )
        if event_hash(hashed_payload(event), prev_hash) != event.hash:
            return ChainVerification(
                False,
                checked,
                last_seq,
                prev_hash,
                event.seq,
                "its content no longer matches its hash (the event was altered)",
            )
        prev_hash, last_seq = event.hash, event.seq
        expected_seq += 1
        checked += 1
    return ChainVerification(True, checked, last_seq, prev_hash)


def audit_events_search(*, query: str = "", action: str = "", object_type: str = "", actor: str = "") -> QuerySet:
    qs = AuditEvent.objects.all()
    if query:
        qs = qs.filter(
            Q(object_repr__icontains=query)
            | Q(action__icontains=query)
            | Q(actor_email__icontains=query)
            | Q(object_id=query)
            | Q(request_id=query)
        )
    if action:
        qs = qs.filter(action=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if actor:
        qs = qs.filter(actor_email__icontains=actor)
    return qs.order_by("-seq")


def audit_events_for_object(*, object_type: str, object_id: str) -> QuerySet:
    return AuditEvent.objects.filter(object_type=object_type, object_id=str(object_id)).order_by("-seq")
