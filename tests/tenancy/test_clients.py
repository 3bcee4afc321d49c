from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.tenancy.models import Client
from tests.conftest import make_user


def _trigger_exists(schema: str) -> bool:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND t.tgname = 'audit_event_append_only'",
            [schema],
        )
        return cur.fetchone() is not None


def test_clients_are_created_from_portal_command_and_api(msp_admin, login_as):
    from django.core.management import call_command

    http = login_as(msp_admin)
    form = {
        "name": "Gamma Bank",
        "slug": "gamma",
        "time_zone": "UTC",
        "reporting_currency": "USD",
        "data_residency_region": "us",
        "service_tier": "professional",
        "sla_tier": "silver",
        "monthly_retainer": "1000.00",
    }
    response = http.post("/clients/new/", form)
    assert response.status_code == 302 and response["Location"] == "/c/gamma/"
    assert http.get("/c/gamma/").status_code == 200
    call_command("create_client", "delta", "Delta Care", "--time-zone", "America/Toronto", "--currency", "CAD")
    created = http.post(
        "/api/v1/clients/",
        {"slug": "epsilon", "name": "Epsilon", "time_zone": "Europe/Paris", "reporting_currency": "EUR"},
        content_type="application/json",
    )
    assert created.status_code == 201 and created.json()["slug"] == "epsilon"
    for slug in ("gamma", "delta", "epsilon"):
        client = Client.objects.get(slug=slug)
        assert client.schema_name == f"c_{slug}" and _trigger_exists(client.schema_name)
        with schema_context(client.schema_name), connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM alerts_alert")
            assert cur.fetchone()[0] == 0


def test_bad_and_duplicate_slugs_are_explained(msp_admin, login_as, alpha):
    http = login_as(msp_admin)
    duplicate = http.post("/api/v1/clients/", {"slug": "alpha", "name": "Again"}, content_type="application/json")
    assert duplicate.status_code == 400 and "slug" in duplicate.json()["errors"]
    bad = http.post(
        "/clients/new/",
        {
            "name": "X",
            "slug": "Bad Slug!",
            "time_zone": "UTC",
            "reporting_currency": "USD",
            "data_residency_region": "us",
            "service_tier": "professional",
            "sla_tier": "silver",
            "monthly_retainer": "0",
        },
    )
    assert bad.status_code == 200 and b"lower-case letters" in bad.content


def test_lifecycle_moves_forward_only(msp_admin, login_as, alpha):
    http = login_as(msp_admin)
    assert (
        http.post(
            "/api/v1/clients/alpha/lifecycle/", {"lifecycle": "offboarded"}, content_type="application/json"
        ).json()["lifecycle"]
        == "offboarded"
    )
    back = http.post("/api/v1/clients/alpha/lifecycle/", {"lifecycle": "active"}, content_type="application/json")
    assert back.status_code == 400


def test_only_admins_create_clients(alpha, login_as):
    manager = make_user("am-create@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)
    http = login_as(manager)
    assert http.get("/clients/new/").status_code == 403
    assert (
        http.post("/api/v1/clients/", {"slug": "zeta", "name": "Z"}, content_type="application/json").status_code == 403
    )


def test_workspace_times_are_shown_in_the_clients_time_zone(alpha, msp_admin, login_as):
    from apps.audit.services import audit_record

    with schema_context(alpha.schema_name):
        event = audit_record(action="tz.check", object_type="thing", object_id="1")
    assert event.occurred_at.utcoffset().total_seconds() == 0  # stored in UTC
    page = login_as(msp_admin).get("/c/alpha/audit/?action=tz.check").content.decode()
    local, utc = event.occurred_at.astimezone(alpha.tz), event.occurred_at
    assert local.strftime("%d %b %Y %H:%M").lstrip("0") in page
    assert utc.strftime("%H:%M") not in page  # Europe/Paris is never UTC+0
