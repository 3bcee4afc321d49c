import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import Membership, User
from apps.accounts.roles import ROLE_CAPABILITIES, Role
from apps.alerts.services import alert_raise
from apps.audit.models import AuditEvent
from tests.conftest import make_user

# (path, method, capability it needs) — what each role may do at its client.
CHECKS = [
    ("/c/alpha/", "get", "view"),
    ("/c/alpha/alerts/", "get", "view"),
    ("/c/alpha/audit/", "get", "view_audit"),
    ("/c/alpha/settings/members/", "get", "manage_members"),
    ("/c/alpha/settings/api-keys/", "get", "manage_api_keys"),
    ("/c/alpha/alerts/channels/", "get", "manage_alerts"),
    ("/c/alpha/alerts/{alert}/acknowledge/", "post", "manage_alerts"),
]


@pytest.mark.parametrize("role", list(Role))
def test_roles_get_exactly_their_capabilities(role, alpha, login_as):
    with schema_context(alpha.schema_name):
        alert = alert_raise(kind="t", severity="low", subject="s", dedup_key=f"role:{role}")
    expires = timezone.now() + timedelta(days=5) if role == Role.AUDITOR else None
    user = make_user(f"{role}@test.test", role=role, client=alpha, expires_at=expires)
    http = login_as(user)
    for path, method, capability in CHECKS:
        response = getattr(http, method)(path.format(alert=alert.pk))
        allowed = capability in ROLE_CAPABILITIES[role]
        assert (response.status_code in (200, 302)) == allowed, (role, path, response.status_code)
        if not allowed:
            assert response.status_code == 403


def test_expired_auditor_reaches_nothing(alpha, login_as):
    auditor = make_user(
        "old-auditor@test.test", role=Role.AUDITOR, client=alpha, expires_at=timezone.now() + timedelta(days=1)
    )
    Membership.objects.filter(user=auditor).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert login_as(auditor).get("/c/alpha/audit/").status_code == 404


def test_staff_must_set_up_mfa_first(alpha, login_as):
    staff = make_user("nomfa@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha, mfa=False)
    http = login_as(staff)
    for path in ("/", "/c/alpha/", "/c/alpha/alerts/"):
        response = http.get(path)
        assert response.status_code == 302 and response["Location"] == "/accounts/mfa-required/", path
    api = http.get("/c/alpha/api/v1/alerts/")
    assert api.status_code == 403 and api["Content-Type"] == "application/problem+json"
    assert http.get("/accounts/mfa-required/").status_code == 200
    activate = http.get("/accounts/2fa/totp/activate/")  # allauth may first ask for the password again
    assert activate.status_code == 200 or activate["Location"].startswith("/accounts/reauthenticate/")
    assert http.get("/accounts/reauthenticate/").status_code == 200


def test_sign_in_with_password_then_totp(alpha, client):
    import pyotp

    from tests.conftest import TEST_TOTP_SECRET

    cache.clear()
    make_user("signin@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)
    response = client.post("/accounts/login/", {"login": "signin@msp.test", "password": "correct horse battery"})
    assert response.status_code == 302 and "/accounts/2fa/authenticate/" in response["Location"]
    response = client.post("/accounts/2fa/authenticate/", {"code": pyotp.TOTP(TEST_TOTP_SECRET).now()})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_wrong_passwords_are_rate_limited(alpha, client):
    cache.clear()
    make_user("victim@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)
    for _ in range(5):
        client.post("/accounts/login/", {"login": "victim@alpha.test", "password": "wrong password"})
    response = client.post("/accounts/login/", {"login": "victim@alpha.test", "password": "correct horse battery"})
    assert response.status_code in (200, 429)
    assert "_auth_user_id" not in client.session
    cache.clear()


def test_password_reset_sends_a_link(alpha, client):
    cache.clear()
    make_user("forgot@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)
    client.post("/accounts/password/reset/", {"email": "forgot@alpha.test"})
    assert len(mail.outbox) == 1 and "/accounts/password/reset/key/" in mail.outbox[0].body


def test_invitation_round_trip(alpha, login_as, client, django_capture_on_commit_callbacks):
    manager = make_user("am-inv@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)
    with django_capture_on_commit_callbacks(execute=True):
        response = login_as(manager).post(
            "/c/alpha/settings/members/",
            {"email": "New.Person@Alpha.test", "full_name": "New Person", "role": "client_executive"},
        )
    assert response.status_code == 302
    link = re.search(r"http://\S+/invitations/(\S+)/", mail.outbox[-1].body)
    token = link.group(1)
    response = client.post(
        f"/invitations/{token}/",
        {"full_name": "New Person", "password1": "a long new pass 42", "password2": "a long new pass 42"},
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.person@alpha.test")
    assert Membership.objects.get(user=user, client=alpha).role == Role.CLIENT_EXECUTIVE
    assert client.get("/c/alpha/").status_code == 200
    assert client.get(f"/invitations/{token}/").status_code == 404
    with schema_context("public"):
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"invitation.create", "invitation.accept", "membership.grant", "user.create"} <= actions


def test_auditor_invitation_needs_an_end_date(alpha, login_as):
    manager = make_user("am-aud@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)
    response = login_as(manager).post("/c/alpha/settings/members/", {"email": "a@audit.test", "role": "auditor"})
    assert response.status_code == 200 and b"Auditor access needs an end date" in response.content
