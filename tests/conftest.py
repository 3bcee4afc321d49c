"""Shared fixtures: a real PostgreSQL with two client schemas (alpha, beta) made once per test session,
users of every role, API keys, and logged-in test clients. Tests run in transactions rolled back at the end."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.test import Client as HttpClient
from django_tenants.utils import schema_context

# Imported before any test freezes time: DRF's throttle keeps time.time as a class attribute, and a first
# import under freezegun would bind the fake clock for every later test.
from rest_framework import throttling as _drf_throttling  # noqa: F401

from apps.accounts.models import User
from apps.accounts.roles import STAFF_ROLES, Role
from apps.accounts.services import api_key_create
from apps.tenancy.models import Client

TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPTESTKEEL"
CLIENT_SLUGS = ("alpha", "beta")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After pytest-django migrated the test database: the public row and two clients."""
    from apps.tenancy.services import client_create, public_client_ensure

    with django_db_blocker.unblock():
        public_client_ensure(msp_name=settings.KEEL_MSP_NAME)
        for slug in CLIENT_SLUGS:
            if not Client.objects.filter(slug=slug).exists():
                client_create(
                    slug=slug,
                    name=f"{slug.title()} Corp",
                    time_zone="Europe/Paris",
                    reporting_currency="EUR",
                    lifecycle=Client.Lifecycle.ACTIVE,
                )
    yield


@pytest.fixture
def alpha(db) -> Client:
    return Client.objects.get(slug="alpha")


@pytest.fixture
def beta(db) -> Client:
    return Client.objects.get(slug="beta")


@pytest.fixture
def in_alpha(alpha):
    """Run the test body inside alpha's schema (services are called inside a client's schema)."""
    with schema_context(alpha.schema_name):
        yield alpha


def make_user(email: str, *, role: str, client: Client | None = None, mfa: bool = True, **membership) -> User:
    """A user with `role`: staff roles get msp_role (and TOTP unless mfa=False); others a membership."""
    from apps.accounts.services import membership_grant

    msp_role = role if role in STAFF_ROLES else ""
    user = User.objects.create_user(email=email, password="correct horse battery", msp_role=msp_role)
    if msp_role and mfa:
        TOTP.activate(user, TEST_TOTP_SECRET)
    if client is not None and role != Role.MSP_ADMIN:
        membership_grant(user=user, client=client, role=role, **membership)
    return user


@pytest.fixture
def user_factory(db):
    return make_user


@pytest.fixture
def msp_admin(db) -> User:
    return make_user("admin@msp.test", role=Role.MSP_ADMIN)


@pytest.fixture
def alpha_manager(alpha) -> User:
    return make_user("am@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)


@pytest.fixture
def alpha_executive(alpha) -> User:
    return make_user("exec@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)


@pytest.fixture
def beta_executive(beta) -> User:
    return make_user("exec@beta.test", role=Role.CLIENT_EXECUTIVE, client=beta)


def login(user: User) -> HttpClient:
    http = HttpClient()
    http.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return http


@pytest.fixture
def login_as():
    return login


@pytest.fixture
def api_key_for():
    """api_key_for(client, scopes) -> (ApiKey, secret). client=None makes an MSP-level key."""

    def make(client: Client | None, scopes=("read",), **kwargs):
        issued = api_key_create(
            name="test key", client=client, scopes=list(scopes) if client else [], created_by=None, **kwargs
        )
        return issued.api_key, issued.secret

    return make


@pytest.fixture
def writer(alpha, api_key_for) -> dict:
    """Headers of an alpha key with read and write scopes."""
    return auth_header(api_key_for(alpha, ["read", "write"])[1])


@pytest.fixture
def reader(alpha, api_key_for) -> dict:
    """Headers of an alpha key with the read scope only."""
    return auth_header(api_key_for(alpha, ["read"])[1])


def auth_header(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Api-Key {secret}"}


@pytest.fixture
def has_totp():
    def check(user: User) -> bool:
        return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()

    return check
