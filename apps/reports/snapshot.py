"""Compute a month's report figures, once: every section's data and the highlights drawn from them, as JSON
that is stored with the report version and never recomputed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from decimal import Decimal

from django.utils import timezone

from .models import SNAPSHOT_SCHEMA_VERSION
from .period import ReportPeriod
from .sections import sections

logger = logging.getLogger(__name__)
MAX_SUMMARY_HIGHLIGHTS = 6
_TONE_ORDER = {"bad": 0, "good": 1, "neutral": 2}


def period_for(client, month: dt.date) -> ReportPeriod:
    return ReportPeriod(
        month=month.replace(day=1),
        client_name=client.name,
        client_slug=client.slug,
        time_zone=client.time_zone,
        currency=client.reporting_currency,
        retainer=Decimal(client.monthly_retainer or 0),
    )


def period_of(data: dict) -> ReportPeriod:
    """The period a stored snapshot covers, from the snapshot alone (rendering never reads the client's data)."""
    client = data["client"]
    return ReportPeriod(
        month=dt.date.fromisoformat(data["month"]),
        client_name=client["name"],
        client_slug=client["slug"],
        time_zone=client["time_zone"],
        currency=client["currency"],
        retainer=Decimal(client["retainer"]),
    )


def canonical_json(data: dict) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def data_hash(data: dict) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def figure_at(data: dict, path: str):
    """The value at a highlight's dotted figure path ("spend.total") in a snapshot's sections, or None."""
    node = data.get("sections", {})
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def rag_status(highlights: list[dict]) -> str:
    """Red, amber or green from how many highlights are bad news: 0 green, 1–2 amber, 3 or more red."""
    bad = sum(1 for h in highlights if h.get("tone") == "bad")
    return "green" if bad == 0 else ("amber" if bad <= 2 else "red")


def build_snapshot(period: ReportPeriod, *, now: dt.datetime | None = None) -> dict:
    """All sections for the period. A section that fails is recorded with its error (the draft shows it and can
    be recomputed) instead of losing the whole report."""
    now = now or timezone.now()
    section_data: dict[str, dict] = {}
    titles: dict[str, str] = {}
    highlights: list[dict] = []
    for module in sections():
        titles[module.KEY] = module.TITLE
        try:
            data = module.build(period)
            json.dumps(data)  # refuse anything the snapshot could not store exactly
        except Exception as exc:  # noqa: BLE001 — one broken section must not lose the others
            logger.exception("Report section %s failed for %s %s", module.KEY, period.client_slug, period.month)
            section_data[module.KEY] = {"error": f"This section could not be computed: {exc}"[:500]}
            continue
        section_data[module.KEY] = data
        for item in module.highlights(data, period):
            highlights.append({**item, "section": module.KEY})
    ordered = sorted(highlights, key=lambda h: _TONE_ORDER.get(h.get("tone", "neutral"), 3))
    return {
        "schema_version": SNAPSHOT_SCHEMA_VERSION,
        "month": period.month.isoformat(),
        "label": period.label,
        "computed_at": now.isoformat(),
        "client": {
            "name": period.client_name,
            "slug": period.client_slug,
            "time_zone": period.time_zone,
            "currency": period.currency,
            "retainer": str(period.retainer.quantize(Decimal("0.01"))),
        },
        "titles": titles,
        "sections": section_data,
        "highlights": highlights,
        "summary": {"status": rag_status(highlights), "highlights": ordered[:MAX_SUMMARY_HIGHLIGHTS]},
    }
