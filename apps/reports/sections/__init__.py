"""The report's sections, in reading order. Each module has:

    KEY: str                      the section's key in the snapshot JSON (also its template name)
    TITLE: str                    its heading
    build(period) -> dict         its figures, JSON-safe (money as strings via apps.reports.period.money,
                                  dates ISO), run inside the client's schema; may include "charts": a list of
                                  chart specs (apps.reports.charts) drawn from those figures
    highlights(data, period) -> list[dict]
                                  plain-language sentences from those figures:
                                  {"text": …, "figure": "<KEY>.<path>", "tone": "good" | "bad" | "neutral"},
                                  where "figure" is the dotted path of the figure the sentence states

and a template reports/sections/<KEY>.html that receives `s` (its data), `period` (rebuilt from the snapshot by
apps.reports.snapshot.period_of) and `web` (portal or PDF).
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

# Reading order: money first (what it cost, what it bought, what it returned), then what went wrong and was
# caught, then standing (contract, compliance, maturity, estate), and what to do next month.
SECTION_MODULES: list[str] = [
    "spend",
    "unit_economics",
    "value",
    "anomalies",
    "service_levels",
    "compliance",
    "maturity",
    "inventory",
    "incidents",
    "recommendations",
]


def sections() -> list[ModuleType]:
    return [import_module(f"{__name__}.{name}") for name in SECTION_MODULES]
