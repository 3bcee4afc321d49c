"""The anomalies section: anomalies of the month's UTC days by severity and kind, the extra spend counted once per
day (scopes overlap), dismissed ones left out; runaway incidents of the client's calendar month (Europe/Paris),
the burn avoided (the conservative projection, shared with the value section), the highlight rules and the
template."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.reports.sections import anomalies
from tests.reports.money_factories import *  # noqa: F403
from tests.reports.money_factories import assert_highlights, make_period, render_both

UTC = dt.UTC


def make_anomaly(day: str, impact: str, *, kind="client", key="", label="All Usage spend", currency="EUR", **fields):
    from django.utils import timezone

    from apps.anomalies.models import Anomaly

    impact_ = Decimal(impact)
    expected = Decimal("100")
    return Anomaly.objects.create(
        scope_kind=kind,
        scope_key=key,
        scope_label=label,
        day=dt.date.fromisoformat(day),
        currency=currency,
        actual=expected + impact_,
        expected=expected,
        expected_low=Decimal("90"),
        expected_high=Decimal("110"),
        impact=impact_,
        direction="spike" if impact_ > 0 else "drop",
        score=Decimal("9"),
        spread=Decimal("5"),
        typical=expected,
        first_detected_at=timezone.now(),
        last_detected_at=timezone.now(),
        **fields,
    )


def make_incident(
    key: str,
    *,
    detected: dt.datetime,
    delay: int,
    burned: str,
    projected: str,
    peak: str,
    stopped: dt.datetime | None = None,
    currency: str = "EUR",
):
    from apps.runaway.models import RunawayIncident

    started = detected - dt.timedelta(seconds=delay)
    return RunawayIncident.objects.create(
        scope_kind="agent",
        scope_key=key,
        currency=currency,
        status="stopped" if stopped else "ended",
        started_at=started,
        detected_at=detected,
        last_seen_at=detected + dt.timedelta(minutes=5),
        last_scan_at=detected + dt.timedelta(minutes=15),
        ended_at=None if stopped else detected + dt.timedelta(minutes=15),
        stopped_at=stopped,
        burned=Decimal(burned),
        projected_24h=Decimal(projected),
        peak_per_minute=Decimal(peak),
    )


@pytest.fixture
def caught(in_alpha, clock):
    found = {
        "before": make_anomaly("2026-02-28", "500"),  # the UTC day before the month
        "spike": make_anomaly("2026-03-10", "1200"),
        "same_day": make_anomaly("2026-03-10", "1100", kind="service", key="OpenAI API", label="OpenAI API"),
        "service": make_anomaly("2026-03-11", "300", kind="service", key="OpenAI API", label="OpenAI API"),
        "last_day": make_anomaly("2026-03-31", "60", kind="asset", key="7", label="claims-triage"),
        "drop": make_anomaly("2026-03-01", "-80"),
        "dismissed": make_anomaly("2026-03-12", "999", status="dismissed", status_note="A planned batch job."),
        "usd": make_anomaly("2026-03-13", "40", currency="USD", kind="account", key="org-1", label="OpenAI org-1"),
        "after": make_anomaly("2026-04-01", "700"),
    }
    # Paris: 1 March starts at 28 Feb 23:00 UTC; 1 April at 31 March 22:00 UTC (summer time from 29 March).
    found["first_minutes"] = make_incident(
        "night-batch",
        detected=dt.datetime(2026, 2, 28, 23, 30, tzinfo=UTC),
        delay=120,
        burned="10.00",
        projected="1440.00",
        peak="3.00",  # 4,320 at peak: the last pace, 1,440, is the lower
        stopped=dt.datetime(2026, 2, 28, 23, 35, tzinfo=UTC),
    )
    found["april"] = make_incident(
        "april-fool",
        detected=dt.datetime(2026, 3, 31, 22, 30, tzinfo=UTC),
        delay=60,
        burned="70.00",
        projected="9000.00",
        peak="9.00",
        stopped=dt.datetime(2026, 3, 31, 22, 40, tzinfo=UTC),
    )
    found["ended"] = make_incident(
        "report-writer",
        detected=dt.datetime(2026, 3, 15, 10, tzinfo=UTC),
        delay=300,
        burned="50.00",
        projected="200.00",
        peak="1.00",
    )
    found["peak_lower"] = make_incident(
        "underwriter-7",
        detected=dt.datetime(2026, 3, 20, 9, tzinfo=UTC),
        delay=60,
        burned="30.00",
        projected="5000.00",
        peak="2.00",  # 2,880 at peak: lower than the last pace's 5,000
        stopped=dt.datetime(2026, 3, 20, 9, 2, tzinfo=UTC),
    )
    found["usd_incident"] = make_incident(
        "us-agent",
        detected=dt.datetime(2026, 3, 21, 9, tzinfo=UTC),
        delay=600,
        burned="5.00",
        projected="100.00",
        peak="1.00",
        stopped=dt.datetime(2026, 3, 21, 9, 5, tzinfo=UTC),
        currency="USD",
    )
    found["stopped_in_march"] = make_incident(
        "slow-loop",
        detected=dt.datetime(2026, 2, 20, 9, tzinfo=UTC),  # detected in February, stopped on 1 March (Paris)
        delay=60,
        burned="400.00",
        projected="720.00",
        peak="1.00",
        stopped=dt.datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
    )
    return found


def test_anomaly_counts_and_impact(caught):
    data = anomalies.build(make_period())
    json.dumps(data)
    assert data["anomaly_count"] == 6 and data["dismissed_count"] == 1
    assert data["spike_count"] == 5 and data["drop_count"] == 1
    assert data["by_severity"] == {"high": 2, "medium": 3, "low": 1}
    assert {k["kind"]: k["count"] for k in data["by_kind"]} == {"client": 2, "service": 2, "account": 1, "asset": 1}
    # 10 March counts once (1,200, not 1,200 + 1,100); the dismissed 999 and other months never
    assert data["impact_total"] == "1560.00"
    assert data["impact_other_currencies"] == [{"currency": "USD", "amount": "40.00"}]
    assert [t["impact"] for t in data["top"]] == ["1200.00", "1100.00", "300.00", "-80.00", "60.00"]
    assert (
        data["top"][0]["severity"] == "high"
        and data["top"][0]["url"] == f"/c/alpha/finops/anomalies/{caught['spike'].pk}/"
    )
    assert data["open_count"] == 6


def test_runaway_month_is_the_client_calendar_month(caught):
    data = anomalies.build(make_period())
    ids = {row["id"] for row in data["runaway_incidents"]}
    assert caught["first_minutes"].pk in ids  # 00:30 on 1 March in Paris
    assert caught["april"].pk not in ids  # 00:30 on 1 April in Paris
    assert data["runaway_count"] == 4  # detected in March: first_minutes, ended, peak_lower, usd_incident
    assert data["runaway_stopped_count"] == 4  # stopped in March: also the one detected in February
    assert data["runaway_burned"] == "90.00"
    assert data["runaway_median_detection_seconds"] == 210 and data["runaway_median_detection_text"] == "3 min 30 s"
    assert data["runaway_fastest_detection_seconds"] == 60
    first = next(r for r in data["runaway_incidents"] if r["id"] == caught["first_minutes"].pk)
    assert first["started_text"] == "2026-03-01 00:28" and first["stopped"] is True


def test_burn_avoided_is_the_conservative_projection_shared_with_value(caught):
    data = anomalies.build(make_period())
    # 1,440 (last pace < peak) + 2,880 (peak < last pace) + 720 (detected in February, stopped in March)
    assert data["runaway_avoided"] == "5040.00"
    assert data["runaway_other_currencies"] == [{"currency": "USD", "burned": "5.00", "avoided": "100.00"}]
    shared = anomalies.runaway_avoided(make_period())
    assert shared["total"] == Decimal("5040") and shared["others"] == {"USD": Decimal("100")}
    assert anomalies.projected_burn(caught["peak_lower"]) == Decimal("2880")


def test_queries_do_not_grow(caught):
    with CaptureQueriesContext(connection) as few:
        anomalies.build(make_period())
    for n in range(5):
        make_anomaly(f"2026-03-{n + 2:02d}", "55", kind="service", key=f"svc-{n}", label=f"svc {n}")
        make_incident(
            f"agent-{n}",
            detected=dt.datetime(2026, 3, 5, 9, n, tzinfo=UTC),
            delay=60,
            burned="1",
            projected="10",
            peak="1",
        )
    with CaptureQueriesContext(connection) as more:
        anomalies.build(make_period())
    assert len(more.captured_queries) == len(few.captured_queries)


def test_empty(in_alpha, clock):
    data = anomalies.build(make_period())
    assert data["anomaly_count"] == 0 and data["impact_total"] == "0.00" and data["runaway_avoided"] == "0.00"
    assert data["runaway_median_detection_seconds"] is None and data["top"] == []
    assert anomalies.highlights(data, make_period()) == []
    pdf, _web = render_both("anomalies", data, make_period())
    assert "No cost anomaly was found" in pdf and "No runaway AI spend" in pdf and "report-method" in pdf


def test_highlights(caught):
    data = anomalies.build(make_period())
    items = anomalies.highlights(data, make_period())
    assert [i["figure"] for i in items] == [
        "anomalies.anomaly_count",
        "anomalies.impact_total",
        "anomalies.runaway_avoided",
    ]
    assert items[0]["text"] == "Keel caught 6 cost anomalies this month."
    assert "1,560.00 EUR" in items[1]["text"] and items[1]["tone"] == "bad"
    assert "5,040.00 EUR" in items[2]["text"] and items[2]["tone"] == "good"
    assert_highlights("anomalies", data, items)


def test_highlight_rules():
    period = make_period()
    base = {
        "currency": "EUR",
        "anomaly_count": 1,
        "impact_total": "0.00",
        "runaway_avoided": "0.00",
        "runaway_burned": "12.50",
    }
    items = anomalies.highlights(base, period)
    assert items[0]["text"] == "Keel caught 1 cost anomaly this month."
    assert items[1]["figure"] == "anomalies.runaway_burned" and items[1]["tone"] == "bad"  # nothing was stopped
    assert_highlights("anomalies", base, items)
    quiet = {**base, "anomaly_count": 0, "runaway_burned": "0.00"}
    assert anomalies.highlights(quiet, period) == []


def test_template(caught):
    data = anomalies.build(make_period())
    pdf, web = render_both("anomalies", data, make_period())
    for html in (pdf, web):
        assert "1,560.00 EUR" in html and "5,040.00 EUR" in html and "OpenAI API" in html and "3 min 30 s" in html
        assert "report-basis estimated" in html and "report-method" in html and "Europe/Paris" in html
        assert '<th scope="col">' in html and '<th scope="row">' in html
    assert f'href="/c/alpha/finops/runaway/{caught["peak_lower"].pk}/"' in web and "href=" not in pdf
