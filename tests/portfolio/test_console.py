"""The console grid: health (worst first), components, spend vs budget, trend, last report; sorting and
filtering; a query count that does not grow with the number of clients; the weights settings page."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.portfolio.models import ClientHealthDay, ClientRollup, HealthWeights
from apps.portfolio.services import weights_get
from tests.conftest import make_user

from .conftest import health_day, maturity_for, portfolio_of, rollup_for, schemaless_client, spend_for

pytestmark = pytest.mark.django_db


SESSION_CLIENTS = {"Alpha Corp", "Beta Corp"}  # tests/conftest.py's, without rollups here: not measured


def grid_names(html: str, *, all_clients: bool = False) -> list[str]:
    """Client names in grid order (the grid is the table after the "Clients" heading), leaving out the session's
    alpha and beta unless all_clients."""
    grid = html.split('id="clients-h"')[1].split('id="feed-h"')[0]
    names = re.findall(r'<a href="/c/[a-z0-9-]+/"><strong>([^<]+)</strong></a>', grid)
    return names if all_clients else [n for n in names if n not in SESSION_CLIENTS]


def row_of(html: str, name: str) -> str:
    return html.split(f"<strong>{name}</strong>")[1].split("</tr>")[0]


@pytest.fixture
def three(db):
    """Three clients with known health: Red (at risk), Amber (watch), Green (healthy), and an unmeasured one."""
    this_month = timezone.now().date().replace(day=1)
    red = schemaless_client("red-co", "Red Co", lifecycle="active", reporting_currency="EUR")
    amber = schemaless_client("amber-co", "Amber Co", lifecycle="onboarding", reporting_currency="EUR")
    green = schemaless_client("green-co", "Green Co", lifecycle="active", reporting_currency="EUR")
    schemaless_client(
        "blank-co", "Blank Co", lifecycle="active", reporting_currency="EUR"
    )  # no rollup at all: not measured
    rollup_for(red, open_critical=3)  # 25
    rollup_for(
        amber,
        open_critical=1,  # 75
        budget_month=this_month,
        budget_currency="EUR",
        budget_amount=Decimal("1000.00"),
        budget_forecast=Decimal("1200.00"),  # 20 % over: 60
        report_month=this_month,
        report_status="reviewed",
        report_version=2,
    )
    rollup_for(green, open_critical=0, readiness=Decimal("90.0"), readiness_frameworks=1)  # 100, 90
    spend_for(amber, this_month, "640.50", currency="EUR", ai="320.25")
    spend_for(amber, (this_month - dt.timedelta(days=1)).replace(day=1), "900", currency="EUR")
    spend_for(green, this_month, "5000", currency="EUR")
    maturity_for(green, "80")
    return {"red": red, "amber": amber, "green": green}


def test_the_grid_shows_health_components_spend_and_report(three, msp_admin, login_as):
    html = login_as(msp_admin).get("/").content.decode()
    assert grid_names(html) == ["Red Co", "Amber Co", "Green Co", "Blank Co"]  # worst first, unmeasured last
    amber_row = row_of(html, "Amber Co")
    # Amber: (alerts 75 x 25 + budget 60 x 20) / 45 → 68.3 (watch), spend 640.50 of 1,000 EUR = 64 %, forecast
    # 120 %; nothing else is measured, so nothing else counts.
    assert "Health 68.3 / 100" in amber_row and ">68</span>" in amber_row and "Watch" in amber_row
    assert "641 EUR" in amber_row and "of 1,000" in amber_row and "64 %" in amber_row and "fcst 120 %" in amber_row
    assert "AI 50 %" in amber_row
    assert "Spend per month in EUR" in amber_row and "<svg" in amber_row  # the sparkline, with its title
    assert 'href="/c/amber-co/reports/"' in amber_row and re.search(r"\w{3} \d{4} report: reviewed", amber_row)
    assert "forecast 20.0 % over budget" in amber_row  # the breakdown
    green_row = row_of(html, "Green Co")
    assert "90.0 %" in green_row and ">80.00<" in green_row.replace("\n", "")
    assert "Healthy" in green_row
    # The band chips count every client.
    assert "At risk 1" in html and "Watch 1" in html and "Healthy 1" in html and "Not measured 3" in html


def test_sorting(three, msp_admin, login_as):
    http = login_as(msp_admin)
    assert grid_names(http.get("/?sort=-health").content.decode()) == ["Green Co", "Amber Co", "Red Co", "Blank Co"]
    assert grid_names(http.get("/?sort=name").content.decode()) == ["Amber Co", "Blank Co", "Green Co", "Red Co"]
    assert grid_names(http.get("/?sort=-name").content.decode()) == ["Red Co", "Green Co", "Blank Co", "Amber Co"]
    assert grid_names(http.get("/?sort=-spend").content.decode())[:2] == ["Green Co", "Amber Co"]
    assert grid_names(http.get("/?sort=alerts").content.decode())[:3] == ["Red Co", "Amber Co", "Green Co"]
    assert grid_names(http.get("/?sort=report").content.decode())[0] == "Amber Co"
    assert grid_names(http.get("/?sort=bogus").content.decode())[0] == "Red Co"  # unknown: the default
    html = http.get("/?sort=name").content.decode()
    assert 'aria-sort="ascending"' in html and 'href="?sort=-name"' in html  # the header reverses the sort


def test_filters(three, msp_admin, login_as):
    http = login_as(msp_admin)
    assert grid_names(http.get("/?q=gre").content.decode()) == ["Green Co"]
    assert grid_names(http.get("/?lifecycle=onboarding").content.decode()) == ["Amber Co"]
    assert grid_names(http.get("/?band=at-risk").content.decode()) == ["Red Co"]
    assert grid_names(http.get("/?band=unmeasured").content.decode()) == ["Blank Co"]
    assert grid_names(http.get("/?band=healthy&sort=name").content.decode()) == ["Green Co"]
    html = http.get("/?q=nothing-like-this").content.decode()
    assert grid_names(html) == [] and "No client matches these filters." in html


def test_staff_see_only_their_clients(three, alpha, login_as):
    manager = make_user("am-amber@msp.test", role=Role.ACCOUNT_MANAGER, client=three["amber"])
    assert grid_names(login_as(manager).get("/").content.decode()) == ["Amber Co"]


def test_the_health_change_over_thirty_days(three, msp_admin, login_as):
    today = timezone.now().date()
    health_day(three["amber"], today - dt.timedelta(days=45), "10")  # too old
    health_day(three["amber"], today - dt.timedelta(days=30), "80.0")
    health_day(three["amber"], today - dt.timedelta(days=7), "75.0")
    health_day(three["green"], today - dt.timedelta(days=20), "10")  # not one of the days compared with
    health_day(three["green"], today - dt.timedelta(days=7), "90.0")  # a newer client: a week ago
    html = login_as(msp_admin).get("/").content.decode()
    assert "-12</span>" in row_of(html, "Amber Co")  # 68.3 now vs 80.0 thirty days ago
    assert "+3</span>" in row_of(html, "Green Co")  # 93.0 now vs 90.0 a week ago


def _console_queries(http) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = http.get("/")
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("role", [Role.MSP_ADMIN, Role.ACCOUNT_MANAGER])
def test_the_console_query_count_does_not_depend_on_the_number_of_clients(db, alpha, login_as, role):
    from apps.accounts.services import membership_grant

    user = make_user(f"{role}-count@msp.test", role=role, client=alpha)
    http = login_as(user)
    first = portfolio_of(3, prefix="qa")
    for client in first:
        if role != Role.MSP_ADMIN:
            membership_grant(user=user, client=client, role=role)
    small = _console_queries(http)
    more = portfolio_of(9, prefix="qb")
    for client in more:
        if role != Role.MSP_ADMIN:
            membership_grant(user=user, client=client, role=role)
    html = http.get("/").content.decode()
    assert len(grid_names(html)) == 12
    assert _console_queries(http) == small
    assert small <= 20


def test_the_weights_page_is_read_by_staff_and_changed_by_msp_admins(three, alpha, msp_admin, login_as):
    engineer = make_user("eng-weights@msp.test", role=Role.ENGINEER, client=alpha)
    staff = login_as(engineer)
    page = staff.get("/portfolio/health-score/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Only MSP admins change the weights." in html and "disabled" in html
    assert "linear to 0 at 50 % over" in html
    assert staff.post("/portfolio/health-score/", dict.fromkeys(("budget", "alerts"), 0)).status_code == 403
    assert not HealthWeights.objects.exists()

    executive = make_user("exec-weights@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)
    assert login_as(executive).get("/portfolio/health-score/").status_code in (302, 404)  # not MSP level

    admin = login_as(msp_admin)
    values = {"budget": 0, "alerts": 50, "sla": 20, "readiness": 50, "maturity": 10, "freshness": 10}
    response = admin.post("/portfolio/health-score/", values)
    assert response.status_code == 302
    assert weights_get().as_dict() == values
    assert weights_get().updated_by == "admin@msp.test"
    with schema_context("public"):
        event = AuditEvent.objects.filter(action="portfolio.health_weights").get()
    assert event.actor_email == "admin@msp.test"
    assert event.before["budget"] == 20 and event.after["budget"] == 0 and event.after["alerts"] == 50
    # Today's health rows were rewritten with the new weights: Amber is now alerts only (75).
    today = timezone.now().astimezone(dt.UTC).date()
    assert ClientHealthDay.objects.get(client=three["amber"], day=today).score == Decimal("75.0")
    assert "Health 75.0 / 100" in admin.get("/").content.decode()

    bad = admin.post("/portfolio/health-score/", values | {"sla": 101})
    assert bad.status_code == 200 and "less than or equal to 100" in bad.content.decode()
    assert weights_get().sla == 20


def test_the_rollup_of_an_offboarded_client_is_not_shown(three, msp_admin, login_as):
    three["red"].lifecycle = "offboarded"
    with schema_context("public"):
        three["red"].save(update_fields=["lifecycle"])
    assert "Red Co" not in grid_names(login_as(msp_admin).get("/").content.decode())
    assert ClientRollup.objects.filter(client=three["red"]).exists()
