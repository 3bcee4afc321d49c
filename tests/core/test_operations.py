import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.core import crypto
from apps.tenancy.models import Client
from tests.conftest import make_user
from tests.support.processes import BASE_DIR


def test_health_and_readiness(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ok" and ready["checks"] == {"database": "ok", "broker": "ok"}


def test_secure_headers_and_csp(client, db):
    response = client.get("/accounts/login/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "http" not in csp
    assert response["X-Request-ID"]


@pytest.mark.parametrize("path", ["/static/vendor/plotly.min.js", "/static/vendor/htmx-2.min.js"])
def test_front_end_libraries_come_from_installed_packages(path, client, db):
    response = client.get(path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:2000]


def test_check_deploy_is_clean_under_production_settings():
    db = connection.settings_dict
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "KEEL_SECRET_KEY": "p" * 20 + "roduction-secret-key-for-the-deploy-check-0123456789",
        "KEEL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "KEEL_ALLOWED_HOSTS": "keel.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_encryption_round_trip_and_rotation(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.KEEL_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt_text("aws-secret")
    settings.KEEL_ENCRYPTION_KEYS = [new, old]
    assert crypto.decrypt_text(token) == "aws-secret"
    rotated = crypto.rotate_token(token)
    settings.KEEL_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt_text(rotated) == "aws-secret"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_text(token)


def test_secrets_are_ciphertext_in_the_database(in_alpha):
    from apps.alerts.services_delivery import channel_save

    channel = channel_save(
        name="hook",
        kind="webhook",
        target="https://example.test/h",
        min_severity="high",
        kinds=[],
        is_active=True,
        signing_secret="whsec-123",
    )
    with connection.cursor() as cur:
        cur.execute("SELECT signing_secret FROM alerts_notificationchannel WHERE id = %s", [channel.pk])
        raw = cur.fetchone()[0]
    assert "whsec-123" not in raw and crypto.decrypt_text(raw) == "whsec-123"
    channel.refresh_from_db()
    assert channel.signing_secret == "whsec-123"


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
