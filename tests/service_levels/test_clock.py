"""The business-hours clock (no database): an Ontario office open Mon–Fri 09:00–17:00 in America/Toronto, with
weekends, statutory holidays (observed days too), the client's own closed days, pauses, DST changes, the inverse
add_business_minutes, 24×7 calendars, hours validation and a minute-by-minute brute-force reference."""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from apps.service_levels.clock import add_business_minutes, business_minutes_between, validate_hours

TORONTO = zoneinfo.ZoneInfo("America/Toronto")
UTC = dt.UTC
NINE_TO_FIVE = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


@dataclass
class Cal:
    hours: dict = field(default_factory=lambda: dict(NINE_TO_FIVE))
    time_zone: str = "America/Toronto"
    holiday_country: str = "CA"
    holiday_subdivision: str = "ON"
    extra_holidays: list = field(default_factory=list)


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TORONTO)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def minutes(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


OFFICE = Cal()


# --- business_minutes_between ------------------------------------------------------------------------------------


def test_friday_afternoon_to_monday_morning_is_45_minutes():
    # Fri 5 June 2026 16:30 → Mon 8 June 09:15: 30 min on Friday, 15 on Monday, the weekend not at all.
    assert business_minutes_between(local(2026, 6, 5, 16, 30), local(2026, 6, 8, 9, 15), OFFICE) == Decimal("45.00")


def test_inputs_in_any_zone_mean_the_same_instants():
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    start = local(2026, 6, 5, 16, 30).astimezone(paris)  # 22:30 in Paris
    end = local(2026, 6, 8, 9, 15).astimezone(UTC)  # 13:15 UTC
    assert business_minutes_between(start, end, OFFICE) == Decimal("45.00")


def test_same_day_and_seconds_precision():
    assert business_minutes_between(local(2026, 6, 8, 10, 0), local(2026, 6, 8, 10, 0, 30), OFFICE) == Decimal("0.50")
    assert business_minutes_between(local(2026, 6, 8, 10, 0), local(2026, 6, 8, 10, 0, 1), OFFICE) == Decimal("0.02")
    assert business_minutes_between(local(2026, 6, 8, 8, 0), local(2026, 6, 8, 20, 0), OFFICE) == Decimal("480.00")


def test_canada_day_is_skipped():
    # Tue 30 June 16:00 → Thu 2 July 10:00: 60 + (Wed 1 July closed) + 60.
    assert business_minutes_between(local(2026, 6, 30, 16), local(2026, 7, 2, 10), OFFICE) == Decimal("120.00")
    # The same span without holidays counts Wednesday's 8 hours.
    no_holidays = Cal(holiday_country="", holiday_subdivision="")
    assert business_minutes_between(local(2026, 6, 30, 16), local(2026, 7, 2, 10), no_holidays) == Decimal("600.00")


def test_christmas_and_observed_boxing_day_are_skipped():
    # Thu 24 Dec 16:00 → Tue 29 Dec 10:00: Christmas (Fri), weekend, Boxing Day observed on Mon 28 Dec.
    assert business_minutes_between(local(2026, 12, 24, 16), local(2026, 12, 29, 10), OFFICE) == Decimal("120.00")


def test_subdivision_matters():
    # Family Day (Mon 16 Feb 2026) is an Ontario holiday, not a Quebec one.
    span = (local(2026, 2, 16, 9), local(2026, 2, 16, 17))
    assert business_minutes_between(*span, OFFICE) == Decimal("0.00")
    assert business_minutes_between(*span, Cal(holiday_subdivision="QC")) == Decimal("480.00")


def test_extra_holiday_is_skipped():
    # The client closes Wed 10 June 2026 (dates, or ISO strings from JSON).
    span = (local(2026, 6, 9, 16), local(2026, 6, 11, 10))
    assert business_minutes_between(*span, OFFICE) == Decimal("600.00")
    assert business_minutes_between(*span, Cal(extra_holidays=[dt.date(2026, 6, 10)])) == Decimal("120.00")
    assert business_minutes_between(*span, Cal(extra_holidays=["2026-06-10"])) == Decimal("120.00")


def test_two_business_hours_of_pause_are_subtracted():
    day = (local(2026, 6, 8, 9), local(2026, 6, 8, 17))
    assert business_minutes_between(*day, OFFICE) == Decimal("480.00")
    assert business_minutes_between(*day, OFFICE, pauses=[(local(2026, 6, 8, 10), local(2026, 6, 8, 12))]) == Decimal(
        "360.00"
    )


def test_pause_partly_outside_business_hours_only_subtracts_the_overlap():
    # Fri 16:00 → Mon 17:00 = 60 + 480; paused Fri 16:30 → Mon 10:00 covers 30 + 60 business minutes.
    span = (local(2026, 6, 5, 16), local(2026, 6, 8, 17))
    assert business_minutes_between(*span, OFFICE) == Decimal("540.00")
    pause = (local(2026, 6, 5, 16, 30), local(2026, 6, 8, 10))
    assert business_minutes_between(*span, OFFICE, pauses=[pause]) == Decimal("450.00")
    # A pause wholly in the weekend changes nothing; one starting before the incident counts from its start only.
    weekend = (local(2026, 6, 6, 8), local(2026, 6, 7, 20))
    assert business_minutes_between(*span, OFFICE, pauses=[weekend]) == Decimal("540.00")
    before = (local(2026, 6, 5, 12), local(2026, 6, 5, 16, 15))
    assert business_minutes_between(*span, OFFICE, pauses=[before]) == Decimal("525.00")


def test_overlapping_pauses_are_counted_once():
    day = (local(2026, 6, 8, 9), local(2026, 6, 8, 17))
    pauses = [(local(2026, 6, 8, 11), local(2026, 6, 8, 13)), (local(2026, 6, 8, 10), local(2026, 6, 8, 12))]
    assert business_minutes_between(*day, OFFICE, pauses=pauses) == Decimal("300.00")  # 10:00–13:00 once
    # The same pause twice, a nested one, and an empty one (end before start) add nothing more.
    pauses += [pauses[0], (local(2026, 6, 8, 11, 30), local(2026, 6, 8, 11, 45)), (local(2026, 6, 8, 15), day[0])]
    assert business_minutes_between(*day, OFFICE, pauses=pauses) == Decimal("300.00")


def test_end_before_or_at_start_is_zero():
    assert business_minutes_between(local(2026, 6, 8, 12), local(2026, 6, 8, 10), OFFICE) == Decimal("0.00")
    assert business_minutes_between(local(2026, 6, 8, 12), local(2026, 6, 8, 12), OFFICE) == Decimal("0.00")
    assert business_minutes_between(local(2026, 6, 8, 12), local(2026, 6, 8, 10), None) == Decimal("0.00")


def test_outside_business_hours_only_is_zero():
    assert business_minutes_between(local(2026, 6, 5, 17), local(2026, 6, 8, 9), OFFICE) == Decimal("0.00")


# --- DST ---------------------------------------------------------------------------------------------------------


def test_monday_after_spring_forward_still_counts_eight_hours():
    # Toronto moves to EDT on Sun 8 March 2026: Monday 09:00–17:00 is 13:00–21:00 UTC, Friday's 14:00–22:00 UTC.
    assert business_minutes_between(utc(2026, 3, 9, 13), utc(2026, 3, 9, 21), OFFICE) == Decimal("480.00")
    assert business_minutes_between(utc(2026, 3, 9, 12), utc(2026, 3, 9, 13), OFFICE) == Decimal("0.00")  # 08:00 EDT
    assert business_minutes_between(local(2026, 3, 6, 9), local(2026, 3, 9, 17), OFFICE) == Decimal("960.00")
    # After the fall-back weekend (Sun 1 Nov) the same: Monday 2 Nov 09:00–17:00 EST is 14:00–22:00 UTC.
    assert business_minutes_between(utc(2026, 11, 2, 14), utc(2026, 11, 2, 22), OFFICE) == Decimal("480.00")


def test_a_whole_day_on_a_dst_change_lasts_its_real_length():
    always = Cal(hours={day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    assert business_minutes_between(local(2026, 3, 8), local(2026, 3, 9), always) == Decimal("1380.00")  # 23 h
    assert business_minutes_between(local(2026, 11, 1), local(2026, 11, 2), always) == Decimal("1500.00")  # 25 h
    # …and such a calendar, unlike 24×7, closes on holidays: Canada Day 2026 counts nothing.
    assert business_minutes_between(local(2026, 7, 1), local(2026, 7, 2), always) == Decimal("0.00")


def test_wall_times_the_clock_skips_mean_the_jump():
    # On 8 March 02:00 EST jumps to 03:00 EDT (07:00 UTC). 01:00–02:30 + 02:30–04:00 is 01:00 EST → 04:00 EDT = 2 h.
    split = Cal(hours={"sun": [["01:00", "02:30"], ["02:30", "04:00"]]})
    assert business_minutes_between(local(2026, 3, 8), local(2026, 3, 9), split) == Decimal("120.00")
    inside_gap = Cal(hours={"sun": [["02:00", "03:00"]], "mon": [["09:00", "17:00"]]})
    assert business_minutes_between(local(2026, 3, 8), local(2026, 3, 9), inside_gap) == Decimal("0.00")
    # The first interval closes at the jump itself.
    assert add_business_minutes(local(2026, 3, 8, 1), 60, split) == utc(2026, 3, 8, 7)


# --- add_business_minutes ----------------------------------------------------------------------------------------


def test_add_jumps_over_nights_weekends_and_holidays():
    assert add_business_minutes(local(2026, 6, 5, 16, 30), 45, OFFICE) == local(2026, 6, 8, 9, 15)
    assert add_business_minutes(local(2026, 6, 30, 16), 120, OFFICE) == local(2026, 7, 2, 10)  # over Canada Day
    assert add_business_minutes(local(2026, 12, 24, 16), 120, OFFICE) == local(2026, 12, 29, 10)
    assert add_business_minutes(local(2026, 6, 6, 12), 30, OFFICE) == local(2026, 6, 8, 9, 30)  # starts on Saturday
    assert add_business_minutes(local(2026, 3, 6, 16), 120, OFFICE) == local(2026, 3, 9, 10)  # across DST
    assert add_business_minutes(local(2026, 6, 9, 16), 120, Cal(extra_holidays=[dt.date(2026, 6, 10)])) == local(
        2026, 6, 11, 10
    )


def test_add_returns_utc_and_the_closing_instant_when_the_budget_ends_at_closing():
    result = add_business_minutes(local(2026, 6, 5, 16), 60, OFFICE)
    assert result == local(2026, 6, 5, 17) and result.tzinfo is UTC  # Friday 17:00, not Monday 09:00
    assert result == utc(2026, 6, 5, 21)


def test_add_zero_returns_start_even_outside_business_hours():
    saturday = local(2026, 6, 6, 12)
    assert add_business_minutes(saturday, 0, OFFICE) == saturday
    assert add_business_minutes(saturday, Decimal("0"), OFFICE).tzinfo is UTC


def test_add_fractional_minutes_and_pauses():
    assert add_business_minutes(local(2026, 6, 8, 9), Decimal("1.5"), OFFICE) == local(2026, 6, 8, 9, 1, 30)
    pause = [(local(2026, 6, 8, 10), local(2026, 6, 8, 12))]
    assert add_business_minutes(local(2026, 6, 8, 9), 120, OFFICE, pauses=pause) == local(2026, 6, 8, 13)


@pytest.mark.parametrize(
    ("start", "amount"),
    [
        (local(2026, 6, 5, 16, 30), 45),
        (local(2026, 6, 5, 16, 30), Decimal("480.25")),
        (local(2026, 6, 30, 8, 0), 2400),  # a business week from before opening, across Canada Day
        (local(2026, 12, 23, 13, 7, 42), 1000),  # odd seconds, across Christmas and Boxing Day observed
        (local(2026, 3, 6, 12), 1234),  # across spring-forward
        (local(2026, 10, 30, 15), Decimal("999.99")),  # across fall-back
        (local(2026, 6, 6, 3), 1),  # Saturday night start
    ],
)
def test_add_is_the_inverse_of_between(start, amount):
    end = add_business_minutes(start, amount, OFFICE)
    assert business_minutes_between(start, end, OFFICE) == minutes(amount)
    assert add_business_minutes(start, business_minutes_between(start, end, OFFICE), OFFICE) == end


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (local(2026, 6, 5, 16, 30), local(2026, 6, 8, 9, 15)),
        (local(2026, 6, 30, 16), local(2026, 7, 2, 10)),
        (local(2026, 3, 6, 9, 30), local(2026, 3, 10, 16, 45)),
        (local(2026, 1, 1, 0), local(2026, 3, 31, 17)),
    ],
)
def test_between_then_add_lands_on_the_end(start, end):
    assert add_business_minutes(start, business_minutes_between(start, end, OFFICE), OFFICE) == end


def test_round_trip_with_pauses():
    start = local(2026, 6, 5, 15)
    pauses = [(local(2026, 6, 5, 16), local(2026, 6, 8, 9, 30)), (local(2026, 6, 8, 11), local(2026, 6, 8, 11, 20))]
    end = add_business_minutes(start, 200, OFFICE, pauses=pauses)
    assert end == local(2026, 6, 8, 12, 10)  # Friday 15:00–16:00 = 60, Monday 09:30–11:00 = 90, 11:20–12:10 = 50
    assert business_minutes_between(start, end, OFFICE, pauses=pauses) == Decimal("200.00")


# --- 24×7 --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("calendar", [None, Cal(hours={})], ids=["no calendar", "empty hours"])
def test_24x7_is_wall_clock_time_holidays_and_dst_included(calendar):
    # 7 March 00:00 EST → 9 March 00:00 EDT is 47 real hours; Christmas Day counts in full.
    assert business_minutes_between(local(2026, 3, 7), local(2026, 3, 9), calendar) == Decimal("2820.00")
    assert business_minutes_between(local(2026, 12, 25), local(2026, 12, 26), calendar) == Decimal("1440.00")
    pause = [(local(2026, 12, 25, 1), local(2026, 12, 25, 3))]
    assert business_minutes_between(local(2026, 12, 25), local(2026, 12, 26), calendar, pause) == Decimal("1320.00")
    assert add_business_minutes(utc(2026, 12, 24, 23, 30), 45, calendar) == utc(2026, 12, 25, 0, 15)
    assert add_business_minutes(utc(2026, 12, 24, 23, 30), 45, calendar, pauses=pause) == utc(2026, 12, 25, 0, 15)


def test_an_unsaved_business_calendar_model_works():
    from apps.service_levels.models import BusinessCalendar

    calendar = BusinessCalendar(
        name="Toronto office",
        time_zone="America/Toronto",
        hours=NINE_TO_FIVE,
        holiday_country="CA",
        holiday_subdivision="ON",
        extra_holidays=[dt.date(2026, 6, 8)],
    )
    assert business_minutes_between(local(2026, 6, 5, 16, 30), local(2026, 6, 9, 9, 15), calendar) == Decimal("45.00")
    assert BusinessCalendar(name="always").hours == {}
    assert business_minutes_between(utc(2026, 1, 1), utc(2026, 1, 2), BusinessCalendar(name="x")) == Decimal("1440.00")


# --- long spans and a brute-force reference ----------------------------------------------------------------------


def test_three_months():
    # Q1 2026: 64 weekdays, less New Year's Day (Thu) and Family Day (Mon 16 Feb) = 62 days × 480.
    start, end = local(2026, 1, 1), local(2026, 4, 1)
    assert business_minutes_between(start, end, OFFICE) == Decimal("29760.00")
    assert add_business_minutes(start, 29760, OFFICE) == local(2026, 3, 31, 17)
    # 2026 in Ontario: 261 weekdays less 9 weekday holidays (Boxing Day falls on Saturday, observed Mon 28 Dec).
    assert business_minutes_between(local(2026, 1, 1), local(2027, 1, 1), OFFICE) == Decimal(252 * 480)


def _brute_force_minutes(start: dt.datetime, end: dt.datetime, closed: set[dt.date]) -> int:
    """Count minute by minute (start and end on whole minutes): the reference the day-by-day walk must match."""
    count = 0
    moment = start.astimezone(UTC)
    while moment < end:
        wall = moment.astimezone(TORONTO)
        if wall.weekday() < 5 and wall.date() not in closed and 9 <= wall.hour < 17:
            count += 1
        moment += dt.timedelta(minutes=1)
    return count


def test_matches_a_minute_by_minute_count_on_random_spans():
    rng = random.Random(20260308)
    # Ontario's 2026 weekday holidays (written out, not from the package), New Year 2027, and the extra closed day.
    closed = {
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 16),
        dt.date(2026, 4, 3),
        dt.date(2026, 5, 18),
        dt.date(2026, 7, 1),
        dt.date(2026, 9, 7),
        dt.date(2026, 10, 12),
        dt.date(2026, 12, 25),
        dt.date(2026, 12, 28),
        dt.date(2027, 1, 1),
        dt.date(2026, 11, 4),
    }
    calendar = Cal(extra_holidays=[dt.date(2026, 11, 4)])
    for _ in range(12):
        start = utc(2026, 1, 1) + dt.timedelta(minutes=rng.randrange(365 * 24 * 60))
        end = start + dt.timedelta(minutes=rng.randrange(10 * 24 * 60))
        expected = _brute_force_minutes(start, end, closed)
        assert business_minutes_between(start, end, calendar) == Decimal(expected), (start, end)
    # The DST weeks themselves.
    for start in (local(2026, 3, 5, 10, 17), local(2026, 10, 29, 16, 59)):
        end = start + dt.timedelta(days=6, minutes=3)
        assert business_minutes_between(start, end, calendar) == Decimal(_brute_force_minutes(start, end, closed))


# --- validation and bad input ------------------------------------------------------------------------------------


def test_valid_hours():
    assert validate_hours({}) == []
    assert validate_hours(NINE_TO_FIVE) == []
    assert validate_hours({"mon": [["09:00", "12:00"], ["12:00", "17:00"]], "sat": [["18:00", "24:00"]]}) == []
    assert validate_hours({"mon": [["00:00", "24:00"]], "tue": []}) == []


@pytest.mark.parametrize(
    ("hours", "fragment"),
    [
        ({"monday": [["09:00", "17:00"]]}, "unknown day 'monday'"),
        ({"mon": [["9:00", "17:00"]]}, "start '9:00' is not a 24-hour HH:MM"),
        ({"mon": [["09:00", "25:00"]]}, "end '25:00' is not a 24-hour HH:MM"),
        ({"mon": [["09:60", "17:00"]]}, "start '09:60'"),
        ({"mon": [["24:00", "24:00"]]}, "start '24:00'"),
        ({"mon": [["09:00", 17]]}, "end 17 is not"),
        ({"mon": [["17:00", "09:00"]]}, "mon[0]: start 17:00 must be before end 09:00"),
        ({"mon": [["09:00", "09:00"]]}, "must be before"),
        ({"mon": [["09:00", "00:00"]]}, "must be before"),
        ({"tue": [["13:00", "18:00"], ["09:00", "14:00"]]}, "tue: intervals [1] and [0] overlap"),
        ({"wed": [["09:00", "17:00"], ["10:00", "11:00"]]}, "wed: intervals [0] and [1] overlap"),
        ({"mon": [["09:00", "12:00", "17:00"]]}, "mon[0]: expected [start, end]"),
        ({"mon": "09:00-17:00"}, "mon: expected a list"),
        ({"mon": [], "fri": []}, "no working hours on any day"),
        ([["09:00", "17:00"]], "hours must be an object"),
    ],
)
def test_invalid_hours(hours, fragment):
    problems = validate_hours(hours)
    assert len(problems) == 1 and fragment in problems[0], problems


def test_every_problem_is_reported():
    problems = validate_hours({"mon": [["17:00", "09:00"], ["8:00", "10:00"]], "xyz": []})
    assert len(problems) == 3


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="invalid business hours"):
        business_minutes_between(utc(2026, 1, 1), utc(2026, 1, 2), Cal(hours={"mon": [["17:00", "09:00"]]}))
    with pytest.raises(ValueError, match="timezone-aware"):
        business_minutes_between(dt.datetime(2026, 1, 1), utc(2026, 1, 2), OFFICE)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_minutes_between(utc(2026, 1, 1), utc(2026, 1, 2), OFFICE, [(dt.datetime(2026, 1, 1), utc(2026, 1, 2))])
    with pytest.raises(ValueError, match="unknown time zone"):
        business_minutes_between(utc(2026, 1, 1), utc(2026, 1, 2), Cal(time_zone="Mars/Olympus"))
    with pytest.raises(ValueError, match="no public holidays known"):
        business_minutes_between(utc(2026, 1, 1), utc(2026, 1, 2), Cal(holiday_country="ZZ"))
    with pytest.raises(ValueError, match="≥ 0"):
        add_business_minutes(utc(2026, 1, 1), -5, OFFICE)
    with pytest.raises(TypeError):
        add_business_minutes(utc(2026, 1, 1), "60", OFFICE)
