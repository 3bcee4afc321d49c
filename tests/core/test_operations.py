"""Operating Keel: health and readiness probes, secure headers, self-hosted front-end libraries,
and a production configuration that passes Django's deployment checks."""

import re
import secrets
import string
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.db import OperationalError, connection

from apps.core.staticfiles import VENDOR_FILES
from tests.support.processes import BASE_DIR, _url_for

# --- probes ---------------------------------------------------------------------------------------------


def test_healthz_answers_json_without_a_session(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]  # a cached probe would hide an outage


def test_readyz_reports_database_and_broker(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
    assert "no-store" in response["Cache-Control"]


def test_readyz_is_unavailable_when_the_broker_is_unreachable(client, db, monkeypatch):
    from config.celery import app

    original = app.connection_for_write
    # A port nothing listens on: the real connection attempt fails.
    monkeypatch.setattr(app, "connection_for_write", lambda *a, **kw: original("redis://127.0.0.1:1/0"))
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error: ")


def test_readyz_is_unavailable_when_the_database_fails(client, db, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr("apps.core.views.connection", BrokenConnection())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "error: OperationalError", "broker": "ok"},
    }


# --- secure headers -------------------------------------------------------------------------------------

# Sources a directive may list: this origin, nothing, data: URIs, or CSP keywords. Never a host (no CDN).
ALLOWED_SOURCES = {"'self'", "'none'", "data:", "'unsafe-eval'", "'unsafe-inline'"}


def _csp(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


@pytest.fixture
def pages(alpha, msp_admin, login_as, client):
    """One of each kind of response: anonymous sign-in page, console, workspace, API, probe."""
    http = login_as(msp_admin)
    return {
        "sign-in": client.get("/accounts/login/"),
        "console": http.get("/"),
        "workspace": http.get("/c/alpha/"),
        "api": http.get("/api/v1/clients/"),
        "probe": client.get("/healthz"),
    }


def test_every_kind_of_response_carries_the_secure_headers(pages):
    for kind, response in pages.items():
        assert response.status_code == 200, kind
        assert response["X-Content-Type-Options"] == "nosniff", kind
        assert response["Referrer-Policy"] == "same-origin", kind
        assert response["X-Frame-Options"] == "DENY", kind
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", kind
        assert re.fullmatch(r"[0-9a-f]{16}", response["X-Request-ID"]), kind


def test_the_content_security_policy_allows_this_origin_only(pages):
    for kind, response in pages.items():
        directives = _csp(response["Content-Security-Policy"])
        assert directives["default-src"] == ["'self'"], kind
        assert directives["frame-ancestors"] == ["'none'"], kind
        assert directives["object-src"] == ["'none'"], kind
        assert directives["base-uri"] == ["'self'"], kind
        assert directives["form-action"] == ["'self'"], kind
        for name, sources in directives.items():
            assert "'self'" in sources or sources == ["'none'"], (kind, name)
            assert set(sources) <= ALLOWED_SOURCES, (kind, name, sources)  # no CDN or other host
        assert "http" not in response["Content-Security-Policy"]


def test_pages_load_scripts_and_styles_from_this_origin_only(pages):
    html = pages["console"].content.decode()
    assert '<script src="/static/vendor/htmx-2.min.js"' in html
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(src.startswith("/static/") for src in sources), sources


# --- front-end libraries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "marker"),
    [("/static/vendor/plotly.min.js", b"plotly"), ("/static/vendor/htmx-2.min.js", b"htmx")],
)
def test_front_end_libraries_are_served_from_the_installed_packages(path, marker, client, db):
    response = client.get(path)
    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
    body = b"".join(response.streaming_content)
    (source,) = [f for f in VENDOR_FILES if f.name == path.rsplit("/", 1)[1]]
    assert body == source.read_bytes()  # the very file the installed Python package ships
    assert len(body) > 10_000 and marker in body[:5000].lower()


def test_an_unknown_vendor_file_is_not_served(client, db):
    assert client.get("/static/vendor/jquery.min.js").status_code == 404


# --- production configuration ---------------------------------------------------------------------------


def _production_env(**overrides) -> dict:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": _url_for(connection.settings_dict["NAME"]),
        "KEEL_SECRET_KEY": "".join(secrets.choice(alphabet) for _ in range(60)),
        "KEEL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "KEEL_ALLOWED_HOSTS": "keel.example.com",
        **overrides,
    }


def _manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_under_production_settings(db):
    result = _manage(_production_env(), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_settings_refuse_a_weak_secret_key(db):
    result = _manage(_production_env(KEEL_SECRET_KEY="short"), "check")
    assert result.returncode != 0
    assert "KEEL_SECRET_KEY must be at least 50" in result.stderr


def test_production_settings_require_encryption_keys(db):
    env = _production_env()
    del env["KEEL_ENCRYPTION_KEYS"]
    result = _manage(env, "check")
    assert result.returncode != 0 and "KEEL_ENCRYPTION_KEYS" in result.stderr
