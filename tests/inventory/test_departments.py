from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.inventory.models import Department
from tests.conftest import auth_header, make_user


def test_api_crud_is_audited_and_scoped(alpha, beta, api_key_for, client):
    _, writer = api_key_for(alpha, ["read", "write"])
    created = client.post(
        "/c/alpha/api/v1/departments/",
        {"name": "Claims operations", "code": "claims-ops", "cost_center": "CC-4100"},
        content_type="application/json",
        **auth_header(writer),
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    changed = client.patch(
        f"/c/alpha/api/v1/departments/{pk}/",
        {"owner_email": "lead@alpha.test"},
        content_type="application/json",
        **auth_header(writer),
    )
    assert changed.status_code == 200 and changed.json()["owner_email"] == "lead@alpha.test"
    with schema_context(alpha.schema_name):
        actions = list(
            AuditEvent.objects.filter(object_type="inventory.department")
            .order_by("seq")
            .values_list("action", flat=True)
        )
        update = AuditEvent.objects.filter(action="department.update").latest("seq")
    assert actions == ["department.create", "department.update"]
    assert update.before["owner_email"] == "" and update.after["owner_email"] == "lead@alpha.test"
    with schema_context(beta.schema_name):
        assert not Department.objects.exists()
    assert client.delete(f"/c/alpha/api/v1/departments/{pk}/", **auth_header(writer)).status_code == 204


def test_duplicates_and_bad_input_are_explained(alpha, api_key_for, client):
    _, writer = api_key_for(alpha, ["read", "write"])
    body = {"name": "Underwriting", "code": "uw"}
    assert (
        client.post(
            "/c/alpha/api/v1/departments/", body, content_type="application/json", **auth_header(writer)
        ).status_code
        == 201
    )
    again = client.post(
        "/c/alpha/api/v1/departments/",
        {"name": "UNDERWRITING", "code": "uw"},
        content_type="application/json",
        **auth_header(writer),
    )
    assert again.status_code == 400 and {"name", "code"} <= set(again.json()["errors"])
    bad = client.post(
        "/c/alpha/api/v1/departments/",
        {"name": "", "code": "not a slug!"},
        content_type="application/json",
        **auth_header(writer),
    )
    assert bad.status_code == 400 and {"name", "code"} <= set(bad.json()["errors"])


def test_read_only_keys_and_people_cannot_change_departments(alpha, api_key_for, client, login_as):
    _, reader = api_key_for(alpha, ["read"])
    assert client.get("/c/alpha/api/v1/departments/", **auth_header(reader)).status_code == 200
    denied = client.post(
        "/c/alpha/api/v1/departments/",
        {"name": "X", "code": "x"},
        content_type="application/json",
        **auth_header(reader),
    )
    assert denied.status_code == 403
    executive = login_as(make_user("exec-dep@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha))
    assert executive.get("/c/alpha/inventory/departments/").status_code == 200
    assert executive.get("/c/alpha/inventory/departments/new/").status_code == 403


def test_portal_create_edit_and_remove(alpha, login_as):
    http = login_as(make_user("eng-dep@msp.test", role=Role.ENGINEER, client=alpha))
    response = http.post("/c/alpha/inventory/departments/new/", {"name": "Risk", "code": "risk"})
    assert response.status_code == 302
    with schema_context(alpha.schema_name):
        department = Department.objects.get(code="risk")
    duplicate = http.post("/c/alpha/inventory/departments/new/", {"name": "risk", "code": "risk-2"})
    assert duplicate.status_code == 200 and b"already exists" in duplicate.content
    http.post(f"/c/alpha/inventory/departments/{department.pk}/", {"name": "Risk & Compliance", "code": "risk"})
    page = http.get("/c/alpha/inventory/departments/?query=compliance").content
    assert b"Risk &amp; Compliance" in page
    http.post(f"/c/alpha/inventory/departments/{department.pk}/delete/")
    with schema_context(alpha.schema_name):
        assert not Department.objects.filter(pk=department.pk).exists()
