"""The month a report covers, and how each kind of figure is cut to it.

Costs follow the ledger's convention (FinOps charge days are UTC dates), so a report's spend equals the cost
explorer's for the same month to the cent. Events (incidents, alerts, shadow AI found, breaches) are counted in
the client's own calendar month, as the client's executives live in it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_last_day(month: dt.date) -> dt.date:
    return add_months(month, 1) - dt.timedelta(days=1)


@dataclass(frozen=True)
class ReportPeriod:
    month: dt.date  # the first day of the month reported on
    client_name: str
    client_slug: str
    time_zone: str
    currency: str  # the client's reporting currency
    retainer: Decimal  # the MSP's monthly retainer, in the reporting currency

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def last_day(self) -> dt.date:
        return month_last_day(self.month)

    @property
    def previous(self) -> dt.date:
        return add_months(self.month, -1)

    @property
    def next(self) -> dt.date:
        return add_months(self.month, 1)

    @property
    def year_ago(self) -> dt.date:
        return add_months(self.month, -12)

    def months_back(self, count: int) -> list[dt.date]:
        """The `count` months ending with this one, oldest first (for trends)."""
        return [add_months(self.month, offset) for offset in range(1 - count, 1)]

    @property
    def starts_at(self) -> dt.datetime:
        """Midnight of the month's first day in the client's time zone, as an aware datetime."""
        return dt.datetime.combine(self.month, dt.time(), tzinfo=self.tz)

    @property
    def ends_at(self) -> dt.datetime:
        """Midnight of the next month's first day in the client's time zone (exclusive bound)."""
        return dt.datetime.combine(self.next, dt.time(), tzinfo=self.tz)

    @property
    def label(self) -> str:
        return f"{self.month:%B %Y}"


def money(value: Decimal | int | None) -> str | None:
    """A money figure as the snapshot stores it: a string with two decimals (banker's rounding, like the
    ledger's displays), so a frozen report reads back exactly."""
    if value is None:
        return None
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN))


def ratio(value: Decimal | None, places: int = 1) -> str | None:
    """A percentage or ratio as a string with `places` decimals."""
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))


def percent_change(current: Decimal | None, before: Decimal | None) -> str | None:
    """(current − before) / before in %, one decimal; None when there is nothing to compare with."""
    if current is None or not before:
        return None
    return ratio((Decimal(current) - Decimal(before)) * 100 / Decimal(before))
