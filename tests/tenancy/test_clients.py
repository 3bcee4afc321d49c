"""Clients: creation through the portal, the command line and the API gives a complete schema that routes;
bad input is explained; the lifecycle only moves forward; only MSP admins manage clients."""

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.tenancy.models import Client, Domain
from apps.tenancy.services import client_create, client_set_lifecycle
from tests.conftest import make_user

PORTAL_FORM = {
    "name": "Gamma Bank",
    "slug": "gamma",
    "industry": "Banking",
    "time_zone": "America/New_York",
    "reporting_currency": "USD",
    "data_residency_region": "us",
    "service_tier": "enterprise",
    "sla_tier": "gold",
    "monthly_retainer": "12500.00",
}


# --- what a new client gets -----------------------------------------------------------------------------


def _schemas() -> set[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cur.fetchall()}


def _tables(schema: str) -> set[str]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'",
            [schema],
        )
        return {row[0] for row in cur.fetchall()}


def _tenant_tables() -> set[str]:
    """Every table the tenant apps' models need, plus the migration record."""
    tables = {"django_migrations"}
    for app in settings.TENANT_APPS:
        config = django_apps.get_app_config(app.rsplit(".", 1)[-1])
        tables |= {model._meta.db_table for model in config.get_models(include_auto_created=True)}  # M2M too
    return tables


def _trigger_exists(schema: str) -> bool:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = 'audit_auditevent' AND t.tgname = 'audit_event_append_only'",
            [schema],
        )
        row = cur.fetchone()
        return row is not None and row[0] == "O"  # present and enabled


def _applied_migrations(schema: str) -> set[tuple[str, str]]:
    with connection.cursor() as cur:
        cur.execute(f'SELECT app, name FROM "{schema}".django_migrations')  # noqa: S608 - a known schema name
        return set(cur.fetchall())


def assert_complete_client(slug: str, http=None) -> Client:
    """The schema exists with exactly the tenant tables, the append-only guard, every migration recorded as
    applied (so later migrations start from the right place), an empty audit chain, and /c/<slug>/ routes."""
    client = Client.objects.get(slug=slug)
    assert client.schema_name == f"c_{slug.replace('-', '_')}"
    assert client.kind == Client.Kind.CLIENT
    assert client.schema_name in _schemas()
    assert _tables(client.schema_name) == _tenant_tables()
    assert _trigger_exists(client.schema_name)
    disk = set(MigrationLoader(connection, ignore_no_migrations=True).disk_migrations)
    assert _applied_migrations(client.schema_name) == disk
    with schema_context(client.schema_name):
        assert not AuditEvent.objects.exists()  # a new chain, not a copy of another client's
    domain = Domain.objects.get(tenant=client)
    assert domain.domain == slug and domain.is_primary
    if http is not None:
        response = http.get(f"/c/{slug}/")
        assert response.status_code == 200
        assert response.wsgi_request.tenant.pk == client.pk
        assert client.name.encode() in response.content
    return client


def _creation_event(client: Client) -> AuditEvent:
    with schema_context("public"):
        return AuditEvent.objects.get(action="client.create", object_id=str(client.pk))


def test_no_template_schema_is_left_around(db):
    assert "keel_template" not in _schemas()
    assert not Client.objects.filter(schema_name="keel_template").exists()


def test_portal_creates_a_complete_client(msp_admin, login_as):
    http = login_as(msp_admin)
    assert http.get("/clients/new/").status_code == 200
    response = http.post("/clients/new/", PORTAL_FORM)
    assert response.status_code == 302 and response["Location"] == "/c/gamma/"
    client = assert_complete_client("gamma", http)
    assert client.lifecycle == Client.Lifecycle.ONBOARDING
    assert (client.time_zone, client.service_tier, str(client.monthly_retainer)) == (
        "America/New_York",
        "enterprise",
        "12500.000000",
    )
    event = _creation_event(client)
    assert event.actor_email == msp_admin.email and event.source == "portal"
    assert event.after["slug"] == "gamma" and event.after["sla_tier"] == "gold"


def test_command_creates_a_complete_client(msp_admin, login_as, capsys):
    call_command("create_client", "delta-care", "Delta Care", "--time-zone", "America/Toronto", "--currency", "CAD")
    assert "Created Delta Care at /c/delta-care/ (schema c_delta_care)" in capsys.readouterr().out
    client = assert_complete_client("delta-care", login_as(msp_admin))
    assert (client.time_zone, client.reporting_currency) == ("America/Toronto", "CAD")
    assert _creation_event(client).source == "command"


def test_api_creates_a_complete_client(msp_admin, login_as):
    http = login_as(msp_admin)
    created = http.post(
        "/api/v1/clients/",
        {"slug": "epsilon", "name": "Epsilon", "time_zone": "Europe/Paris", "reporting_currency": "EUR"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["slug"] == "epsilon" and body["lifecycle"] == "onboarding" and body["time_zone"] == "Europe/Paris"
    client = assert_complete_client("epsilon", http)
    assert body["id"] == client.pk
    assert _creation_event(client).source == "api"
    assert http.get("/api/v1/clients/epsilon/").json()["name"] == "Epsilon"


def test_new_clients_are_isolated_from_each_other(alpha, msp_admin, login_as):
    client_create(slug="zeta", name="Zeta")
    with schema_context(alpha.schema_name):
        from apps.audit.services import audit_record

        audit_record(action="alpha.only", object_type="thing", object_id="1")
    with schema_context("c_zeta"):
        assert not AuditEvent.objects.filter(action="alpha.only").exists()
    assert login_as(msp_admin).get("/c/zeta/").wsgi_request.tenant.schema_name == "c_zeta"


# --- bad input ------------------------------------------------------------------------------------------


def _problem(response) -> dict:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 400 and body["title"] == "Invalid request"
    return body


@pytest.mark.parametrize(
    ("slug", "message"),
    [("alpha", "already exists"), ("Bad Slug!", "lower-case letters"), ("ab", "lower-case letters")],
)
def test_api_explains_a_bad_or_duplicate_slug(alpha, msp_admin, login_as, slug, message):
    before = Client.objects.count()
    response = login_as(msp_admin).post(
        "/api/v1/clients/", {"slug": slug, "name": "Again"}, content_type="application/json"
    )
    body = _problem(response)
    assert set(body["errors"]) == {"slug"}
    assert message in " ".join(body["errors"]["slug"])
    assert Client.objects.count() == before


@pytest.mark.parametrize(
    ("slug", "message"),
    [("alpha", "already exists"), ("Bad Slug!", "lower-case letters"), ("-dash", "lower-case letters")],
)
def test_portal_explains_a_bad_or_duplicate_slug(alpha, msp_admin, login_as, slug, message):
    before = Client.objects.count()
    response = login_as(msp_admin).post("/clients/new/", {**PORTAL_FORM, "slug": slug})
    assert response.status_code == 200  # the form again, with the reason
    form = response.context["form"]
    assert message in " ".join(form.errors["slug"])
    assert message.encode() in response.content
    assert Client.objects.count() == before


def test_command_explains_a_bad_or_duplicate_slug(alpha):
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_client", "alpha", "Again")
    with pytest.raises(CommandError, match="lower-case letters"):
        call_command("create_client", "Bad_Slug", "Bad")


def test_a_slug_whose_schema_exists_is_refused(db):
    with connection.cursor() as cur:
        cur.execute("CREATE SCHEMA c_orphan")
    with pytest.raises(ValidationError, match="already exists"):
        client_create(slug="orphan", name="Orphan")
    assert not Client.objects.filter(slug="orphan").exists()


# --- lifecycle ------------------------------------------------------------------------------------------


def _lifecycle_events(client: Client) -> list[tuple]:
    with schema_context("public"):
        return list(
            AuditEvent.objects.filter(action="client.lifecycle", object_id=str(client.pk))
            .order_by("seq")
            .values_list("before", "after")
        )


def test_lifecycle_moves_onboarding_active_offboarded_and_never_back(db):
    client = client_create(slug="theta", name="Theta")
    assert client.lifecycle == Client.Lifecycle.ONBOARDING
    client_set_lifecycle(client=client, lifecycle="active")
    assert Client.objects.get(pk=client.pk).lifecycle == "active"
    client_set_lifecycle(client=client, lifecycle="offboarded")
    stored = Client.objects.get(pk=client.pk)
    assert stored.lifecycle == "offboarded" and stored.offboarded_at is not None
    for target in ("active", "onboarding"):
        with pytest.raises(ValidationError, match="cannot go from Offboarded"):
            client_set_lifecycle(client=stored, lifecycle=target)
    assert Client.objects.get(pk=client.pk).lifecycle == "offboarded"
    assert _lifecycle_events(client) == [
        ({"lifecycle": "onboarding"}, {"lifecycle": "active"}),
        ({"lifecycle": "active"}, {"lifecycle": "offboarded"}),
    ]


def test_active_cannot_go_back_to_onboarding(alpha):
    with pytest.raises(ValidationError, match="cannot go from Active to Onboarding"):
        client_set_lifecycle(client=alpha, lifecycle="onboarding")


def test_lifecycle_through_the_api(msp_admin, login_as):
    client_create(slug="iota", name="Iota")
    http = login_as(msp_admin)

    def move(lifecycle):
        return http.post("/api/v1/clients/iota/lifecycle/", {"lifecycle": lifecycle}, content_type="application/json")

    assert move("active").json()["lifecycle"] == "active"
    offboarded = move("offboarded")
    assert offboarded.status_code == 200 and offboarded.json()["lifecycle"] == "offboarded"
    assert offboarded.json()["offboarded_at"]
    back = move("active")
    assert back.status_code == 400 and back["Content-Type"] == "application/problem+json"
    assert "cannot go from Offboarded to Active" in str(back.json()["errors"])
    assert Client.objects.get(slug="iota").lifecycle == "offboarded"


def test_lifecycle_through_the_portal(msp_admin, login_as):
    client_create(slug="kappa", name="Kappa")
    http = login_as(msp_admin)
    assert http.post("/c/kappa/settings/lifecycle/", {"lifecycle": "active"}).status_code == 302
    assert Client.objects.get(slug="kappa").lifecycle == "active"
    assert http.post("/c/kappa/settings/lifecycle/", {"lifecycle": "offboarded"}).status_code == 302
    refused = http.post("/c/kappa/settings/lifecycle/", {"lifecycle": "active"}, follow=True)
    assert b"cannot go from Offboarded to Active" in refused.content
    assert Client.objects.get(slug="kappa").lifecycle == "offboarded"


# --- who may manage clients -----------------------------------------------------------------------------


def test_an_account_manager_cannot_create_clients(alpha, alpha_manager, login_as):
    http = login_as(alpha_manager)
    before = Client.objects.count()
    assert http.get("/clients/new/").status_code == 403
    assert http.post("/clients/new/", {**PORTAL_FORM, "slug": "lambda"}).status_code == 403
    denied = http.post("/api/v1/clients/", {"slug": "lambda", "name": "L"}, content_type="application/json")
    assert denied.status_code == 403 and denied["Content-Type"] == "application/problem+json"
    assert Client.objects.count() == before and "c_lambda" not in _schemas()


def test_an_account_manager_cannot_change_a_clients_lifecycle(alpha, alpha_manager, login_as):
    http = login_as(alpha_manager)
    assert http.post("/c/alpha/settings/lifecycle/", {"lifecycle": "offboarded"}).status_code == 403
    api = http.post("/api/v1/clients/alpha/lifecycle/", {"lifecycle": "offboarded"}, content_type="application/json")
    assert api.status_code == 403
    assert Client.objects.get(slug="alpha").lifecycle == "active"


def test_other_staff_and_client_users_cannot_create_clients(alpha, login_as):
    for email, role in (("eng@msp.test", Role.ENGINEER), ("viewer@alpha.test", Role.CLIENT_VIEWER)):
        http = login_as(make_user(email, role=role, client=alpha))
        response = http.post("/api/v1/clients/", {"slug": "mu", "name": "Mu"}, content_type="application/json")
        assert response.status_code in (403, 404), (role, response.status_code)
    assert not Client.objects.filter(slug="mu").exists()


# --- client settings ------------------------------------------------------------------------------------


def _settings_form(client: Client, **changes) -> dict:
    data = {field: getattr(client, field) for field in PORTAL_FORM if field != "slug"}
    data["monthly_retainer"] = str(client.monthly_retainer)
    return {**data, **changes}


def test_workspace_settings_change_the_time_zone_and_are_audited(alpha, msp_admin, login_as):
    http = login_as(msp_admin)
    page = http.get("/c/alpha/settings/")
    assert page.status_code == 200 and b"Europe/Paris" in page.content
    response = http.post("/c/alpha/settings/", _settings_form(alpha, time_zone="Asia/Tokyo"))
    assert response.status_code == 302
    assert Client.objects.get(pk=alpha.pk).time_zone == "Asia/Tokyo"
    with schema_context("public"):
        event = AuditEvent.objects.filter(action="client.update", object_id=str(alpha.pk)).latest("seq")
    assert event.before["time_zone"] == "Europe/Paris" and event.after["time_zone"] == "Asia/Tokyo"
    assert [name for name, _, _ in event.changed_fields] == ["time_zone"]
    assert event.actor_email == msp_admin.email
    # The workspace now works in the new zone.
    assert http.get("/c/alpha/").wsgi_request.tenant.time_zone == "Asia/Tokyo"


def test_workspace_settings_refuse_an_unknown_time_zone(alpha, msp_admin, login_as):
    response = login_as(msp_admin).post("/c/alpha/settings/", _settings_form(alpha, time_zone="Mars/Olympus"))
    assert response.status_code == 200 and "time_zone" in response.context["form"].errors
    assert Client.objects.get(pk=alpha.pk).time_zone == "Europe/Paris"


def test_a_client_executive_cannot_change_settings(alpha, alpha_executive, login_as):
    http = login_as(alpha_executive)
    with schema_context("public"):
        events = AuditEvent.objects.filter(action="client.update").count()
    response = http.post("/c/alpha/settings/", _settings_form(alpha, time_zone="Asia/Tokyo"))
    assert response.status_code in (200, 403)
    assert Client.objects.get(pk=alpha.pk).time_zone == "Europe/Paris"
    with schema_context("public"):
        assert AuditEvent.objects.filter(action="client.update").count() == events


def test_workspace_times_are_shown_in_the_clients_time_zone(alpha, msp_admin, login_as):
    from apps.audit.services import audit_record

    with schema_context(alpha.schema_name):
        event = audit_record(action="tz.check", object_type="thing", object_id="1")
    assert event.occurred_at.utcoffset().total_seconds() == 0  # stored in UTC
    page = login_as(msp_admin).get("/c/alpha/audit/?action=tz.check").content.decode()
    local, utc = event.occurred_at.astimezone(alpha.tz), event.occurred_at
    assert local.strftime("%d %b %Y %H:%M").lstrip("0") in page
    assert utc.strftime("%H:%M") not in page  # Europe/Paris is never UTC+0
