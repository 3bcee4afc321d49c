"""The permission matrix in apps/accounts/roles.py is what the portal and the API enforce, role by role.

Within reach (the user's own client), a capability the role lacks answers 403; reach itself (404) is
tests/test_isolation.py's subject.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import Membership
from apps.accounts.roles import CLIENT_ROLES, ROLE_CAPABILITIES, STAFF_ROLES, Cap, Role
from apps.alerts.models import Alert
from apps.alerts.services import alert_raise
from tests.conftest import make_user
from tests.test_isolation import ID, walk

PROBLEM = "application/problem+json"

# (method, path, capability it needs, JSON body). {alert} is an open alert at alpha.
WORKSPACE_CHECKS = [
    ("get", "/c/alpha/", Cap.VIEW, None),
    ("get", "/c/alpha/alerts/", Cap.VIEW, None),
    ("get", "/c/alpha/alerts/{alert}/", Cap.VIEW, None),
    ("get", "/c/alpha/settings/", Cap.VIEW, None),
    ("get", "/c/alpha/audit/", Cap.VIEW_AUDIT, None),
    ("get", "/c/alpha/jobs/", Cap.VIEW_AUDIT, None),
    ("post", "/c/alpha/alerts/{alert}/acknowledge/", Cap.MANAGE_ALERTS, None),
    ("get", "/c/alpha/alerts/channels/", Cap.MANAGE_ALERTS, None),
    ("get", "/c/alpha/settings/members/", Cap.MANAGE_MEMBERS, None),
    ("get", "/c/alpha/settings/api-keys/", Cap.MANAGE_API_KEYS, None),
    ("post", "/c/alpha/settings/lifecycle/", Cap.MANAGE_CLIENTS, None),  # empty form: nothing changes
    ("get", "/c/alpha/api/v1/client/", Cap.VIEW, None),
    ("get", "/c/alpha/api/v1/alerts/", Cap.VIEW, None),
    ("get", "/c/alpha/api/v1/alerts/{alert}/", Cap.VIEW, None),
    ("patch", "/c/alpha/api/v1/client/", Cap.EDIT, {"industry": "Insurance"}),
    ("get", "/c/alpha/api/v1/audit-events/", Cap.VIEW_AUDIT, None),
    ("post", "/c/alpha/api/v1/alerts/{alert}/acknowledge/", Cap.MANAGE_ALERTS, {"note": "mine"}),
    ("get", "/c/alpha/api/v1/alert-channels/", Cap.MANAGE_ALERTS, None),
    ("get", "/c/alpha/api/v1/memberships/", Cap.MANAGE_MEMBERS, None),
    ("get", "/c/alpha/api/v1/api-keys/", Cap.MANAGE_API_KEYS, None),
    ("post", "/c/alpha/api/v1/api-keys/", Cap.MANAGE_API_KEYS, {"name": "matrix", "scopes": ["read"]}),
]
# MSP level: staff only (client people are sent to their workspace; see tests/test_isolation.py).
MSP_CHECKS = [
    ("get", "/", Cap.CONSOLE, None),
    ("get", "/api/v1/alerts/", Cap.CONSOLE, None),
    ("get", "/api/v1/clients/", Cap.CONSOLE, None),
    ("get", "/clients/", Cap.MANAGE_CLIENTS, None),
    ("get", "/staff/", Cap.MANAGE_STAFF, None),
    ("get", "/staff/api-keys/", Cap.MANAGE_STAFF, None),
    ("get", "/api/v1/api-keys/", Cap.MANAGE_STAFF, None),
    ("post", "/api/v1/api-keys/", Cap.MANAGE_STAFF, {"name": "msp", "scopes": ["read"]}),
    ("post", "/assessments/templates/upload/", Cap.MANAGE_LIBRARY, None),  # no file: told so, nothing stored
]
MATRIX = [(role, check) for role in Role for check in WORKSPACE_CHECKS] + [
    (role, check) for role in Role if role in STAFF_ROLES for check in MSP_CHECKS
]


def person(role: str, alpha, email: str | None = None):
    """Someone with `role` at alpha (MSP admins reach every client without a membership)."""
    expires = timezone.now() + timedelta(days=30) if role == Role.AUDITOR else None
    return make_user(email or f"{role}-matrix@keel.test", role=role, client=alpha, expires_at=expires)


def open_alert(alpha, key: str) -> Alert:
    with schema_context(alpha.schema_name):
        return alert_raise(kind="t", severity="medium", subject=f"matrix {key}", dedup_key=f"matrix:{key}")


def call(http, method: str, path: str, body=None):
    if body is None:
        return getattr(http, method)(path)
    return getattr(http, method)(path, body, content_type="application/json")


def test_the_checks_cover_every_capability_a_route_can_need():
    checked = {capability for _, _, capability, _ in WORKSPACE_CHECKS + MSP_CHECKS}
    # ingest is for API keys (no route needs it yet); view_register has no page yet either; issue_reports acts on
    # an existing report (the route walk below covers its routes, tests/reports the workflow).
    assert checked == {value for name, value in vars(Cap).items() if name.isupper()} - {
        Cap.INGEST,
        Cap.VIEW_REGISTER,
        Cap.ISSUE_REPORTS,
    }


@pytest.mark.parametrize(("role", "check"), MATRIX, ids=[f"{role}-{check[0]}-{check[1]}" for role, check in MATRIX])
def test_each_role_gets_exactly_what_the_matrix_grants(role, check, alpha, login_as):
    method, path, capability, body = check
    alert = open_alert(alpha, f"{role}:{method}:{path}")
    http = login_as(person(role, alpha))
    response = call(http, method, path.format(alert=alert.pk), body)
    if capability in ROLE_CAPABILITIES[role]:
        assert response.status_code in (200, 201, 302), (role, method, path, response.status_code)
        if response.status_code == 302:
            assert "/accounts/" not in response["Location"] and response["Location"] != "/c/alpha/"
    else:
        assert response.status_code == 403, (role, method, path, response.status_code)
        if "/api/v1/" in path:
            assert response["Content-Type"] == PROBLEM and response.json()["status"] == 403


@pytest.mark.parametrize("role", list(Role))
def test_every_workspace_page_enforces_the_capability_it_declares(role, alpha, login_as):
    """Walks every portal route: 403 exactly when the role lacks the view's declared capability."""
    http = login_as(person(role, alpha))
    checked = 0
    for route in walk("config.urls_tenant")[0]:
        needed = getattr(route.callback, "required_capability", None)
        if needed is None or "/api/v1/" in f"/{route.template}":
            continue
        url = f"/c/alpha/{route.path(999999)}"
        response = http.get(url)
        if response.status_code == 405:  # POST-only action
            response = http.post(url)
        any_of = needed if isinstance(needed, tuple) else (needed,)
        denied = not any(capability in ROLE_CAPABILITIES[role] for capability in any_of)
        assert (response.status_code == 403) == denied, (role, route.name, needed, response.status_code)
        checked += 1
    assert checked > 10


@pytest.mark.parametrize("role", list(Role))
def test_every_workspace_api_route_enforces_its_read_capability(role, alpha, login_as):
    """Every API route, read with the role's session: 403 exactly when the role lacks the view's read capability."""
    http = login_as(person(role, alpha))
    checked = 0
    for route in walk("config.urls_tenant")[0]:
        view_class = getattr(route.callback, "cls", None)
        if view_class is None or not route.template.startswith("api/v1/"):
            continue
        needed = getattr(view_class, "read_capability", Cap.VIEW)
        response = http.get(f"/c/alpha/{route.path(999999)}")
        if response.status_code == 405:
            continue  # a POST-only action; its write capability is checked in the matrix above
        any_of = needed if isinstance(needed, tuple) else (needed,)  # e.g. the library: workspace or register
        denied = not any(capability in ROLE_CAPABILITIES[role] for capability in any_of)
        assert (response.status_code == 403) == denied, (role, route.name, needed, response.status_code)
        checked += 1
    assert checked > 10


def test_every_workspace_page_declares_the_capability_it_needs():
    """A portal page without @capability_required would be open to everyone who reaches the client."""
    pages = [r for r in walk("config.urls_tenant")[0] if not r.template.startswith("api/v1/")]
    undeclared = [str(r) for r in pages if getattr(r.callback, "required_capability", None) is None]
    assert not undeclared, undeclared
    declared = {r.name for r in pages if ID not in r.template}
    assert {"workspace_home", "alerts:list", "audit:list", "accounts:members", "accounts:api_keys"} <= declared


# --- the rules spelled out in the brief, one by one -------------------------------------


@pytest.mark.parametrize("role", [Role.CLIENT_EXECUTIVE, Role.CLIENT_VIEWER])
def test_executives_and_viewers_see_the_workspace_but_cannot_acknowledge(role, alpha, login_as):
    alert = open_alert(alpha, f"read-only:{role}")
    http = login_as(person(role, alpha))
    assert http.get("/c/alpha/").status_code == 200
    page = http.get("/c/alpha/alerts/")
    assert page.status_code == 200 and alert.subject.encode() in page.content
    assert b'aria-label="Acknowledge' not in page.content  # no button they could not use
    assert http.get(f"/c/alpha/alerts/{alert.pk}/").status_code == 200
    assert http.get("/c/alpha/api/v1/alerts/").status_code == 200
    assert http.post(f"/c/alpha/alerts/{alert.pk}/acknowledge/", {"note": "x"}).status_code == 403
    api = http.post(f"/c/alpha/api/v1/alerts/{alert.pk}/acknowledge/", {}, content_type="application/json")
    assert api.status_code == 403 and api["Content-Type"] == PROBLEM
    assert api.json()["title"] == "Permission denied"
    with schema_context(alpha.schema_name):
        alert.refresh_from_db()
    assert alert.state == Alert.State.OPEN


def test_auditors_read_the_audit_trail_only_until_their_end_date(alpha, login_as):
    auditor = person(Role.AUDITOR, alpha)
    http = login_as(auditor)
    assert http.get("/c/alpha/alerts/").status_code == 403
    assert http.get("/c/alpha/").status_code == 403
    assert http.get("/c/alpha/audit/").status_code == 200
    assert http.get("/c/alpha/api/v1/audit-events/").status_code == 200
    assert http.get("/c/alpha/api/v1/alerts/").status_code == 403
    assert http.get("/")["Location"] == "/c/alpha/compliance/"  # signed in, an auditor lands on the register
    assert http.get("/c/alpha/compliance/").status_code == 200
    assert http.get("/c/alpha/incidents/").status_code == 200  # the incident register is part of what they audit
    assert http.get("/c/alpha/api/v1/incidents/").status_code == 200
    assert http.post("/c/alpha/incidents/new/").status_code == 403  # read only
    # The end date passes: the same session now finds no client at all.
    Membership.objects.filter(user=auditor).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert http.get("/c/alpha/audit/").status_code == 404
    api = http.get("/c/alpha/api/v1/audit-events/")
    assert api.status_code == 404 and api["Content-Type"] == PROBLEM
    assert http.get("/").status_code == 404  # no workspace left to send them to


def test_an_auditor_membership_cannot_be_granted_without_an_end_date(alpha):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="end date"):
        make_user("no-end@audit.test", role=Role.AUDITOR, client=alpha)


def test_engineers_acknowledge_alerts_but_cannot_manage_api_keys(alpha, login_as):
    first, second = open_alert(alpha, "eng:1"), open_alert(alpha, "eng:2")
    http = login_as(person(Role.ENGINEER, alpha))
    assert b'aria-label="Acknowledge' in http.get("/c/alpha/alerts/").content
    assert http.post(f"/c/alpha/alerts/{first.pk}/acknowledge/", {"note": "on it"}).status_code == 302
    api = http.post(f"/c/alpha/api/v1/alerts/{second.pk}/acknowledge/", {}, content_type="application/json")
    assert api.status_code == 200 and api.json()["state"] == "acknowledged"
    with schema_context(alpha.schema_name):
        assert set(Alert.objects.filter(pk__in=[first.pk, second.pk]).values_list("state", flat=True)) == {
            Alert.State.ACKNOWLEDGED
        }
    assert http.get("/c/alpha/settings/api-keys/").status_code == 403
    assert http.post("/c/alpha/settings/api-keys/", {"name": "x", "scopes": ["read"]}).status_code == 403
    assert http.get("/c/alpha/api/v1/api-keys/").status_code == 403
    created = http.post("/c/alpha/api/v1/api-keys/", {"name": "x", "scopes": ["read"]}, content_type="application/json")
    assert created.status_code == 403 and created["Content-Type"] == PROBLEM
    from apps.accounts.models import ApiKey

    assert not ApiKey.objects.filter(client=alpha).exists()


@pytest.mark.parametrize("role", sorted(STAFF_ROLES))
def test_staff_without_mfa_are_sent_to_set_it_up(role, alpha, login_as):
    staff = make_user(f"nomfa-{role}@msp.test", role=role, client=alpha, mfa=False)
    http = login_as(staff)
    for path in ("/", "/clients/", "/audit/", "/c/alpha/", "/c/alpha/alerts/", "/c/alpha/settings/members/"):
        response = http.get(path)
        assert response.status_code == 302 and response["Location"] == "/accounts/mfa-required/", path
    for path in ("/c/alpha/api/v1/alerts/", "/api/v1/clients/"):
        api = http.get(path)
        assert api.status_code == 403 and api["Content-Type"] == PROBLEM, path
        assert api.json()["title"] == "MFA required" and api.json()["status"] == 403
    assert http.get("/accounts/mfa-required/").status_code == 200


@pytest.mark.parametrize("role", sorted(STAFF_ROLES))
def test_staff_with_totp_pass(role, alpha, login_as, has_totp):
    staff = make_user(f"totp-{role}@msp.test", role=role, client=alpha)
    assert has_totp(staff)
    http = login_as(staff)
    for path in ("/", "/c/alpha/", "/c/alpha/alerts/", "/c/alpha/api/v1/alerts/", "/api/v1/clients/"):
        assert http.get(path).status_code == 200, path


@pytest.mark.parametrize("role", sorted(CLIENT_ROLES - {Role.AUDITOR}))
def test_client_people_need_no_mfa(role, alpha, login_as, has_totp):
    user = person(role, alpha)
    assert not has_totp(user)
    assert login_as(user).get("/c/alpha/").status_code == 200


def test_the_mfa_rule_can_be_switched_off(alpha, login_as, settings):
    settings.KEEL_REQUIRE_STAFF_MFA = False
    staff = make_user("nomfa-off@msp.test", role=Role.ENGINEER, client=alpha, mfa=False)
    assert login_as(staff).get("/c/alpha/alerts/").status_code == 200


def test_msp_admins_reach_every_client_without_a_membership(alpha, beta, msp_admin, login_as):
    assert not Membership.objects.filter(user=msp_admin).exists()
    http = login_as(msp_admin)
    for slug in ("alpha", "beta"):
        assert http.get(f"/c/{slug}/").status_code == 200
        assert http.get(f"/c/{slug}/api/v1/alerts/").status_code == 200
    assert {c["slug"] for c in http.get("/api/v1/clients/").json()["results"]} >= {"alpha", "beta"}


def test_assigned_staff_see_only_their_clients_at_msp_level(alpha, beta, login_as):
    manager = person(Role.ACCOUNT_MANAGER, alpha, email="am-only-alpha@msp.test")
    http = login_as(manager)
    assert [c["slug"] for c in http.get("/api/v1/clients/").json()["results"]] == ["alpha"]
    assert http.get("/api/v1/clients/beta/").status_code == 404
    assert b"Beta Corp" not in http.get("/").content


def test_account_managers_cannot_mint_msp_level_keys(alpha, beta, login_as, client):
    """An MSP-level key reads every client's portfolio, so it is managed like the Staff pages (manage_staff).

    Regression: the MSP API let an account manager assigned to alpha create one and so read beta too.
    """
    from apps.accounts.models import ApiKey

    manager = person(Role.ACCOUNT_MANAGER, alpha, email="am-msp-key@msp.test")
    http = login_as(manager)
    response = http.post("/api/v1/api-keys/", {"name": "esc", "scopes": ["read"]}, content_type="application/json")
    assert response.status_code == 403 and response["Content-Type"] == PROBLEM
    assert not ApiKey.objects.filter(client__isnull=True).exists()
    admin = login_as(make_user("admin-msp-key@msp.test", role=Role.MSP_ADMIN))
    created = admin.post("/api/v1/api-keys/", {"name": "bi", "scopes": ["read"]}, content_type="application/json")
    assert created.status_code == 201
    assert http.post(f"/api/v1/api-keys/{created.json()['id']}/revoke/").status_code == 403
