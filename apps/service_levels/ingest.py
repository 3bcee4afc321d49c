"""Measurements in: validate a batch, store it idempotently, refresh the per-minute rollup, settle late data.

One batch may feed many SLOs (a probe system pushes every endpoint's results at once). Each item names its
SLO and carries the shape its SLI kind reads (docs/service-levels.md):

- any kind except incidents: `good` and `total` counts, or `ok` (one probe: true/false);
- latency: `value_ms` (one sample) or `histogram` [{le, count}, …] (per-bucket counts, upper bounds in ms);
- quality: `score` in [0, 1], optionally `passed` (else passed = score ≥ the SLO's threshold);
- hallucination: `hallucinated` true/false (one judgement);
- drift: `statistic` ≥ 0 (good while under the SLO's threshold);
- incident response / resolution: `opened_at`, `responded_at` / `resolved_at`, `pauses` [{start, end}],
  `severity` — business minutes on the SLO's calendar against its threshold.

`id` makes an item idempotent (the same id again replaces it: a late correction); without one the item's own
content is its key, so an identical resend is a duplicate. Valid items are stored even when others are not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.batch import BatchErrors, parse_rfc3339

from . import clock
from .models import SLO, Measurement, SliKind, SliMinute

MAX_MEASUREMENTS = 10_000
MAX_HISTOGRAM_BUCKETS = 200
MAX_COUNT = 10**12
MAX_LATENCY_MS = Decimal(86_400_000)  # a day: beyond it the unit is wrong
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FUTURE_SLACK = dt.timedelta(minutes=5)
INCIDENT_KINDS = {SliKind.INCIDENT_RESPONSE, SliKind.INCIDENT_RESOLUTION}
SEVERITIES = {"critical", "high", "medium", "low", "info"}

MEASUREMENT_TABLE = Measurement._meta.db_table
MINUTE_TABLE = SliMinute._meta.db_table
STAGE_TABLE = "keel_measurement_stage"


class BatchTooLarge(ValueError):
    pass


@dataclass
class IngestResult:
    accepted: int = 0
    replaced: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)
    errors_omitted: int = 0
    periods_recomputed: int = 0

    def as_dict(self) -> dict:
        body = {
            "accepted": self.accepted,
            "replaced": self.replaced,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "periods_recomputed": self.periods_recomputed,
            "errors": self.errors,
        }
        if self.errors_omitted:
            body["errors_omitted"] = self.errors_omitted
        return body


@dataclass
class Row:
    slo_id: int
    key: str
    at: dt.datetime
    good: int
    total: int
    value: Decimal | None
    data: dict
    pending: bool


# --- validation -------------------------------------------------------------------------------------------


def _number(value) -> Decimal | None:
    """A finite Decimal from a JSON number (the API parses non-integers as Decimal); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal | float):
        number = Decimal(str(value)) if isinstance(value, float) else value
        return number if number.is_finite() else None
    return None


def _count(item: dict, name: str, index: int, errors: BatchErrors) -> int | None:
    value = item.get(name)
    number = _number(value)
    if number is None or number != number.to_integral_value() or number < 0 or number > MAX_COUNT:
        errors.add(index, name, f"{name} must be a whole number from 0 to {MAX_COUNT:,}.")
        return None
    return int(number)


def _moment(value, name: str, index: int, errors: BatchErrors, latest: dt.datetime, required=True):
    if value in (None, ""):
        if required:
            errors.add(index, name, f"{name} is required (RFC 3339, e.g. 2026-11-30T17:45:00Z).")
        return None
    moment = parse_rfc3339(value)
    if isinstance(moment, str):
        errors.add(index, name, f"{name} {moment}")
        return None
    if moment < EARLIEST or moment > latest:
        errors.add(index, name, f"{name} {value} is before 2000 or in the future: check the clock and the format.")
        return None
    return moment.astimezone(dt.UTC)


def _key(item: dict, index: int, errors: BatchErrors) -> str | None:
    given = item.get("id")
    if given in (None, ""):
        canonical = json.dumps(item, sort_keys=True, default=str, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    if not isinstance(given, str | int) or isinstance(given, bool):
        errors.add(index, "id", "id must be a string (your idempotency key).")
        return None
    text = str(given)
    if len(text) > 200 or not text.isprintable():
        errors.add(index, "id", "id must be printable and at most 200 characters.")
        return None
    return text


def _counts_or_probe(item: dict, index: int, errors: BatchErrors) -> tuple[int, int] | None:
    if "ok" in item:
        if not isinstance(item["ok"], bool):
            errors.add(index, "ok", "ok must be true or false.")
            return None
        return (1 if item["ok"] else 0), 1
    if "good" in item or "total" in item:
        good, total = _count(item, "good", index, errors), _count(item, "total", index, errors)
        if good is None or total is None:
            return None
        if good > total:
            errors.add(index, "good", f"good ({good}) cannot be more than total ({total}).")
            return None
        return good, total
    return None


def _latency(item: dict, slo: SLO, index: int, errors: BatchErrors) -> tuple[int, int, Decimal | None, dict] | None:
    limit = slo.threshold
    if "value_ms" in item:
        value = _number(item["value_ms"])
        if value is None or value < 0 or value > MAX_LATENCY_MS:
            errors.add(index, "value_ms", "value_ms must be a number of milliseconds from 0 to 86,400,000.")
            return None
        return (1 if value <= limit else 0), 1, value, {}
    buckets = item.get("histogram")
    if not isinstance(buckets, list) or not buckets or len(buckets) > MAX_HISTOGRAM_BUCKETS:
        errors.add(
            index, "histogram", f"histogram must be a list of 1 to {MAX_HISTOGRAM_BUCKETS} buckets {{le, count}}."
        )
        return None
    previous, good, total, clean = Decimal(-1), 0, 0, []
    for position, bucket in enumerate(buckets):
        where = f"histogram[{position}]"
        if not isinstance(bucket, dict) or set(bucket) != {"le", "count"}:
            errors.add(index, where, "each bucket is {le, count}: le = upper bound in ms, count = events in it.")
            return None
        upper = Decimal("Infinity") if bucket["le"] in ("+Inf", "inf", "Infinity") else _number(bucket["le"])
        count = _number(bucket["count"])
        if upper is None or upper < 0 or upper <= previous:
            errors.add(index, f"{where}.le", "le must be a number of ms (or '+Inf'), increasing bucket by bucket.")
            return None
        if count is None or count < 0 or count != count.to_integral_value() or count > MAX_COUNT:
            errors.add(index, f"{where}.count", "count must be a whole number of events, at least 0.")
            return None
        previous = upper
        total += int(count)
        if upper <= limit:  # a bucket straddling the threshold counts as slow: the histogram cannot tell
            good += int(count)
        clean.append({"le": "+Inf" if upper.is_infinite() else str(upper), "count": int(count)})
    return good, total, None, {"histogram": clean}


def _quality(item: dict, slo: SLO, index: int, errors: BatchErrors) -> tuple[int, int, Decimal | None, dict] | None:
    score = _number(item.get("score")) if "score" in item else None
    if "score" in item and (score is None or not 0 <= score <= 1):
        errors.add(index, "score", "score must be a number from 0 to 1.")
        return None
    passed = item.get("passed")
    if passed is not None and not isinstance(passed, bool):
        errors.add(index, "passed", "passed must be true or false.")
        return None
    if passed is None:
        if score is None:
            errors.add(index, "score", "give score (0 to 1), passed (true/false), or good and total.")
            return None
        if slo.threshold is None:
            errors.add(index, "passed", "this SLO has no passing score: send passed with the score.")
            return None
        passed = score >= slo.threshold
    return (1 if passed else 0), 1, score, {}


def _incident(
    item: dict, slo: SLO, index: int, errors: BatchErrors, latest: dt.datetime, now: dt.datetime
) -> tuple[dt.datetime, int, int, Decimal | None, dict, bool] | None:
    opened = _moment(item.get("opened_at"), "opened_at", index, errors, latest)
    end_field = "responded_at" if slo.sli_kind == SliKind.INCIDENT_RESPONSE else "resolved_at"
    ended = _moment(item.get(end_field), end_field, index, errors, latest, required=False)
    if opened is None or (item.get(end_field) not in (None, "") and ended is None):
        return None
    if ended is not None and ended < opened:
        errors.add(index, end_field, f"{end_field} is before opened_at.")
        return None
    severity = item.get("severity", "")
    if severity not in ("", None) and (not isinstance(severity, str) or severity.lower() not in SEVERITIES):
        errors.add(index, "severity", f"severity is one of {', '.join(sorted(SEVERITIES))}.")
        return None
    pauses = []
    for position, pause in enumerate(item.get("pauses") or []):
        if not isinstance(pause, dict):
            errors.add(index, f"pauses[{position}]", "each pause is {start, end}.")
            return None
        start = _moment(pause.get("start"), f"pauses[{position}].start", index, errors, latest)
        end = _moment(pause.get("end"), f"pauses[{position}].end", index, errors, latest)
        if start is None or end is None:
            return None
        if end < start:
            errors.add(index, f"pauses[{position}]", "a pause ends after it starts.")
            return None
        pauses.append((start, end))
    data = {
        "opened_at": opened.isoformat(),
        end_field: ended.isoformat() if ended else None,
        "pauses": [[a.isoformat(), b.isoformat()] for a, b in pauses],
        "severity": (severity or "").lower(),
    }
    if slo.incident_severities and data["severity"] not in slo.incident_severities:
        errors.add(index, "severity", f"this SLO counts {', '.join(slo.incident_severities)} incidents only.")
        return None
    good, total, minutes, pending = incident_outcome(slo, opened, ended, pauses, now)
    return opened, good, total, minutes, data, pending


def incident_outcome(slo: SLO, opened, ended, pauses, now) -> tuple[int, int, Decimal, bool]:
    """(good, total, business minutes so far, pending) of one incident against the SLO's allowance.

    An incident still open is pending until its allowance runs out; then it is late for good, whatever
    happens next (a later answer never erases a miss)."""
    minutes = clock.business_minutes_between(opened, ended or now, slo.calendar, pauses)
    allowed = slo.threshold or Decimal(0)
    if ended is not None:
        return (1 if minutes <= allowed else 0), 1, minutes, False
    if minutes > allowed:
        return 0, 1, minutes, False
    return 0, 0, minutes, True


def _validate(item, index: int, slos: dict[str, SLO], errors: BatchErrors, now: dt.datetime) -> Row | None:
    if not isinstance(item, dict):
        errors.add(index, "", "each measurement is a JSON object.")
        return None
    name = item.get("slo")
    slo = slos.get(name) if isinstance(name, str) else None
    if slo is None:
        errors.add(index, "slo", f"no SLO named {str(name)[:80]!r} in this workspace." if name else "slo is required.")
        return None
    if not slo.active:
        errors.add(index, "slo", f"SLO {name} is retired: it takes no more measurements.")
        return None
    if slo.source == SLO.Source.KEEL:
        errors.add(index, "slo", f"SLO {name} is computed by Keel from its own data: it takes no pushed measurements.")
        return None
    key = _key(item, index, errors)
    latest = now + FUTURE_SLACK
    value, data, pending = None, {}, False
    if slo.sli_kind in INCIDENT_KINDS:
        outcome = _incident(item, slo, index, errors, latest, now)
        if outcome is None or key is None:
            return None
        at, good, total, value, data, pending = outcome
        return Row(slo.pk, key, at, good, total, value, data, pending)
    at = _moment(item.get("at"), "at", index, errors, latest)
    before = errors.count
    counts = _counts_or_probe(item, index, errors)
    if counts is not None:
        good, total = counts
    elif errors.count > before:
        return None
    elif slo.sli_kind == SliKind.LATENCY and ("value_ms" in item or "histogram" in item):
        outcome = _latency(item, slo, index, errors)
        if outcome is None:
            return None
        good, total, value, data = outcome
    elif slo.sli_kind == SliKind.QUALITY and ("score" in item or "passed" in item):
        outcome = _quality(item, slo, index, errors)
        if outcome is None:
            return None
        good, total, value, data = outcome
    elif slo.sli_kind == SliKind.HALLUCINATION and "hallucinated" in item:
        if not isinstance(item["hallucinated"], bool):
            errors.add(index, "hallucinated", "hallucinated must be true or false.")
            return None
        good, total = (0 if item["hallucinated"] else 1), 1
    elif slo.sli_kind == SliKind.DRIFT and "statistic" in item:
        value = _number(item["statistic"])
        if value is None or value < 0:
            errors.add(index, "statistic", "statistic must be a number, at least 0.")
            return None
        good, total = (1 if value < (slo.threshold or Decimal("0.2")) else 0), 1
    else:
        errors.add(index, "", f"nothing to measure: {SHAPES[slo.sli_kind]}")
        return None
    if at is None or key is None:
        return None
    return Row(slo.pk, key, at, good, total, value, data, pending)


_COUNTS = "good and total, or ok"
SHAPES = {
    SliKind.AVAILABILITY: f"send {_COUNTS}.",
    SliKind.LATENCY: f"send value_ms, histogram, or {_COUNTS}.",
    SliKind.QUALITY: f"send score and/or passed, or {_COUNTS}.",
    SliKind.HALLUCINATION: f"send hallucinated, or {_COUNTS}.",
    SliKind.DRIFT: f"send statistic, or {_COUNTS}.",
    SliKind.INTEGRATION: f"send {_COUNTS}.",
    SliKind.BUDGET_ADHERENCE: f"send {_COUNTS}.",
}


# --- storage ----------------------------------------------------------------------------------------------


def measurements_ingest(items, *, now: dt.datetime | None = None) -> IngestResult:
    """Validate and store a batch (a list of items); see the module docstring for the shapes."""
    if not isinstance(items, list):
        raise ValueError('Send {"measurements": [...]} or a JSON list of measurements.')
    if len(items) > MAX_MEASUREMENTS:
        raise BatchTooLarge(f"A batch holds at most {MAX_MEASUREMENTS:,} measurements; this one has {len(items):,}.")
    now = now or timezone.now()
    names = {item.get("slo") for item in items if isinstance(item, dict) and isinstance(item.get("slo"), str)}
    slos = {slo.name: slo for slo in SLO.objects.filter(name__in=names).select_related("calendar")}
    errors = BatchErrors()
    rows: dict[tuple[int, str], Row] = {}
    duplicates = 0
    for index, item in enumerate(items):
        row = _validate(item, index, slos, errors, now)
        if row is None:
            continue
        if (row.slo_id, row.key) in rows:
            duplicates += 1  # repeated within the batch: the last one wins
        rows[(row.slo_id, row.key)] = row
    result = IngestResult(rejected=len(errors.indexes), errors=errors.items, errors_omitted=errors.omitted)
    if not rows:
        result.duplicates = duplicates
        return result
    with transaction.atomic():
        inserted, replaced, unchanged, earliest = store_rows(list(rows.values()), now)
        by_id = {slo.pk: slo for slo in slos.values()}
        counts = {by_id[slo_id].name: n for slo_id, n in _per_slo(rows.values()).items()}
        audit_record(
            action="slo.measurements_ingest",
            object_type="service_levels.measurement",
            object_repr=f"{len(rows)} measurements",
            after={"inserted": inserted, "replaced": replaced, "unchanged": unchanged, "per_slo": counts},
        )
    result.accepted, result.replaced, result.duplicates = inserted, replaced, duplicates + unchanged
    from .evaluation import periods_settle  # late data: closed periods it touches are recomputed

    for slo_id, since in earliest.items():
        result.periods_recomputed += periods_settle(by_id[slo_id], now=now, since=since, only_existing=True)
    return result


def _per_slo(rows) -> dict[int, int]:
    counts: dict[int, int] = {}
    for row in rows:
        counts[row.slo_id] = counts.get(row.slo_id, 0) + 1
    return counts


def store_rows(
    rows: list[Row], now: dt.datetime, origin: str = Measurement.Origin.API
) -> tuple[int, int, int, dict[int, dt.datetime]]:
    """COPY into a stage, upsert changed rows, refresh the minutes they (and what they replaced) fall in.

    Returns (inserted, replaced, unchanged, earliest moment touched per SLO)."""
    with transaction.atomic(), connection.cursor() as cur:  # the stage tables live until the commit
        cur.execute(
            f"DROP TABLE IF EXISTS pg_temp.{STAGE_TABLE}; CREATE TEMP TABLE {STAGE_TABLE} (slo_id bigint, "
            "key text, at timestamptz, good bigint, total bigint, value numeric, data jsonb, pending boolean) "
            "ON COMMIT DROP"
        )
        with cur.copy(f"COPY {STAGE_TABLE} (slo_id, key, at, good, total, value, data, pending) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    (row.slo_id, row.key, row.at, row.good, row.total, row.value, json.dumps(row.data), row.pending)
                )
        # Only rows that change anything touch the rollup: their new minute and the minute they used to sit in
        # (a corrected timestamp moves a sample).
        changed = (
            "(m.at, m.good, m.total, m.value, m.data, m.pending) "
            "IS DISTINCT FROM (s.at, s.good, s.total, s.value, s.data, s.pending)"
        )
        cur.execute(
            f"""CREATE TEMP TABLE keel_affected_minutes ON COMMIT DROP AS
                SELECT s.slo_id, date_trunc('minute', s.at) AS minute FROM {STAGE_TABLE} s
                LEFT JOIN {MEASUREMENT_TABLE} m ON m.slo_id = s.slo_id AND m.key = s.key
                WHERE m.id IS NULL OR {changed}
                UNION
                SELECT m.slo_id, date_trunc('minute', m.at) FROM {MEASUREMENT_TABLE} m
                JOIN {STAGE_TABLE} s ON s.slo_id = m.slo_id AND s.key = m.key
                WHERE {changed}"""  # noqa: S608 — table names are constants, values go as parameters
        )
        cur.execute(
            f"""WITH written AS (
                    INSERT INTO {MEASUREMENT_TABLE} AS m
                        (slo_id, key, at, good, total, value, data, pending, origin, received_at)
                    SELECT slo_id, key, at, good, total, value, data, pending, %s, %s FROM {STAGE_TABLE}
                    ON CONFLICT (slo_id, key) DO UPDATE SET
                        at = EXCLUDED.at, good = EXCLUDED.good, total = EXCLUDED.total, value = EXCLUDED.value,
                        data = EXCLUDED.data, pending = EXCLUDED.pending, received_at = EXCLUDED.received_at
                    WHERE (m.at, m.good, m.total, m.value, m.data, m.pending)
                        IS DISTINCT FROM (EXCLUDED.at, EXCLUDED.good, EXCLUDED.total, EXCLUDED.value,
                                          EXCLUDED.data, EXCLUDED.pending)
                    RETURNING (xmax = 0) AS inserted
                )
                SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written""",  # noqa: S608 — table names are constants, values go as parameters
            [str(origin), now],
        )
        inserted, replaced = cur.fetchone()
        cur.execute("SELECT slo_id, min(minute) FROM keel_affected_minutes GROUP BY slo_id")
        earliest = dict(cur.fetchall())
        minutes_refresh(cur, "keel_affected_minutes")
        cur.execute("DROP TABLE IF EXISTS pg_temp.keel_affected_minutes")
    return inserted, replaced, len(rows) - inserted - replaced, earliest


def minutes_refresh(cur, affected_table: str) -> None:
    """Rebuild the rollup rows of the (slo_id, minute) pairs listed in `affected_table` from the measurements."""
    cur.execute(
        f"""DELETE FROM {MINUTE_TABLE} r USING {affected_table} a
            WHERE r.slo_id = a.slo_id AND r.minute = a.minute"""  # noqa: S608 — table names are constants, values go as parameters
    )
    cur.execute(
        f"""INSERT INTO {MINUTE_TABLE} (slo_id, minute, good, total)
            SELECT m.slo_id, a.minute, sum(m.good), sum(m.total)
            FROM (SELECT DISTINCT slo_id, minute FROM {affected_table}) a
            JOIN {MEASUREMENT_TABLE} m
              ON m.slo_id = a.slo_id AND m.at >= a.minute AND m.at < a.minute + interval '1 minute'
            WHERE NOT m.pending
            GROUP BY m.slo_id, a.minute
            HAVING sum(m.total) > 0"""  # noqa: S608 — table names are constants, values go as parameters
    )


def pending_incidents_refresh(slos: list[SLO], *, now: dt.datetime) -> int:
    """Pushed incidents still open: each cycle checks whether their allowance ran out (then they count as late)."""
    by_id = {slo.pk: slo for slo in slos if slo.sli_kind in INCIDENT_KINDS and slo.source == SLO.Source.PUSHED}
    if not by_id:
        return 0
    rows = []
    for measurement in Measurement.objects.filter(slo_id__in=by_id, pending=True):
        slo = by_id[measurement.slo_id]
        pauses = [(parse_rfc3339(a), parse_rfc3339(b)) for a, b in measurement.data.get("pauses", [])]
        good, total, minutes, pending = incident_outcome(slo, measurement.at, None, pauses, now)
        if not pending:
            rows.append(Row(slo.pk, measurement.key, measurement.at, good, total, minutes, measurement.data, False))
    if not rows:
        return 0
    store_rows(rows, now)
    return len(rows)
