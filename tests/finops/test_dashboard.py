"""The FinOps dashboard (portal page and API): exact figures on known rollup data, drill-down links, CSV equal
to what each chart shows, constant query counts, and tenant isolation."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.finops.dashboard import dashboard_query, finops_dashboard, previous_period
from apps.finops.models import BillingSource, IngestionRun
from tests.conftest import auth_header, make_user

from .conftest import openai_day_row

PAGE = "/c/alpha/finops/dashboard/"
API = "/c/alpha/api/v1/finops-dashboard/"
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


def book(source, rows, *, start: str, end: str) -> IngestionRun:
    """Book rows for [start, end) as a connector run does, with allocation and the rollup after it."""
    from apps.finops.ledger import ChargeWindow, load_rows
    from apps.finops.services import _after_booking

    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    run = IngestionRun.objects.create(source=source, window_start=first, window_end=last)
    window = ChargeWindow(dt.datetime.combine(first, dt.time(), dt.UTC), dt.datetime.combine(last, dt.time(), dt.UTC))
    result = load_rows(source_id=source.pk, run_id=run.pk, rows=rows, scope=window)
    run.rows_loaded, run.rows_replaced = result.rows_loaded, result.rows_replaced
    run.status = IngestionRun.Status.SUCCEEDED
    run.save()
    _after_booking(source, run)
    return run


def aws(day: str, amount: str, service: str, category: str, **overrides) -> dict:
    return openai_day_row(
        day,
        amount,
        provider_name="AWS",
        service_name=service,
        service_category=category,
        billing_account_id="111122223333",
        **overrides,
    )


@pytest.fixture
def org(in_alpha):
    from apps.finops.allocation import allocation_rule_save
    from apps.inventory.models import Agent, Department

    claims = Department.objects.create(name="Claims", code="claims")
    risk = Department.objects.create(name="Risk", code="risk")
    triage = Agent.objects.create(name="claims-triage", kind="agent", department=claims)
    allocation_rule_save(name="Risk team", match_field="tag", match_key="team", match_value="risk", department=risk)
    shared = allocation_rule_save(
        name="Shared support",
        match_field="service",
        match_value="Shared support",
        split="even",
        targets=[{"department": claims}, {"department": risk}],
    )
    return {"claims": claims, "risk": risk, "triage": triage, "shared": shared}


@pytest.fixture
def booked(org):
    """October and November 2026 in USD, and one November row in EUR (alpha reports in EUR)."""
    source = BillingSource.objects.create(name="Cloud bills", kind="openai")
    tokens = {"x_input_tokens": 1000, "x_output_tokens": 500, "x_cached_tokens": 100, "x_requests": 7}
    rows = [
        openai_day_row("2026-10-05", "4.00"),
        aws("2026-10-10", "30.00", "Amazon S3", "Storage"),
        openai_day_row("2026-11-02", "10.00", tags={"agent": "claims-triage"}, **tokens),
        openai_day_row("2026-11-03", "5.50"),
        aws("2026-11-02", "20.25", "Amazon EC2", "Compute", tags={"team": "risk"}),
        aws("2026-11-05", "9.00", "Shared support", "Management and Governance"),
        aws("2026-11-04", "7.00", "Azure-like VM", "Compute", billing_currency="EUR"),
    ]
    book(source, rows, start="2026-10-01", end="2026-12-01")
    return {**org, "source": source}


@pytest.fixture
def engineer(alpha):
    return make_user("eng-dash@msp.test", role=Role.ENGINEER, client=alpha)


def _query(**params):
    return dashboard_query({**NOVEMBER, **params}, today=dt.date(2026, 12, 1))


# --- periods -------------------------------------------------------------------------------------------------


def test_previous_period_is_the_same_days_of_the_months_before_or_the_same_length_before():
    assert previous_period(dt.date(2026, 11, 1), dt.date(2026, 11, 30)) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert previous_period(dt.date(2026, 12, 1), dt.date(2026, 12, 15)) == (dt.date(2026, 11, 1), dt.date(2026, 11, 15))
    assert previous_period(dt.date(2026, 3, 1), dt.date(2026, 3, 31)) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert previous_period(dt.date(2025, 12, 1), dt.date(2026, 12, 1)) == (dt.date(2024, 11, 1), dt.date(2025, 11, 1))
    assert previous_period(dt.date(2026, 11, 2), dt.date(2026, 12, 1)) == (dt.date(2026, 10, 3), dt.date(2026, 11, 1))
    today = dt.date(2026, 12, 1)
    assert dashboard_query({}, today=today).first_day == dt.date(2026, 11, 2)  # default: the last 30 days
    assert dashboard_query({"preset": "last_month"}, today=today).last_day == dt.date(2026, 11, 30)
    api = dashboard_query({"from": "2026-11-01", "to": "2026-12-01"}, today=today, to_exclusive=True)
    assert (api.first_day, api.last_day, api.preset) == (dt.date(2026, 11, 1), dt.date(2026, 11, 30), "last_month")
    wrong = dashboard_query({"from": "soon", "group": "colour", "currency": "dollars"}, today=today)
    assert len(wrong.errors) == 3 and wrong.group == "service" and wrong.currency == ""
    assert dashboard_query({"preset": "last_12_months"}, today=today).granularity == "month"


# --- the figures ---------------------------------------------------------------------------------------------


def test_figures_on_known_rollup_data_are_exact(booked):
    board = finops_dashboard(_query(currency="USD"), reporting_currency="EUR")
    assert board.currency == "USD"
    assert [code for code, _ in board.currencies] == ["USD", "EUR"]
    now, before = board.current, board.previous
    assert now.cost == Decimal("44.75") and before.cost == Decimal("34.00")
    assert now.ai_cost == Decimal("15.50") and now.ai_share == Decimal("34.6")
    assert now.allocated_cost == Decimal("39.25") and now.unallocated_cost == Decimal("5.50")
    assert now.allocated_share == Decimal("87.7")
    assert (now.input_tokens, now.output_tokens, now.cached_tokens, now.tokens, now.requests) == (
        1000,
        500,
        100,
        1600,
        7,
    )
    assert now.token_cost == Decimal("10.00")  # the AI row without tokens is not in the price of a token
    assert now.cost_per_million_tokens == Decimal("10.00") * 1_000_000 / 1600
    assert before.tokens == 0 and before.ai_cost == Decimal("4.00")
    assert board.spend[(dt.date(2026, 11, 2), "OpenAI API")] == Decimal("10.00")
    assert board.spend[(dt.date(2026, 11, 5), "Shared support")] == Decimal("9.00")  # both shares, whole again
    assert sum(board.spend.values()) == now.cost
    assert board.by_bucket[dt.date(2026, 11, 2)].allocated_cost == Decimal("30.25")
    movers = [(m.key, m.change, m.change_percent) for m in board.movers]
    assert movers == [
        ("Amazon S3", Decimal("-30.00"), Decimal("-100.0")),
        ("Amazon EC2", Decimal("20.25"), None),
        ("OpenAI API", Decimal("11.50"), Decimal("287.5")),
        ("Shared support", Decimal("9.00"), None),
    ]
    departments = {line.key: line.totals for line in board.tokens_by_department}
    assert set(departments) == {booked["claims"].pk}  # only lines that burn tokens
    assert departments[booked["claims"].pk].tokens == 1600
    assert departments[booked["claims"].pk].token_cost == Decimal("10.00")
    assets = {line.key: line.totals for line in board.tokens_by_asset}
    assert set(assets) == {booked["triage"].pk} and assets[booked["triage"].pk].tokens == 1600
    assert board.departments == {booked["claims"].pk: "Claims"}  # the names the token charts need
    assert board.assets[booked["triage"].pk]["name"] == "claims-triage"


def test_default_currency_is_the_reporting_one_and_departments_split_shared_costs(booked):
    board = finops_dashboard(_query(group="department"), reporting_currency="EUR")
    assert board.currency == "EUR" and board.current.cost == Decimal("7.00")
    usd = finops_dashboard(_query(group="department", currency="USD"), reporting_currency="EUR")
    claims, risk = booked["claims"].pk, booked["risk"].pk
    assert usd.group_totals == {risk: Decimal("24.75"), claims: Decimal("14.50"), None: Decimal("5.50")}
    assert usd.group_name(claims) == "Claims" and usd.group_name(risk) == "Risk"
    assert usd.group_name(None) == "No department"
    # A client whose reporting currency has no spend sees the currency it does spend in.
    assert finops_dashboard(_query(), reporting_currency="GBP").currency == "USD"


# --- the page ------------------------------------------------------------------------------------------------


def _page(http, **params):
    response = http.get(PAGE, {**NOVEMBER, **params})
    assert response.status_code == 200
    return response


def _figure(html: str, name: str) -> dict:
    match = re.search(rf'<script type="application/json" id="chart-{name}">(.*?)</script>', html, re.S)
    assert match, name
    return json.loads(match.group(1))


def _table(html: str, name: str) -> list[list[str]]:
    """The chart's table as the page shows it (header, body and total lines), cell texts unescaped."""
    match = re.search(rf'<table class="compact" data-chart-table="{name}">(.*?)</table>', html, re.S)
    assert match, name
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", match.group(1), re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)
        rows.append([unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells])
    return rows


def _csv(http, name: str, **params) -> list[list[str]]:
    response = http.get(PAGE, {**NOVEMBER, **params, "format": "csv", "chart": name})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert f"-{name}-2026-11-01-2026-11-30-" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.content.decode())))


def _plain(text: str) -> str:
    """A shown cell as the CSV writes it: no thousands separators, no % sign."""
    return "" if text == "—" else text.replace(",", "").replace(" %", "")


def _ledger_params(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    assert parts.path == "/c/alpha/finops/ledger/", url
    return {key: values[0] for key, values in parse_qs(parts.query).items()}


def test_the_page_shows_kpis_and_six_charts_with_drill_downs(alpha, engineer, booked, login_as):
    http = login_as(engineer)
    response = _page(http, currency="USD")
    html = response.content.decode()
    assert 'data-kpi="spend"' in html and "44.75" in html and "+31.6 %" in html and "(+10.75)" in html
    assert re.search(r'data-kpi="ai_share">34\.6 %', html) and re.search(r'data-kpi="allocated_share">87\.7 %', html)
    assert "5.50 USD unallocated" in html and "Also spent in this period" in html and "7.00 EUR" in html
    assert "vendor/plotly.min.js" in html and "keel/charts.js" in html
    for name in ("spend", "ai_share", "allocation", "movers", "tokens_department", "tokens_asset"):
        figure = _figure(html, name)
        assert figure["data"] and figure["layout"]
    spend = _figure(html, "spend")
    trace = next(t for t in spend["data"] if t["name"] == "OpenAI API")
    index = trace["x"].index("2026-11-02")
    assert trace["y"][index] == 10.0
    assert _ledger_params(trace["customdata"][index]) == {
        "from": "2026-11-02",
        "to": "2026-11-02",
        "currency": "USD",
        "service": "OpenAI API",
    }
    ai = _figure(html, "ai_share")
    ai_bar, other_bar = ai["data"][0], ai["data"][1]
    assert _ledger_params(ai_bar["customdata"][ai_bar["x"].index("2026-11-03")])["ai"] == "yes"
    assert _ledger_params(other_bar["customdata"][other_bar["x"].index("2026-11-05")])["ai"] == "no"
    allocation = _figure(html, "allocation")
    unallocated = allocation["data"][1]
    assert unallocated["name"] == "Unallocated" and unallocated["y"][unallocated["x"].index("2026-11-03")] == 5.5
    assert _ledger_params(unallocated["customdata"][unallocated["x"].index("2026-11-03")])["allocated"] == "no"
    movers = _figure(html, "movers")["data"][0]
    assert movers["y"][-1] == "Amazon S3" and movers["x"][-1] == -30.0  # biggest at the top
    assert _ledger_params(movers["customdata"][-1]) == {
        "from": "2026-10-01",
        "to": "2026-10-31",
        "currency": "USD",
        "service": "Amazon S3",
    }
    tokens = _figure(html, "tokens_department")["data"]
    assert [t["name"] for t in tokens] == ["Input tokens", "Output tokens", "Cached tokens"]
    claims_at = tokens[0]["y"].index("Claims")
    assert (tokens[0]["x"][claims_at], tokens[1]["x"][claims_at], tokens[2]["x"][claims_at]) == (1000, 500, 100)
    assert _ledger_params(tokens[0]["customdata"][claims_at][0]) == {
        **NOVEMBER,
        "currency": "USD",
        "ai": "yes",
        "department": str(booked["claims"].pk),
    }
    agents = _figure(html, "tokens_asset")["data"][0]
    assert agents["y"] == ["claims-triage"]
    assert _ledger_params(agents["customdata"][0][0])["asset"] == str(booked["triage"].pk)


def test_department_grouping_drills_to_the_department_or_the_unallocated_rows(alpha, engineer, booked, login_as):
    html = _page(login_as(engineer), currency="USD", group="department").content.decode()
    spend = _figure(html, "spend")["data"]
    by_name = {t["name"]: t for t in spend}
    assert set(by_name) == {"Risk", "Claims", "No department"}
    claims = by_name["Claims"]
    at = claims["x"].index("2026-11-05")
    assert claims["y"][at] == 4.5  # its half of the shared support
    assert _ledger_params(claims["customdata"][at])["department"] == str(booked["claims"].pk)
    nobody = by_name["No department"]
    at = nobody["x"].index("2026-11-03")
    assert _ledger_params(nobody["customdata"][at])["department"] == "none"
    rows = login_as(engineer).get(nobody["customdata"][at]).context["rows"]  # the bar is exactly these rows
    assert float(sum(r.effective_cost for r in rows)) == nobody["y"][at]


@pytest.mark.parametrize("chart", ["spend", "ai_share", "allocation", "movers", "tokens_department", "tokens_asset"])
def test_each_csv_is_exactly_the_table_the_chart_shows(alpha, engineer, booked, login_as, chart):
    http = login_as(engineer)
    html = _page(http, currency="USD").content.decode()
    shown = _table(html, chart)
    downloaded = _csv(http, chart, currency="USD")
    assert len(shown) == len(downloaded) > 1
    assert downloaded[0] == shown[0]
    assert [[_plain(cell) for cell in row] for row in shown[1:]] == downloaded[1:]
    if chart == "spend":  # the total line adds up to the period's spend
        assert downloaded[-1][0] == "Total" and downloaded[-1][-1] == "44.75"
    if chart == "movers":
        assert downloaded[1] == ["Amazon S3", "0.00", "30.00", "-30.00", "-100.0"]
        assert downloaded[2] == ["Amazon EC2", "20.25", "0.00", "+20.25", "new"]


def test_unknown_chart_csv_is_a_404(alpha, engineer, booked, login_as):
    assert login_as(engineer).get(PAGE, {"format": "csv", "chart": "pie"}).status_code == 404


def test_twelve_months_are_drawn_by_month_with_month_drill_downs(alpha, engineer, booked, login_as):
    html = _page(login_as(engineer), currency="USD", **{"from": "2026-01-15", "to": "2026-12-01"}).content.decode()
    trace = next(t for t in _figure(html, "spend")["data"] if t["name"] == "OpenAI API")
    assert trace["x"][0] == "2026-01-01" and trace["x"][-1] == "2026-12-01"
    assert trace["y"][trace["x"].index("2026-11-01")] == 15.5
    url = trace["customdata"][trace["x"].index("2026-11-01")]
    assert _ledger_params(url)["from"] == "2026-11-01" and _ledger_params(url)["to"] == "2026-11-30"
    first = trace["customdata"][0]
    assert first == "" or _ledger_params(first)["from"] == "2026-01-15"  # clipped to the period


def test_empty_states(alpha, engineer, login_as, in_alpha):
    http = login_as(engineer)
    html = _page(http).content.decode()
    assert "No spend yet" in html and "/c/alpha/finops/sources/" in html and "data-plotly-figure" not in html
    source = BillingSource.objects.create(name="Old", kind="openai")
    book(source, [openai_day_row("2025-01-10", "1.00")], start="2025-01-10", end="2025-01-11")
    html = _page(http).content.decode()
    assert "No spend yet" not in html and "No spend between" in html


def test_the_api_gives_the_same_figures_as_decimal_strings(alpha, booked, client, api_key_for):
    _, secret = api_key_for(alpha, ["read"])
    response = client.get(API, {"from": "2026-11-01", "to": "2026-12-01", "currency": "USD"}, **auth_header(secret))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["from"], body["to"], body["previous"]) == (
        "2026-11-01",
        "2026-12-01",
        {"from": "2026-10-01", "to": "2026-11-01"},
    )
    assert body["currency"] == "USD" and body["granularity"] == "day"
    now = body["current"]
    assert Decimal(now["effective_cost"]) == Decimal("44.75") and isinstance(now["effective_cost"], str)
    assert Decimal(now["ai_cost"]) == Decimal("15.50") and now["ai_share_percent"] == "34.6"
    assert now["allocated_share_percent"] == "87.7" and now["tokens"] == 1600
    assert Decimal(body["change"]["effective_cost"]) == Decimal("10.75") and body["change"]["percent"] == "31.6"
    assert [(m["name"], Decimal(m["change"])) for m in body["movers"]][0] == ("Amazon S3", Decimal("-30.00"))
    assert len(body["periods"]) == 30
    assert sum(Decimal(p["effective_cost"]) for p in body["spend"]) == Decimal("44.75")
    claims = next(d for d in body["tokens_by_department"] if d["department"] == booked["claims"].pk)
    assert claims["name"] == "Claims" and claims["input_tokens"] == 1000
    default = client.get(API, {"from": "2026-11-01", "to": "2026-12-01"}, **auth_header(secret)).json()
    assert default["currency"] == "EUR" and Decimal(default["current"]["effective_cost"]) == Decimal("7")
    grouped = client.get(
        API, {"from": "2026-11-01", "to": "2026-12-01", "currency": "USD", "group": "department"}, **auth_header(secret)
    ).json()
    assert {m["key"]: Decimal(m["effective_cost"]) for m in grouped["movers"]} == {
        booked["risk"].pk: Decimal("24.75"),
        booked["claims"].pk: Decimal("14.50"),
        None: Decimal("5.50"),
    }
    bad = client.get(API, {"from": "2026-11-01", "to": "2026-11-01"}, **auth_header(secret))
    assert bad.status_code == 400
    assert client.get(API, {"group": "colour"}, **auth_header(secret)).status_code == 400


def test_the_api_is_in_the_openapi_document(client, db):
    import yaml

    document = yaml.safe_load(client.get("/api/schema/").content)
    operation = document["paths"]["/c/{client}/api/v1/finops-dashboard/"]["get"]
    assert operation["operationId"] == "finops_dashboard"
    assert {p["name"] for p in operation["parameters"]} >= {"from", "to", "currency", "group", "preset"}


# --- query counts and isolation ------------------------------------------------------------------------------


def _more_data(org, n: int) -> None:
    """n more days × services × departments, each with a new department and agent."""
    from apps.inventory.models import Agent, Department

    source = BillingSource.objects.create(name=f"More {n}", kind="openai")
    rows = []
    for i in range(n):
        department = Department.objects.create(name=f"Dept {n}-{i}", code=f"d{n}-{i}")
        Agent.objects.create(name=f"agent-{n}-{i}", kind="agent", department=department, cost_tags={"app": f"a{n}-{i}"})
        for day in range(1, 29, 3):
            rows.append(
                openai_day_row(
                    f"2026-11-{day:02d}", f"{i + 1}.25", service_name=f"Service {i}", tags={"app": f"a{n}-{i}"}
                )
            )
            rows.append(aws(f"2026-10-{day:02d}", f"{i + 2}.50", f"AWS service {i}", "Compute"))
    book(source, rows, start="2026-10-01", end="2026-12-01")


def test_page_and_api_use_a_constant_number_of_queries(alpha, engineer, booked, login_as, client, api_key_for):
    http = login_as(engineer)
    _, secret = api_key_for(alpha, ["read"])
    _page(http, currency="USD")  # warm the session
    client.get(API, **auth_header(secret))

    def count(group: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as page:
            _page(http, currency="USD", group=group)
        with CaptureQueriesContext(connection) as api:
            assert client.get(API, {"currency": "USD", "group": group}, **auth_header(secret)).status_code == 200
        return len(page.captured_queries), len(api.captured_queries)

    small = {group: count(group) for group in ("service", "department", "asset")}
    with schema_context(alpha.schema_name):
        _more_data(booked, 12)
    large = {group: count(group) for group in ("service", "department", "asset")}
    assert small == large
    with CaptureQueriesContext(connection) as page:
        _page(http, currency="USD", group="asset")
    statements = [q["sql"] for q in page.captured_queries]
    assert sum("finops_costdaily" in sql for sql in statements) == 2, statements  # spend, and tokens
    assert not any("finops_costrecord" in sql for sql in statements), statements
    assert not any("inventory_department" in sql and "finops_costdaily" not in sql for sql in statements), (
        "names must come with the rollup read"
    )


def test_another_clients_dashboard_is_not_reachable(alpha, beta, booked, client, api_key_for, login_as):
    beta_key = auth_header(api_key_for(beta, ["read"])[1])
    assert client.get(API, **beta_key).status_code == 404
    own = client.get("/c/beta/api/v1/finops-dashboard/", {"from": "2026-11-01", "to": "2026-12-01"}, **beta_key)
    assert own.status_code == 200 and own.json()["currencies"] == [] and own.json()["current"]["tokens"] == 0
    outsider = make_user("exec-dash@beta.test", role=Role.CLIENT_EXECUTIVE, client=beta)
    assert login_as(outsider).get(PAGE).status_code in (403, 404)
    beta_page = login_as(outsider).get("/c/beta/finops/dashboard/", NOVEMBER)
    assert beta_page.status_code == 200 and b"No spend yet" in beta_page.content


def test_the_pages_links_are_the_drilldown_urls(in_alpha):
    """LedgerLinks (one reverse() per page) builds exactly what apps.finops.drilldown.ledger_rows_url builds."""
    from apps.finops.dashboard import LedgerLinks
    from apps.finops.drilldown import ledger_rows_url

    day = dt.date(2026, 11, 2)
    for filters in ({}, {"service": "A & B / C"}, {"department": 7, "ai": "yes"}, {"allocated": "no", "currency": ""}):
        built = LedgerLinks().url(first_day=day, last_day=day, **filters)
        assert built == ledger_rows_url(first_day=day, last_day=day, **filters)
        assert "ledger/?from=2026-11-02&to=2026-11-02" in built
    with pytest.raises(ValueError):
        LedgerLinks().url(first_day=day, last_day=day, colour="red")
