"""The review queue reacts to bookings: new unregistered AI spend shows up when it is booked, not the next morning.

Only ordinary incremental bookings rescan: those whose booked days start within the last RECENT_DAYS days (a
scheduled pull re-reads its few lookback days). A backfill or a restatement of months of history waits for the
daily scan, so a client being onboarded (bills first, allocation rules next) does not fill the queue with spend
its rules are about to route.
"""

from __future__ import annotations

import datetime as dt

from apps.finops.services import booking_listener

RECENT_DAYS = 7


@booking_listener
def scan_after_booking(*, source, start: dt.date, end: dt.date) -> None:
    from django.db import transaction

    from .services import shadow_scan, utc_today

    today = utc_today()
    if start < today - dt.timedelta(days=RECENT_DAYS) or start > today:
        return
    with transaction.atomic():  # a savepoint: a failing scan must not break the booking's transaction
        shadow_scan(trigger="booking")
