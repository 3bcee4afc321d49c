"""SLO windows (pure): the live window an evaluation looks at and the closed periods a contract settles.

Calendar-month windows follow the client's time zone (a Toronto client's November starts at 05:00 UTC);
rolling windows look back N days from now for the live budget and settle consecutive N-day periods counted
from the SLO's start.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

UTC = dt.UTC
MAX_PERIODS_PER_RUN = 24  # an SLO back-dated by years settles its history over several runs, not one


@dataclass(frozen=True)
class Period:
    start: dt.datetime  # UTC, inclusive
    end: dt.datetime  # UTC, exclusive
    label: str

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def month_start(moment: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    local = moment.astimezone(tz)
    return dt.datetime(local.year, local.month, 1, tzinfo=tz).astimezone(UTC)


def next_month_start(start_utc: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    local = start_utc.astimezone(tz)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return dt.datetime(year, month, 1, tzinfo=tz).astimezone(UTC)


def month_period(moment: dt.datetime, tz: zoneinfo.ZoneInfo) -> Period:
    start = month_start(moment, tz)
    return Period(start, next_month_start(start, tz), start.astimezone(tz).strftime("%Y-%m"))


def rolling_period(start: dt.datetime, days: int, tz: zoneinfo.ZoneInfo) -> Period:
    end = start + dt.timedelta(days=days)
    last_day = (end - dt.timedelta(seconds=1)).astimezone(tz)
    return Period(start, end, f"{start.astimezone(tz):%Y-%m-%d} – {last_day:%Y-%m-%d}")


def live_window(window_kind: str, window_days: int, now: dt.datetime, tz: zoneinfo.ZoneInfo) -> Period:
    """The window the live budget is computed over, and its full length (for burn factors)."""
    if window_kind == "calendar_month":
        return month_period(now, tz)
    return Period(now - dt.timedelta(days=window_days), now, f"last {window_days} days")


def window_minutes(window_kind: str, window_days: int, now: dt.datetime, tz: zoneinfo.ZoneInfo) -> int:
    return live_window(window_kind, window_days, now, tz).minutes


def period_containing(
    window_kind: str, window_days: int, starts_at: dt.datetime, moment: dt.datetime, tz: zoneinfo.ZoneInfo
) -> Period:
    """The settlement period a moment belongs to."""
    if window_kind == "calendar_month":
        return month_period(moment, tz)
    length = dt.timedelta(days=window_days)
    index = max(0, (moment - starts_at) // length)
    return rolling_period(starts_at + index * length, window_days, tz)


def closed_periods(
    window_kind: str,
    window_days: int,
    starts_at: dt.datetime,
    now: dt.datetime,
    tz: zoneinfo.ZoneInfo,
    after: dt.datetime | None = None,
) -> list[Period]:
    """Periods that have ended by `now`, from the one containing `after` (or the SLO's start), oldest first."""
    periods: list[Period] = []
    period = period_containing(window_kind, window_days, starts_at, max(after or starts_at, starts_at), tz)
    while period.end <= now and len(periods) < MAX_PERIODS_PER_RUN:
        periods.append(period)
        if window_kind == "calendar_month":
            period = month_period(period.end, tz)
        else:
            period = rolling_period(period.end, window_days, tz)
    return periods
