"""The incidents section over incidents recorded, closed and reported through apps.incidents' services (the real
GDPR clocks) and alerts raised through apps.alerts, under a moving clock; October 2026 in alpha (Europe/Paris).

    I1 critical data leak   detected 3 Oct 08:00 UTC, GDPR: notified 5 Oct (due 6 Oct: met), documented 5 Oct,
                            closed 10 Oct 08:00 (168 h)
    I2 high                 detected 20 Oct, GDPR notification due 23 Oct never sent (missed); still open
    I3 medium outage        detected 28 Sep, closed 2 Oct 10:00 (96 h): closed in October, opened in September
    I4 low                  detected 30 Sep 23:30 Paris: September's; still open at the month end
    I5 high                 detected 31 Oct 23:30 Paris: October's; its GDPR notification is due in November;
                            closed 1 Nov 00:30 Paris, so open at the month end
    I6 medium               detected 1 Nov 00:30 Paris: November's
    I7 high 4 h, I8 low 24 h, I9 high 24 h: opened and closed in October
"""

from __future__ import annotations

import datetime as dt

import pytest
from freezegun import freeze_time

from apps.alerts.models import Alert
from apps.alerts.services import alert_raise
from apps.core.context import acting_as
from apps.incidents.models import AIIncident, Obligation
from apps.incidents.services import incident_save, incident_set_status, obligation_submit
from apps.reports.sections import incidents as section

from .posture_factories import (
    MONTH_ENDS,
    MONTH_STARTS,
    assert_highlights,
    data_queries,
    figures,
    make_period,
    render_both,
    roundtrip,
)

pytestmark = pytest.mark.django_db
UTC = dt.UTC
H = dt.timedelta(hours=1)
M30 = dt.timedelta(minutes=30)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def record(title, severity, detected, *, kind="hallucination_harm", **fields):
    return incident_save(title=title, kind=kind, severity=severity, detected_at=detected, aware_at=detected, **fields)


def gdpr(incident, report="authority_notification") -> Obligation:
    return Obligation.objects.get(incident=incident, regime="gdpr-art33-34", report=report)


def close(incident):
    incident_set_status(incident=AIIncident.objects.get(pk=incident.pk), status="closed")


@pytest.fixture
def world(in_alpha):
    with acting_as(user_email="ops@msp.test"), freeze_time("2026-09-28 11:00:00") as clock:
        i3 = record("Slow answers", "medium", utc(2026, 9, 28, 10), kind="outage")
        clock.move_to(MONTH_STARTS - M30 + dt.timedelta(minutes=1))
        record("Late-night glitch", "low", MONTH_STARTS - M30)
        alert_raise(kind="test", severity="info", subject="September alert", dedup_key="sep")

        clock.move_to(utc(2026, 10, 2, 10))
        close(i3)
        clock.move_to(utc(2026, 10, 3, 9, 0))
        i1 = record(
            "Chatbot leaked a policy number", "critical", utc(2026, 10, 3, 8), kind="data_leak",
            personal_data=True, regimes=["gdpr-art33-34"],
        )  # fmt: skip
        clock.move_to(utc(2026, 10, 5, 10))
        alert_raise(kind="test", severity="critical", subject="Critical alert", dedup_key="crit")
        obligation_submit(obligation=gdpr(i1), reference="CNIL-123")
        obligation_submit(obligation=gdpr(i1, "breach_documentation"))
        clock.move_to(utc(2026, 10, 6, 10))
        alert_raise(kind="test", severity="high", subject="High alert 1", dedup_key="high-1")
        alert_raise(kind="test", severity="high", subject="High alert 2", dedup_key="high-2")
        clock.move_to(utc(2026, 10, 10, 8))
        close(i1)
        for title, severity, start, hours in (
            ("Agent looped", "high", utc(2026, 10, 14, 10), 4),
            ("Typo in answers", "low", utc(2026, 10, 15, 10), 24),
            ("Wrong tariff quoted", "high", utc(2026, 10, 16, 10), 24),
        ):
            clock.move_to(start + M30)
            incident = record(title, severity, start)
            clock.move_to(start + hours * H)
            close(incident)
        clock.move_to(utc(2026, 10, 20, 11))
        i2 = record("Wrong refund advice", "high", utc(2026, 10, 20, 10), personal_data=True, regimes=["gdpr-art33-34"])
        clock.move_to(MONTH_ENDS - M30 + dt.timedelta(minutes=1))
        i5 = record("Midnight agent loop", "high", MONTH_ENDS - M30, kind="unsafe_action", regimes=["gdpr-art33-34"])
        clock.move_to(MONTH_ENDS + M30 + dt.timedelta(minutes=1))
        close(i5)
        record("After midnight", "medium", MONTH_ENDS + M30)
        alert_raise(kind="test", severity="high", subject="November alert", dedup_key="nov")
        clock.move_to(utc(2026, 11, 1, 8))
        yield {"i1": i1, "i2": i2, "i5": i5, "clock": clock}


def test_incidents_opened_closed_and_open_at_the_month_end(world):
    data = section.build(make_period())
    opened = AIIncident.objects.filter(detected_at__gte=MONTH_STARTS, detected_at__lt=MONTH_ENDS)
    assert data["opened_count"] == opened.count() == 6
    assert {r["severity"]: r["count"] for r in data["opened_by_severity"]} == {
        "critical": 1,
        "high": 4,
        "medium": 0,
        "low": 1,
    }
    assert data["opened_serious_count"] == 5
    assert (
        data["closed_count"]
        == AIIncident.objects.filter(closed_at__gte=MONTH_STARTS, closed_at__lt=MONTH_ENDS).count()
        == 5
    )
    assert data["open_at_month_end_count"] == 3  # Wrong refund advice, Late-night glitch, Midnight agent loop
    titles = [row["title"] for row in data["incidents"]]
    assert titles == [
        "Slow answers",
        "Chatbot leaked a policy number",
        "Agent looped",
        "Typo in answers",
        "Wrong tariff quoted",
        "Wrong refund advice",
        "Midnight agent loop",
    ]
    loop = data["incidents"][-1]
    assert loop["opened_on"] == "2026-10-31" and loop["status"] == "closed" and loop["closed_on"] == "2026-11-01"
    assert data["incidents"][0]["opened_on"] == "2026-09-28"
    assert all("#" not in row["title"] and "AI-" not in row["title"] for row in data["incidents"])


def test_time_to_resolve_by_severity(world):
    rows = {row["severity"]: row for row in section.build(make_period())["resolution"]}
    assert (rows["critical"]["closed"], rows["critical"]["mean_hours"], rows["critical"]["worst_hours"]) == (
        1,
        "168.0",
        "168.0",
    )
    assert (rows["high"]["closed"], rows["high"]["mean_hours"], rows["high"]["worst_hours"]) == (2, "14.0", "24.0")
    assert rows["medium"]["mean_hours"] == "96.0" and rows["low"]["mean_hours"] == "24.0"
    assert [r["severity"] for r in section.build(make_period())["resolution"]] == ["critical", "high", "medium", "low"]


def test_regulatory_reports_met_missed_and_sent(world):
    data = section.build(make_period())
    assert (data["obligations_due_count"], data["obligations_met_count"], data["obligations_missed_count"]) == (2, 1, 1)
    assert (data["obligations_running_count"], data["obligations_sent_count"]) == (0, 2)
    outcomes = {(o["incident"], o["report"]): o["outcome"] for o in data["obligations"]}
    assert outcomes[("Chatbot leaked a policy number", "Notification to the supervisory authority")] == "met"
    assert outcomes[("Wrong refund advice", "Notification to the supervisory authority")] == "missed"
    assert outcomes[("Chatbot leaked a policy number", "Breach documentation")] == "sent"
    assert not any(o["incident"] == "Midnight agent loop" for o in data["obligations"])  # due in November
    met = next(o for o in data["obligations"] if o["outcome"] == "met")
    assert (
        met["regime"] == "GDPR Art 33/34"
        and met["due_at"] == "2026-10-06 10:00"
        and met["submitted_at"] == "2026-10-05 12:00"
    )


def test_a_deadline_still_ahead_is_running_not_missed(world):
    world["clock"].move_to(utc(2026, 10, 21, 12))
    data = section.build(make_period())
    assert (data["obligations_met_count"], data["obligations_missed_count"], data["obligations_running_count"]) == (
        1,
        0,
        1,
    )


def test_alerts_raised_in_the_month_by_severity(world):
    data = section.build(make_period())
    assert (
        data["alerts_count"]
        == Alert.objects.filter(first_seen_at__gte=MONTH_STARTS, first_seen_at__lt=MONTH_ENDS).count()
    )
    counts = {row["severity"]: row["count"] for row in data["alerts_by_severity"]}
    assert (
        counts["critical"] == 1
        and counts["high"]
        == Alert.objects.filter(severity="high", first_seen_at__gte=MONTH_STARTS, first_seen_at__lt=MONTH_ENDS).count()
    )
    assert "info" not in counts  # the info alert was September's


def test_an_empty_month_is_a_valid_section(in_alpha):
    data = roundtrip(section.build(make_period()))
    assert data["opened_count"] == data["closed_count"] == data["alerts_count"] == 0
    assert data["incidents"] == [] and data["resolution"] == [] and data["obligations"] == []
    assert section.highlights(data, make_period()) == []
    pdf, web = render_both(section.KEY, data, make_period())
    assert pdf.count('class="report-empty"') == 3 and web.count('class="report-empty"') == 3


def test_json_and_a_fixed_number_of_queries(world):
    data, queries = data_queries(section.build, make_period())
    roundtrip(data)
    assert len(queries) <= 6, queries


def test_highlight_rules(world):
    period = make_period()
    data = section.build(period)
    items = assert_highlights(section.KEY, data, section.highlights(data, period))
    assert figures(items) == [
        "incidents.opened_serious_count",
        "incidents.obligations_missed_count",
        "incidents.open_at_month_end_count",
    ]
    assert [i["tone"] for i in items] == ["bad", "bad", "neutral"]
    assert items[1]["text"] == "1 regulatory report deadline was missed."

    calm = {**data, "opened_serious_count": 0, "obligations_missed_count": 0, "open_at_month_end_count": 0}
    items = assert_highlights(section.KEY, calm, section.highlights(calm, period))
    assert figures(items) == ["incidents.opened_count", "incidents.obligations_met_count"]
    assert [i["tone"] for i in items] == ["neutral", "good"]
    assert section.highlights({**calm, "opened_count": 0, "obligations_met_count": 0}, period) == []


def test_the_template_shows_the_figures(world):
    period = make_period()
    data = section.build(period)
    pdf, web = render_both(section.KEY, data, period)
    for html in (pdf, web):
        assert "Chatbot leaked a policy number" in html and "168.0" in html and "GDPR Art 33/34" in html
        assert "Missed" in html and "Sent on time" in html
        assert '<th scope="col"' in html and '<th scope="row">' in html
    assert f'href="/c/alpha/incidents/{world["i1"].pk}/"' in web and "<a " not in pdf
