"""The audit chain: appends are hash-chained per schema, the database refuses changes, tampering is named."""

import hashlib

import pytest
import rfc8785
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.audit.selectors import ChainVerification, audit_chain_verify
from apps.audit.services import GENESIS_HASH, audit_record, hashed_payload


def _record(count: int = 3, prefix: str = "test") -> list[AuditEvent]:
    return [
        audit_record(action=f"{prefix}.{i}", object_type="thing", object_id=str(i), after={"n": i})
        for i in range(count)
    ]


def _assert_chained(events: list[AuditEvent], base_seq: int, base_hash: str) -> None:
    """Consecutive seqs after the previous head, each linked to its predecessor by SHA-256 of the payload."""
    assert [e.seq for e in events] == list(range(base_seq + 1, base_seq + 1 + len(events)))
    prev = base_hash
    for event in events:
        assert event.prev_hash == prev
        expected = hashlib.sha256(prev.encode() + rfc8785.dumps(hashed_payload(event))).hexdigest()
        assert event.hash == expected
        prev = event.hash


def _head() -> tuple[int, str]:
    last = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    return last if last else (0, GENESIS_HASH)


def _stored(seq: int) -> AuditEvent:
    """The row as the database returns it (what verification reads)."""
    return AuditEvent.objects.get(seq=seq)


def test_events_chain_in_the_client_schema(in_alpha):
    base_seq, base_hash = _head()
    events = _record(3)
    _assert_chained(events, base_seq, base_hash)
    # Stored where the schema says, and the stored form hashes the same as the in-memory one.
    assert connection.schema_name == in_alpha.schema_name
    for event in events:
        stored = _stored(event.seq)
        assert stored.hash == event.hash and stored.after == event.after
    result = audit_chain_verify()
    assert result.ok and result.first_broken_seq is None
    assert result.head_seq == events[-1].seq and result.head_hash == events[-1].hash
    assert result.checked == events[-1].seq


def test_the_first_event_of_a_new_chain_links_to_genesis(db):
    from apps.tenancy.services import client_create

    client = client_create(slug="genesis", name="Genesis")
    with schema_context(client.schema_name):
        assert not AuditEvent.objects.exists()
        first, second = _record(2)
        assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
        _assert_chained([first, second], 0, GENESIS_HASH)
        assert audit_chain_verify() == ChainVerification(ok=True, checked=2, head_seq=2, head_hash=second.hash)


def test_events_chain_in_the_public_schema_independently(alpha):
    with schema_context(alpha.schema_name):
        alpha_head = _head()
    with schema_context("public"):
        base_seq, base_hash = _head()
        events = _record(2, prefix="public-test")
        _assert_chained(events, base_seq, base_hash)
        assert audit_chain_verify().ok
    with schema_context(alpha.schema_name):
        assert _head() == alpha_head  # the public appends did not touch alpha's chain
        assert not AuditEvent.objects.filter(action__startswith="public-test.").exists()


def test_audit_record_takes_the_target_identity(in_alpha, alpha_manager):
    event = audit_record(action="test.target", target=alpha_manager, before={"a": 1}, after={"a": 2})
    assert event.object_type == "accounts.user" and event.object_id == str(alpha_manager.pk)
    assert event.object_repr == str(alpha_manager)
    assert event.changed_fields == [("a", 1, 2)]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'rewritten'",
        "UPDATE audit_auditevent SET after = '{}'::jsonb WHERE seq = (SELECT max(seq) FROM audit_auditevent)",
        "DELETE FROM audit_auditevent",
        "DELETE FROM audit_auditevent WHERE seq = (SELECT max(seq) FROM audit_auditevent)",
    ],
)
@pytest.mark.parametrize("schema", ["alpha", "public"])
def test_the_database_refuses_changes(alpha, schema, statement):
    schema_name = alpha.schema_name if schema == "alpha" else "public"
    with schema_context(schema_name):
        events = _record(2)
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(statement)
        # Nothing changed: every event is still there, as written.
        assert list(AuditEvent.objects.filter(seq__in=[e.seq for e in events]).values_list("action", flat=True)) == [
            events[1].action,
            events[0].action,
        ]
        assert audit_chain_verify().ok


def test_the_orm_cannot_change_or_delete_either(in_alpha):
    event = _record(1)[0]
    event.action = "rewritten"
    with pytest.raises(DatabaseError), transaction.atomic():
        event.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert _stored(event.seq).action == "test.0"


def _tamper(sql: str, params: list) -> None:
    """What only a database superuser could do: switch the guard off, change history, switch it on again."""
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cur.execute(sql, params)
        cur.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


def test_an_altered_event_is_named(in_alpha):
    events = _record(3)
    assert audit_chain_verify().ok
    _tamper("UPDATE audit_auditevent SET after = '{\"n\": 99}'::jsonb WHERE seq = %s", [events[1].seq])
    assert _stored(events[1].seq).after == {"n": 99}  # the change really landed
    result = audit_chain_verify()
    assert not result.ok
    assert result.first_broken_seq == events[1].seq
    assert "altered" in result.reason
    assert result.head_seq == events[0].seq  # the last event that still verifies
    assert f"#{events[1].seq}" in result.describe()
    # The trigger is back on afterwards.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM audit_auditevent")


def test_an_altered_hash_breaks_the_next_link(in_alpha):
    events = _record(3)
    forged = "f" * 64
    _tamper("UPDATE audit_auditevent SET hash = %s WHERE seq = %s", [forged, events[1].seq])
    result = audit_chain_verify()
    assert not result.ok and result.first_broken_seq == events[1].seq


def test_a_removed_event_is_named_missing(in_alpha):
    events = _record(3)
    _tamper("DELETE FROM audit_auditevent WHERE seq = %s", [events[1].seq])
    result = audit_chain_verify()
    assert not result.ok
    assert result.first_broken_seq == events[1].seq
    assert "missing" in result.reason and f"#{events[2].seq}" in result.reason


def test_an_altered_public_event_is_named(alpha):
    with schema_context("public"):
        events = _record(2, prefix="public-tamper")
        _tamper("UPDATE audit_auditevent SET actor_email = 'someone@else.test' WHERE seq = %s", [events[0].seq])
        result = audit_chain_verify()
    assert not result.ok and result.first_broken_seq == events[0].seq
    with schema_context(alpha.schema_name):
        assert audit_chain_verify().ok  # a broken public chain says nothing about alpha's


def test_verify_command_reports_an_intact_chain(alpha, capsys):
    with schema_context(alpha.schema_name):
        _record(2)
        head = _head()
    call_command("verify_audit_chain", client="alpha")  # no CommandError: exit status 0
    out = capsys.readouterr().out
    assert "alpha: Audit chain intact" in out and f"head #{head[0]}" in out


def test_verify_command_checks_public_and_every_client(alpha, beta, capsys):
    call_command("verify_audit_chain")
    out = capsys.readouterr().out
    assert "MSP (public): Audit chain intact" in out
    assert "alpha: Audit chain intact" in out and "beta: Audit chain intact" in out


def test_verify_command_names_the_broken_event(alpha, beta, capsys):
    with schema_context(alpha.schema_name):
        events = _record(3)
        _tamper("UPDATE audit_auditevent SET after = '{\"n\": 42}'::jsonb WHERE seq = %s", [events[2].seq])
    with pytest.raises(CommandError, match=rf"alpha at event #{events[2].seq}\b"):
        call_command("verify_audit_chain", client="alpha")
    assert f"alpha: Audit chain broken at event #{events[2].seq}" in capsys.readouterr().out
    # The other client is unaffected.
    call_command("verify_audit_chain", client="beta")


def test_verify_command_refuses_an_unknown_client(db):
    with pytest.raises(CommandError, match="No client"):
        call_command("verify_audit_chain", client="nope")
