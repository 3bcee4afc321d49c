"""OpenSLO v1 export and import of SLOs (pure: plain dicts to YAML text and back, no database).

A Keel SLO becomes one `kind: SLO` document that any OpenSLO tool accepts. What OpenSLO has no field for (the
SLI kind, asset, business calendar, severities, credit tiers, …) travels in `metadata.annotations` under
`keel.dev/`, so an export imported again gives back the same SLO. An annotation only carries what the OpenSLO
fields cannot, so a document edited by hand never has two sources of truth — except the start instant, which
`calendar.startTime` holds only to the second in local time: `keel.dev/starts-at` keeps it exactly and the two
must agree.

Third-party documents import too: the SLI kind then comes from the `sli-kind` label and the Keel extras take
the model's defaults. Numbers are read as `Decimal` from the YAML text itself (never through float), so an
objective of 0.9995 stays exactly 0.9995.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from apps.service_levels.budget import validate_credit_tiers
from apps.service_levels.models import SLO, SliKind

API_VERSION = "openslo/v1"
PREFIX = "keel.dev/"
MAX_DOCUMENTS = 200
MAX_BYTES = 1024 * 1024
NAME_MAX = 63
DISPLAY_NAME_MAX = SLO._meta.get_field("display_name").max_length
DESCRIPTION_MAX = 1050
CALENDAR_NAME_MAX = 120
SEVERITY_MAX = 10
MIN_EVENTS_MAX = 2_147_483_647  # PositiveIntegerField
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
WINDOW_RE = re.compile(r"^([1-9][0-9]{0,5})([mhdwMQY])$")
SLICE_RE = re.compile(r"^([1-9][0-9]{0,4})([mh])$")
START_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # OpenSLO: "date with time in 24h format, without time zone"

# Field names of the SLO model that travel, in the order the dicts list them.
FIELDS = (
    "name",
    "display_name",
    "description",
    "sli_kind",
    "objective",
    "threshold",
    "window_kind",
    "window_days",
    "budgeting",
    "timeslice_minutes",
    "timeslice_target",
    "keel_source",
    "calendar",
    "incident_severities",
    "credit_tiers",
    "min_events",
    "asset",
    "starts_at",
)
# Kinds whose threshold OpenSLO can hold as the objective's op + value; the others use keel.dev/threshold.
THRESHOLD_OPS = {SliKind.LATENCY.value: "lte", SliKind.QUALITY.value: "gte"}
THRESHOLD_MEANING = {
    SliKind.LATENCY.value: "milliseconds an event may take",
    SliKind.QUALITY.value: "lowest passing score",
}
BUDGETING = {"Occurrences": SLO.Budgeting.OCCURRENCES.value, "Timeslices": SLO.Budgeting.TIMESLICES.value}
BUDGETING_NAMES = {value: key for key, value in BUDGETING.items()}
RATIO_PLACES = 8  # SLO.objective and timeslice_target: decimal_places=8
THRESHOLD_PLACES = 4  # SLO.threshold: max_digits=14, decimal_places=4
THRESHOLD_LIMIT = Decimal(10) ** (14 - THRESHOLD_PLACES)
OBJECTIVE_MIN = Decimal("0.0001")  # the model's MinValueValidator


def _default(field: str) -> Any:
    return SLO._meta.get_field(field).default


class OpenSloError(ValueError):
    """Why a file cannot be imported: one message per problem, "document N (name): problem"."""

    def __init__(self, messages: list[str]):
        self.messages = list(messages)
        super().__init__("; ".join(self.messages))


# --- YAML dialect ------------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):  # no &anchors: plain documents other tools read without surprises
        return True


def _plain(value: Decimal) -> str:
    """Fixed-point text without exponent or trailing zeros: Decimal("0.99900000") → "0.999", 300.0000 → "300"."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a finite number")
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = _plain(value)
    return dumper.represent_scalar("tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int", text)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line descriptions as literal blocks; PyYAML falls back to quotes when a block cannot hold the text.
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_representer(str, _represent_str)


class _Loader(yaml.SafeLoader):
    """Safe loader that reads floats as Decimal from their text and leaves timestamps as text.

    Pure Python on purpose: libyaml's composer recurses in C and crashes the process on deeply nested input
    ("[[[[…"), where this one raises RecursionError."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = loader.construct_scalar(node).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:  # .inf, .nan, sexagesimal 1:30.5: YAML's own reading, validated later
        return Decimal(repr(yaml.SafeLoader.construct_yaml_float(loader, node)))


def _construct_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_text)


def _zone(name: Any) -> zoneinfo.ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _datetime(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None


# --- Export ------------------------------------------------------------------------------------------------


def export_documents(slos: list[dict], *, service: str, time_zone: str) -> str:
    """SLOs (dicts with the SLO model's field names) as a multi-document OpenSLO v1 YAML string.

    `service` becomes spec.service; `time_zone` (the client's IANA zone) is the calendar windows' timeZone.
    Raises ValueError on an SLO Keel itself could not have stored (unknown kind, window, budgeting)."""
    if not isinstance(service, str) or not service.strip():
        raise ValueError("service is required (spec.service of every document)")
    tz = _zone(time_zone)
    if tz is None:
        raise ValueError(f"unknown time zone {time_zone!r}")
    documents = [_document(slo, service=service, tz=tz, time_zone=time_zone) for slo in slos]
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, allow_unicode=True, explicit_start=True, width=120)


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _slice_window(minutes: int) -> str:
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _document(slo: dict, *, service: str, tz: zoneinfo.ZoneInfo, time_zone: str) -> dict:
    name = slo["name"]
    kind = str(slo["sli_kind"])
    if kind not in SliKind.values:
        raise ValueError(f"SLO {name}: unknown SLI kind {kind!r}")
    window_kind, budgeting = str(slo["window_kind"]), str(slo["budgeting"])
    if window_kind not in SLO.WindowKind.values:
        raise ValueError(f"SLO {name}: unknown window kind {window_kind!r}")
    if budgeting not in BUDGETING_NAMES:
        raise ValueError(f"SLO {name}: unknown budgeting {budgeting!r}")
    severities = [str(severity) for severity in slo.get("incident_severities") or []]
    if any("," in severity for severity in severities):
        raise ValueError(f"SLO {name}: a severity cannot contain a comma")
    threshold = slo.get("threshold")
    threshold = None if threshold is None else _decimal(threshold)
    starts_at: dt.datetime | None = slo.get("starts_at")
    calendar_window = window_kind == SLO.WindowKind.CALENDAR_MONTH
    if calendar_window and starts_at is None:
        raise ValueError(f"SLO {name}: a calendar window needs starts_at (calendar.startTime)")
    occurrences = budgeting == SLO.Budgeting.OCCURRENCES

    annotations = {PREFIX + "sli-kind": kind}
    if kind not in THRESHOLD_OPS:
        annotations[PREFIX + "threshold"] = "" if threshold is None else _plain(threshold)
    annotations[PREFIX + "asset"] = str(slo.get("asset") or "")
    annotations[PREFIX + "keel-source"] = str(slo.get("keel_source") or "")
    annotations[PREFIX + "calendar"] = str(slo.get("calendar") or "")
    annotations[PREFIX + "incident-severities"] = ",".join(severities)
    annotations[PREFIX + "credit-tiers"] = json.dumps(
        slo.get("credit_tiers") or [], sort_keys=True, separators=(",", ":"), default=str
    )
    annotations[PREFIX + "min-events"] = str(slo.get("min_events", _default("min_events")))
    annotations[PREFIX + "starts-at"] = starts_at.isoformat() if starts_at else ""
    # Values OpenSLO has no home for in this window or budgeting mode (they matter again if the SLO is switched).
    if calendar_window:
        annotations[PREFIX + "window-days"] = str(slo["window_days"])
    if occurrences:
        annotations[PREFIX + "timeslice-minutes"] = str(slo["timeslice_minutes"])
        annotations[PREFIX + "timeslice-target"] = _plain(_decimal(slo["timeslice_target"]))

    metadata = {"name": name, "displayName": slo.get("display_name") or name, "annotations": annotations}
    metric = {"type": "keel", "spec": {"sli": kind}}
    spec: dict[str, Any] = {}
    if slo.get("description"):
        spec["description"] = slo["description"]
    spec["service"] = service
    spec["indicator"] = {
        "metadata": {"name": f"{name[: NAME_MAX - 4]}-sli"},
        "spec": {
            "ratioMetric": {"counter": False, "good": {"metricSource": metric}, "total": {"metricSource": dict(metric)}}
        },
    }
    if calendar_window:
        local = starts_at.astimezone(tz)
        window = {
            "duration": "1M",
            "isRolling": False,
            "calendar": {"startTime": local.strftime(START_TIME_FORMAT), "timeZone": time_zone},
        }
    else:
        window = {"duration": f"{int(slo['window_days'])}d", "isRolling": True}
    spec["timeWindow"] = [window]
    spec["budgetingMethod"] = BUDGETING_NAMES[budgeting]
    objective: dict[str, Any] = {"displayName": metadata["displayName"]}
    if kind in THRESHOLD_OPS and threshold is not None:
        objective["op"] = THRESHOLD_OPS[kind]
        objective["value"] = threshold
    objective["target"] = _decimal(slo["objective"])
    if not occurrences:
        objective["timeSliceTarget"] = _decimal(slo["timeslice_target"])
        objective["timeSliceWindow"] = _slice_window(int(slo["timeslice_minutes"]))
    spec["objectives"] = [objective]
    return {"apiVersion": API_VERSION, "kind": "SLO", "metadata": metadata, "spec": spec}


# --- Import ------------------------------------------------------------------------------------------------


def parse_documents(text: str) -> list[dict]:
    """The SLOs of an OpenSLO v1 file, as dicts with the SLO model's field names (the inverse of export).

    Documents of other kinds (Service, SLI, AlertPolicy, …) are skipped. Raises OpenSloError listing every
    problem found, so a file is imported whole or not at all."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise OpenSloError([f"file: larger than {MAX_BYTES // (1024 * 1024)} MB"])
    documents = _load(text)
    slos: list[dict] = []
    problems: list[str] = []
    names: dict[str, int] = {}
    for number, document in enumerate(documents, start=1):
        if document is None:  # an empty document, e.g. a trailing ---
            continue
        if not isinstance(document, dict):
            problems.append(f"document {number}: not a mapping")
            continue
        kind = document.get("kind")
        if kind is None:
            problems.append(f"document {number}: missing kind")
            continue
        if kind != "SLO":
            continue
        reader = _SloReader(document)
        slo = reader.read()
        label = f"document {number} ({reader.name})" if reader.name else f"document {number}"
        if reader.name and reader.name in names:
            reader.problems.append(f"name already used by document {names[reader.name]}")
        elif reader.name:
            names[reader.name] = number
        problems.extend(f"{label}: {problem}" for problem in reader.problems)
        if not reader.problems:
            slos.append(slo)
    if problems:
        raise OpenSloError(problems)
    return slos


def _load(text: str) -> list[Any]:
    documents: list[Any] = []
    loader = _Loader(text)
    try:
        while loader.check_data():
            if len(documents) == MAX_DOCUMENTS:
                raise OpenSloError([f"file: more than {MAX_DOCUMENTS} documents"])
            documents.append(loader.get_data())
    except yaml.YAMLError as exc:
        raise OpenSloError([f"document {len(documents) + 1}: not YAML ({_yaml_problem(exc)})"]) from None
    except RecursionError:
        raise OpenSloError([f"document {len(documents) + 1}: not YAML (nested too deeply)"]) from None
    finally:
        loader.dispose()
    return documents


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem


class _SloReader:
    """Reads one `kind: SLO` document, collecting every problem rather than stopping at the first."""

    def __init__(self, document: dict):
        self.document = document
        self.problems: list[str] = []
        self.name: str | None = None
        self.annotations: dict[str, str] = {}

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def read(self) -> dict:
        document = self.document
        api_version = document.get("apiVersion")
        if api_version is None:
            self.fail("missing apiVersion")
        elif api_version != API_VERSION:
            self.fail(f"apiVersion must be {API_VERSION}, not {api_version!r}")
        metadata = self.mapping(document, "metadata", "metadata", required=True)
        spec = self.mapping(document, "spec", "spec", required=True)
        self.annotations = self.read_annotations(metadata)

        slo: dict[str, Any] = dict.fromkeys(FIELDS)
        slo["name"] = self.read_name(metadata)
        display_name = metadata.get("displayName")
        if display_name is not None and not isinstance(display_name, str):
            self.fail("metadata.displayName must be a string")
        elif display_name and len(display_name) > DISPLAY_NAME_MAX:
            self.fail(f"metadata.displayName is longer than {DISPLAY_NAME_MAX} characters")
        slo["display_name"] = display_name or self.name
        description = spec.get("description")
        if description is not None and not isinstance(description, str):
            self.fail("spec.description must be a string")
        elif description and len(description) > DESCRIPTION_MAX:
            self.fail(f"spec.description is longer than {DESCRIPTION_MAX} characters ({len(description)})")
        slo["description"] = description if isinstance(description, str) else ""
        service = spec.get("service")
        if not isinstance(service, str) or not service.strip():
            self.fail("missing spec.service")
        self.read_indicator(spec)
        slo["sli_kind"] = kind = self.read_kind(metadata)

        slo["window_kind"], slo["window_days"], calendar_start, calendar_tz = self.read_window(spec)
        objective = self.read_objective(spec)
        budgeting = self.read_budgeting(spec)
        slo["budgeting"] = budgeting
        slo["objective"] = self.read_target(objective)
        slo["threshold"] = self.read_threshold(kind, objective)
        if budgeting == SLO.Budgeting.TIMESLICES:
            slo["timeslice_target"] = self.slice_target(
                objective.get("timeSliceTarget"), "objectives[0].timeSliceTarget"
            )
            slo["timeslice_minutes"] = self.slice_minutes(objective.get("timeSliceWindow"))
        else:
            target = self.annotations.get("timeslice-target", "")
            slo["timeslice_target"] = (
                self.slice_target(target, f"{PREFIX}timeslice-target") if target else _default("timeslice_target")
            )
            slo["timeslice_minutes"] = self.integer("timeslice-minutes", _default("timeslice_minutes"), 1, 1440)

        keel_source = self.annotations.get("keel-source", "")
        if keel_source not in SLO.KeelSource.values:
            self.fail(
                f"unknown {PREFIX}keel-source {keel_source!r}; Keel knows "
                + ", ".join(value for value in SLO.KeelSource.values if value)
            )
        slo["keel_source"] = keel_source
        calendar = self.annotations.get("calendar", "")
        if len(calendar) > CALENDAR_NAME_MAX:
            self.fail(f"{PREFIX}calendar is longer than {CALENDAR_NAME_MAX} characters")
        slo["calendar"] = calendar or None
        severities = [
            part.strip() for part in self.annotations.get("incident-severities", "").split(",") if part.strip()
        ]
        for severity in severities:
            if len(severity) > SEVERITY_MAX:
                self.fail(f"incident severity {severity!r} is longer than {SEVERITY_MAX} characters")
        slo["incident_severities"] = severities
        slo["credit_tiers"] = self.read_credit_tiers()
        slo["min_events"] = self.integer("min-events", _default("min_events"), 0, MIN_EVENTS_MAX)
        slo["asset"] = self.annotations.get("asset", "") or None
        slo["starts_at"] = self.read_starts_at(calendar_start, calendar_tz)
        return slo

    # Structure

    def mapping(self, parent: dict, key: str, label: str, *, required: bool = False) -> dict:
        value = parent.get(key)
        if value is None:
            if required:
                self.fail(f"missing {label}")
            return {}
        if not isinstance(value, dict):
            self.fail(f"{label} must be a mapping")
            return {}
        return value

    def read_annotations(self, metadata: dict) -> dict[str, str]:
        annotations = self.mapping(metadata, "annotations", "metadata.annotations")
        keel: dict[str, str] = {}
        for key, value in annotations.items():
            if not isinstance(key, str) or not key.startswith(PREFIX):
                continue
            if value is None:
                value = ""
            elif isinstance(value, Decimal):
                value = _plain(value) if value.is_finite() else str(value)
            elif isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            elif not isinstance(value, str):
                self.fail(f"annotation {key} must be a string")
                continue
            keel[key[len(PREFIX) :]] = value.strip()
        return keel

    def read_name(self, metadata: dict) -> str | None:
        name = metadata.get("name")
        if name is None:
            self.fail("missing metadata.name")
            return None
        if not isinstance(name, str):
            self.fail("metadata.name must be a string")
            return None
        self.name = name[:80]  # for messages; a longer name is refused just below
        if len(name) > NAME_MAX:
            self.fail(f"metadata.name is longer than {NAME_MAX} characters")
        elif not NAME_RE.match(name):
            self.fail(
                "metadata.name must be an RFC 1123 label: lower-case letters, digits and hyphens, "
                "starting and ending with a letter or digit"
            )
        return name

    def read_indicator(self, spec: dict) -> None:
        # Any indicator shape is accepted: Keel measures the SLI itself, the kind says what it measures.
        has_inline, has_ref = spec.get("indicator") is not None, spec.get("indicatorRef") is not None
        if has_inline and has_ref:
            self.fail("give spec.indicator or spec.indicatorRef, not both")
        elif not has_inline and not has_ref:
            self.fail("missing spec.indicator or spec.indicatorRef")
        elif has_inline and not isinstance(spec["indicator"], dict):
            self.fail("spec.indicator must be a mapping")
        elif has_ref and not isinstance(spec["indicatorRef"], str):
            self.fail("spec.indicatorRef must be the name of an SLI")

    def read_kind(self, metadata: dict) -> str | None:
        kind = self.annotations.get("sli-kind") or None
        if kind is None:
            labels = metadata.get("labels")
            label = labels.get("sli-kind") if isinstance(labels, dict) else None
            if isinstance(label, list) and len(label) == 1:  # OpenSLO labels may be lists of strings
                label = label[0]
            kind = label if isinstance(label, str) and label else None
        if kind is None:
            self.fail(
                f"no SLI kind: set the annotation {PREFIX}sli-kind or the label sli-kind "
                f"(one of {', '.join(SliKind.values)})"
            )
            return None
        if kind not in SliKind.values:
            self.fail(f"unknown SLI kind {kind!r}; Keel knows {', '.join(SliKind.values)}")
            return None
        return kind

    # Window

    def read_window(self, spec: dict) -> tuple[str | None, int | None, dt.datetime | None, zoneinfo.ZoneInfo | None]:
        """(window_kind, window_days, calendar start as local time, its zone)."""
        failed = (None, None, None, None)
        windows = spec.get("timeWindow")
        if windows is None:
            self.fail("missing spec.timeWindow")
            return failed
        if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], dict):
            self.fail("spec.timeWindow must be a list of exactly one window")
            return failed
        window = windows[0]
        duration = window.get("duration")
        if duration is None:
            self.fail("missing timeWindow[0].duration")
            return failed
        match = WINDOW_RE.match(duration) if isinstance(duration, str) else None
        if not match:
            self.fail(f"timeWindow duration {duration!r} is not a duration such as 28d, 4w or 1M")
            return failed
        count, unit = int(match[1]), match[2]
        rolling = window.get("isRolling")
        if rolling is None:  # OpenSLO: assumed false when a calendar is given
            rolling = "calendar" not in window
        if not isinstance(rolling, bool):
            self.fail("timeWindow[0].isRolling must be true or false")
            return failed
        if rolling:
            if unit in "MQY":
                self.fail(
                    f"rolling windows of months, quarters or years ({duration}) are not supported: "
                    "use days or weeks, e.g. 28d or 4w"
                )
                return failed
            if unit in "mh":
                self.fail(f"rolling windows are whole days ({duration}): use days or weeks, e.g. 28d or 4w")
                return failed
            days = count * 7 if unit == "w" else count
            if not 1 <= days <= 366:
                self.fail(f"rolling windows are 1 to 366 days long ({duration} is {days} days)")
                return failed
            return SLO.WindowKind.ROLLING.value, days, None, None
        if duration != "1M":
            self.fail(f"calendar windows must be one month (duration 1M), not {duration}")
            return failed
        window_days = self.integer("window-days", _default("window_days"), 1, 366)
        calendar = self.mapping(window, "calendar", "timeWindow[0].calendar")
        start, tz = self.read_calendar(calendar) if calendar else (None, None)
        return SLO.WindowKind.CALENDAR_MONTH.value, window_days, start, tz

    def read_calendar(self, calendar: dict) -> tuple[dt.datetime | None, zoneinfo.ZoneInfo | None]:
        start_text, zone_name = calendar.get("startTime"), calendar.get("timeZone")
        if start_text is None or zone_name is None:
            self.fail("timeWindow[0].calendar needs startTime and timeZone")
            return None, None
        tz = _zone(zone_name)
        if tz is None:
            self.fail(f"unknown time zone {zone_name!r} in timeWindow[0].calendar.timeZone")
        start = _datetime(start_text)
        if start is None or start.tzinfo is not None:
            self.fail(f"calendar.startTime {start_text!r} must be a local date and time such as 2026-01-01 00:00:00")
            return None, None
        return start, tz

    def read_starts_at(self, calendar_start: dt.datetime | None, tz: zoneinfo.ZoneInfo | None) -> dt.datetime | None:
        text = self.annotations.get("starts-at", "")
        exact = None
        if text:
            exact = _datetime(text)
            if exact is None or exact.tzinfo is None:
                self.fail(f"{PREFIX}starts-at {text!r} must be an ISO 8601 date and time with its UTC offset")
                exact = None
        if calendar_start is None or tz is None:
            return exact
        if exact is not None:
            local = exact.astimezone(tz).replace(tzinfo=None, microsecond=0)
            if local != calendar_start:
                self.fail(
                    f"calendar.startTime {calendar_start:{START_TIME_FORMAT}} disagrees with {PREFIX}starts-at "
                    f"{text} ({local:{START_TIME_FORMAT}} in {tz.key}); correct or remove the annotation"
                )
            return exact
        return calendar_start.replace(tzinfo=tz)

    # Objective

    def read_budgeting(self, spec: dict) -> str | None:
        method = spec.get("budgetingMethod")
        if method is None:
            self.fail("missing spec.budgetingMethod")
            return None
        if method in BUDGETING:
            return BUDGETING[method]
        if method == "RatioTimeslices":
            self.fail("budgetingMethod RatioTimeslices is not supported: Keel supports Occurrences and Timeslices")
        else:
            self.fail(f"unknown budgetingMethod {method!r}: Keel supports Occurrences and Timeslices")
        return None

    def read_objective(self, spec: dict) -> dict:
        objectives = spec.get("objectives")
        if objectives is None:
            self.fail("missing spec.objectives")
            return {}
        if not isinstance(objectives, list) or not objectives:
            self.fail("spec.objectives must be a list with one objective")
            return {}
        if len(objectives) > 1:
            self.fail(f"Keel supports exactly one objective per SLO; this one has {len(objectives)}")
            return {}
        if not isinstance(objectives[0], dict):
            self.fail("objectives[0] must be a mapping")
            return {}
        return objectives[0]

    def number(self, value: Any, label: str) -> Decimal | None:
        if isinstance(value, bool):
            number = None
        elif isinstance(value, Decimal):
            number = value
        elif isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, str):
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                number = None
        else:
            number = None
        if number is None or not number.is_finite():
            self.fail(f"{label} must be a number, not {value!r}")
            return None
        return number

    def places(self, number: Decimal, label: str, places: int) -> bool:
        if number.normalize().as_tuple().exponent < -places:
            self.fail(f"{label} has more than {places} decimal places ({_plain(number)})")
            return False
        return True

    def read_target(self, objective: dict) -> Decimal | None:
        if not objective:
            return None
        target, percent = objective.get("target"), objective.get("targetPercent")
        if target is not None and percent is not None:
            self.fail("objectives[0] has both target and targetPercent: give one")
            return None
        if target is None and percent is None:
            self.fail("missing objectives[0].target (or targetPercent)")
            return None
        if target is not None:
            value = self.number(target, "objectives[0].target")
            if value is not None and not 0 < value < 1:
                self.fail(f"objective must be greater than 0 and less than 1 (target {_plain(value)})")
                return None
        else:
            percent_value = self.number(percent, "objectives[0].targetPercent")
            if percent_value is not None and not 0 < percent_value < 100:
                self.fail(
                    f"objective must be greater than 0 and less than 1 (targetPercent {_plain(percent_value)} "
                    "is not between 0 and 100)"
                )
                return None
            value = None if percent_value is None else percent_value.scaleb(-2)
        if value is None or not self.places(value, "objective", RATIO_PLACES):
            return None
        if value < OBJECTIVE_MIN:
            self.fail(f"objective must be at least {OBJECTIVE_MIN} ({_plain(value)})")
            return None
        return value

    def read_threshold(self, kind: str | None, objective: dict) -> Decimal | None:
        if kind is None:
            return None
        if kind in THRESHOLD_OPS:
            op, value = objective.get("op"), objective.get("value")
            if op is None and value is None:
                return None
            expected = THRESHOLD_OPS[kind]
            if op != expected:
                self.fail(
                    f"a {kind} objective compares with op {expected} (value = {THRESHOLD_MEANING[kind]}), not {op!r}"
                )
                return None
            if value is None:
                self.fail(f"objectives[0].op {op} needs a value ({THRESHOLD_MEANING[kind]})")
                return None
            threshold = self.number(value, "objectives[0].value")
        else:
            text = self.annotations.get("threshold", "")
            if not text:
                return None
            threshold = self.number(text, f"{PREFIX}threshold")
        if threshold is None or not self.places(threshold, "threshold", THRESHOLD_PLACES):
            return None
        if abs(threshold) >= THRESHOLD_LIMIT:
            self.fail(f"threshold {_plain(threshold)} is too large")
            return None
        return threshold

    def slice_target(self, value: Any, label: str) -> Decimal | None:
        if value is None:
            self.fail(f"missing {label} (Timeslices budgeting needs it)")
            return None
        target = self.number(value, label)
        if target is None:
            return None
        if not 0 < target <= 1:
            self.fail(f"{label} must be greater than 0 and at most 1 ({_plain(target)})")
            return None
        return target if self.places(target, label, RATIO_PLACES) else None

    def slice_minutes(self, value: Any) -> int | None:
        if value is None:
            self.fail("missing objectives[0].timeSliceWindow (Timeslices budgeting needs it)")
            return None
        match = SLICE_RE.match(value) if isinstance(value, str) else None
        minutes = None if not match else int(match[1]) * (60 if match[2] == "h" else 1)
        if minutes is None or not 1 <= minutes <= 1440:
            self.fail(
                f"timeSliceWindow must be 1 minute to 24 hours in minutes or hours, e.g. 1m, 5m or 1h ({value!r})"
            )
            return None
        return minutes

    # Keel extras

    def integer(self, key: str, default: int, low: int, high: int) -> int | None:
        text = self.annotations.get(key, "")
        if not text:
            return default
        if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
            self.fail(f"{PREFIX}{key} must be a whole number from {low} to {high}, not {text!r}")
            return None
        return int(text)

    def read_credit_tiers(self) -> list:
        text = self.annotations.get("credit-tiers", "")
        if not text:
            return []
        try:
            # Numbers as their text, as Keel stores them ("99.5"), never through float.
            tiers = json.loads(text, parse_float=str, parse_int=str)
        except ValueError:
            self.fail(f"{PREFIX}credit-tiers is not JSON")
            return []
        for problem in validate_credit_tiers(tiers):
            self.fail(f"{PREFIX}credit-tiers: {problem}")
        return tiers if isinstance(tiers, list) else []
