"""Pieces every batch-ingestion API shares: per-item error lists and RFC 3339 timestamps.

Batches (usage events, SLO measurements) store what is valid and answer with every error by index and field,
so a caller resends only what was refused. Validation is plain Python because it runs once per item.
"""

from __future__ import annotations

import datetime as dt
import re

MAX_ERRORS = 1000  # errors listed in one answer; the counts stay exact

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII)


class BatchErrors:
    """Collects (index, field, message), keeping the first MAX_ERRORS; `count` counts them all."""

    def __init__(self):
        self.items: list[dict] = []
        self.count = 0
        self.indexes: set[int] = set()

    @property
    def omitted(self) -> int:
        return self.count - len(self.items)

    def add(self, index: int, name: str, message: str) -> None:
        self.count += 1
        self.indexes.add(index)
        if len(self.items) < MAX_ERRORS:
            self.items.append({"index": index, "field": name, "message": message})


def parse_rfc3339(value) -> dt.datetime | str:
    """An aware datetime, or the message saying what is wrong with the value."""
    if not isinstance(value, str) or not RFC3339.match(value):
        return "must be an RFC 3339 date and time with an offset, e.g. 2026-11-30T17:45:00Z."
    text = value if value[10] == "T" else f"{value[:10]}T{value[11:]}"
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return f"{value[:40]!r} is not a valid date and time."
