import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from apps.core import crypto
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
