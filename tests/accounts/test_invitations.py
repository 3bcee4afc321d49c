"""Invitations: an emailed one-time link that creates the account and the membership, and nothing else."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import Invitation, Membership, User, hash_secret
from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from tests.conftest import make_user

LINK = re.compile(r"(https?://\S+)/invitations/(?P<token>[^/\s]+)/")
NEW_PASSWORD = "a long new pass 42"


def public_actions() -> list[str]:
    with schema_context("public"):
        return list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))


@pytest.fixture
def manager(alpha):
    return make_user("am-invites@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)


@pytest.fixture
def invite(manager, login_as, django_capture_on_commit_callbacks):
    """invite(email, role, **form) -> (response, token or None), as alpha's account manager in the portal."""
    http = login_as(manager)

    def send(email: str, role: str, **form):
        sent_before = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            response = http.post("/c/alpha/settings/members/", {"email": email, "role": role, **form})
        if len(mail.outbox) == sent_before:
            return response, None
        message = mail.outbox[-1]
        assert message.to == [email.lower()]
        return response, LINK.search(message.body).group("token")

    return send


def test_inviting_a_client_user_emails_a_one_time_link(invite, alpha):
    response, token = invite("New.Person@Alpha.test", Role.CLIENT_EXECUTIVE, full_name="New Person")
    assert response.status_code == 302 and response["Location"] == "/c/alpha/settings/members/"
    assert token is not None
    invitation = Invitation.objects.get(email="new.person@alpha.test")
    assert invitation.client == alpha and invitation.role == Role.CLIENT_EXECUTIVE
    assert invitation.token_hash == hash_secret(token) and token not in invitation.token_hash  # stored hashed
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    assert "Alpha Corp" in mail.outbox[-1].body
    assert "invitation.create" in public_actions()
    assert not User.objects.filter(email="new.person@alpha.test").exists()  # nothing exists until accepted


def test_accepting_creates_the_user_and_membership_and_signs_in(invite, alpha, client):
    _, token = invite("joiner@alpha.test", Role.CLIENT_VIEWER, full_name="Jo Iner")
    page = client.get(f"/invitations/{token}/")
    assert page.status_code == 200 and b"joiner@alpha.test" in page.content and b"Alpha Corp" in page.content
    response = client.post(
        f"/invitations/{token}/", {"full_name": "Jo Iner", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    user = User.objects.get(email="joiner@alpha.test")
    assert user.full_name == "Jo Iner" and user.check_password(NEW_PASSWORD) and not user.is_msp_staff
    membership = Membership.objects.get(user=user)
    assert membership.client == alpha and membership.role == Role.CLIENT_VIEWER and membership.expires_at is None
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get("/").status_code == 302 and client.get("/")["Location"] == "/c/alpha/"
    assert client.get("/c/alpha/").status_code == 200
    assert Invitation.objects.get(email="joiner@alpha.test").accepted_at is not None
    actions = public_actions()
    assert actions[-4:] == ["invitation.create", "user.create", "membership.grant", "invitation.accept"]


def test_a_used_link_cannot_be_used_again(invite, client):
    _, token = invite("once@alpha.test", Role.CLIENT_VIEWER)
    form = {"full_name": "Once", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    assert client.post(f"/invitations/{token}/", form).status_code == 302
    client.logout()
    for method in ("get", "post"):
        response = getattr(client, method)(f"/invitations/{token}/", form)
        assert response.status_code == 404
        assert b"This invitation cannot be used" in response.content
    assert User.objects.filter(email="once@alpha.test").count() == 1


def test_expired_cancelled_and_made_up_links_cannot_be_used(invite, manager, login_as, client):
    _, expired = invite("late@alpha.test", Role.CLIENT_VIEWER)
    Invitation.objects.filter(email="late@alpha.test").update(expires_at=timezone.now() - timedelta(seconds=1))
    _, cancelled = invite("cancelled@alpha.test", Role.CLIENT_VIEWER)
    invitation = Invitation.objects.get(email="cancelled@alpha.test")
    assert login_as(manager).post(f"/c/alpha/settings/invitations/{invitation.pk}/cancel/").status_code == 302
    form = {"full_name": "X", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    for token in (expired, cancelled, "made-up-token"):
        for method in ("get", "post"):
            response = getattr(client, method)(f"/invitations/{token}/", form)
            assert response.status_code == 404 and b"This invitation cannot be used" in response.content
    assert not User.objects.filter(email__in=["late@alpha.test", "cancelled@alpha.test"]).exists()
    assert "invitation.revoke" in public_actions()


def test_a_mismatched_or_weak_password_creates_nothing(invite, client):
    _, token = invite("weak@alpha.test", Role.CLIENT_VIEWER)
    for password1, password2 in ((NEW_PASSWORD, NEW_PASSWORD + "x"), ("short", "short")):
        response = client.post(
            f"/invitations/{token}/", {"full_name": "W", "password1": password1, "password2": password2}
        )
        assert response.status_code == 200
    assert not User.objects.filter(email="weak@alpha.test").exists()
    assert Invitation.objects.get(email="weak@alpha.test").is_usable


def test_auditor_invitations_need_an_end_date(invite, alpha, client):
    response, token = invite("auditor@audit.test", Role.AUDITOR)
    assert response.status_code == 200 and b"Auditor access needs an end date" in response.content
    assert token is None and not Invitation.objects.filter(email="auditor@audit.test").exists()
    end = date.today() + timedelta(days=30)
    response, token = invite("auditor@audit.test", Role.AUDITOR, expires_on=end.isoformat())
    assert response.status_code == 302 and token
    form = {"full_name": "Aud Itor", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    assert client.post(f"/invitations/{token}/", form).status_code == 302
    membership = Membership.objects.get(user__email="auditor@audit.test")
    assert membership.role == Role.AUDITOR and membership.expires_at.date() == end
    assert client.get("/c/alpha/audit/").status_code == 200


def test_an_existing_user_accepts_without_a_new_password(invite, alpha, beta, client):
    existing = make_user("both@clients.test", role=Role.CLIENT_VIEWER, client=beta)
    _, token = invite("both@clients.test", Role.CLIENT_EXECUTIVE)
    page = client.get(f"/invitations/{token}/")
    assert page.status_code == 200 and b"already have an account" in page.content
    response = client.post(f"/invitations/{token}/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session  # the link alone does not sign anyone in
    assert Membership.objects.get(user=existing, client=alpha).role == Role.CLIENT_EXECUTIVE
    existing.refresh_from_db()
    assert existing.check_password("correct horse battery")


def test_only_member_managers_invite(alpha, login_as, django_capture_on_commit_callbacks):
    for role in (Role.CLIENT_EXECUTIVE, Role.ENGINEER):
        user = make_user(f"{role}-no-invite@keel.test", role=role, client=alpha)
        http = login_as(user)
        with django_capture_on_commit_callbacks(execute=True):
            page = http.post("/c/alpha/settings/members/", {"email": "x@alpha.test", "role": "client_viewer"})
            api = http.post(
                "/c/alpha/api/v1/memberships/invite/",
                {"email": "x@alpha.test", "role": "client_viewer"},
                content_type="application/json",
            )
        assert page.status_code == 403 and api.status_code == 403, role
    assert not Invitation.objects.exists() and not mail.outbox


def test_the_api_invites_client_roles_only(manager, login_as, django_capture_on_commit_callbacks):
    http = login_as(manager)
    with django_capture_on_commit_callbacks(execute=True):
        created = http.post(
            "/c/alpha/api/v1/memberships/invite/",
            {"email": "api.invitee@alpha.test", "role": "client_viewer"},
            content_type="application/json",
        )
    assert created.status_code == 201 and created.json()["email"] == "api.invitee@alpha.test"
    assert "/invitations/" in mail.outbox[-1].body
    for body in (
        {"email": "staff@alpha.test", "role": "account_manager"},  # staff come through the Staff page
        {"email": "aud@alpha.test", "role": "auditor"},  # no end date
    ):
        refused = http.post("/c/alpha/api/v1/memberships/invite/", body, content_type="application/json")
        assert refused.status_code == 400 and refused["Content-Type"] == "application/problem+json", body
        assert refused.json()["errors"]
    assert list(Invitation.objects.values_list("email", flat=True)) == ["api.invitee@alpha.test"]


def test_msp_staff_cannot_be_invited_as_client_users(invite, alpha, manager, login_as):
    """Regression: the invitation used to be sent, and accepting it answered 500 (staff hold no client roles)."""
    make_user("Engineer@MSP.test", role=Role.ENGINEER)
    response, token = invite("engineer@msp.test", Role.CLIENT_VIEWER)
    assert response.status_code == 200 and token is None
    assert b"This person is MSP staff" in response.content
    api = login_as(manager).post(
        "/c/alpha/api/v1/memberships/invite/",
        {"email": "ENGINEER@msp.test", "role": "client_viewer"},
        content_type="application/json",
    )
    assert api.status_code == 400 and "email" in api.json()["errors"]
    assert not Invitation.objects.exists() and not mail.outbox
