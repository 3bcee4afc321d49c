"""Signing in (allauth): email and password, rate-limited failures, TOTP for staff, password reset by email."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from freezegun import freeze_time

from apps.accounts.roles import Role
from tests.conftest import TEST_TOTP_SECRET, make_user

PASSWORD = "correct horse battery"  # what tests.conftest.make_user sets


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """allauth counts attempts in the cache; start and end every test with none."""
    cache.clear()
    yield
    cache.clear()


def sign_in(http, email: str, password: str, **extra):
    return http.post("/accounts/login/", {"login": email, "password": password}, **extra)


def signed_in_as(http):
    return http.session.get("_auth_user_id")


def test_client_users_sign_in_with_email_and_password(alpha, client):
    user = make_user("reader@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)
    assert client.get("/accounts/login/").status_code == 200
    response = sign_in(client, "Reader@Alpha.test", PASSWORD)  # the address is matched case-insensitively
    assert response.status_code == 302 and response["Location"] == settings.LOGIN_REDIRECT_URL
    assert signed_in_as(client) == str(user.pk)
    assert client.get("/")["Location"] == "/c/alpha/"


def test_a_wrong_password_signs_nobody_in(alpha, client):
    make_user("reader2@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)
    response = sign_in(client, "reader2@alpha.test", "not the password")
    assert response.status_code == 200 and signed_in_as(client) is None
    assert sign_in(client, "nobody@alpha.test", PASSWORD).status_code == 200 and signed_in_as(client) is None


def test_staff_sign_in_asks_for_the_totp_code(alpha, client):
    user = make_user("signin-staff@msp.test", role=Role.ENGINEER, client=alpha)
    response = sign_in(client, "signin-staff@msp.test", PASSWORD)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/authenticate/")
    assert signed_in_as(client) is None
    assert client.post("/accounts/2fa/authenticate/", {"code": "000000"}).status_code == 200
    assert signed_in_as(client) is None
    response = client.post("/accounts/2fa/authenticate/", {"code": pyotp.TOTP(TEST_TOTP_SECRET).now()})
    assert response.status_code == 302 and signed_in_as(client) == str(user.pk)
    assert client.get("/c/alpha/alerts/").status_code == 200


def test_repeated_failures_lock_the_account_for_a_while(alpha, client):
    """ACCOUNT_RATE_LIMITS login_failed: after 5 failures even the right password is refused, until the window ends."""
    assert settings.ACCOUNT_RATE_LIMITS["login_failed"] == "5/m/ip,5/5m/key"
    user = make_user("victim@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)
    start = timezone.now()
    with freeze_time(start) as clock:
        for _ in range(5):
            assert sign_in(client, "victim@alpha.test", "wrong password").status_code == 200
        refused = sign_in(client, "victim@alpha.test", PASSWORD)
        assert refused.status_code in (200, 429) and signed_in_as(client) is None
        assert b"Too many failed login attempts" in refused.content
        # Per account, not only per address: another IP is refused too within the 5-minute window.
        clock.tick(timedelta(minutes=2))
        elsewhere = sign_in(client, "victim@alpha.test", PASSWORD, REMOTE_ADDR="203.0.113.9")
        assert signed_in_as(client) is None and b"Too many failed login attempts" in elsewhere.content
        clock.tick(timedelta(minutes=4))
        assert sign_in(client, "victim@alpha.test", PASSWORD).status_code == 302
        assert signed_in_as(client) == str(user.pk)


def test_failures_from_one_address_limit_other_accounts_from_it(alpha, client):
    for i in range(5):
        make_user(f"spray{i}@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)
        sign_in(client, f"spray{i}@alpha.test", "wrong password")
    make_user("bystander@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)
    assert signed_in_as(client) is None
    refused = sign_in(client, "bystander@alpha.test", PASSWORD)
    assert signed_in_as(client) is None and b"Too many failed login attempts" in refused.content
    elsewhere = sign_in(client, "bystander@alpha.test", PASSWORD, REMOTE_ADDR="203.0.113.10")
    assert elsewhere.status_code == 302


def test_password_reset_emails_a_link_that_sets_a_new_password(alpha, client):
    make_user("forgot@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)
    response = client.post("/accounts/password/reset/", {"email": "forgot@alpha.test"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password/reset/done/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["forgot@alpha.test"]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and form_page.redirect_chain  # allauth moves the key out of the URL
    set_password_url = form_page.redirect_chain[-1][0]
    new = "a brand new pass 77"
    done = client.post(set_password_url, {"password1": new, "password2": new})
    assert done.status_code == 302 and done["Location"] == "/accounts/password/reset/key/done/"
    client.logout()
    assert sign_in(client, "forgot@alpha.test", PASSWORD).status_code == 200  # the old one no longer works
    assert sign_in(client, "forgot@alpha.test", new).status_code == 302
    client.logout()
    # The link works once.
    again = client.get(link, follow=True)
    assert again.status_code == 200 and b"Bad Token" in again.content
    reuse = client.post(set_password_url, {"password1": "yet another 99x", "password2": "yet another 99x"})
    assert reuse.status_code == 200 and b"Bad Token" in reuse.content


def test_password_reset_does_not_reveal_who_has_an_account(client, db):
    """ACCOUNT_PREVENT_ENUMERATION: the same answer for an unknown address, and no reset link is sent."""
    unknown = client.post("/accounts/password/reset/", {"email": "nobody-here@alpha.test"})
    assert unknown.status_code == 302 and unknown["Location"] == "/accounts/password/reset/done/"
    assert all("/accounts/password/reset/key/" not in m.body for m in mail.outbox)
