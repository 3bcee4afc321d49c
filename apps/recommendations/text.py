"""Figures in plain words for the arithmetic: "$4.47", "1.9 M tokens", "$2.50 per 1 M". Display only: the
Decimal figures themselves are stored unrounded."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

SYMBOLS = {"USD": "$", "CAD": "CA$", "EUR": "€", "GBP": "£", "AUD": "A$", "JPY": "¥", "CHF": "CHF "}
MILLION = Decimal(1_000_000)


def money(amount: Decimal | int | None, currency: str, places: int = 2) -> str:
    """$1,234.56 / CA$12.00 / 1,234.56 SEK; a negative amount keeps its sign in front."""
    if amount is None:
        return "—"
    value = Decimal(amount).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "−" if value < 0 else ""
    number = f"{abs(value):,}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"


def price_per_million(price_per_token: Decimal | None, currency: str = "USD") -> str:
    """A per-token price as the per-1 M figure price lists use: $2.50 (more places when it needs them)."""
    if price_per_token is None:
        return "—"
    value = (Decimal(price_per_token) * MILLION).normalize()
    places = max(2, -value.as_tuple().exponent) if value != value.to_integral_value() else 2
    return money(value, currency, places=min(places, 6))


def count(n: int | Decimal) -> str:
    """1.9 B / 340 M / 12 k / 950: one decimal below 100 of the unit, none above."""
    value = Decimal(n)
    for size, unit in ((Decimal(10) ** 9, "B"), (MILLION, "M"), (Decimal(1000), "k")):
        if abs(value) >= size:
            scaled = value / size
            text = f"{scaled:,.1f}" if abs(scaled) < 100 else f"{scaled:,.0f}"
            return f"{text.removesuffix('.0')} {unit}"
    return f"{value:,.0f}"


def percent(value: Decimal, places: int = 0) -> str:
    quantum = Decimal(1).scaleb(-places)
    text = f"{Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP):,}"
    return f"{text} %"


def day(value: dt.date) -> str:
    return f"{value.day} {value:%b %Y}"
