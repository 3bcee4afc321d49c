"""The notification regimes file (data/regimes.yaml) and the pure deadline arithmetic.

`load_regimes()` reads and validates the file once per process; a broken file fails loudly with the path of the
bad entry. `compute_due(report, t0, tz, ...)` turns a report's rule and the time its clock started into a due
time: hours and minutes are elapsed time (72 h is 72 real hours whatever the clocks do); days, months and years
are calendar steps in the client's time zone at the same wall-clock time; a report with a weekend rule (DORA)
moves a due time that falls on a weekend day or a listed bank holiday to 12:00 of the next working day.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

FORMAT = "keel-incident-regimes/1"
DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "regimes.yaml"

# Events of the incident that can start a clock (report:<id> names another report's submission).
T0_EVENTS = {
    "awareness": "Awareness",
    "classification_as_major": "Classification as major",
    "determination_of_breach": "Determination of the breach",
    "on_request": "Request of the authority",
}
SOFT_DEADLINES = {
    "as_soon_as_feasible": "As soon as feasible",
    "without_undue_delay": "Without undue delay",
    "on_request": "On request",
}
REPORT_KINDS = ("report", "record")
WEEKEND_RULES = ("next_working_day_noon",)
NOON = dt.time(12, 0)

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


class RegimeFileError(ValueError):
    """The regimes file is not valid; the message names the entry."""


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration split into calendar parts (local) and elapsed parts (exact)."""

    text: str
    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _DURATION.match(str(text or ""))
        if not match:
            raise ValueError(f"{text!r} is not an ISO 8601 duration (e.g. PT72H, P15D, P1M)")
        parts = {k: int(v) for k, v in match.groupdict().items() if v}
        days = parts.pop("days", 0) + 7 * parts.pop("weeks", 0)
        if not any(parts.values()) and not days:
            raise ValueError(f"{text!r} is a zero duration")
        return cls(text=text, days=days, **parts)

    @property
    def elapsed(self) -> dt.timedelta:
        return dt.timedelta(hours=self.hours, minutes=self.minutes, seconds=self.seconds)

    @property
    def has_calendar_part(self) -> bool:
        return bool(self.years or self.months or self.days)

    def label(self) -> str:
        """e.g. "72 hours", "15 days", "1 month", "24 months"."""
        pieces = []
        for amount, unit in (
            (self.years, "year"),
            (self.months, "month"),
            (self.days, "day"),
            (self.hours, "hour"),
            (self.minutes, "minute"),
            (self.seconds, "second"),
        ):
            if amount:
                pieces.append(f"{amount} {unit}{'s' if amount != 1 else ''}")
        return " ".join(pieces)


@dataclass(frozen=True)
class Deadline:
    kind: str  # "duration" or one of SOFT_DEADLINES
    duration: Duration | None = None

    @property
    def is_hard(self) -> bool:
        return self.kind == "duration"

    def label(self) -> str:
        return self.duration.label() if self.duration else SOFT_DEADLINES[self.kind]


@dataclass(frozen=True)
class Cap:
    """ "but no later than <deadline> after <t0>" (DORA: 4 h from classification, at most 24 h from awareness)."""

    t0: str
    deadline: Duration


@dataclass(frozen=True)
class Report:
    regime_id: str
    id: str
    name: str
    recipient: str
    kind: str
    t0: str
    deadline: Deadline
    source: str
    group: str = ""
    when: tuple[str, ...] = ()
    conditions: str = ""
    notes: str = ""
    cap: Cap | None = None
    weekend_rule: str = ""
    weekend_rule_listed_entities: bool = False
    repeatable: bool = False
    retention: Duration | None = None
    verify: bool = False

    @property
    def key(self) -> str:
        return f"{self.regime_id}:{self.id}"

    @property
    def t0_report(self) -> str:
        """The report (or group) whose submission starts this clock, or ""."""
        return self.t0.removeprefix("report:") if self.t0.startswith("report:") else ""

    def t0_label(self, regime: Regime | None = None) -> str:
        if self.t0_report:
            names = [r.name for r in (regime.reports if regime else ()) if self.t0_report in (r.id, r.group)]
            return f"Submission of the {(names[0] if names else self.t0_report).lower()}"
        return T0_EVENTS[self.t0]


@dataclass(frozen=True)
class Regime:
    id: str
    name: str
    short_name: str
    act: str
    source_url: str
    applies_to: str
    trigger: str
    reports: tuple[Report, ...]
    frameworks: tuple[str, ...] = ()
    notes: str = ""
    verify: bool = False

    def report(self, report_id: str) -> Report:
        for report in self.reports:
            if report.id == report_id:
                return report
        raise KeyError(report_id)

    def applicable_reports(self, flags) -> list[Report]:
        """The reports an incident with these flags owes: each `when` satisfied, and of each group only the
        one with the shortest deadline (AI Act: death 10 days, critical infrastructure 2 days, otherwise 15)."""
        flags = set(flags or ())
        chosen: list[Report] = []
        groups: dict[str, Report] = {}
        for report in self.reports:
            if not set(report.when) <= flags:
                continue
            if not report.group:
                chosen.append(report)
                continue
            best = groups.get(report.group)
            if best is None or _shorter(report, best):
                groups[report.group] = report
        picked = {r.key for r in chosen} | {r.key for r in groups.values()}
        return [r for r in self.reports if r.key in picked]


@dataclass(frozen=True)
class Flag:
    id: str
    label: str
    help: str = ""


@dataclass(frozen=True)
class RegimeBook:
    version: int
    updated: str
    flags: tuple[Flag, ...]
    regimes: tuple[Regime, ...]
    path: str = ""
    by_id: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        self.by_id.update({regime.id: regime for regime in self.regimes})

    def get(self, regime_id: str) -> Regime | None:
        return self.by_id.get(regime_id)

    def flag_labels(self) -> dict[str, str]:
        return {f.id: f.label for f in self.flags}


def _shorter(a: Report, b: Report) -> bool:
    """Compare two alternatives by their deadline measured from the same instant (2 days < 10 days < 15 days)."""
    ref = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return _add(ref, a.deadline.duration, dt.UTC) < _add(ref, b.deadline.duration, dt.UTC)


# --- loading and validation ---------------------------------------------------------------------------------


def _text(entry: dict, key: str, where: str, *, required: bool = True) -> str:
    value = entry.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str | int | float):
        raise RegimeFileError(f"{where}.{key}: must be text")
    value = str(value).strip()
    if required and not value:
        raise RegimeFileError(f"{where}.{key}: required")
    return value


def _bool(entry: dict, key: str, where: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise RegimeFileError(f"{where}.{key}: must be true or false")
    return value


def _identifier(entry: dict, where: str) -> str:
    ident = _text(entry, "id", where)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", ident):
        raise RegimeFileError(f"{where}.id: {ident!r} must be lower-case letters, digits, - _ or .")
    return ident


def _duration(value, where: str) -> Duration:
    try:
        return Duration.parse(value)
    except ValueError as exc:
        raise RegimeFileError(f"{where}: {exc}") from None


def _deadline(value, where: str) -> Deadline:
    if value in SOFT_DEADLINES:
        return Deadline(kind=value)
    if not isinstance(value, str) or not value.startswith("P"):
        raise RegimeFileError(f"{where}: {value!r} must be an ISO 8601 duration or one of {', '.join(SOFT_DEADLINES)}")
    return Deadline(kind="duration", duration=_duration(value, where))


def _report(entry, regime_id: str, where: str, flag_ids: set[str], earlier: set[str]) -> Report:
    if not isinstance(entry, dict):
        raise RegimeFileError(f"{where}: must be a mapping")
    ident = _identifier(entry, where)
    kind = _text(entry, "kind", where, required=False) or "report"
    if kind not in REPORT_KINDS:
        raise RegimeFileError(f"{where}.kind: {kind!r} must be one of {', '.join(REPORT_KINDS)}")
    t0 = _text(entry, "t0", where)
    if t0.startswith("report:"):
        if t0.removeprefix("report:") not in earlier:
            raise RegimeFileError(f"{where}.t0: {t0!r} must name an earlier report or group of this regime")
    elif t0 not in T0_EVENTS:
        raise RegimeFileError(f"{where}.t0: {t0!r} must be one of {', '.join(T0_EVENTS)} or report:<id>")
    deadline = _deadline(entry.get("deadline"), f"{where}.deadline")
    if (t0 == "on_request") != (deadline.kind == "on_request"):
        raise RegimeFileError(f"{where}: t0 on_request and deadline on_request go together")
    when = entry.get("when") or []
    if not isinstance(when, list) or not all(isinstance(w, str) for w in when):
        raise RegimeFileError(f"{where}.when: must be a list of flag ids")
    unknown = [w for w in when if w not in flag_ids]
    if unknown:
        raise RegimeFileError(f"{where}.when: unknown flag {unknown[0]!r} (declare it under flags)")
    group = _text(entry, "group", where, required=False)
    if group and not deadline.is_hard:
        raise RegimeFileError(f"{where}.group: alternatives need a duration deadline to compare")
    cap = None
    if entry.get("cap") is not None:
        raw = entry["cap"]
        if not isinstance(raw, dict):
            raise RegimeFileError(f"{where}.cap: must be a mapping with t0 and deadline")
        cap_t0 = _text(raw, "t0", f"{where}.cap")
        if cap_t0 not in T0_EVENTS or cap_t0 == "on_request":
            raise RegimeFileError(f"{where}.cap.t0: {cap_t0!r} must be an incident event")
        cap = Cap(t0=cap_t0, deadline=_duration(raw.get("deadline"), f"{where}.cap.deadline"))
        if not deadline.is_hard:
            raise RegimeFileError(f"{where}.cap: only a duration deadline can be capped")
    weekend_rule = _text(entry, "weekend_rule", where, required=False)
    if weekend_rule and weekend_rule not in WEEKEND_RULES:
        raise RegimeFileError(f"{where}.weekend_rule: {weekend_rule!r} must be one of {', '.join(WEEKEND_RULES)}")
    retention = None
    if entry.get("retention") is not None:
        if kind != "record":
            raise RegimeFileError(f"{where}.retention: only records have a retention period")
        retention = _duration(entry["retention"], f"{where}.retention")
    return Report(
        regime_id=regime_id,
        id=ident,
        name=_text(entry, "name", where),
        recipient=_text(entry, "recipient", where),
        kind=kind,
        t0=t0,
        deadline=deadline,
        source=_text(entry, "source", where),
        group=group,
        when=tuple(when),
        conditions=_text(entry, "conditions", where, required=False),
        notes=_text(entry, "notes", where, required=False),
        cap=cap,
        weekend_rule=weekend_rule,
        weekend_rule_listed_entities=_bool(entry, "weekend_rule_listed_entities", where),
        repeatable=_bool(entry, "repeatable", where),
        retention=retention,
        verify=_bool(entry, "verify", where),
    )


def _regime(entry, where: str, flag_ids: set[str]) -> Regime:
    if not isinstance(entry, dict):
        raise RegimeFileError(f"{where}: must be a mapping")
    ident = _identifier(entry, where)
    raw_reports = entry.get("reports")
    if not isinstance(raw_reports, list) or not raw_reports:
        raise RegimeFileError(f"{where}.reports: at least one report")
    reports: list[Report] = []
    seen: set[str] = set()
    groups: set[str] = set()
    for index, raw in enumerate(raw_reports):
        report = _report(raw, ident, f"{where}.reports[{index}]", flag_ids, seen | groups)
        if report.id in seen:
            raise RegimeFileError(f"{where}.reports[{index}].id: {report.id!r} is used twice")
        if report.id in groups and report.group != report.id:
            raise RegimeFileError(f"{where}.reports[{index}].id: {report.id!r} is already a group id")
        seen.add(report.id)
        if report.group:
            groups.add(report.group)
        reports.append(report)
    frameworks = entry.get("frameworks") or []
    if not isinstance(frameworks, list) or not all(isinstance(f, str) for f in frameworks):
        raise RegimeFileError(f"{where}.frameworks: must be a list of framework refs")
    url = _text(entry, "source_url", where)
    if not url.startswith("https://"):
        raise RegimeFileError(f"{where}.source_url: must be an https:// address")
    return Regime(
        id=ident,
        name=_text(entry, "name", where),
        short_name=_text(entry, "short_name", where),
        act=_text(entry, "act", where),
        source_url=url,
        applies_to=_text(entry, "applies_to", where),
        trigger=_text(entry, "trigger", where),
        reports=tuple(reports),
        frameworks=tuple(frameworks),
        notes=_text(entry, "notes", where, required=False),
        verify=_bool(entry, "verify", where),
    )


def parse_regimes(data, *, path: str = "") -> RegimeBook:
    """Validate the parsed YAML of a regimes file; RegimeFileError names the first bad entry."""
    if not isinstance(data, dict):
        raise RegimeFileError("the file must be a mapping with format, version, flags and regimes")
    if data.get("format") != FORMAT:
        raise RegimeFileError(f"format: expected {FORMAT!r}, found {data.get('format')!r}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RegimeFileError("version: must be a whole number from 1")
    flags: list[Flag] = []
    for index, raw in enumerate(data.get("flags") or []):
        where = f"flags[{index}]"
        if not isinstance(raw, dict):
            raise RegimeFileError(f"{where}: must be a mapping")
        flag = Flag(
            id=_identifier(raw, where), label=_text(raw, "label", where), help=_text(raw, "help", where, required=False)
        )
        if flag.id in {f.id for f in flags}:
            raise RegimeFileError(f"{where}.id: {flag.id!r} is used twice")
        flags.append(flag)
    raw_regimes = data.get("regimes")
    if not isinstance(raw_regimes, list) or not raw_regimes:
        raise RegimeFileError("regimes: at least one regime")
    flag_ids = {f.id for f in flags}
    regimes: list[Regime] = []
    for index, raw in enumerate(raw_regimes):
        regime = _regime(raw, f"regimes[{index}]", flag_ids)
        if regime.id in {r.id for r in regimes}:
            raise RegimeFileError(f"regimes[{index}].id: {regime.id!r} is used twice")
        regimes.append(regime)
    return RegimeBook(
        version=version, updated=str(data.get("updated") or ""), flags=tuple(flags), regimes=tuple(regimes), path=path
    )


def load_regimes_file(path: Path | str) -> RegimeBook:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RegimeFileError(f"{path.name}: not valid YAML ({exc})") from None
    return parse_regimes(data, path=str(path))


@lru_cache(maxsize=1)
def load_regimes() -> RegimeBook:
    """The shipped regimes file, read and validated once per process."""
    return load_regimes_file(DEFAULT_PATH)


def regime_choices() -> list[tuple[str, str]]:
    return [(regime.id, regime.name) for regime in load_regimes().regimes]


# --- deadline arithmetic ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """When a report is due. `due_at` is None for soft deadlines (as soon as feasible, without undue delay, on
    request); `base_due_at` is the due time before a weekend/holiday rule moved it (equal when nothing moved)."""

    kind: str  # "duration" or a SOFT_DEADLINES key
    due_at: dt.datetime | None = None
    base_due_at: dt.datetime | None = None
    capped: bool = False  # the "no later than" limit decided it
    shifted: bool = False  # moved by the weekend/holiday rule
    keep_until: dt.datetime | None = None  # records: the end of the retention period

    @property
    def is_hard(self) -> bool:
        return self.due_at is not None


def _wall_clock(local: dt.datetime, tz) -> dt.datetime:
    """A naive local wall-clock time placed in `tz`. A time that does not exist (spring forward) or exists twice
    (fall back) resolves to the earlier instant: a deadline must never come out later than the law's."""
    candidates = [local.replace(tzinfo=tz, fold=0), local.replace(tzinfo=tz, fold=1)]
    return min(candidates, key=lambda moment: moment.astimezone(dt.UTC))


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return day.replace(year=year, month=month, day=min(day.day, last))


def _add(t0: dt.datetime, duration: Duration, tz) -> dt.datetime:
    """t0 + duration: calendar parts on the local wall clock, then the elapsed parts as exact time."""
    moment = t0
    if duration.has_calendar_part:
        local = t0.astimezone(tz).replace(tzinfo=None)
        day = _add_months(local.date(), 12 * duration.years + duration.months) + dt.timedelta(days=duration.days)
        moment = _wall_clock(dt.datetime.combine(day, local.time()), tz)
    return (moment.astimezone(dt.UTC) + duration.elapsed).astimezone(dt.UTC)


def is_working_day(day: dt.date, holidays=frozenset()) -> bool:
    return day.weekday() < 5 and day not in holidays


def next_working_day_noon(moment: dt.datetime, tz, holidays=frozenset()) -> dt.datetime | None:
    """12:00 local of the next working day when `moment` falls on a weekend day or a holiday; None otherwise."""
    day = moment.astimezone(tz).date()
    if is_working_day(day, holidays):
        return None
    for _ in range(60):  # a run of holidays longer than this is a data error, not a calendar
        day += dt.timedelta(days=1)
        if is_working_day(day, holidays):
            return _wall_clock(dt.datetime.combine(day, NOON), tz).astimezone(dt.UTC)
    return None


def _zone(tz) -> dt.tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def compute_due(
    report: Report,
    t0: dt.datetime | None,
    tz,
    *,
    cap_t0: dt.datetime | None = None,
    holidays=frozenset(),
    weekend_relief: bool = True,
) -> Due:
    """When `report` is due if its clock started at `t0` (aware datetime), for a client in time zone `tz`.

    cap_t0: the moment the report's "no later than" limit counts from (DORA: awareness). The limit applies when
    the clock started before the limit ran out; a clock started later (an incident classified as major after
    24 hours) counts from its own start. holidays: local dates that are not working days (bank holidays of the
    Member State). weekend_relief: False where the rule is withdrawn for this entity (DORA RTS Art 5(5)-(6)).
    """
    tz = _zone(tz)
    if t0 is None:
        return Due(kind=report.deadline.kind)
    if t0.tzinfo is None:
        raise ValueError("t0 must be an aware datetime")
    keep_until = _add(t0, report.retention, tz) if report.retention else None
    if not report.deadline.is_hard:
        return Due(kind=report.deadline.kind, keep_until=keep_until)
    due = _add(t0, report.deadline.duration, tz)
    capped = False
    if report.cap is not None and cap_t0 is not None:
        limit = _add(cap_t0, report.cap.deadline, tz)
        if t0 < limit and limit < due:
            due, capped = limit, True
    base = due
    shifted = False
    if report.weekend_rule == "next_working_day_noon" and weekend_relief:
        moved = next_working_day_noon(due, tz, frozenset(holidays))
        if moved is not None and moved > due:
            due, shifted = moved, True
    return Due(kind="duration", due_at=due, base_due_at=base, capped=capped, shifted=shifted, keep_until=keep_until)
