"""Every workspace route, walked with someone from another client: always 404, never a leak.

Routes are read from the URL configuration, so routes added later are covered without editing this file.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import schema_context

from apps.accounts.roles import Role, Scope
from apps.alerts.services import alert_raise
from tests.conftest import auth_header, make_user

FILL = {"int": "1", "str": "x", "slug": "x", "path": "x", "uuid": "00000000-0000-0000-0000-000000000001"}


def _fill_regex(regex: str) -> str:
    path = regex.lstrip("^").rstrip("$").replace("\\Z", "")
    path = re.sub(r"\(\?P<format>[^)]*\)", "", path)  # format suffixes: skip the optional .json form
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", "1", path)
    path = path.replace("/?", "/").replace("\\.", ".").replace("\\", "")
    if re.search(r"[()\[\]?*+]", path):
        raise AssertionError(f"cannot build a path from regex {regex!r}")
    return path


def _fill_route(route: str) -> str:
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: FILL.get(m.group(1) or "str", "x"), route)


def walk(patterns, prefix: str = "") -> list[str]:
    paths = []
    for entry in patterns:
        pattern = entry.pattern
        piece = _fill_route(str(pattern._route)) if hasattr(pattern, "_route") else _fill_regex(pattern.regex.pattern)
        if isinstance(entry, URLResolver):
            paths += walk(entry.url_patterns, prefix + piece)
        elif isinstance(entry, URLPattern):
            paths.append(prefix + piece)
    return sorted(set(paths))


WORKSPACE_PATHS = walk(get_resolver("config.urls_tenant").url_patterns)
MSP_API_PATHS = [p for p in walk(get_resolver("config.urls_public").url_patterns) if p.startswith("api/v1/")]


def test_walker_sees_the_routes():
    assert "alerts/1/" in WORKSPACE_PATHS
    assert any(p.startswith("api/v1/alerts") for p in WORKSPACE_PATHS)
    assert len(WORKSPACE_PATHS) > 20
    assert "api/v1/clients/" in MSP_API_PATHS


@pytest.fixture
def beta_alert(beta):
    with schema_context(beta.schema_name):
        return alert_raise(kind="test", severity="high", subject="beta only", dedup_key="iso:beta")


@pytest.mark.parametrize("path", WORKSPACE_PATHS)
def test_other_clients_users_and_keys_get_404_everywhere(path, alpha, beta, beta_alert, login_as, api_key_for):
    alpha_exec = make_user("exec-iso@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)
    alpha_manager = make_user("am-iso@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)
    _, alpha_secret = api_key_for(alpha, list(Scope.values))
    url = f"/c/beta/{path}"
    for user in (alpha_exec, alpha_manager):
        http = login_as(user)
        assert http.get(url).status_code == 404, (user.email, url)
        assert http.post(url, {}).status_code == 404, (user.email, url)
    http = login_as(alpha_exec)
    for method in ("get", "post", "patch", "delete"):
        response = getattr(http, method)(url, **auth_header(alpha_secret))
        assert response.status_code == 404, (method, url, response.status_code)


@pytest.mark.parametrize("path", WORKSPACE_PATHS)
def test_anonymous_never_gets_content(path, client, beta):
    response = client.get(f"/c/beta/{path}")
    assert response.status_code in (302, 401), (path, response.status_code)


@pytest.mark.parametrize("path", MSP_API_PATHS)
def test_client_keys_do_not_reach_the_msp_api(path, client, alpha, api_key_for):
    _, secret = api_key_for(alpha, list(Scope.values))
    assert client.get(f"/{path}", **auth_header(secret)).status_code == 404


def test_object_ids_resolve_only_inside_their_own_schema(alpha, beta, beta_alert, login_as):
    manager = make_user("am-ids@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)
    http = login_as(manager)
    assert http.get(f"/c/alpha/alerts/{beta_alert.pk}/").status_code == 404
    assert http.get(f"/c/alpha/api/v1/alerts/{beta_alert.pk}/").status_code == 404


def test_client_users_never_see_msp_pages(alpha, login_as):
    executive = make_user("exec-msp@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)
    http = login_as(executive)
    assert http.get("/").status_code == 302 and http.get("/")["Location"] == "/c/alpha/"
    for path in ("/clients/", "/staff/", "/audit/", "/jobs/", "/staff/api-keys/"):
        response = http.get(path)
        assert response.status_code in (302, 404), path
        assert b"Portfolio console" not in response.content


def test_unknown_client_slug_is_404_and_indistinguishable_when_signed_out(
    client, msp_admin, login_as, alpha, api_key_for
):
    assert login_as(msp_admin).get("/c/nope/").status_code == 404
    _, secret = api_key_for(alpha, ["read"])
    response = client.get("/c/nope/api/v1/alerts/", **auth_header(secret))
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    # Signed out, a made-up slug and a real one look the same: sign-in (portal) or 401 (API).
    for slug in ("nope", "alpha"):
        page = client.get(f"/c/{slug}/alerts/")
        assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")
        api = client.get(f"/c/{slug}/api/v1/alerts/")
        assert api.status_code == 401 and api["Content-Type"] == "application/problem+json"
