"""List endpoints and list pages cost the same number of queries with 3 rows as with 30: no N+1 anywhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.accounts.services import api_key_create, invitation_create
from apps.alerts.services import alert_acknowledge, alert_raise
from apps.alerts.services_delivery import channel_save
from apps.portfolio.models import AlertFeedItem
from apps.tenancy.models import Client
from tests.conftest import make_user

FEW, MANY = 3, 30


def add_alerts(alpha, beta, start: int, n: int):
    for client in (alpha, beta):
        with schema_context(client.schema_name):
            for i in range(start, start + n):
                alert = alert_raise(kind="t", severity="high", subject=f"q{i}", dedup_key=f"q:{i}", data={"i": i})
                if i % 2:
                    alert_acknowledge(alert=alert, note="n+1 bait: acknowledged_by, owner, events")


def add_members(alpha, beta, start: int, n: int):
    inviter = make_user(f"inviter{start}@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)
    for i in range(start, start + n):
        make_user(f"viewer{i}@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)
        invitation_create(email=f"invitee{i}@alpha.test", invited_by=inviter, client=alpha, role="client_viewer")


def add_api_keys(alpha, beta, start: int, n: int):
    creator = make_user(f"creator{start}@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)
    for i in range(start, start + n):
        api_key_create(name=f"k{i}", client=alpha, scopes=["read"], created_by=creator)
        api_key_create(name=f"m{i}", client=None, scopes=[], created_by=creator)


def add_audit_events(alpha, beta, start: int, n: int):
    add_alerts(alpha, beta, start, n)  # audited in each client's chain
    add_members(alpha, beta, start, n)  # audited in the MSP's chain


def add_clients(alpha, beta, start: int, n: int):
    """Client rows only (no schemas: the lists below never open a client's schema)."""
    for i in range(start, start + n):
        extra = Client(slug=f"qc{i:03d}", name=f"Query Client {i}", schema_name=f"qc{i:03d}")
        extra.auto_create_schema = False
        with schema_context("public"):  # django-tenants saves tenants from the public schema only
            extra.save()
        AlertFeedItem.objects.create(
            client=extra,
            alert_id=i,
            kind="t",
            severity="high",
            severity_rank=1,
            subject=f"feed {i}",
            state="open",
            last_seen_at=timezone.now() - timedelta(minutes=i),
        )


def add_feed(alpha, beta, start: int, n: int):
    for client in (alpha, beta):
        for i in range(start, start + n):
            AlertFeedItem.objects.create(
                client=client,
                alert_id=10_000 + i,
                kind="t",
                severity="high",
                severity_rank=1,
                subject=f"feed {i}",
                state="open",
                last_seen_at=timezone.now(),
            )


def add_staff(alpha, beta, start: int, n: int):
    for i in range(start, start + n):
        make_user(f"staff{i}@msp.test", role=Role.ENGINEER, client=alpha if i % 2 else beta)


def add_channels(alpha, beta, start: int, n: int):
    with schema_context(alpha.schema_name):
        for i in range(start, start + n):
            channel_save(name=f"ch{i}", kind="email", target=f"ops{i}@alpha.test", min_severity="low", kinds=[])


CASES = [
    # (URL, what grows)
    ("/c/alpha/api/v1/alerts/", add_alerts),
    ("/c/alpha/api/v1/memberships/", add_members),
    ("/c/alpha/api/v1/api-keys/", add_api_keys),
    ("/c/alpha/api/v1/audit-events/", add_audit_events),
    ("/c/alpha/api/v1/alert-channels/", add_channels),
    ("/api/v1/clients/", add_clients),
    ("/api/v1/alerts/", add_feed),
    ("/api/v1/api-keys/", add_api_keys),
    ("/api/v1/audit-events/", add_audit_events),
    ("/c/alpha/", add_alerts),
    ("/c/alpha/alerts/", add_alerts),
    ("/c/alpha/audit/", add_audit_events),
    ("/c/alpha/settings/members/", add_members),
    ("/c/alpha/settings/api-keys/", add_api_keys),
    ("/c/alpha/alerts/channels/", add_channels),
    ("/", add_feed),
    ("/", add_clients),
    ("/clients/", add_clients),
    ("/staff/", add_staff),
    ("/staff/api-keys/", add_api_keys),
    ("/audit/", add_audit_events),
]


def count_queries(http, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = http.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured.captured_queries)


@pytest.mark.parametrize(("url", "grow"), CASES, ids=[f"{url}-{grow.__name__}" for url, grow in CASES])
def test_list_costs_do_not_grow_with_rows(url, grow, alpha, beta, msp_admin, login_as):
    http = login_as(msp_admin)
    grow(alpha, beta, 0, FEW)
    http.get(url)  # warm-up: sessions, content types, caches
    few = count_queries(http, url)
    grow(alpha, beta, FEW, MANY - FEW)
    many = count_queries(http, url)
    assert many == few, f"{url}: {few} queries with {FEW} rows, {many} with {MANY}"


@pytest.mark.parametrize("url", ["/c/alpha/api/v1/alerts/", "/c/alpha/api/v1/audit-events/"])
def test_key_calls_cost_the_same_as_session_calls(url, alpha, beta, api_key_for, client):
    from tests.conftest import auth_header

    _, secret = api_key_for(alpha, ["read"])
    add_alerts(alpha, beta, 0, FEW)
    client.get(url, **auth_header(secret))  # the first call records last use (one write a minute)
    with CaptureQueriesContext(connection) as few:
        client.get(url, **auth_header(secret))
    add_alerts(alpha, beta, FEW, MANY - FEW)
    with CaptureQueriesContext(connection) as many:
        client.get(url, **auth_header(secret))
    assert len(many.captured_queries) == len(few.captured_queries) <= 10
