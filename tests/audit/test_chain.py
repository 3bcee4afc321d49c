import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_chain_verify
from apps.audit.services import GENESIS_HASH, audit_record
from apps.tenancy.services import client_update


def _public_events(action: str) -> AuditEvent:
    """Staff actions are chained in the public schema, whatever schema the request used."""
    with schema_context("public"):
        return AuditEvent.objects.filter(action=action).order_by("-seq").first()


def _record_three():
    return [audit_record(action=f"test.{i}", object_type="thing", object_id=str(i), after={"n": i}) for i in range(3)]


def test_events_chain_to_each_other(in_alpha):
    base = AuditEvent.objects.count()
    events = _record_three()
    assert [e.seq for e in events] == [base + 1, base + 2, base + 3]
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    if base == 0:
        assert events[0].prev_hash == GENESIS_HASH
    result = audit_chain_verify()
    assert result.ok and result.head_seq == events[-1].seq


@pytest.mark.parametrize("statement", ["UPDATE audit_auditevent SET action = 'x'", "DELETE FROM audit_auditevent"])
def test_database_refuses_changes(in_alpha, statement):
    _record_three()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(statement)


def _tamper(sql: str, params: list) -> None:
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cur.execute(sql, params)
        cur.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


def test_altered_event_is_named(in_alpha):
    events = _record_three()
    _tamper("UPDATE audit_auditevent SET after = '{\"n\": 99}' WHERE seq = %s", [events[1].seq])
    result = audit_chain_verify()
    assert not result.ok
    assert result.first_broken_seq == events[1].seq
    assert "altered" in result.reason
    with pytest.raises(CommandError, match="1 audit chain"):
        call_command("verify_audit_chain", client="alpha")


def test_removed_event_is_named(in_alpha):
    events = _record_three()
    _tamper("DELETE FROM audit_auditevent WHERE seq = %s", [events[1].seq])
    result = audit_chain_verify()
    assert not result.ok and result.first_broken_seq == events[1].seq and "missing" in result.reason


def test_verify_command_reports_intact_chains(alpha, capsys):
    call_command("verify_audit_chain", client="alpha")
    assert "alpha: Audit chain intact" in capsys.readouterr().out


def test_service_writes_record_actor_and_before_after(alpha, msp_admin, login_as):
    http = login_as(msp_admin)
    response = http.post(
        "/c/alpha/settings/",
        {
            "name": alpha.name,
            "industry": "",
            "time_zone": "Asia/Tokyo",
            "reporting_currency": "EUR",
            "data_residency_region": "eu",
            "service_tier": "professional",
            "sla_tier": "silver",
            "monthly_retainer": "100.00",
        },
        HTTP_X_REQUEST_ID="req123abc",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 302
    event = _public_events("client.update")
    assert event.before["time_zone"] == "Europe/Paris" and event.after["time_zone"] == "Asia/Tokyo"
    assert event.actor_email == msp_admin.email
    assert event.ip == "203.0.113.9" and event.request_id == "req123abc" and event.source == "portal"
    assert response["X-Request-ID"] == "req123abc"


def test_secrets_never_enter_the_chain(alpha):
    from apps.accounts.services import api_key_create

    issued = api_key_create(name="k", client=alpha, scopes=["read"], created_by=None)
    event = _public_events("api_key.create")
    assert issued.secret not in str(event.after) and "key_hash" not in (event.after or {})


def test_command_level_write_is_attributed(alpha):
    client_update(client=alpha, industry="Banking")
    event = _public_events("client.update")
    assert event.after["industry"] == "Banking" and event.actor_display == "Keel (system)"
