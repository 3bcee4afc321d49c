"""The client health score: pure arithmetic, no database (Kaseya VSA's "Network Health Score" is the template).

Each component's measured value is mapped to a sub-score 0-100; the health score is the weighted average of
the sub-scores of the components that are measured and have a weight above 0 (weights 0-100, 0 disables).
A component that is not measured (no budget, no SLO with data, no framework enabled, no assessment, no billing
source) is left out of the average, never counted as 0. Nothing measured (or every weight 0): no score.

Mappings (docs/portfolio.md says the same):
- budget: month-end forecast vs the whole-client budget, % over. <= 0 % over -> 100, linear to 0 at +50 %.
- alerts: open critical alerts. 0 -> 100, each one -25 (4 or more -> 0).
- sla: the active SLO furthest below its objective, in error budgets: shortfall = (objective - attainment) /
  (1 - objective). At or above the objective -> 100, linear to 0 at one whole error budget below it
  (99.9 % target: 99.85 % -> 50, 99.8 % -> 0).
- readiness: mean compliance readiness % of the enabled frameworks, as is.
- maturity: the latest final capability assessment's score 0-100, as is.
- freshness: hours since the latest successful billing ingestion. <= 24 h -> 100, linear to 0 at 7 days
  (168 h); billing sources that never succeeded -> 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

ZERO = Decimal(0)
HUNDRED = Decimal(100)
TENTH = Decimal("0.1")
FULL = Decimal("100.0")
NIL = Decimal("0.0")
NEVER = Decimal("Infinity")  # freshness of billing sources that never had a successful run

COMPONENTS = ("budget", "alerts", "sla", "readiness", "maturity", "freshness")
LABELS = {
    "budget": "Budget variance",
    "alerts": "Open critical alerts",
    "sla": "SLA attainment",
    "readiness": "Compliance readiness",
    "maturity": "Maturity",
    "freshness": "Ingestion freshness",
}
SHORT_LABELS = {  # table headers
    "budget": "Budget",
    "alerts": "Alerts",
    "sla": "SLA",
    "readiness": "Readiness",
    "maturity": "Maturity",
    "freshness": "Freshness",
}
MAPPINGS = {
    "budget": "Month-end forecast at or under the budget → 100, linear to 0 at 50 % over.",
    "alerts": "No open critical alert → 100, minus 25 per open critical alert.",
    "sla": "The SLO furthest below its objective: at or above it → 100, linear to 0 one error budget below it.",
    "readiness": "Mean readiness % of the enabled frameworks, as is.",
    "maturity": "Latest final capability assessment score (0–100), as is.",
    "freshness": "Latest successful billing ingestion within 24 h → 100, linear to 0 at 7 days.",
}
DEFAULT_WEIGHTS: dict[str, int] = {
    "budget": 20,
    "alerts": 25,
    "sla": 20,
    "readiness": 15,
    "maturity": 10,
    "freshness": 10,
}

BUDGET_ZERO_AT = Decimal(50)  # % over budget that scores 0
ALERT_PENALTY = Decimal(25)
FRESH_HOURS = Decimal(24)
STALE_HOURS = Decimal(168)

# Bands of the overall score: (lowest score, key, label, chip class), best first.
BANDS = (
    (Decimal(80), "healthy", "Healthy", "chip-ok"),
    (Decimal(60), "watch", "Watch", "sev-medium"),
    (ZERO, "at-risk", "At risk", "sev-critical"),
)
UNMEASURED = ("unmeasured", "Not measured", "chip-muted")
BAND_KEYS = tuple(b[1] for b in BANDS) + (UNMEASURED[0],)


def _q(value: Decimal) -> Decimal:
    return value.quantize(TENTH, rounding=ROUND_HALF_UP)


def _clamp(value: Decimal) -> Decimal:
    return _q(min(max(Decimal(value), ZERO), HUNDRED))


# --- sub-scores ---------------------------------------------------------------------------------------------------


def budget_score(variance_percent: Decimal) -> Decimal:
    """variance_percent: (forecast - budget) / budget x 100."""
    if variance_percent <= 0:
        return FULL
    return _clamp(HUNDRED - variance_percent * HUNDRED / BUDGET_ZERO_AT)


def alerts_score(open_critical: int) -> Decimal:
    return _clamp(HUNDRED - ALERT_PENALTY * open_critical)


def sla_shortfall(attainment: Decimal, objective: Decimal) -> Decimal:
    """How far below the objective, in error budgets (0 when met; 1 = a whole budget below)."""
    if attainment >= objective:
        return ZERO
    return (objective - attainment) / (1 - objective)


def sla_score(attainment: Decimal, objective: Decimal) -> Decimal:
    return _clamp(HUNDRED * (1 - sla_shortfall(attainment, objective)))


def freshness_score(hours: Decimal) -> Decimal:
    if hours <= FRESH_HOURS:
        return FULL
    if hours >= STALE_HOURS:
        return NIL
    return _clamp(HUNDRED * (STALE_HOURS - hours) / (STALE_HOURS - FRESH_HOURS))


# --- inputs, parts and the weighted average ------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """What was measured for one client; None = not measured."""

    budget_variance: Decimal | None = None  # % over the budget (negative: under), month-end forecast
    open_critical: int | None = None
    sla_attainment: Decimal | None = None  # ratio 0-1 of the worst SLO
    sla_objective: Decimal | None = None
    readiness: Decimal | None = None  # 0-100
    maturity: Decimal | None = None  # 0-100
    freshness_hours: Decimal | None = None  # NEVER when sources exist but none succeeded

    def value(self, key: str):
        if key == "sla":
            return None if self.sla_attainment is None or self.sla_objective is None else self.sla_attainment
        return {
            "budget": self.budget_variance,
            "alerts": self.open_critical,
            "readiness": self.readiness,
            "maturity": self.maturity,
            "freshness": self.freshness_hours,
        }[key]


def sub_score(key: str, inputs: Inputs) -> Decimal | None:
    value = inputs.value(key)
    if value is None:
        return None
    if key == "budget":
        return budget_score(value)
    if key == "alerts":
        return alerts_score(value)
    if key == "sla":
        return sla_score(value, inputs.sla_objective)
    if key == "freshness":
        return freshness_score(value)
    return _clamp(value)  # readiness, maturity: as is


def _percent(ratio: Decimal) -> str:
    text = f"{ratio * 100:.3f}".rstrip("0").rstrip(".")
    return f"{text} %"


def describe(key: str, inputs: Inputs) -> str:
    """The measured value in words, for the tooltip, the report and the API."""
    value = inputs.value(key)
    if value is None:
        return "not measured"
    if key == "budget":
        return f"forecast {abs(value):.1f} % {'over' if value > 0 else 'under'} budget"
    if key == "alerts":
        return f"{value} open critical alert{'' if value == 1 else 's'}"
    if key == "sla":
        return f"worst SLO {_percent(value)} vs {_percent(inputs.sla_objective)} target"
    if key == "readiness":
        return f"{value:.1f} % ready"
    if key == "maturity":
        return f"score {value:.1f} / 100"
    if value == NEVER:
        return "no successful ingestion yet"
    hours = int(value)
    return f"last ingestion {hours} h ago" if hours < 48 else f"last ingestion {hours // 24} days ago"


@dataclass(frozen=True)
class Part:
    key: str
    label: str
    weight: int
    score: Decimal | None  # None = not measured
    value: str  # the measured value in words

    @property
    def measured(self) -> bool:
        return self.score is not None

    @property
    def counted(self) -> bool:
        return self.score is not None and self.weight > 0


@dataclass(frozen=True)
class Health:
    score: Decimal | None
    parts: tuple[Part, ...]

    @cached_property
    def _band(self) -> tuple[str, str, str]:
        return band_of(self.score)

    @property
    def band(self) -> str:
        return self._band[0]

    @property
    def band_label(self) -> str:
        return self._band[1]

    @property
    def band_class(self) -> str:
        return self._band[2]

    @property
    def rounded(self) -> int | None:
        return None if self.score is None else int(self.score.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def part(self, key: str) -> Part:
        return next(p for p in self.parts if p.key == key)

    @property
    def breakdown(self) -> str:
        """One line per component, e.g. "SLA attainment: 50.0 (worst SLO 99.85 % vs 99.9 % target) x 20"."""
        lines = []
        for p in self.parts:
            if p.weight == 0:
                lines.append(f"{p.label}: off (weight 0)")
            elif p.score is None:
                lines.append(f"{p.label}: not measured")
            else:
                lines.append(f"{p.label}: {p.score} ({p.value}) × {p.weight}")
        return "\n".join(lines)


def band_of(score: Decimal | None) -> tuple[str, str, str]:
    if score is None:
        return UNMEASURED
    for lowest, key, label, css in BANDS:
        if score >= lowest:
            return key, label, css
    return BANDS[-1][1:]


def weighted(scores: Mapping[str, Decimal | None], weights: Mapping[str, int]) -> Decimal | None:
    """Σ weight x sub-score / Σ weight over the measured components with a weight above 0."""
    total_weight, total = 0, ZERO
    for key in COMPONENTS:
        score, weight = scores.get(key), int(weights.get(key, 0))
        if score is None or weight <= 0:
            continue
        total_weight += weight
        total += score * weight
    if not total_weight:
        return None
    return _q(total / total_weight)


def health(inputs: Inputs, weights: Mapping[str, int] | None = None) -> Health:
    weights = DEFAULT_WEIGHTS if weights is None else weights
    parts = tuple(
        Part(key, LABELS[key], int(weights.get(key, 0)), sub_score(key, inputs), describe(key, inputs))
        for key in COMPONENTS
    )
    return Health(weighted({p.key: p.score for p in parts}, weights), parts)


def hours_between(earlier: dt.datetime, later: dt.datetime) -> Decimal:
    return _q(Decimal(max((later - earlier).total_seconds(), 0)) / 3600)


def inputs_from(rollup, maturity, *, now: dt.datetime) -> Inputs:
    """The Inputs of one client from its public-schema rows (ClientRollup, ClientMaturity; either may be None).
    The budget counts only when it is this UTC month's; freshness is measured against `now`."""
    if rollup is None:
        return Inputs(maturity=maturity.score if maturity is not None else None)
    this_month = now.astimezone(dt.UTC).date().replace(day=1)
    variance = None
    if rollup.budget_amount and rollup.budget_month == this_month and rollup.budget_forecast is not None:
        variance = (rollup.budget_forecast - rollup.budget_amount) * HUNDRED / rollup.budget_amount
    freshness = None
    if rollup.ingestion_succeeded_at is not None:
        freshness = hours_between(rollup.ingestion_succeeded_at, now)
    elif rollup.billing_sources:
        freshness = NEVER
    return Inputs(
        budget_variance=variance,
        open_critical=rollup.open_critical if rollup.refreshed_at is not None else None,
        sla_attainment=rollup.sla_attainment,
        sla_objective=rollup.sla_objective,
        readiness=rollup.readiness,
        maturity=maturity.score if maturity is not None else None,
        freshness_hours=freshness,
    )
