"""The unit economics pages: the list and a unit's page with the figures from the rollup, the trend chart
drilling down to the ledger rows, CSV downloads of what is shown, the unit form (audited), read-only
executives, another client's unit is 404, constant query counts on the lists, and the counts CSV upload
(preview with row errors, then import)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.unit_economics.models import BusinessUnit, UnitCount
from apps.unit_economics.services import unit_counts_ingest
from apps.unit_economics.views import UPLOAD_DIR

from .conftest import book, queries_run, row

BASE = "/c/alpha/finops/unit-economics/"
TODAY = dt.date(2026, 12, 1)  # November is the last whole month


@pytest.fixture
def today(monkeypatch):
    """Fix the pages' UTC today (the API's throttling clock is left alone)."""
    from apps.unit_economics import views

    monkeypatch.setattr(views, "utc_today", lambda: TODAY)
    return TODAY


def _html(response) -> str:
    return response.content.decode()


@pytest.fixture
def claims(org, source, make_unit):
    book(
        source,
        [
            row("2026-10-10", "30.00", agent="claims-bot", x_model="gpt-4o"),
            row("2026-10-11", "6.00", agent="claims-bot", x_model="gpt-4o-mini"),
            row("2026-11-02", "10.00", agent="claims-bot", x_model="gpt-4o"),
            row("2026-11-03", "7.50", agent="claims-bot", x_model="gpt-4o"),
            row("2026-11-04", "3.00", agent="claims-bot", x_model="gpt-4o-mini"),
        ],
        start="2026-10-01",
        end="2026-12-01",
    )
    unit = make_unit(
        "claims", name="Insurance claim processed", unit_label="claim", scope_kind="asset", asset=org["bot"]
    )
    counts = {"2026-10-10": 10, "2026-10-11": 10, "2026-11-02": 4, "2026-11-03": 3, "2026-11-04": 0}
    unit_counts_ingest([{"unit": "claims", "day": d, "count": n} for d, n in counts.items()])
    return unit


@pytest.mark.usefixtures("today")
def test_the_list_shows_last_months_cost_per_unit_against_the_month_before(alpha, claims, engineer, login_as):
    page = _html(login_as(engineer).get(BASE))
    assert "Cost per unit, November 2026" in page
    assert 'data-cost-per-unit="claims">2.9286<' in page  # 20.50 / 7
    assert "1.8000" in page and "+62.7 %" in page and "All spend of claims-bot (agent)" in page
    assert 'href="/c/alpha/finops/unit-economics/new/"' in page and "/c/alpha/api/v1/unit-metrics/" in page


@pytest.mark.usefixtures("today")
def test_a_units_page_has_the_figures_the_chart_the_drivers_and_drill_downs(alpha, claims, engineer, login_as):
    http = login_as(engineer)
    response = http.get(f"{BASE}claims/")
    assert response.status_code == 200
    page = _html(response)
    assert 'data-figure="current-cost-per-unit">2.9286 <span class="currency">USD' in page
    assert "From October to November 2026 the cost per claim rose from 1.8000 to 2.9286 USD (+62.7 %)." in page
    assert 'data-figure="volume-effect">−23.40' in page and 'data-figure="unit-cost-effect">+7.90' in page
    figure = json.loads(re.search(r'<script type="application/json" id="unit-trend">(.*?)</script>', page, re.S)[1])
    bars, line = figure["data"]
    assert bars["type"] == "bar" and line["name"] == "Cost per claim"
    months = dict(zip(line["x"], line["y"], strict=True))
    assert months["2026-10-01"] == pytest.approx(1.8) and months["2026-11-01"] == pytest.approx(2.92857143)
    assert months["2026-09-01"] is None  # no claims reported: a gap, not zero or infinity
    drill = line["customdata"][line["x"].index("2026-11-01")]
    assert drill == f"/c/alpha/finops/ledger/?from=2026-11-01&to=2026-11-30&asset={claims.asset_id}&currency=USD"
    assert drill.replace("&", "&amp;") in page  # the table links the same rows
    # the contributors by model, each linking to its rows
    assert (
        f"/c/alpha/finops/ledger/?from=2026-11-01&amp;to=2026-11-30&amp;asset={claims.asset_id}&amp;currency=USD&amp;model=gpt-4o"
        in page
    )
    # daily view: the zero-count day has no ratio
    daily = _html(http.get(f"{BASE}claims/", {"from": "2026-11-02", "to": "2026-11-05", "granularity": "day"}))
    figure = json.loads(re.search(r'id="unit-trend">(.*?)</script>', daily, re.S)[1])
    assert figure["data"][1]["y"] == [2.5, 2.5, None, None]


@pytest.mark.usefixtures("today")
def test_the_csv_downloads_are_what_the_page_shows(alpha, claims, engineer, login_as):
    http = login_as(engineer)
    series = http.get(
        f"{BASE}claims/",
        {"from": "2026-10-01", "to": "2026-11-30", "granularity": "month", "format": "csv", "table": "series"},
    )
    assert (
        series["Content-Type"].startswith("text/csv") and "keel-unit-cost-claims-month" in series["Content-Disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(series.content.decode())))
    assert [(r["period"], r["claims"], r["cost_per_unit"]) for r in rows] == [
        ("2026-10", "20", "1.80000000"),
        ("2026-11", "7", "2.92857143"),
        ("total", "27", "2.09259259"),  # 56.50 / 27
    ]
    drivers = http.get(f"{BASE}claims/", {"month": "2026-11", "by": "model", "format": "csv", "table": "drivers"})
    lines = {r["line"] + ":" + r["model"]: r for r in csv.DictReader(io.StringIO(drivers.content.decode()))}
    assert lines["contributor:gpt-4o"]["per_unit_change"] == "1.00000000"
    assert (
        lines["volume_effect:"]["change"] == "-23.400000000000"
        and lines["unit_cost_effect:"]["change"] == "7.900000000000"
    )


@pytest.mark.usefixtures("today")
def test_another_scope_can_be_chosen_on_the_page(alpha, claims, org, engineer, login_as):
    page = _html(login_as(engineer).get(f"{BASE}claims/", {"scope": "model:gpt-4o-mini", "month": "2026-11"}))
    assert "not the unit's own scope" in page and "All spend of model gpt-4o-mini" in page
    assert 'data-figure="current-cost-per-unit">0.4286 <span' in page  # 3.00 / 7
    assert '<option value="model:gpt-4o-mini" selected>' in page
    bad = _html(login_as(engineer).get(f"{BASE}claims/", {"scope": "department:999999"}))
    assert "There is no department #999999" in bad


def test_the_form_creates_and_edits_a_unit_with_an_audit_trail(alpha, org, engineer, login_as):
    http = login_as(engineer)
    assert http.get(f"{BASE}new/").status_code == 200
    refused = http.post(
        f"{BASE}new/", {"name": "Claims", "code": "claims", "unit_label": "claim", "scope_kind": "asset"}
    )
    assert refused.status_code == 400 and "Choose the AI asset" in _html(refused)
    created = http.post(
        f"{BASE}new/",
        {"name": "Claims", "code": "claims", "unit_label": "claim", "scope_kind": "asset", "asset": org["bot"].pk},
    )
    assert created.status_code == 302 and created["Location"] == f"{BASE}claims/"
    edited = http.post(
        f"{BASE}claims/edit/",
        {
            "name": "Claim handled",
            "code": "other",
            "unit_label": "claim",
            "scope_kind": "department",
            "department": org["claims"].pk,
            "ai_only": "on",
        },
    )
    assert edited.status_code == 302
    with schema_context(alpha.schema_name):
        unit = BusinessUnit.objects.get()
        assert (unit.code, unit.name, unit.department_id, unit.asset_id, unit.ai_only) == (
            "claims",
            "Claim handled",
            org["claims"].pk,
            None,
            True,
        )
        assert AuditEvent.objects.filter(action__startswith="business_unit.").count() == 2
    assert http.get(f"{BASE}claims/delete/").status_code == 200
    assert http.post(f"{BASE}claims/delete/").status_code == 302
    with schema_context(alpha.schema_name):
        assert not BusinessUnit.objects.exists() and AuditEvent.objects.filter(action="business_unit.delete").exists()


def test_executives_read_but_change_nothing(alpha, claims, executive, login_as):
    http = login_as(executive)
    for url in (BASE, f"{BASE}claims/", f"{BASE}claims/counts/"):
        page = _html(http.get(url))
        assert "Edit" not in page.split("<main")[-1] or "unit-economics/claims/edit/" not in page, url
        assert 'href="/c/alpha/finops/unit-economics/new/"' not in page
    for url in (f"{BASE}new/", f"{BASE}claims/edit/", f"{BASE}claims/delete/", f"{BASE}upload/"):
        assert http.get(url).status_code == 403, url
    assert http.post(f"{BASE}claims/delete/").status_code == 403
    with schema_context(alpha.schema_name):
        assert BusinessUnit.objects.exists()


def test_another_clients_unit_is_404(alpha, beta, claims, engineer, login_as, make_unit):
    from apps.unit_economics.services import business_unit_save

    with schema_context(beta.schema_name):
        business_unit_save(name="Beta only", code="beta-only", unit_label="thing")
    http = login_as(engineer)  # a member of alpha
    for url in (f"{BASE}beta-only/", f"{BASE}beta-only/counts/", f"{BASE}beta-only/edit/"):
        assert http.get(url).status_code == 404, url
    assert http.get("/c/beta/finops/unit-economics/beta-only/").status_code == 404  # no reach into beta at all


def _units_and_counts(org, start: int, n: int):
    from apps.unit_economics.services import business_unit_save

    for i in range(start, start + n):
        business_unit_save(
            name=f"Unit {i:02d}", code=f"u{i:02d}", unit_label="thing", scope_kind="asset", asset=org["bot"]
        )
        unit_counts_ingest(
            [
                {"unit": f"u{i:02d}", "day": f"2026-11-{d:02d}", "count": d, "department": "claims-ops"}
                for d in range(1, 4)
            ]
            + [{"unit": "claims", "day": f"2026-09-{i % 28 + 1:02d}", "count": i, "asset": org["bot"].pk}]
        )


@pytest.mark.parametrize("path", ["", "claims/counts/", "claims/"])
@pytest.mark.usefixtures("today")
def test_pages_cost_constant_queries(alpha, claims, org, engineer, login_as, path):
    http = login_as(engineer)
    http.get(BASE + path)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert http.get(BASE + path).status_code == 200
        return len(queries_run(captured))

    with schema_context(alpha.schema_name):
        _units_and_counts(org, 0, 1)
    few = queries()
    with schema_context(alpha.schema_name):
        _units_and_counts(org, 1, 15)
    assert queries() == few


# --- CSV upload ------------------------------------------------------------------------------------------


def _upload(http, content: str, **fields):
    handle = io.BytesIO(content.encode())
    handle.name = "counts.csv"
    return http.post(f"{BASE}upload/", {"file": handle, **fields})


def _waiting_file(token: str) -> str:
    """The stored name a preview's token points at (other tests may have files waiting beside it)."""
    from django.core import signing

    from apps.unit_economics.views import SIGNING_SALT

    name = signing.loads(token, salt=SIGNING_SALT)["name"]
    assert name.startswith(f"{UPLOAD_DIR}/")
    return name


@pytest.mark.usefixtures("today")
def test_a_csv_is_previewed_with_its_row_errors_then_imported(alpha, claims, engineer, login_as):
    http = login_as(engineer)
    content = (
        "Unit,Date,Count,Department,ID,notes\n"
        "claims,2026-11-02,4,,r1,same as stored\n"
        "claims,2026-11-03,30,,r2,corrected\n"
        "\n"
        "claims,2026-11-05,11,claims-ops,r3,\n"
        "claims,2026-11-06,-1,,r4,\n"
        "loans,2026-11-06,5,,r5,\n"
        "claims,06/11/2026,5,,r6,\n"
    )
    response = _upload(http, content)
    assert response.status_code == 302 and "/unit-economics/upload/preview/?upload=" in response["Location"]
    preview = _html(http.get(response["Location"]))
    assert (
        'data-figure="accepted">3<' in preview and 'data-figure="rejected" style="color:var(--critical)">3<' in preview
    )
    errors = re.findall(
        r"<tr><td class=\"num\">(\d+)</td><td class=\"mono small\">([^<]*)</td><td class=\"mono\">([^<]*)</td>", preview
    )
    assert errors == [("6", "r4", "count"), ("7", "r5", "unit"), ("8", "r6", "day")]  # file line numbers
    assert "Import 3 rows, skip 3" in preview and "notes" in preview  # the ignored column is named
    with schema_context(alpha.schema_name):
        assert UnitCount.objects.count() == 5  # nothing stored by the preview
    token = re.search(r'name="upload" value="([^"]+)"', preview)[1]
    assert default_storage.exists(_waiting_file(token))
    committed = http.post(f"{BASE}upload/commit/", {"upload": token})
    assert committed.status_code == 302 and committed["Location"] == f"{BASE}claims/"
    with schema_context(alpha.schema_name):
        stored = dict(UnitCount.objects.filter(department=None).values_list("day__day", "count"))
        assert (
            stored[2] == 4
            and stored[3] == 30
            and UnitCount.objects.filter(department__code="claims-ops").get().count == 11
        )
        assert AuditEvent.objects.filter(action="unit_counts.ingest", after__source="csv").count() == 1
    page = _html(http.get(committed["Location"]))
    assert "1 new counts, 1 replaced, 1 unchanged. 3 rows with errors were skipped." in page
    assert not default_storage.exists(_waiting_file(token))  # the waiting file is gone
    again = http.post(f"{BASE}upload/commit/", {"upload": token}, follow=True)
    assert "expired or was already imported" in _html(again)


def test_a_csv_for_one_unit_needs_no_unit_column_and_a_bad_file_is_explained(alpha, claims, engineer, login_as):
    http = login_as(engineer)
    response = _upload(http, "day;count\n2026-11-20;12\n", unit="claims")
    preview = _html(http.get(response["Location"]))
    assert (
        "Import 1 row" in preview and "Every row without a unit counts as <strong>Insurance claim processed" in preview
    )
    token = re.search(r'name="upload" value="([^"]+)"', preview)[1]
    http.post(f"{BASE}upload/commit/", {"upload": token, "unit": "claims"})
    with schema_context(alpha.schema_name):
        assert UnitCount.objects.get(day="2026-11-20").count == 12
    missing = _html(http.get(_upload(http, "when,how many\n2026-11-20,3\n")["Location"]))
    assert "Columns missing: count, day, unit" in missing and "/unit-economics/upload/commit/" not in missing
    forged = http.get(f"{BASE}upload/preview/", {"upload": "forged"}, follow=True)
    assert "expired or was already imported" in _html(forged)


def test_the_csv_import_api_previews_and_stores(client, alpha, claims, api_key_for):
    from tests.conftest import auth_header

    key = auth_header(api_key_for(alpha, ["ingest"])[1])
    handle = io.BytesIO(b"unit,day,count\nclaims,2026-11-21,8\nclaims,2026-11-22,x\n")
    handle.name = "c.csv"
    dry = client.post("/c/alpha/api/v1/unit-metrics/csv/?dry_run=true", {"file": handle}, **key)
    assert dry.status_code == 200 and dry.json()["dry_run"] and dry.json()["created"] == 1
    assert dry.json()["errors"] == [
        {"line": 3, "id": "", "field": "count", "message": "count must be a whole number of units, zero or more."}
    ]
    with schema_context(alpha.schema_name):
        assert not UnitCount.objects.filter(day="2026-11-21").exists()
    handle.seek(0)
    stored = client.post("/c/alpha/api/v1/unit-metrics/csv/", {"file": handle}, **key)
    assert stored.status_code == 200 and stored.json()["created"] == 1
    with schema_context(alpha.schema_name):
        assert UnitCount.objects.get(day="2026-11-21").source == "csv"
