"""Who did what: services record before/after and the actor; requests stamp email, IP and request id."""

from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_chain_verify
from apps.core.context import acting_as
from apps.tenancy.services import client_update

SETTINGS_FORM = {
    "industry": "",
    "time_zone": "Asia/Tokyo",
    "reporting_currency": "EUR",
    "data_residency_region": "eu",
    "service_tier": "professional",
    "sla_tier": "silver",
    "monthly_retainer": "100.00",
}


def _latest(schema: str, action: str) -> AuditEvent | None:
    with schema_context(schema):
        return AuditEvent.objects.filter(action=action).order_by("-seq").first()


def _count(schema: str, action: str) -> int:
    with schema_context(schema):
        return AuditEvent.objects.filter(action=action).count()


def test_a_service_write_records_before_after_in_the_public_chain(in_alpha):
    """client_update called inside alpha's schema still audits in public: it is a staff action."""
    alpha = in_alpha
    alpha_events = _count(alpha.schema_name, "client.update")
    with acting_as(user_id=4242, user_email="ops@msp.test", source="command"):
        client_update(client=alpha, industry="Banking", time_zone="America/Toronto")
    event = _latest("public", "client.update")
    assert event is not None
    assert event.object_type == "tenancy.client" and event.object_id == str(alpha.pk)
    assert event.before["industry"] == "" and event.after["industry"] == "Banking"
    assert event.before["time_zone"] == "Europe/Paris" and event.after["time_zone"] == "America/Toronto"
    assert ("industry", "", "Banking") in event.changed_fields
    assert event.actor_user_id == 4242 and event.actor_email == "ops@msp.test" and event.source == "command"
    assert _count(alpha.schema_name, "client.update") == alpha_events  # nothing written to alpha's chain
    with schema_context("public"):
        assert audit_chain_verify().ok


def test_a_write_without_an_actor_is_attributed_to_the_system(alpha):
    client_update(client=alpha, industry="Retail")
    event = _latest("public", "client.update")
    assert event.after["industry"] == "Retail"
    assert event.actor_user_id is None and event.actor_email == "" and event.actor_display == "Keel (system)"


def test_a_portal_request_stamps_actor_ip_and_request_id(alpha, msp_admin, login_as):
    http = login_as(msp_admin)
    response = http.post(
        "/c/alpha/settings/",
        {"name": alpha.name, **SETTINGS_FORM},
        HTTP_X_REQUEST_ID="req123abc",
        REMOTE_ADDR="203.0.113.9",
        HTTP_USER_AGENT="pytest-agent/1.0",
    )
    assert response.status_code == 302
    assert response["X-Request-ID"] == "req123abc"
    event = _latest("public", "client.update")
    assert event.before["time_zone"] == "Europe/Paris" and event.after["time_zone"] == "Asia/Tokyo"
    assert event.actor_user_id == msp_admin.pk and event.actor_email == msp_admin.email
    assert event.ip == "203.0.113.9" and event.request_id == "req123abc"
    assert event.user_agent == "pytest-agent/1.0" and event.source == "portal"


def test_a_generated_request_id_is_the_one_on_the_event(alpha_manager, login_as):
    """Without an incoming X-Request-ID, Keel makes one; the response header and the event carry the same."""
    http = login_as(alpha_manager)
    response = http.post(
        "/c/alpha/inventory/departments/new/",
        {"name": "Research", "code": "RND", "cost_center": "", "owner_email": "", "description": ""},
        REMOTE_ADDR="198.51.100.7",
    )
    assert response.status_code == 302
    request_id = response["X-Request-ID"]
    assert len(request_id) == 16 and request_id.isalnum()
    event = _latest("c_alpha", "department.create")  # a client's data change lands in the client's chain
    assert event is not None and event.after["name"] == "Research"
    assert event.request_id == request_id
    assert event.actor_email == alpha_manager.email and event.ip == "198.51.100.7" and event.source == "portal"
    assert _latest("public", "department.create") is None


def test_an_unsafe_request_id_is_replaced(alpha, msp_admin, login_as):
    response = login_as(msp_admin).post(
        "/c/alpha/settings/", {"name": alpha.name, **SETTINGS_FORM}, HTTP_X_REQUEST_ID="<script>alert(1)</script>"
    )
    assert response.status_code == 302
    request_id = response["X-Request-ID"]
    assert request_id != "<script>alert(1)</script>" and request_id.isalnum()
    assert _latest("public", "client.update").request_id == request_id


def test_an_api_request_is_attributed_to_the_api(alpha, msp_admin, login_as):
    response = login_as(msp_admin).patch(
        "/api/v1/clients/alpha/", {"industry": "Insurance"}, content_type="application/json", HTTP_X_REQUEST_ID="api-1"
    )
    assert response.status_code == 200, response.content
    event = _latest("public", "client.update")
    assert event.after["industry"] == "Insurance"
    assert event.source == "api" and event.actor_email == msp_admin.email and event.request_id == "api-1"
