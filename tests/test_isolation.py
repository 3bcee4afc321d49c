"""Client isolation, proven route by route.

The walker reads every URL pattern of the client workspace URL configuration (recursing into includes, DRF
routers and their format-suffix variants), builds a concrete path for each, and asks for it under another
client's prefix. Routes added later are covered without editing this file; a pattern the walker cannot
fill fails `test_every_workspace_route_is_walked` with its name instead of being skipped.

Rules proven here (apps/accounts/access.py):
- a user or API key of client alpha gets 404 for every path under /c/beta/, whatever the method;
- signed out, every workspace path answers sign-in (portal) or 401 (API), never content;
- client keys never reach the MSP-level API; client users never see MSP-level pages;
- an unknown slug looks exactly like a client one cannot reach;
- object ids resolve only inside their own client's schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.converters import IntConverter
from django.urls.exceptions import Resolver404
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.roles import Role, Scope
from apps.alerts.models import Alert
from apps.alerts.services import alert_raise
from tests.conftest import auth_header, make_user

WORKSPACE_URLCONF = "config.urls_tenant"
PUBLIC_URLCONF = "config.urls_public"
ID = "__ID__"  # stands for an object id in a route template; filled at test time
# Values tried, in order, for a path parameter that is not an object id.
CANDIDATES = ("x", "1", "json", ".json", "00000000-0000-0000-0000-000000000001", "agent")
# Object identifiers: ids, and the codes some objects are addressed by (business units: /unit-economics/<code>/;
# their cross-client 404 is tested with real codes in tests/unit_economics).
ID_GROUP = re.compile(r"^(pk|id|seq|code|\w+_id|\w+_pk)$")
PROBLEM = "application/problem+json"
# MSP-level routes anyone may open (sign-in, invitations, health, the API description). Listed here on
# purpose rather than read from the middleware, so widening the middleware's list fails this file.
PUBLIC_OPEN = ("accounts/", "invitations/", "healthz", "readyz", "api/schema/", "api/docs/")
BETA_SUBJECT = "beta-only isolation alert"


class Unfillable(Exception):
    pass


@dataclass(frozen=True)
class Route:
    name: str  # namespace:name, for messages
    template: str  # the path below the URL conf's root, with ID where an object id goes
    callback: object

    @property
    def has_id(self) -> bool:
        return ID in self.template

    def path(self, ident=1) -> str:
        return self.template.replace(ID, str(ident))

    def __str__(self):
        return f"{self.name} {self.template}"


def _value_for(param: str, regex: str, *, is_int: bool = False) -> str:
    if is_int or (ID_GROUP.match(param) and re.fullmatch(regex, "1")):
        return ID
    if param == "format" and re.fullmatch(regex, "json"):
        return "json"
    for candidate in CANDIDATES:
        if re.fullmatch(regex, candidate):
            return candidate
    raise Unfillable(f"no value for <{param}> matches {regex!r}")


def _fill_route(pattern) -> str:
    route = str(pattern._route)

    def fill(match):
        param = match.group("param")
        converter = pattern.converters[param]
        return _value_for(param, converter.regex, is_int=isinstance(converter, IntConverter))

    return re.sub(r"<(?:(?P<converter>[^>:]+):)?(?P<param>[^>]+)>", fill, route)


def _group_end(regex: str, start: int) -> int:
    """Index just past the ')' closing the group that opens at `start`."""
    depth, i = 0, start
    while i < len(regex):
        char = regex[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = regex.index("]", i + 2 if regex[i + 1 : i + 2] == "]" else i + 1) + 1
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise Unfillable(f"unbalanced group in {regex!r}")


def _fill_regex(regex: str) -> str:
    """A path matching a router's regex, e.g. ^alerts/(?P<pk>[^/.]+)\\.(?P<format>[a-z0-9]+)/?$."""
    body = regex.removeprefix("^")
    for end in ("\\Z", "$"):
        body = body.removesuffix(end)
    out, i = [], 0
    while i < len(body):
        if body.startswith("(?P<", i):
            name_end = body.index(">", i)
            end = _group_end(body, i)
            out.append(_value_for(body[i + 4 : name_end], body[name_end + 1 : end - 1]))
            i = end
        elif body[i] == "\\" and i + 1 < len(body) and not body[i + 1].isalnum():
            out.append(body[i + 1])  # an escaped literal, e.g. \. or \-
            i += 2
        elif body[i] == "?":
            i += 1  # the preceding character is optional: keep it
        elif body[i] in "()[]{}*+|^$\\":
            raise Unfillable(f"cannot build a path from {regex!r}")
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def walk(urlconf: str) -> tuple[list[Route], list[str]]:
    """Every leaf pattern of `urlconf` as a Route; the names of those that could not be filled."""
    routes, failures = [], []

    def visit(patterns, prefix: str, namespace: str):
        for entry in patterns:
            pattern = entry.pattern
            name = getattr(entry, "name", None) or getattr(entry, "lookup_str", "?")
            try:
                piece = _fill_route(pattern) if hasattr(pattern, "_route") else _fill_regex(pattern.regex.pattern)
            except Unfillable as exc:
                failures.append(f"{namespace}{name} ({prefix}{pattern}): {exc}")
                continue
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                visit(entry.url_patterns, prefix + piece, inner)
            elif isinstance(entry, URLPattern):
                routes.append(Route(f"{namespace}{name}", prefix + piece, entry.callback))

    visit(get_resolver(urlconf).url_patterns, "", "")
    return routes, failures


def _shadowed(routes: list[Route], urlconf: str) -> list[str]:
    """Routes whose built path resolves to some other view: the walker would test the wrong thing."""
    wrong = []
    for route in routes:
        try:
            match = resolve("/" + route.path(1), urlconf=urlconf)
        except Resolver404:
            wrong.append(f"{route}: does not resolve")
            continue
        if match.func is not route.callback:
            wrong.append(f"{route}: resolves to {match.view_name}")
    return wrong


WORKSPACE_ROUTES, WORKSPACE_FAILURES = walk(WORKSPACE_URLCONF)
PUBLIC_ROUTES, PUBLIC_FAILURES = walk(PUBLIC_URLCONF)
MSP_API_ROUTES = [r for r in PUBLIC_ROUTES if r.template.startswith("api/v1/")]
MSP_PORTAL_ROUTES = [r for r in PUBLIC_ROUTES if not r.template.startswith((*PUBLIC_OPEN, "api/v1/"))]
NO_ID_WORKSPACE_ROUTES = [r for r in WORKSPACE_ROUTES if not r.has_id]


def _ids(routes):
    return [str(r) for r in routes]


# --- the walker itself --------------------------------------------------------


def test_every_workspace_route_is_walked():
    assert not WORKSPACE_FAILURES, "routes the walker cannot fill:\n" + "\n".join(WORKSPACE_FAILURES)
    assert not PUBLIC_FAILURES, "routes the walker cannot fill:\n" + "\n".join(PUBLIC_FAILURES)
    assert not _shadowed(WORKSPACE_ROUTES, WORKSPACE_URLCONF), _shadowed(WORKSPACE_ROUTES, WORKSPACE_URLCONF)
    assert not _shadowed(PUBLIC_ROUTES, PUBLIC_URLCONF), _shadowed(PUBLIC_ROUTES, PUBLIC_URLCONF)


def test_walker_sees_portal_pages_router_routes_and_format_suffixes():
    names = {r.name for r in WORKSPACE_ROUTES}
    templates = {r.template for r in WORKSPACE_ROUTES}
    assert {"workspace_home", "alerts:list", "alerts:detail", "alerts:action", "audit:list"} <= names
    assert {"alert-list", "alert-detail", "alert-acknowledge", "api-key-list", "membership-invite"} <= names
    assert f"alerts/{ID}/" in templates and f"api/v1/alerts/{ID}/acknowledge/" in templates
    assert f"api/v1/alerts/{ID}.json/" in templates  # DRF's format-suffix variant, filled too
    assert "api/v1/.json" in templates  # the API root's drf_format_suffix converter
    assert len(WORKSPACE_ROUTES) > 40
    assert {"api/v1/clients/", "api/v1/alerts/", "api/v1/api-keys/"} <= {r.template for r in MSP_API_ROUTES}
    assert {"", "clients/", "staff/", "audit/", "jobs/"} <= {r.template for r in MSP_PORTAL_ROUTES}


def test_fillers_build_paths_the_regex_accepts():
    assert _fill_regex(r"^alerts/(?P<pk>[^/.]+)/?$") == f"alerts/{ID}/"
    assert _fill_regex(r"^alerts\.(?P<format>[a-z0-9]+)/?$") == "alerts.json/"
    assert _fill_regex(r"^things/(?P<slug>[-a-z]+)/(?P<n>\d+)/$") == "things/x/1/"
    with pytest.raises(Unfillable):
        _fill_regex(r"^(?:a|b)/$")
    with pytest.raises(Unfillable):
        _fill_regex(r"^x/(?P<code>[A-Z]{3})/$")


# --- fixtures -----------------------------------------------------------------


@pytest.fixture
def beta_alert(beta):
    with schema_context(beta.schema_name):
        return alert_raise(kind="test", severity="high", subject=BETA_SUBJECT, dedup_key="isolation:beta")


@pytest.fixture
def alpha_people(alpha):
    """Someone of each kind that reaches alpha and only alpha."""
    return {
        "executive": make_user("iso-exec@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha),
        "account manager": make_user("iso-am@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha),
    }


@pytest.fixture
def alpha_full_key(alpha, api_key_for):
    _, secret = api_key_for(alpha, list(Scope.values))
    return secret


def _assert_not_found(response, where):
    assert response.status_code == 404, (where, response.status_code)
    assert BETA_SUBJECT.encode() not in response.content, where
    assert b"Beta Corp" not in response.content, where


# --- another client's workspace ---------------------------------------------------


@pytest.mark.parametrize("route", WORKSPACE_ROUTES, ids=_ids(WORKSPACE_ROUTES))
def test_other_clients_people_and_keys_get_404_on_every_route(
    route, beta, beta_alert, alpha_people, alpha_full_key, login_as, client
):
    idents = sorted({1, beta_alert.pk}) if route.has_id else [1]
    sessions = {label: login_as(user) for label, user in alpha_people.items()}
    for ident in idents:
        url = f"/c/beta/{route.path(ident)}"
        for label, http in sessions.items():
            for method in ("get", "post"):
                _assert_not_found(getattr(http, method)(url), (label, method, url))
        for method in ("get", "post", "put", "patch", "delete"):
            response = getattr(client, method)(url, **auth_header(alpha_full_key))
            _assert_not_found(response, ("alpha key", method, url))
    with schema_context(beta.schema_name):
        beta_alert.refresh_from_db()
    assert beta_alert.state == Alert.State.OPEN  # no POST above reached it


@pytest.mark.parametrize("route", WORKSPACE_ROUTES, ids=_ids(WORKSPACE_ROUTES))
def test_signed_out_visitors_never_get_content(route, beta, beta_alert, client):
    url = f"/c/beta/{route.path(beta_alert.pk)}"
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code in (302, 401), (method, url, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/?next="), (method, url)
        else:
            assert response["Content-Type"] == PROBLEM and "/api/v1/" in url, (method, url)


@pytest.mark.parametrize("route", NO_ID_WORKSPACE_ROUTES, ids=_ids(NO_ID_WORKSPACE_ROUTES))
def test_the_same_routes_answer_in_ones_own_workspace(route, alpha, alpha_people, alpha_full_key, login_as, client):
    """The control: the 404s above come from reach, not from routes that answer 404 to everyone."""
    url = f"/c/alpha/{route.path()}"
    assert login_as(alpha_people["account manager"]).get(url).status_code != 404, url
    if "/api/v1/" in url:
        assert client.get(url, **auth_header(alpha_full_key)).status_code != 404, url


@pytest.mark.parametrize("route", WORKSPACE_ROUTES, ids=_ids(WORKSPACE_ROUTES))
def test_unknown_slug_is_indistinguishable_from_an_unreachable_client(
    route, beta, beta_alert, msp_admin, alpha_people, alpha_full_key, login_as, client
):
    path = route.path(beta_alert.pk)
    admin = login_as(msp_admin)  # reaches every real client, so only "no such client" can answer 404
    assert admin.get(f"/c/nope/{path}").status_code == 404
    assert admin.post(f"/c/nope/{path}").status_code == 404
    assert client.get(f"/c/nope/{path}", **auth_header(alpha_full_key)).status_code == 404
    executive = login_as(alpha_people["executive"])
    made_up, real = executive.get(f"/c/nope/{path}"), executive.get(f"/c/beta/{path}")
    assert (made_up.status_code, made_up["Content-Type"], made_up.content) == (
        real.status_code,
        real["Content-Type"],
        real.content,
    )
    signed_out_made_up, signed_out_real = client.get(f"/c/nope/{path}"), client.get(f"/c/beta/{path}")
    assert signed_out_made_up.status_code == signed_out_real.status_code
    assert signed_out_made_up.get("Location", "").replace("nope", "beta") == signed_out_real.get("Location", "")


def test_object_ids_resolve_only_inside_their_own_schema(alpha, beta, beta_alert, alpha_people, login_as, api_key_for):
    with schema_context(alpha.schema_name):
        assert not Alert.objects.filter(pk=beta_alert.pk).exists()  # the id exists in beta only
    http = login_as(alpha_people["account manager"])
    _, secret = api_key_for(alpha, list(Scope.values))
    assert http.get(f"/c/alpha/alerts/{beta_alert.pk}/").status_code == 404
    response = http.get(f"/c/alpha/api/v1/alerts/{beta_alert.pk}/")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    assert BETA_SUBJECT.encode() not in response.content
    keyed = http.get(f"/c/alpha/api/v1/alerts/{beta_alert.pk}/", **auth_header(secret))
    assert keyed.status_code == 404 and keyed["Content-Type"] == PROBLEM
    ack = http.post(f"/c/alpha/api/v1/alerts/{beta_alert.pk}/acknowledge/", {}, content_type="application/json")
    assert ack.status_code == 404
    assert http.post(f"/c/alpha/alerts/{beta_alert.pk}/acknowledge/").status_code == 404
    with schema_context(beta.schema_name):
        beta_alert.refresh_from_db()
    assert beta_alert.state == Alert.State.OPEN
    # The same request in beta's own workspace does find it: the 404 above is the schema, not the id.
    beta_manager = make_user("iso-am-beta@msp.test", role=Role.ACCOUNT_MANAGER, client=beta)
    assert login_as(beta_manager).get(f"/c/beta/api/v1/alerts/{beta_alert.pk}/").json()["subject"] == BETA_SUBJECT


# --- the MSP level ------------------------------------------------------------------


@pytest.mark.parametrize("route", MSP_API_ROUTES, ids=_ids(MSP_API_ROUTES))
def test_client_keys_and_client_people_never_reach_the_msp_api(route, alpha_people, alpha_full_key, login_as, client):
    url = f"/{route.path(1)}"
    for method in ("get", "post", "put", "patch", "delete"):
        response = getattr(client, method)(url, **auth_header(alpha_full_key))
        assert response.status_code == 404, ("alpha key", method, url, response.status_code)
        assert response["Content-Type"] == PROBLEM
    executive = login_as(alpha_people["executive"])
    for method in ("get", "post"):
        response = getattr(executive, method)(url)
        assert response.status_code == 404, ("executive", method, url, response.status_code)


@pytest.mark.parametrize("route", MSP_PORTAL_ROUTES, ids=_ids(MSP_PORTAL_ROUTES))
def test_client_people_never_see_msp_pages(route, alpha, login_as):
    executive = make_user("iso-msp-exec@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)
    auditor = make_user(
        "iso-msp-aud@alpha.test",
        role=Role.AUDITOR,
        client=alpha,
        expires_at=timezone.now() + timedelta(days=3),
    )
    url = f"/{route.path(1)}"
    for user in (executive, auditor):
        http = login_as(user)
        for method in ("get", "post"):
            response = getattr(http, method)(url)
            assert response.status_code in (302, 404), (user.email, method, url, response.status_code)
            if response.status_code == 302:  # to their own workspace (an auditor: to its compliance register)
                home = "/c/alpha/compliance/" if user is auditor else "/c/alpha/"
                assert response["Location"] == home, (user.email, method, url)
            assert b"Portfolio console" not in response.content


def test_client_user_without_any_live_membership_gets_404_at_msp_level(alpha, login_as):
    from apps.accounts.models import Membership

    user = make_user("iso-lapsed@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)
    Membership.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(minutes=1))
    http = login_as(user)
    for url in ("/", "/clients/", "/staff/", "/audit/", "/jobs/", "/c/alpha/"):
        assert http.get(url).status_code == 404, url
