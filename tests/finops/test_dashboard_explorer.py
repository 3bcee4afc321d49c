"""The cost explorer on the daily rollup: the same figures as the raw ledger to the last digit (every grouping,
measure, granularity and filter), the allocation dimensions (department, asset, rule — shared costs at each
share), tag queries on the ledger, drop-downs from the rollup, and bars that drill down to ledger rows."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.finops.selectors import ExplorerQuery, cost_explorer, explorer_filter_options, tag_keys
from tests.conftest import auth_header, make_user

from . import test_dashboard as known
from .conftest import shared_file
from .test_dashboard import aws, book

org, booked = known.org, known.booked  # the known October/November data of the dashboard tests, as fixtures

BASE = "/c/alpha/finops/"
SEPTEMBER = (dt.date(2024, 9, 1), dt.date(2024, 10, 1))
GROUPS = (
    "provider",
    "service",
    "category",
    "account",
    "sub_account",
    "region",
    "charge_category",
    "model",
    "source",
    "currency",
    "department",
    "asset",
    "rule",
)


@pytest.fixture
def sample(in_alpha):
    from apps.finops.services import focus_upload_commit

    return focus_upload_commit(path=shared_file("focus_sample.csv"), filename="focus_sample.csv")


@pytest.fixture
def engineer(alpha):
    return make_user("eng-explorer@msp.test", role=Role.ENGINEER, client=alpha)


def _same(query: ExplorerQuery) -> None:
    rollup, ledger = cost_explorer(query, read_from="rollup"), cost_explorer(query, read_from="ledger")
    assert (rollup.read_from, ledger.read_from) == ("rollup", "ledger")
    assert rollup.totals == ledger.totals, query
    assert rollup.groups == ledger.groups, query
    assert rollup.series == ledger.series, query
    assert rollup.row_count == ledger.row_count, query


@pytest.mark.parametrize("group", GROUPS)
def test_rollup_and_ledger_agree_on_the_sample_for_every_grouping(sample, group):
    start, end = SEPTEMBER
    for measure in ("effective_cost", "billed_cost", "list_cost", "contracted_cost"):
        _same(ExplorerQuery(start=start, end=end, group_by=group, measure=measure))
    _same(ExplorerQuery(start=start, end=end, group_by=group, granularity="month"))
    _same(ExplorerQuery(start=dt.date(2024, 9, 10), end=dt.date(2024, 9, 20), group_by=group))


def test_rollup_and_ledger_agree_with_filters(sample):
    start, end = SEPTEMBER
    result = cost_explorer(ExplorerQuery(start=start, end=end, group_by="provider"))
    assert result.read_from == "rollup" and result.row_count == 1000
    for filters in (
        {"provider": "Microsoft"},
        {"provider": "AWS", "region": "us-east-1"},
        {"account": "1234567890123"},
        {"source": "FOCUS file uploads", "charge_category": "Usage"},
        {"service": "no such service"},
    ):
        _same(ExplorerQuery(start=start, end=end, filters=filters, group_by="sub_account"))


def test_allocation_dimensions_spread_shared_costs_and_agree_with_the_ledger(booked):
    november = {"start": dt.date(2026, 11, 1), "end": dt.date(2026, 12, 1)}
    claims, risk, triage, shared = (booked[k].pk for k in ("claims", "risk", "triage", "shared"))
    by_department = cost_explorer(ExplorerQuery(**november, group_by="department", filters={"currency": "USD"}))
    assert {g["key"]: g["amount"] for g in by_department.groups} == {
        risk: Decimal("24.75"),
        claims: Decimal("14.50"),
        None: Decimal("5.50"),
    }
    # The shared row counts in both departments it reaches; without a department view it counts once.
    assert {g["key"]: g["rows"] for g in by_department.groups} == {risk: 2, claims: 2, None: 1}
    by_rule = cost_explorer(ExplorerQuery(**november, group_by="rule", filters={"currency": "USD"}))
    assert {g["key"]: (g["amount"], g["rows"]) for g in by_rule.groups}[shared] == (Decimal("9.00"), 1)
    assert by_rule.row_count == 4
    only_claims = cost_explorer(ExplorerQuery(**november, group_by="service", filters={"department": str(claims)}))
    assert {g["key"]: g["amount"] for g in only_claims.groups} == {
        "OpenAI API": Decimal("10.00"),
        "Shared support": Decimal("4.50"),
    }
    by_asset = cost_explorer(ExplorerQuery(**november, group_by="asset", filters={"currency": "USD"}))
    assert {g["key"]: g["amount"] for g in by_asset.groups}[triage] == Decimal("10.00")
    for group in GROUPS:
        for filters in ({}, {"department": str(claims)}, {"rule": str(shared)}, {"asset": str(triage)}):
            _same(ExplorerQuery(start=dt.date(2026, 10, 1), end=dt.date(2026, 12, 1), group_by=group, filters=filters))


def test_tag_queries_read_the_ledger_and_still_spread_shared_costs(booked):
    from apps.finops.models import BillingSource

    source = BillingSource.objects.get(name="Cloud bills")
    book(
        source,
        [
            aws("2026-11-05", "9.00", "Shared support", "Management and Governance", tags={"env": "prod"}),
            aws("2026-11-06", "3.00", "Amazon EC2", "Compute", tags={"team": "risk", "env": "prod"}),
        ],
        start="2026-11-05",
        end="2026-11-07",
    )
    query = ExplorerQuery(start=dt.date(2026, 11, 1), end=dt.date(2026, 12, 1), tag_key="env", tag_value="prod")
    by_department = cost_explorer(ExplorerQuery(**{**query.__dict__, "group_by": "department"}))
    assert by_department.read_from == "ledger"
    assert {g["key"]: g["amount"] for g in by_department.groups} == {
        booked["claims"].pk: Decimal("4.50"),
        booked["risk"].pk: Decimal("7.50"),
    }
    by_env = cost_explorer(
        ExplorerQuery(start=query.start, end=query.end, group_by="tag:env", filters={"currency": "USD"})
    )
    assert {g["key"]: g["amount"] for g in by_env.groups} == {"prod": Decimal("12.00"), "": Decimal("35.75")}
    with pytest.raises(ValueError):
        cost_explorer(query, read_from="rollup")
    assert tag_keys(query) == ["agent", "env", "team"]
    sampled = set(tag_keys(query, rows_per_day=1))  # one tagged row a day: 2 Nov has two, one of them is read
    assert {"env", "team"} <= sampled <= {"agent", "env", "team"}


def test_filter_options_come_from_the_rollup_with_names(booked):
    query = ExplorerQuery(start=dt.date(2026, 11, 1), end=dt.date(2026, 12, 1))
    with CaptureQueriesContext(connection) as queries:
        options = explorer_filter_options(query)
    statements = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().startswith(("SELECT", "WITH"))]
    assert len(statements) == 1 and "finops_costdaily" in statements[0]
    assert options["department"] == [(str(booked["claims"].pk), "Claims"), (str(booked["risk"].pk), "Risk")]
    assert options["asset"] == [(str(booked["triage"].pk), "claims-triage")]
    assert (str(booked["shared"].pk), "Shared support") in options["rule"]
    assert options["currency"] == [("EUR", "EUR"), ("USD", "USD")]
    assert options["account"] == [("111122223333", "111122223333"), ("org-1", "org-1")]
    kept = explorer_filter_options(ExplorerQuery(start=query.start, end=query.end, filters={"department": "999999"}))
    assert kept["department"][0] == ("999999", "#999999")


def test_the_sample_accounts_keep_their_names(sample):
    options = explorer_filter_options(ExplorerQuery(start=SEPTEMBER[0], end=SEPTEMBER[1]))
    assert ("1234567890123", "1234567890123 · SunBird") in options["account"]


# --- the page and the API -------------------------------------------------------------------------------------


def _figure(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="explorer-figure">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


def _ledger(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    assert parts.path == "/c/alpha/finops/ledger/", url
    return {key: values[0] for key, values in parse_qs(parts.query).items()}


def test_the_explorer_groups_by_department_and_every_bar_drills_down(alpha, engineer, booked, login_as):
    http = login_as(engineer)
    response = http.get(BASE, {"from": "2026-11-01", "to": "2026-11-30", "group": "department", "currency": "USD"})
    html = response.content.decode()
    assert response.status_code == 200 and response.context["result"].read_from == "rollup"
    labels = [row["label"] for row in response.context["table"].rows]
    assert labels == ["Risk", "Claims", "No department"]
    traces = {t["name"]: t for t in _figure(html)["data"]}
    claims = traces["Claims"]
    at = claims["x"].index("2026-11-05")
    assert claims["y"][at] == 4.5
    assert _ledger(claims["customdata"][at]) == {
        "from": "2026-11-05",
        "to": "2026-11-05",
        "currency": "USD",
        "department": str(booked["claims"].pk),
    }
    nobody = traces["No department"]
    at = nobody["x"].index("2026-11-03")
    assert _ledger(nobody["customdata"][at])["department"] == "none"
    rows = http.get(nobody["customdata"][at]).context["rows"]  # the bar is exactly these ledger rows
    assert float(sum(r.effective_cost for r in rows)) == nobody["y"][at]
    rows_link = response.context["table"].rows[0]["rows_url"]
    assert _ledger(rows_link) == {
        "from": "2026-11-01",
        "to": "2026-11-30",
        "currency": "USD",
        "department": str(booked["risk"].pk),
    }
    assert f'href="{rows_link.replace("&", "&amp;")}"' in html
    assert '<optgroup label="Allocation">' in html and "Download FOCUS export" in html
    assert f'<option value="{booked["claims"].pk}">Claims</option>' in html
    # A department filter: the figure follows it, the FOCUS export (ledger columns only) is not offered.
    filtered = http.get(BASE, {"from": "2026-11-01", "to": "2026-11-30", "department": booked["claims"].pk})
    assert filtered.context["result"].totals == {"USD": Decimal("14.50")}
    assert "Download FOCUS export" not in filtered.content.decode()
    trace = _figure(filtered.content.decode())["data"][0]
    assert _ledger(next(u for u in trace["customdata"] if u))["department"] == str(booked["claims"].pk)
    monthly = http.get(BASE, {"from": "2026-10-01", "to": "2026-11-30", "group": "department", "granularity": "month"})
    november = [p for p in monthly.context["table"].series if p["period"] == dt.date(2026, 11, 1)]
    assert {p["key"] for p in november} == {booked["claims"].pk, booked["risk"].pk, None}  # ids and "none" mixed
    wrong = http.get(BASE, {"from": "2026-11-01", "to": "2026-11-30", "asset": "agent-7"})
    assert "is not an id" in wrong.content.decode() and wrong.context["query"].filters == {}


def test_a_tag_query_says_it_reads_the_ledger(alpha, engineer, booked, login_as):
    response = login_as(engineer).get(BASE, {"from": "2026-11-01", "to": "2026-11-30", "group": "tag:team"})
    assert response.context["result"].read_from == "ledger"
    assert 'data-read-from="ledger"' in response.content.decode()
    plain = login_as(engineer).get(BASE, {"from": "2026-11-01", "to": "2026-11-30"})
    assert 'data-read-from="ledger"' not in plain.content.decode()


def test_the_explorer_page_has_a_constant_number_of_queries(alpha, engineer, booked, login_as):
    from .test_dashboard import _more_data

    http = login_as(engineer)
    params = {"from": "2026-10-01", "to": "2026-11-30", "group": "department"}
    http.get(BASE, params)
    with CaptureQueriesContext(connection) as small:
        http.get(BASE, params)
    with schema_context(alpha.schema_name):
        _more_data(booked, 10)
    with CaptureQueriesContext(connection) as large:
        response = http.get(BASE, params)
    assert len(small.captured_queries) == len(large.captured_queries)
    assert "Dept 10-9" in response.content.decode()


def test_the_api_explorer_groups_by_department_from_the_rollup(alpha, booked, client, api_key_for):
    _, secret = api_key_for(alpha, ["read"])
    response = client.get(
        "/c/alpha/api/v1/cost-explorer/",
        {"from": "2026-11-01", "to": "2026-12-01", "group": "department", "currency": "USD"},
        **auth_header(secret),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["read_from"] == "rollup"
    assert {g["key"]: Decimal(g["amount"]) for g in body["groups"]}[booked["claims"].pk] == Decimal("14.50")
    one = client.get(
        "/c/alpha/api/v1/cost-explorer/",
        {"from": "2026-11-01", "to": "2026-12-01", "rule": booked["shared"].pk, "group": "department"},
        **auth_header(secret),
    ).json()
    assert {g["key"]: g["amount"] for g in one["groups"]} == {
        booked["claims"].pk: "4.500000000000",
        booked["risk"].pk: "4.500000000000",
    }
    bad = client.get("/c/alpha/api/v1/cost-explorer/", {"department": "claims"}, **auth_header(secret))
    assert bad.status_code == 400
