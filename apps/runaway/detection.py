"""The figures the runaway scan judges, each computed by one set-based query over UsageEvent.

Every window is half-open, [start, end), on occurred_at, and every scope is (key, currency): thresholds are in
the currency the events report (USD for catalog estimates). Events without a cost count as zero dollars but
still count for the request, token and prompt-hash signals.

Indexes used: the 10-minute window and the incident totals are range scans of occurred_at (its own index; for
agents usage_agent_time (agent, occurred_at)); the baseline reads 42 ten-minute slices, one range scan each.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from apps.finops.models import UsageEvent

from .models import ScopeKind

USAGE_TABLE = UsageEvent._meta.db_table
COLUMNS = {ScopeKind.AGENT: "agent", ScopeKind.API_KEY: "api_key_id", ScopeKind.MODEL: "model"}
WINDOW = dt.timedelta(minutes=10)
WINDOW_MINUTES = 10
BASELINE_DAYS = 7
BASELINE_SLICES = 6  # ten-minute slices of the same hour, per day
RATE_SPAN = dt.timedelta(minutes=5)
MINUTE = dt.timedelta(minutes=1)
MINUTES_PER_DAY = 1440
ZERO = Decimal(0)

SPEND_SIGNALS = ("spend_vs_baseline", "spend_ceiling")
SIGNAL_LABELS = {
    "spend_vs_baseline": "Spend far above its baseline",
    "spend_ceiling": "Above the $/minute ceiling",
    "tokens_per_request": "Request above the tokens ceiling",
    "prompt_repetition": "Same prompt repeating",
    "request_rate": "Request rate far above its baseline",
    "burning_after_stop": "Still burning after the kill-switch",
}


@dataclass
class ScopeStats:
    """One scope's events in the scan window."""

    kind: str
    key: str
    currency: str
    spend: Decimal = ZERO
    requests: int = 0
    max_tokens: int = 0
    over_tokens: int = 0
    first_over_at: dt.datetime | None = None
    top_hash: str = ""
    top_hash_count: int = 0
    top_hash_first_at: dt.datetime | None = None
    top_hash_last_at: dt.datetime | None = None
    last_over_at: dt.datetime | None = None
    minutes: list[tuple[dt.datetime, Decimal, int]] = field(default_factory=list)  # (minute, spend, requests)

    @property
    def scope(self) -> tuple[str, str, str]:
        return (self.kind, self.key, self.currency)

    @property
    def max_minute_spend(self) -> Decimal:
        return max((spend for _m, spend, _r in self.minutes), default=ZERO)


@dataclass(frozen=True)
class Baseline:
    spend_10m: Decimal = ZERO
    requests_10m: int = 0


_WINDOW_SQL = """
WITH scoped AS (
    SELECT e.{column} AS key, e.currency, COALESCE(e.cost, 0) AS cost, e.input_tokens + e.output_tokens AS tokens,
           e.prompt_hash, e.occurred_at, date_trunc('minute', e.occurred_at) AS minute
    FROM {table} e
    WHERE e.occurred_at >= %(start)s AND e.occurred_at < %(end)s AND e.{column} <> ''
      AND e.agent <> ALL(%(skip_agents)s::text[]) AND e.api_key_id <> ALL(%(skip_keys)s::text[])
), per_minute AS (
    SELECT key, currency, minute, sum(cost) AS spend, count(*) AS requests FROM scoped GROUP BY 1, 2, 3
), minutes AS (
    SELECT key, currency, array_agg(minute ORDER BY minute) AS at, array_agg(spend ORDER BY minute) AS spend,
           array_agg(requests ORDER BY minute) AS requests
    FROM per_minute GROUP BY 1, 2
), hashes AS (
    SELECT DISTINCT ON (key, currency) key, currency, prompt_hash, count(*) AS n, min(occurred_at) AS first_at,
           max(occurred_at) AS last_at
    FROM scoped WHERE prompt_hash <> '' GROUP BY key, currency, prompt_hash
    ORDER BY key, currency, count(*) DESC, prompt_hash
), totals AS (
    SELECT key, currency, sum(cost) AS spend, count(*) AS requests, max(tokens) AS max_tokens,
           count(*) FILTER (WHERE tokens > %(max_tokens)s) AS over_tokens,
           min(occurred_at) FILTER (WHERE tokens > %(max_tokens)s) AS first_over_at,
           max(occurred_at) FILTER (WHERE tokens > %(max_tokens)s) AS last_over_at
    FROM scoped GROUP BY 1, 2
)
SELECT t.key, t.currency, t.spend, t.requests, t.max_tokens, t.over_tokens, t.first_over_at, t.last_over_at,
       h.prompt_hash, h.n, h.first_at, h.last_at, m.at, m.spend, m.requests
FROM totals t
JOIN minutes m ON m.key = t.key AND m.currency = t.currency
LEFT JOIN hashes h ON h.key = t.key AND h.currency = t.currency
"""


def window_stats(
    kind: str,
    *,
    start: dt.datetime,
    end: dt.datetime,
    max_tokens: int,
    skip_agents: frozenset[str] | set[str] = frozenset(),
    skip_keys: frozenset[str] | set[str] = frozenset(),
) -> dict[tuple[str, str, str], ScopeStats]:
    """Every scope of `kind` with events in [start, end): spend, requests, tokens, top prompt hash, minutes.

    skip_agents / skip_keys leave out the events of agents / API keys that already have an incident, so a
    loop is reported once, on its most specific scope."""
    sql = _WINDOW_SQL.format(column=COLUMNS[kind], table=USAGE_TABLE)
    with connection.cursor() as cur:
        cur.execute(
            sql,
            {
                "start": start,
                "end": end,
                "max_tokens": max_tokens,
                "skip_agents": sorted(skip_agents),
                "skip_keys": sorted(skip_keys),
            },
        )
        rows = cur.fetchall()
    found = {}
    for row in rows:
        key, currency, spend, requests, top, over, first_over, last_over = row[:8]
        top_hash, n, first_at, last_at, at, spends, reqs = row[8:]
        stats = ScopeStats(
            kind=kind,
            key=key,
            currency=currency,
            spend=spend,
            requests=requests,
            max_tokens=top or 0,
            over_tokens=over,
            first_over_at=first_over,
            last_over_at=last_over,
            top_hash=top_hash or "",
            top_hash_count=n or 0,
            top_hash_first_at=first_at,
            top_hash_last_at=last_at,
            minutes=list(zip(at, spends, reqs, strict=True)),
        )
        found[stats.scope] = stats
    return found


_BASELINE_SQL = """
WITH slices(start_at) AS (SELECT unnest(%(slices)s::timestamptz[])),
scopes(key, currency) AS (SELECT * FROM unnest(%(keys)s::text[], %(currencies)s::text[])),
sums AS (
    SELECT e.{column} AS key, e.currency, s.start_at, sum(COALESCE(e.cost, 0)) AS spend, count(*) AS requests
    FROM slices s
    JOIN {table} e ON e.occurred_at >= s.start_at AND e.occurred_at < s.start_at + interval '10 minutes'
    WHERE e.{column} = ANY(%(keys)s::text[])
    GROUP BY 1, 2, 3
)
SELECT sc.key, sc.currency,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY COALESCE(su.spend, 0)),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY COALESCE(su.requests, 0))
FROM scopes sc CROSS JOIN slices s
LEFT JOIN sums su ON su.key = sc.key AND su.currency = sc.currency AND su.start_at = s.start_at
GROUP BY 1, 2
"""


def baseline_slices(now: dt.datetime) -> list[dt.datetime]:
    """The ten-minute slices of now's UTC hour on each of the previous BASELINE_DAYS days (42 by default)."""
    hour = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return [
        hour - dt.timedelta(days=day) + dt.timedelta(minutes=10 * j)
        for day in range(1, BASELINE_DAYS + 1)
        for j in range(BASELINE_SLICES)
    ]


def baselines(kind: str, scopes: list[tuple[str, str]], *, now: dt.datetime) -> dict[tuple[str, str], Baseline]:
    """(key, currency) → the median spend and requests of the scope's 10-minute slices at this hour over the
    last 7 days; slices without events count as zero, so a scope idle at this hour has a zero baseline."""
    if not scopes:
        return {}
    sql = _BASELINE_SQL.format(column=COLUMNS[kind], table=USAGE_TABLE)
    with connection.cursor() as cur:
        cur.execute(
            sql,
            {
                "slices": baseline_slices(now),
                "keys": [key for key, _c in scopes],
                "currencies": [currency for _k, currency in scopes],
            },
        )
        return {(key, currency): Baseline(spend or ZERO, int(requests or 0)) for key, currency, spend, requests in cur}


_TOTALS_SQL = """
WITH i(id, key, currency, started_at, rate_from) AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(keys)s::text[], %(currencies)s::text[], %(starts)s::timestamptz[],
                         %(rate_from)s::timestamptz[])
)
SELECT i.id, COALESCE(sum(e.cost), 0), count(e.id), COALESCE(sum(e.cost) FILTER (WHERE e.occurred_at >= i.rate_from), 0)
FROM i
LEFT JOIN {table} e ON e.{column} = i.key AND e.currency = i.currency
     AND e.occurred_at >= i.started_at AND e.occurred_at < %(end)s
GROUP BY i.id
"""


@dataclass(frozen=True)
class IncidentTotals:
    burned: Decimal
    requests: int
    rate_per_minute: Decimal


def minutes_between(start: dt.datetime, end: dt.datetime) -> Decimal:
    """Exact minutes from start to end (timedelta → Decimal, no float)."""
    delta = end - start
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micros) / Decimal(60_000_000)


def rate_start(started_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    return max(started_at, now - RATE_SPAN)


def incident_totals(kind: str, incidents: list, *, now: dt.datetime) -> dict[int, IncidentTotals]:
    """id → spend and requests since the incident's start, and its current $/minute (the last 5 minutes)."""
    if not incidents:
        return {}
    sql = _TOTALS_SQL.format(column=COLUMNS[kind], table=USAGE_TABLE)
    with connection.cursor() as cur:
        cur.execute(
            sql,
            {
                "ids": [i.pk for i in incidents],
                "keys": [i.scope_key for i in incidents],
                "currencies": [i.currency for i in incidents],
                "starts": [i.started_at for i in incidents],
                "rate_from": [rate_start(i.started_at, now) for i in incidents],
                "end": now,
            },
        )
        rows = cur.fetchall()
    by_id = {i.pk: i for i in incidents}
    totals = {}
    for pk, burned, requests, recent in rows:
        span = minutes_between(rate_start(by_id[pk].started_at, now), now)
        rate = recent / span if span > 0 else ZERO
        totals[pk] = IncidentTotals(burned=burned, requests=requests, rate_per_minute=rate)
    return totals


_MINUTES_SQL = """
SELECT m.minute, COALESCE(sum(e.cost), 0), count(e.id)
FROM generate_series(%(start)s::timestamptz, %(last)s::timestamptz, interval '1 minute') AS m(minute)
LEFT JOIN {table} e ON e.{column} = %(key)s AND e.currency = %(currency)s
     AND e.occurred_at >= m.minute AND e.occurred_at < m.minute + interval '1 minute'
GROUP BY m.minute ORDER BY m.minute
"""


def scope_minutes(
    kind: str, key: str, currency: str, *, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, Decimal, int]]:
    """(minute, spend, requests) for every minute in [start, end), zeros included: the incident chart."""
    start = start.replace(second=0, microsecond=0)
    if end <= start:
        return []
    last = end - MINUTE if end.second == 0 and end.microsecond == 0 else end.replace(second=0, microsecond=0)
    sql = _MINUTES_SQL.format(column=COLUMNS[kind], table=USAGE_TABLE)
    with connection.cursor() as cur:
        cur.execute(sql, {"start": start, "last": last, "key": key, "currency": currency})
        return [(minute, spend, requests) for minute, spend, requests in cur]


# --- judging the figures ------------------------------------------------------------------------------------


@dataclass
class Verdict:
    """The signals that fired for one scope, the thresholds they were judged by, and when their evidence
    (a minute above the pace, the repeated prompt, an oversized request, a busy minute) first and last showed."""

    signals: dict[str, dict]
    threshold_10m: Decimal
    threshold_per_minute: Decimal
    request_threshold_10m: int
    hot_minutes: list[dt.datetime]
    first_evidence: dt.datetime | None = None
    last_evidence: dt.datetime | None = None

    @property
    def fired(self) -> bool:
        return bool(self.signals)

    @property
    def spend_fired(self) -> bool:
        return any(name in self.signals for name in SPEND_SIGNALS)


def thresholds(baseline: Baseline, settings) -> tuple[Decimal, Decimal, int]:
    """(10-minute spend threshold, per-minute pace that alarms, 10-minute request threshold)."""
    threshold_10m = max(settings.baseline_multiplier * baseline.spend_10m, settings.min_spend_10m)
    per_minute = min(threshold_10m / WINDOW_MINUTES, settings.max_spend_per_minute)
    requests = max(math.ceil(settings.request_rate_multiplier * baseline.requests_10m), settings.min_requests_10m)
    return threshold_10m, per_minute, requests


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.000001")))


def _minute(moment: dt.datetime) -> dt.datetime:
    return moment.replace(second=0, microsecond=0)


def judge(stats: ScopeStats, baseline: Baseline, settings, *, threshold=None) -> Verdict:
    """Which signals fire for the scope's window. `threshold` (10-minute spend, per minute, requests) replaces
    the baseline's when an incident already fixed them."""
    threshold_10m, per_minute, request_threshold = threshold or thresholds(baseline, settings)
    signals: dict[str, dict] = {}
    evidence: list[tuple[dt.datetime, dt.datetime]] = []  # (first, last) minute of each fired signal
    hot = [minute for minute, spend, _r in stats.minutes if spend > per_minute]
    if stats.spend > threshold_10m:
        signals["spend_vs_baseline"] = {
            "value": _money(stats.spend),
            "threshold": _money(threshold_10m),
            "baseline": _money(baseline.spend_10m),
            "multiplier": str(settings.baseline_multiplier),
        }
    peak = stats.max_minute_spend
    if peak > settings.max_spend_per_minute:
        signals["spend_ceiling"] = {"value": _money(peak), "threshold": _money(settings.max_spend_per_minute)}
    if hot and any(name in signals for name in SPEND_SIGNALS):
        evidence.append((hot[0], hot[-1]))  # a spend signal always has a minute above the pace
    if stats.max_tokens > settings.max_tokens_per_request:
        signals["tokens_per_request"] = {
            "value": stats.max_tokens,
            "threshold": settings.max_tokens_per_request,
            "requests": stats.over_tokens,
        }
        evidence.append((_minute(stats.first_over_at), _minute(stats.last_over_at)))
    if stats.top_hash_count >= settings.repeat_threshold:
        signals["prompt_repetition"] = {
            "value": stats.top_hash_count,
            "threshold": settings.repeat_threshold,
            "prompt_hash": stats.top_hash,
        }
        evidence.append((_minute(stats.top_hash_first_at), _minute(stats.top_hash_last_at)))
    if stats.kind == ScopeKind.AGENT and stats.requests > request_threshold:
        signals["request_rate"] = {
            "value": stats.requests,
            "threshold": request_threshold,
            "baseline": baseline.requests_10m,
        }
        busy = [m for m, _s, requests in stats.minutes if requests * WINDOW_MINUTES > request_threshold]
        busy = busy or [m for m, _s, _r in stats.minutes]
        evidence.append((busy[0], busy[-1]))
    first = min((f for f, _l in evidence), default=None)
    last = max((last for _f, last in evidence), default=None)
    return Verdict(signals, threshold_10m, per_minute, request_threshold, hot, first, last)


def could_need_baseline(stats: ScopeStats, settings) -> bool:
    """Only a scope above the floors can fire a baseline signal: the others skip the baseline query."""
    return stats.spend > settings.min_spend_10m or (
        stats.kind == ScopeKind.AGENT and stats.requests > settings.min_requests_10m
    )
