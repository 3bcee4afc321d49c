"""SLO windows (no database): calendar months in the client's time zone across DST, rolling windows, the
settlement period a moment belongs to, and the closed periods a run settles (oldest first, capped per run)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from apps.service_levels.windows import (
    MAX_PERIODS_PER_RUN,
    Period,
    closed_periods,
    live_window,
    month_period,
    month_start,
    next_month_start,
    period_containing,
    rolling_period,
    window_minutes,
)

UTC = dt.UTC
TORONTO = zoneinfo.ZoneInfo("America/Toronto")
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
UTC_ZONE = zoneinfo.ZoneInfo("UTC")
DAY = 1440
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def spans(periods: list[Period]) -> list[tuple[dt.datetime, dt.datetime]]:
    return [(period.start, period.end) for period in periods]


# --- calendar months -----------------------------------------------------------------------------------------


def test_toronto_november_spans_the_end_of_dst():
    # Toronto leaves EDT (UTC−4) for EST (UTC−5) on Sunday 2026-11-01 at 02:00 local (06:00 UTC).
    # November starts at 00:00 EDT = 04:00 UTC and ends at 00:00 EST on 1 December = 05:00 UTC.
    period = month_period(NOW, TORONTO)
    assert period == Period(at(2026, 11, 1, 4), at(2026, 12, 1, 5), "2026-11")
    # 30 days + the repeated hour: 30 × 1,440 + 60 = 43,260 minutes.
    assert period.minutes == 30 * DAY + 60 == 43_260


@pytest.mark.parametrize(
    ("moment", "label"),
    [
        (at(2026, 11, 1, 3, 59), "2026-10"),  # 23:59 EDT on 31 October
        (at(2026, 11, 1, 4, 0), "2026-11"),  # 00:00 EDT on 1 November
        (at(2026, 11, 1, 5, 30), "2026-11"),  # 01:30 EDT, the first time
        (at(2026, 11, 1, 6, 30), "2026-11"),  # 01:30 EST, the repeated hour
        (at(2026, 12, 1, 4, 59), "2026-11"),  # 23:59 EST on 30 November
        (at(2026, 12, 1, 5, 0), "2026-12"),
    ],
)
def test_toronto_month_boundaries(moment, label):
    assert month_period(moment, TORONTO).label == label


def test_toronto_october_and_march_lengths():
    # October: 04:00 UTC to 04:00 UTC, all in EDT: 31 × 1,440 = 44,640 minutes.
    october = month_period(at(2026, 10, 15), TORONTO)
    assert (october.start, october.end, october.minutes) == (at(2026, 10, 1, 4), at(2026, 11, 1, 4), 31 * DAY)
    # March loses an hour on 8 March: 00:00 EST = 05:00 UTC to 00:00 EDT = 04:00 UTC; 31 × 1,440 − 60 = 44,580.
    march = month_period(at(2026, 3, 20), TORONTO)
    assert (march.start, march.end, march.minutes) == (at(2026, 3, 1, 5), at(2026, 4, 1, 4), 31 * DAY - 60)


def test_paris_months():
    # November in Paris is all CET (UTC+1): 23:00 UTC on 31 October to 23:00 UTC on 30 November, 30 days.
    november = month_period(NOW, PARIS)
    assert november == Period(at(2026, 10, 31, 23), at(2026, 11, 30, 23), "2026-11")
    assert november.minutes == 30 * DAY
    # 23:30 UTC on 31 October is already 00:30 on 1 November in Paris.
    assert month_period(at(2026, 10, 31, 23, 30), PARIS).label == "2026-11"
    assert month_period(at(2026, 10, 31, 22, 59), PARIS).label == "2026-10"
    # October holds the switch back to CET (25 October): 22:00 UTC (CEST) to 23:00 UTC (CET), 31 days + 1 h.
    october = month_period(at(2026, 10, 10), PARIS)
    assert (october.start, october.end, october.minutes) == (at(2026, 9, 30, 22), at(2026, 10, 31, 23), 31 * DAY + 60)
    # March holds the switch to CEST (29 March): 23:00 UTC to 22:00 UTC, 31 days − 1 h.
    march = month_period(at(2026, 3, 10), PARIS)
    assert (march.start, march.end, march.minutes) == (at(2026, 2, 28, 23), at(2026, 3, 31, 22), 31 * DAY - 60)


def test_utc_months():
    assert month_period(NOW, UTC_ZONE) == Period(at(2026, 11, 1), at(2026, 12, 1), "2026-11")
    # February of a leap year: 29 × 1,440 = 41,760 minutes; of a common year 28 × 1,440 = 40,320.
    assert month_period(at(2028, 2, 10), UTC_ZONE).minutes == 29 * DAY
    assert month_period(at(2026, 2, 10), UTC_ZONE).minutes == 28 * DAY


def test_month_start_is_local_midnight_in_utc():
    assert month_start(NOW, TORONTO) == at(2026, 11, 1, 4)
    assert month_start(NOW, PARIS) == at(2026, 10, 31, 23)
    assert month_start(NOW, UTC_ZONE) == at(2026, 11, 1)


def test_next_month_start_rolls_december_into_january():
    # December 2026 in Toronto starts 05:00 UTC (EST); January 2027 too.
    assert next_month_start(at(2026, 12, 1, 5), TORONTO) == at(2027, 1, 1, 5)
    assert next_month_start(at(2026, 12, 1), UTC_ZONE) == at(2027, 1, 1)
    # Paris: 23:00 UTC on 30 November (00:00 CET on 1 December) → 23:00 UTC on 31 December.
    assert next_month_start(at(2026, 11, 30, 23), PARIS) == at(2026, 12, 31, 23)
    december = month_period(at(2026, 12, 15), UTC_ZONE)
    assert december == Period(at(2026, 12, 1), at(2027, 1, 1), "2026-12")
    assert month_period(december.end, UTC_ZONE).label == "2027-01"


# --- live windows --------------------------------------------------------------------------------------------


def test_live_window_calendar_month_is_the_whole_month():
    # The live window of a calendar-month SLO is the full month containing now (the factor needs W in full).
    assert live_window("calendar_month", 30, NOW, TORONTO) == Period(at(2026, 11, 1, 4), at(2026, 12, 1, 5), "2026-11")
    assert live_window("calendar_month", 30, NOW, UTC_ZONE) == month_period(NOW, UTC_ZONE)


def test_live_window_rolling_28_days():
    window = live_window("rolling", 28, NOW, UTC_ZONE)
    assert window == Period(at(2026, 10, 23, 12), NOW, "last 28 days")
    assert window.minutes == 28 * DAY == 40_320
    # Rolling windows are 28 × 24 h of real time even when they cross Toronto's DST change (1 November).
    toronto = live_window("rolling", 28, NOW, TORONTO)
    assert (toronto.start, toronto.end, toronto.minutes) == (at(2026, 10, 23, 12), NOW, 40_320)


@pytest.mark.parametrize(
    ("kind", "days", "tz", "minutes"),
    [
        ("calendar_month", 30, UTC_ZONE, 30 * DAY),  # November in UTC: 30 × 1,440 = 43,200
        ("calendar_month", 30, TORONTO, 30 * DAY + 60),  # in Toronto: 43,260 (the repeated hour)
        ("calendar_month", 30, PARIS, 30 * DAY),  # Paris changed clocks in October: 43,200
        ("rolling", 28, TORONTO, 28 * DAY),  # 40,320 whatever the zone
        ("rolling", 30, UTC_ZONE, 30 * DAY),
        ("rolling", 7, PARIS, 7 * DAY),
    ],
)
def test_window_minutes_in_november(kind, days, tz, minutes):
    assert window_minutes(kind, days, NOW, tz) == minutes


def test_period_minutes_are_whole_minutes():
    assert Period(at(2026, 1, 1), at(2026, 1, 1, 0, 1, 30), "x").minutes == 1


# --- rolling settlement periods ------------------------------------------------------------------------------

STARTS = at(2026, 1, 1)  # a Thursday, midnight UTC


@pytest.mark.parametrize(
    ("moment", "start", "end"),
    [
        (STARTS, at(2026, 1, 1), at(2026, 1, 8)),  # the start itself opens the first period
        (at(2026, 1, 7, 23, 59, 59), at(2026, 1, 1), at(2026, 1, 8)),
        (at(2026, 1, 8), at(2026, 1, 8), at(2026, 1, 15)),  # a boundary belongs to the period it opens
        (at(2026, 1, 15, 12), at(2026, 1, 15), at(2026, 1, 22)),  # 14.5 days in: index 14.5 // 7 = 2
        (at(2026, 3, 1), at(2026, 2, 26), at(2026, 3, 5)),  # 59 days in: index 8, 1 Jan + 56 days = 26 Feb
        (at(2025, 12, 25), at(2026, 1, 1), at(2026, 1, 8)),  # before the start: the first period
    ],
)
def test_period_containing_rolling_7_days(moment, start, end):
    period = period_containing("rolling", 7, STARTS, moment, UTC_ZONE)
    assert (period.start, period.end, period.minutes) == (start, end, 7 * DAY)


def test_period_containing_counts_from_starts_at_not_from_midnight():
    # An SLO started at 09:30: its 7-day periods run 09:30 to 09:30.
    starts = at(2026, 1, 1, 9, 30)
    assert period_containing("rolling", 7, starts, at(2026, 1, 8, 9, 29), UTC_ZONE).start == starts
    assert period_containing("rolling", 7, starts, at(2026, 1, 8, 9, 30), UTC_ZONE).start == at(2026, 1, 8, 9, 30)


def test_period_containing_calendar_month_ignores_starts_at():
    assert period_containing("calendar_month", 30, at(2026, 1, 15), NOW, TORONTO) == month_period(NOW, TORONTO)


def test_rolling_period_labels_name_the_first_and_last_local_day():
    # 7 days from 1 January: the last second is 7 January 23:59:59, so the label ends on the 7th.
    assert rolling_period(STARTS, 7, UTC_ZONE) == Period(at(2026, 1, 1), at(2026, 1, 8), "2026-01-01 – 2026-01-07")
    assert rolling_period(STARTS, 30, UTC_ZONE).label == "2026-01-01 – 2026-01-30"
    assert rolling_period(STARTS, 1, UTC_ZONE).label == "2026-01-01 – 2026-01-01"
    # Labels are local days: Toronto's midnight on 1 January is 05:00 UTC.
    assert rolling_period(at(2026, 1, 1, 5), 7, TORONTO).label == "2026-01-01 – 2026-01-07"
    # The same UTC instants read in UTC end at 05:00 on the 8th, so the label's last day is the 8th.
    assert rolling_period(at(2026, 1, 1, 5), 7, UTC_ZONE).label == "2026-01-01 – 2026-01-08"
    # Midnight UTC on 1 January is still 31 December in Toronto.
    assert rolling_period(STARTS, 7, TORONTO).label == "2025-12-31 – 2026-01-07"


# --- closed periods ------------------------------------------------------------------------------------------


def test_closed_calendar_months_are_the_ended_ones_oldest_first():
    periods = closed_periods("calendar_month", 30, STARTS, at(2026, 4, 15), UTC_ZONE)
    # April has not ended on 15 April.
    assert [period.label for period in periods] == ["2026-01", "2026-02", "2026-03"]
    assert spans(periods) == [
        (at(2026, 1, 1), at(2026, 2, 1)),
        (at(2026, 2, 1), at(2026, 3, 1)),
        (at(2026, 3, 1), at(2026, 4, 1)),
    ]


def test_a_period_ending_exactly_now_is_closed():
    assert [p.label for p in closed_periods("calendar_month", 30, STARTS, at(2026, 4, 1), UTC_ZONE)] == [
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    assert [p.label for p in closed_periods("calendar_month", 30, STARTS, at(2026, 3, 31, 23, 59, 59), UTC_ZONE)] == [
        "2026-01",
        "2026-02",
    ]
    # Nothing has ended yet.
    assert closed_periods("calendar_month", 30, STARTS, at(2026, 1, 31), UTC_ZONE) == []
    assert closed_periods("rolling", 7, STARTS, at(2026, 1, 7, 23), UTC_ZONE) == []


def test_closed_periods_start_from_the_one_containing_after():
    now = at(2026, 4, 15)
    # After the end of January (where the previous run stopped): February and March.
    after_january = closed_periods("calendar_month", 30, STARTS, now, UTC_ZONE, after=at(2026, 2, 1))
    assert [period.label for period in after_january] == ["2026-02", "2026-03"]
    # A moment inside February (late data) recomputes February itself.
    mid_february = closed_periods("calendar_month", 30, STARTS, now, UTC_ZONE, after=at(2026, 2, 14, 8))
    assert [period.label for period in mid_february] == ["2026-02", "2026-03"]
    # `after` before the SLO started counts from the start.
    early = closed_periods("calendar_month", 30, STARTS, now, UTC_ZONE, after=at(2025, 6, 1))
    assert [period.label for period in early] == ["2026-01", "2026-02", "2026-03"]
    # After everything that has closed: nothing left.
    assert closed_periods("calendar_month", 30, STARTS, now, UTC_ZONE, after=at(2026, 4, 1)) == []


def test_closed_calendar_months_in_toronto_across_dst():
    periods = closed_periods("calendar_month", 30, at(2026, 10, 1, 4), at(2027, 1, 1, 5), TORONTO)
    assert [(p.label, p.start, p.end, p.minutes) for p in periods] == [
        ("2026-10", at(2026, 10, 1, 4), at(2026, 11, 1, 4), 31 * DAY),
        ("2026-11", at(2026, 11, 1, 4), at(2026, 12, 1, 5), 30 * DAY + 60),
        ("2026-12", at(2026, 12, 1, 5), at(2027, 1, 1, 5), 31 * DAY),
    ]


def test_closed_rolling_periods_from_starts_at():
    # 7-day periods from 1 January; on 25 January three have ended (8, 15, 22 January), the fourth ends the 29th.
    periods = closed_periods("rolling", 7, STARTS, at(2026, 1, 25), UTC_ZONE)
    assert spans(periods) == [
        (at(2026, 1, 1), at(2026, 1, 8)),
        (at(2026, 1, 8), at(2026, 1, 15)),
        (at(2026, 1, 15), at(2026, 1, 22)),
    ]
    assert [period.label for period in periods] == [
        "2026-01-01 – 2026-01-07",
        "2026-01-08 – 2026-01-14",
        "2026-01-15 – 2026-01-21",
    ]
    # From the period holding 10 January: the second and third.
    later = closed_periods("rolling", 7, STARTS, at(2026, 1, 25), UTC_ZONE, after=at(2026, 1, 10))
    assert spans(later) == spans(periods)[1:]


@pytest.mark.parametrize(("kind", "days"), [("calendar_month", 30), ("rolling", 1)])
def test_closed_periods_are_capped_per_run_and_resume(kind, days):
    assert MAX_PERIODS_PER_RUN == 24
    starts = at(2020, 1, 1)
    first = closed_periods(kind, days, starts, NOW, UTC_ZONE)
    assert len(first) == MAX_PERIODS_PER_RUN
    assert first[0].start == starts
    # The next run picks up where the last settled period ended, with no gap and no overlap.
    second = closed_periods(kind, days, starts, NOW, UTC_ZONE, after=first[-1].end)
    assert len(second) == MAX_PERIODS_PER_RUN
    chain = first + second
    assert all(earlier.end == later.start for earlier, later in zip(chain, chain[1:], strict=False))
    if kind == "calendar_month":
        # 24 months from January 2020: to December 2021, then January 2022 to December 2023.
        assert (first[-1].label, second[0].label, second[-1].label) == ("2021-12", "2022-01", "2023-12")
    else:
        # 24 one-day periods: 1 to 24 January 2020, then 25 January to 17 February.
        assert (first[-1].end, second[0].start, second[-1].end) == (at(2020, 1, 25), at(2020, 1, 25), at(2020, 2, 18))
