"""Anomaly pages: the list with its timeline (markers that drill down to the ledger rows), filters and CSV, the
detail with the scope's series and expected band, actions for editors only, the settings page, another
client's anomaly 404, and list queries that do not grow with the number of anomalies."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.alerts.models import Alert
from apps.anomalies.models import Anomaly, AnomalySettings

from .conftest import SPIKE_DAY, TODAY

URL = "/c/alpha/finops/anomalies/"
pytestmark = pytest.mark.django_db


def _fake_anomalies(count: int, *, start: int = 10) -> None:
    """Recorded anomalies on older days of other services (for list sizes, not for the detector)."""
    now = timezone.now()
    for i in range(count):
        spike = bool(i % 2)
        Anomaly.objects.create(
            scope_kind="service",
            scope_key=f"Service {i}",
            scope_label=f"Service {i}",
            provider_name="AWS",
            day=TODAY - dt.timedelta(days=start + i),
            currency="USD",
            actual=Decimal(900 if spike else 100),
            expected=Decimal(300 if spike else 700),
            expected_low=Decimal(100 if spike else 500),
            expected_high=Decimal(500 if spike else 900),
            impact=Decimal(600 if spike else -600),
            direction="spike" if spike else "drop",
            score=Decimal("7.5"),
            spread=Decimal(50),
            typical=Decimal(300 if spike else 700),
            first_detected_at=now,
            last_detected_at=now,
        )


def test_the_list_shows_the_anomalies_and_a_timeline_that_drills_down(spiked, login_as, alpha_manager):
    _fake_anomalies(2)  # a drop and a spike of 600 on older days
    page = login_as(alpha_manager).get(URL)
    assert page.status_code == 200
    body = page.content.decode()
    assert "OpenAI API" in body and "All Usage spend" in body
    assert "Tue 17 Nov 2026" in body
    figure = json.loads(str(page.context["figure"]))
    spikes = next(t for t in figure["data"] if t["name"] == "Spikes")
    assert [x[:10] for x in spikes["x"]] == ["2026-11-17", "2026-11-17", "2026-11-09"]
    assert sorted(spikes["x"][:2]) == ["2026-11-17T06:00:00", "2026-11-17T10:00:00"]  # client, then service
    assert spikes["y"][0] > 2300 and spikes["y"][2] == 600.0  # the impact, above the zero line
    drops = next(t for t in figure["data"] if t["name"] == "Drops")
    assert drops["x"] == ["2026-11-10T10:00:00"] and drops["y"] == [-600.0]  # below the zero line
    assert drops["marker"]["color"] != spikes["marker"]["color"]
    urls = [c[0] for c in spikes["customdata"]]
    service_url = next(u for u in urls if "service=OpenAI+API" in u)
    assert service_url.startswith("/c/alpha/finops/ledger/?from=2026-11-17&to=2026-11-17")
    assert "charge_category=Usage" in service_url and "currency=USD" in service_url
    sizes = spikes["marker"]["size"]
    assert sizes[0] == sizes[1] > sizes[2]  # sized by impact
    assert 'data-plotly-figure="timeline-figure"' in body and "<noscript>" in body
    total = sum(a.impact for a in Anomaly.objects.filter(direction="spike"))
    assert [(r["currency"], r["total"], r["n"]) for r in page.context["spikes"]] == [("USD", total, 3)]
    assert f"+{total:,.2f}" in body


def test_the_list_filters_by_status_scope_and_direction(spiked, login_as, alpha_manager):
    http = login_as(alpha_manager)
    scoped = http.get(URL, {"scope": "client"})
    assert [a.scope_kind for a in scoped.context["page"]] == ["client"]
    assert list(http.get(URL, {"direction": "drop"}).context["page"]) == []
    service = Anomaly.objects.get(scope_kind="service")
    service.status = Anomaly.Status.DISMISSED
    service.save()
    assert [a.scope_kind for a in http.get(URL).context["page"]] == ["client"]  # default: open or acknowledged
    assert [a.scope_kind for a in http.get(URL, {"status": "dismissed"}).context["page"]] == ["service"]
    bad = http.get(URL, {"status": "gone", "period": "7"})
    assert bad.status_code == 200 and len(bad.context["selected"].errors) == 2


def test_the_list_csv_has_what_the_list_shows(spiked, login_as, alpha_manager):
    response = login_as(alpha_manager).get(f"{URL}anomalies.csv", {"scope": "service"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    service = Anomaly.objects.get(scope_kind="service")
    assert row["day"] == "2026-11-17" and row["scope"] == "OpenAI API" and row["direction"] == "spike"
    assert row["impact"] == str(service.impact.quantize(Decimal("0.01")))
    assert row["alert_id"] == str(service.alert_id)


def test_list_queries_do_not_grow_with_anomalies(spiked, login_as, alpha_manager, django_assert_max_num_queries):
    http = login_as(alpha_manager)
    http.get(URL)
    with django_assert_max_num_queries(30) as few:
        http.get(URL)
    _fake_anomalies(40)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = http.get(URL, {"status": "all"})
    assert len(page.context["page"]) == 42 and len(json.loads(str(page.context["figure"]))["data"]) >= 2


def test_the_detail_draws_the_series_with_its_band_and_the_flagged_day(spiked, login_as, alpha_manager):
    service = Anomaly.objects.get(scope_kind="service")
    page = login_as(alpha_manager).get(f"{URL}{service.pk}/")
    assert page.status_code == 200
    figure = json.loads(str(page.context["figure"]))
    traces = {t["name"]: t for t in figure["data"]}
    spend = traces["Usage spend"]
    assert spend["x"][0] == "2026-09-22" and spend["x"][-1] == "2026-11-19"  # 8 weeks before, to yesterday
    index = spend["x"].index("2026-11-17")
    assert spend["y"][index] == float(service.actual)
    assert "service=OpenAI+API" in spend["customdata"][index][0]
    assert traces["Expected range"]["fill"] == "tonexty"
    assert traces["This spike"]["x"] == ["2026-11-17"]
    body = page.content.decode()
    assert "How it was judged" in body and "Acknowledge" in body and "Dismiss" in body
    assert f'href="/c/alpha/alerts/{service.alert_id}/"' in body


def test_the_series_csv_has_the_band_the_chart_shows(spiked, login_as, alpha_manager):
    service = Anomaly.objects.get(scope_kind="service")
    response = login_as(alpha_manager).get(f"{URL}{service.pk}/series.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    day = next(r for r in rows if r["day"] == SPIKE_DAY.isoformat())
    assert day["flagged_now"] == "spike" and Decimal(day["actual"]) > Decimal(day["expected_high"])
    assert day["currency"] == "USD" and len(rows) == 59


def test_an_editor_acts_on_an_anomaly_and_its_alert_follows(spiked, login_as, alpha_manager):
    service = Anomaly.objects.get(scope_kind="service")
    http = login_as(alpha_manager)
    refused = http.post(f"{URL}{service.pk}/dismiss/", {"note": ""}, follow=True)
    assert "Say why this is not an anomaly" in refused.content.decode()
    http.post(f"{URL}{service.pk}/dismiss/", {"note": "Load test of the claims model."})
    service.refresh_from_db()
    assert service.status == "dismissed" and service.status_changed_by == "am@msp.test"
    assert Alert.objects.get(pk=service.alert_id).state == "resolved"
    assert http.post(f"{URL}{service.pk}/explode/").status_code == 404


def test_viewers_see_no_buttons_and_cannot_act(spiked, login_as, alpha_executive):
    service = Anomaly.objects.get(scope_kind="service")
    http = login_as(alpha_executive)
    page = http.get(f"{URL}{service.pk}/")
    assert page.status_code == 200 and "formaction" not in page.content.decode()
    assert http.post(f"{URL}{service.pk}/acknowledge/").status_code == 403
    assert http.post(f"{URL}scan/").status_code == 403
    assert http.post(f"{URL}settings/", {"sensitivity": "9"}).status_code == 403
    service.refresh_from_db()
    assert service.status == "open"


def test_the_settings_page_saves_and_scan_now_uses_them(spiked, login_as, alpha_manager):
    http = login_as(alpha_manager)
    form = http.get(f"{URL}settings/")
    assert form.status_code == 200 and "Save settings" in form.content.decode()
    values = {
        "sensitivity": "4",
        "min_impact": "5000",
        "min_impact_percent": "20",
        "spread_floor_percent": "5",
        "baseline_weeks": "8",
        "min_history_days": "14",
        "scan_days": "7",
        "detect_drops": "on",
        "high_impact": "1000",
        "alert_max_age_days": "7",
    }
    assert http.post(f"{URL}settings/", {**values, "baseline_weeks": "12"}).status_code == 200  # shown again
    assert AnomalySettings.objects.get().baseline_weeks == 8
    assert http.post(f"{URL}settings/", values).status_code == 302
    assert AnomalySettings.objects.get().min_impact == 5000
    done = http.post(f"{URL}scan/", follow=True)
    assert "2 resolved (back in range)" in done.content.decode()
    assert set(Anomaly.objects.values_list("status", flat=True)) == {"resolved"}


def test_another_clients_anomaly_is_not_found(spiked, beta, login_as, alpha_manager, msp_admin):
    with schema_context(beta.schema_name):
        _fake_anomalies(1)
        Anomaly.objects.filter().update(id=990_001)
    admin = login_as(msp_admin)
    assert admin.get("/c/beta/finops/anomalies/990001/").status_code == 200
    assert admin.get(f"{URL}990001/").status_code == 404  # the id exists only in beta's schema
    assert admin.post(f"{URL}990001/acknowledge/").status_code == 404
    assert admin.get(f"{URL}990001/series.csv").status_code == 404
    # The manager of alpha does not reach beta at all.
    assert login_as(alpha_manager).get("/c/beta/finops/anomalies/990001/").status_code == 404
