"""Anomalies react to every booking: the days it touched are judged again at once (a spike shows the same
hour its bill lands, not the next morning), with the week after them, whose baselines include those days."""

from __future__ import annotations

import datetime as dt

from apps.finops.services import booking_listener


@booking_listener
def scan_after_booking(*, source, start: dt.date, end: dt.date) -> None:
    from .services import scan_after_booking as rescan

    rescan(start=start, end=end)
