"""The portfolio summary for MSP leadership: the MSP-level API (who reads what), its OpenAPI description, and the
HTML report and its PDF (key figures in the PDF's text)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
import yaml
from django.utils import timezone
from pypdf import PdfReader

from apps.accounts.roles import Role
from tests.conftest import auth_header, make_user

from .conftest import health_day, maturity_for, rollup_for, schemaless_client, spend_for

pytestmark = pytest.mark.django_db
API = "/api/v1/portfolio/summary/"


@pytest.fixture
def portfolio(alpha, beta):
    """alpha at risk (3 critical alerts, 20 % over budget), beta healthy, one schemaless client unmeasured."""
    this_month = timezone.now().date().replace(day=1)
    rollup_for(
        alpha,
        open_critical=3,
        budget_month=this_month,
        budget_currency="EUR",
        budget_amount=Decimal("2000.00"),
        budget_forecast=Decimal("2400.00"),
        report_month=this_month,
        report_status="issued",
        report_version=2,
        report_issued_at=timezone.now(),
    )
    rollup_for(beta, open_critical=0, readiness=Decimal("88.0"), readiness_frameworks=1)
    spend_for(alpha, this_month, "2150.40", currency="EUR")
    spend_for(beta, this_month, "310", currency="EUR")
    maturity_for(beta, "72.5")
    today = timezone.now().date()
    for days, score in ((30, "70.0"), (10, "55.0"), (1, "40.0")):
        health_day(alpha, today - dt.timedelta(days=days), score)
    schemaless_client("gamma-co", "Gamma Co", lifecycle="onboarding")
    return {"alpha": alpha, "beta": beta}


def test_an_msp_key_reads_every_client(portfolio, client, api_key_for):
    _, secret = api_key_for(None)
    response = client.get(API, **auth_header(secret))
    assert response.status_code == 200
    body = response.json()
    slugs = [c["client"] for c in body["clients"]]
    assert slugs == ["alpha", "beta", "gamma-co"]  # worst health first, not measured last
    alpha = body["clients"][0]
    # alerts 25 x 25 + budget 60 x 20 → (625 + 1200) / 45 = 40.6
    assert (alpha["health"]["score"], alpha["health"]["band"]) == ("40.6", "at-risk")
    assert alpha["health"]["score_before"] == "70.0"  # the daily score 30 days ago
    assert alpha["health"]["score_before_day"] == (timezone.now().date() - dt.timedelta(days=30)).isoformat()
    components = {c["key"]: c for c in alpha["components"]}
    assert components["alerts"] == {
        "key": "alerts",
        "label": "Open critical alerts",
        "weight": 25,
        "score": "25.0",
        "counted": True,
        "value": "3 open critical alerts",
    }
    assert components["sla"]["score"] is None and components["sla"]["counted"] is False
    assert alpha["spend"]["currency"] == "EUR" and alpha["spend"]["spend"] == "2150.40"
    assert alpha["spend"]["budget"] == "2000.00" and alpha["spend"]["percent_of_budget"] == "108"
    assert alpha["spend"]["forecast"] == "2400.00"
    assert alpha["last_report"]["status"] == "issued" and alpha["last_report"]["version"] == 2
    assert alpha["last_report"]["url"] == "/c/alpha/reports/"
    assert body["clients"][2]["health"]["band"] == "unmeasured" and body["clients"][2]["last_report"] is None
    assert body["bands"]["at-risk"] == 1 and body["bands"]["healthy"] == 1
    assert body["weights"]["alerts"] == 25
    eur = next(t for t in body["totals"] if t["currency"] == "EUR")
    assert eur["spend"] == "2460.40" and eur["budget"] == "2000.00" and eur["over_budget"] == 1


def test_filters_and_sort_follow_the_console(portfolio, client, api_key_for):
    _, secret = api_key_for(None)
    names = lambda query: [c["client"] for c in client.get(API + query, **auth_header(secret)).json()["clients"]]  # noqa: E731
    assert names("?sort=-health") == ["beta", "alpha", "gamma-co"]
    assert names("?band=healthy") == ["beta"]
    assert names("?q=gam") == ["gamma-co"]
    assert names("?lifecycle=onboarding") == ["gamma-co"]


def test_staff_read_only_their_clients(portfolio, alpha, login_as):
    manager = make_user("am-summary@msp.test", role=Role.ACCOUNT_MANAGER, client=alpha)
    body = login_as(manager).get(API).json()
    assert [c["client"] for c in body["clients"]] == ["alpha"]
    assert [t["currency"] for t in body["totals"]] == ["EUR"] and body["totals"][0]["spend"] == "2150.40"
    admin = make_user("admin-summary@msp.test", role=Role.MSP_ADMIN)
    assert len(login_as(admin).get(API).json()["clients"]) == 3


def test_client_keys_and_client_people_are_refused(portfolio, alpha, client, api_key_for, login_as):
    _, secret = api_key_for(alpha, ["read"])
    assert client.get(API, **auth_header(secret)).status_code == 404
    executive = make_user("exec-summary@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)
    assert login_as(executive).get(API).status_code == 404
    assert client.get(API).status_code == 401
    _, msp_secret = api_key_for(None)
    assert client.post(API, {}, **auth_header(msp_secret)).status_code == 405  # read only


def test_the_endpoint_is_in_the_openapi_document(client, db):
    document = yaml.safe_load(client.get("/api/schema/").content)
    operation = document["paths"][API]["get"]
    assert operation["operationId"] == "portfolio_summary"
    assert {p["name"] for p in operation["parameters"]} >= {"sort", "q", "band", "lifecycle"}
    content = operation["responses"]["200"]["content"]["application/json"]
    assert content["schema"]["$ref"].endswith("/PortfolioSummary")
    example = next(iter(content["examples"].values()))["value"]
    assert example["clients"][0]["client"] == "acme"


def test_the_summary_report_page(portfolio, msp_admin, login_as):
    html = login_as(msp_admin).get("/portfolio/summary/").content.decode()
    assert "<h1>Portfolio summary</h1>" in html
    at_risk = html.split('id="s-risk"')[1].split("</section>")[0]
    assert "Alpha Corp" in at_risk and "Open critical alerts: 3 open critical alerts" in at_risk
    assert "Beta Corp" not in at_risk
    assert "<title>Health over 30 days" in html  # the trend's SVG has a title
    assert "Download PDF" in html


def test_the_summary_report_pdf(portfolio, msp_admin, login_as, settings):
    settings.KEEL_MSP_NAME = "Northwind AI Operations"
    response = login_as(msp_admin).get("/portfolio/summary.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="portfolio-summary-')
    reader = PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Portfolio summary" in text and "Northwind AI Operations" in text
    assert "Alpha Corp" in text and "Beta Corp" in text and "Gamma Co" in text
    assert "40.6" in text  # alpha's health
    assert "2,460" in text and "2,000" in text  # EUR spend and budget totals
    assert f"Page 1 of {len(reader.pages)}" in text


def test_assigned_staff_get_a_report_of_their_clients_only(portfolio, alpha, login_as):
    engineer = make_user("eng-summary@msp.test", role=Role.ENGINEER, client=alpha)
    html = login_as(engineer).get("/portfolio/summary/").content.decode()
    assert "Alpha Corp" in html and "Beta Corp" not in html
