"""Business-hours clock (pure): working minutes between two instants, and the instant a number of working minutes
after another, under a `BusinessCalendar` (or any object with its attributes: time_zone, hours, holiday_country,
holiday_subdivision, extra_holidays). No database access.

Conventions:
- No calendar, or empty `hours`, is 24×7: every minute counts, public and extra holidays included (a clock that
  never stops). A calendar open round the clock but closed on holidays says so: every day [["00:00", "24:00"]].
- An interval is wall-clock time in the calendar's zone on its date, so 09:00–17:00 is 8 h on either side of a DST
  change. An interval across the change lasts the real elapsed time (00:00–24:00 is 23 h on the spring-forward day,
  25 h on the fall-back day); a wall time the clock skips (02:30 when 02:00 jumps to 03:00) means the jump itself,
  an ambiguous one (fall-back) its first occurrence.
- An interval belongs to its start date: a holiday closes that date's intervals; "24:00" ends at the next midnight.
- Public holidays are those of the `holidays` package for holiday_country / holiday_subdivision, observed days
  included (Boxing Day on a Saturday closes the Monday); `extra_holidays` adds the client's own closed dates.
- Pauses (e.g. waiting on the client) stop the clock only where they overlap business time; overlaps count once.
- Minutes leave as Decimal with 2 places, computed from exact microseconds and rounded half up.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import holidays as holidays_lib

UTC = dt.UTC
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SCAN_DAYS = 366 * 20  # add_business_minutes gives up instead of looping on a calendar that (almost) never opens
_TIME = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")
_CENT = Decimal("0.01")
_US_PER_MINUTE = 60_000_000
_ONE_DAY = dt.timedelta(days=1)
_FAR_FUTURE = dt.datetime(9999, 12, 31, tzinfo=UTC)

Interval = tuple[dt.datetime, dt.datetime]


# --- the weekly hours spec ---------------------------------------------------------------------------------------


def _minute_of_day(value: Any, *, end: bool) -> int | None:
    """Minutes after midnight for "HH:MM" (24:00 only as an end), None when malformed."""
    if not isinstance(value, str):
        return None
    if end and value == "24:00":
        return 1440
    if not _TIME.fullmatch(value):
        return None
    return int(value[:2]) * 60 + int(value[3:])


def validate_hours(hours: Any) -> list[str]:
    """Problems in a weekly hours spec {"mon": [["09:00", "17:00"], …], …}; [] when valid. Empty means 24×7."""
    if not isinstance(hours, dict):
        return ["hours must be an object mapping weekdays (mon … sun) to [start, end] intervals"]
    problems: list[str] = []
    open_somewhere = False
    for day, intervals in hours.items():
        if day not in DAYS:
            problems.append(f"unknown day {day!r}: use {', '.join(DAYS)}")
            continue
        if not isinstance(intervals, list | tuple):
            problems.append(f"{day}: expected a list of [start, end] intervals")
            continue
        valid: list[tuple[int, int, int]] = []
        for index, pair in enumerate(intervals):
            where = f"{day}[{index}]"
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                problems.append(f"{where}: expected [start, end], got {pair!r}")
                continue
            start, end = _minute_of_day(pair[0], end=False), _minute_of_day(pair[1], end=True)
            if start is None:
                problems.append(f"{where}: start {pair[0]!r} is not a 24-hour HH:MM time (00:00–23:59)")
            if end is None:
                problems.append(f"{where}: end {pair[1]!r} is not a 24-hour HH:MM time (00:00–24:00)")
            if start is None or end is None:
                continue
            if start >= end:
                problems.append(f"{where}: start {pair[0]} must be before end {pair[1]}")
                continue
            valid.append((start, end, index))
        valid.sort()
        for (_, prev_end, prev_index), (start, _, index) in zip(valid, valid[1:], strict=False):
            if start < prev_end:
                problems.append(f"{day}: intervals [{prev_index}] and [{index}] overlap")
        open_somewhere = open_somewhere or bool(valid)
    if hours and not problems and not open_somewhere:
        problems.append("no working hours on any day (leave hours empty for 24×7)")
    return problems


# --- the calendar, parsed once per call --------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[dt.date]:
    try:
        return frozenset(holidays_lib.country_holidays(country, subdiv=subdivision, years=year))
    except NotImplementedError as exc:  # unknown country or subdivision
        raise ValueError(f"no public holidays known for {country}/{subdivision or '-'}: {exc}") from exc


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


@dataclass(frozen=True)
class _Spec:
    tz: zoneinfo.ZoneInfo
    week: tuple[tuple[tuple[int, int], ...], ...]  # per weekday (Monday first): sorted (start, end) minutes of day
    country: str
    subdivision: str | None
    extra: frozenset[dt.date]

    def closed(self, day: dt.date) -> bool:
        if day in self.extra:
            return True
        return bool(self.country) and day in _public_holidays(self.country, self.subdivision, day.year)


def _spec(calendar: Any) -> _Spec | None:
    """The calendar's working week, or None for 24×7 (no calendar, or empty hours)."""
    if calendar is None:
        return None
    hours = getattr(calendar, "hours", None) or {}
    if not hours:
        return None
    problems = validate_hours(hours)
    if problems:
        raise ValueError("invalid business hours: " + "; ".join(problems))
    week = tuple(
        tuple(sorted((_minute_of_day(s, end=False), _minute_of_day(e, end=True)) for s, e in hours.get(day, ())))
        for day in DAYS
    )
    extra = frozenset(
        d if isinstance(d, dt.date) else dt.date.fromisoformat(d)
        for d in getattr(calendar, "extra_holidays", None) or ()
    )
    return _Spec(
        tz=_zone(getattr(calendar, "time_zone", "") or "UTC"),
        week=week,  # type: ignore[arg-type]  # validated above: no None left
        country=(getattr(calendar, "holiday_country", "") or "").upper(),
        subdivision=(getattr(calendar, "holiday_subdivision", "") or "").upper() or None,
        extra=extra,
    )


# --- instants and intervals --------------------------------------------------------------------------------------


def _utc(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def _wall_to_utc(wall: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The instant a naive local wall time means: its first occurrence, or the jump when the clock skips it."""
    after = wall.replace(tzinfo=tz).astimezone(UTC)  # fold=0: a skipped time gets the offset before the jump
    if after.astimezone(tz).replace(tzinfo=None) == wall:
        return after
    # Skipped: the jump lies between the two readings of `wall`; bisect to the second (transitions are whole seconds).
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    while after - before > dt.timedelta(seconds=1):
        middle = before + (after - before) // 2
        if middle.astimezone(tz).replace(tzinfo=None) < wall:
            before = middle
        else:
            after = middle
    return after


def _business_windows(spec: _Spec | None, start: dt.datetime, stop: dt.datetime | None = None) -> Iterator[Interval]:
    """Business time from `start` (until `stop`, else open-ended) as sorted, disjoint UTC intervals, day by day."""
    if spec is None:
        yield start, stop or _FAR_FUTURE
        return
    day = start.astimezone(spec.tz).date()  # a date's intervals lie within its own local day (24:00 at the latest)
    last = stop.astimezone(spec.tz).date() if stop else day + dt.timedelta(days=MAX_SCAN_DAYS)
    floor = start
    while day <= last:
        intervals = spec.week[day.weekday()]
        if intervals and not spec.closed(day):
            midnight = dt.datetime.combine(day, dt.time())
            for start_minute, end_minute in intervals:
                begin = max(_wall_to_utc(midnight + dt.timedelta(minutes=start_minute), spec.tz), floor)
                finish = _wall_to_utc(midnight + dt.timedelta(minutes=end_minute), spec.tz)
                if stop is not None:
                    finish = min(finish, stop)
                if begin < finish:
                    yield begin, finish
                    floor = finish
        day += _ONE_DAY


def _merged(pauses: Iterable[tuple[dt.datetime, dt.datetime]]) -> list[Interval]:
    spans = sorted((_utc(a, "pause start"), _utc(b, "pause end")) for a, b in pauses)
    merged: list[Interval] = []
    for begin, finish in spans:
        if finish <= begin:
            continue
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def _minus(windows: Iterable[Interval], pauses: list[Interval]) -> Iterator[Interval]:
    """The windows with the (sorted, merged) pauses cut out."""
    first = 0
    for begin, finish in windows:
        while first < len(pauses) and pauses[first][1] <= begin:
            first += 1
        cursor = begin
        index = first
        while index < len(pauses) and pauses[index][0] < finish:
            if pauses[index][0] > cursor:
                yield cursor, pauses[index][0]
            cursor = max(cursor, pauses[index][1])
            index += 1
        if cursor < finish:
            yield cursor, finish


def _to_microseconds(minutes: Any) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int | float | Decimal):
        raise TypeError(f"minutes must be a number, got {type(minutes).__name__}")
    value = Decimal(str(minutes)) if isinstance(minutes, float) else Decimal(minutes)
    if not value.is_finite() or value < 0:
        raise ValueError(f"minutes must be a finite number ≥ 0, got {minutes}")
    return int((value * _US_PER_MINUTE).to_integral_value(ROUND_HALF_UP))


# --- the clock ---------------------------------------------------------------------------------------------------


def business_minutes_between(
    start: dt.datetime,
    end: dt.datetime,
    calendar: Any,
    pauses: Iterable[tuple[dt.datetime, dt.datetime]] = (),
) -> Decimal:
    """Working minutes from `start` to `end` under the calendar, less the paused time that falls in business hours.

    0.00 when end <= start. Aware datetimes in any zone; None or empty-hours calendar = wall-clock minutes."""
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        return Decimal("0.00")
    windows = _minus(_business_windows(_spec(calendar), start, end), _merged(pauses))
    elapsed = sum((finish - begin for begin, finish in windows), dt.timedelta())
    microseconds = elapsed // dt.timedelta(microseconds=1)
    return (Decimal(microseconds) / _US_PER_MINUTE).quantize(_CENT, rounding=ROUND_HALF_UP)


def add_business_minutes(
    start: dt.datetime,
    minutes: int | Decimal,
    calendar: Any,
    *,
    pauses: Iterable[tuple[dt.datetime, dt.datetime]] = (),
) -> dt.datetime:
    """The earliest instant (UTC) by which `minutes` working minutes (minus pauses) have elapsed since `start`.

    0 returns `start` itself, even outside business hours. A budget that runs out exactly at closing time returns
    the closing instant (Friday 17:00), not the next opening. Inverse of business_minutes_between:
    between(start, add(start, m)) == m, and add(start, between(start, end)) == end when end is in business time."""
    start = _utc(start, "start")
    left = dt.timedelta(microseconds=_to_microseconds(minutes))
    if not left:
        return start
    for begin, finish in _minus(_business_windows(_spec(calendar), start), _merged(pauses)):
        if finish - begin >= left:
            return begin + left
        left -= finish - begin
    raise ValueError(f"the calendar has not enough business time within {MAX_SCAN_DAYS} days of {start:%Y-%m-%d}")
