"""OpenSLO v1 export and import: Keel → Keel round trips lose nothing, plain third-party documents import with
Keel's defaults, other kinds are skipped, and every refusal names its document and says what is wrong."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import zoneinfo
from decimal import Decimal

import pytest
import yaml

from apps.service_levels.openslo import OpenSloError, export_documents, parse_documents

UTC = dt.UTC
TORONTO = zoneinfo.ZoneInfo("America/Toronto")


def slo(**changes) -> dict:
    """A Keel SLO dict as the model holds it (DB-style Decimals with all their places)."""
    base = {
        "name": "chat-availability",
        "display_name": "Chat assistant availability",
        "description": "Non-5xx, non-timeout answers over valid requests.\nMeasured at the gateway.",
        "sli_kind": "availability",
        "objective": Decimal("0.99900000"),
        "threshold": None,
        "window_kind": "calendar_month",
        "window_days": 30,
        "budgeting": "occurrences",
        "timeslice_minutes": 1,
        "timeslice_target": Decimal("0.95000000"),
        "keel_source": "",
        "calendar": None,
        "incident_severities": [],
        "credit_tiers": [],
        "min_events": 1,
        "asset": None,
        "starts_at": dt.datetime(2026, 1, 1, 5, 0, tzinfo=UTC),  # midnight in Toronto
    }
    base.update(changes)
    return base


LATENCY = slo(
    name="chat-latency",
    display_name="Chat time to first token",
    description="",
    sli_kind="latency",
    objective=Decimal("0.95000000"),
    threshold=Decimal("800.0000"),
    window_kind="rolling",
    window_days=28,
    budgeting="timeslices",
    timeslice_minutes=5,
    timeslice_target=Decimal("0.90000000"),
    min_events=20,
    asset="support-bot",
    starts_at=dt.datetime(2026, 2, 2, 14, 30, 15, 123456, tzinfo=UTC),
)
INCIDENT = slo(
    name="p1-first-response",
    display_name="P1 first response within 15 business minutes",
    description="Counted on the support calendar.",
    sli_kind="incident_response",
    objective=Decimal("0.98000000"),
    threshold=Decimal("15.0000"),
    keel_source="incidents",
    calendar="Toronto support hours",
    incident_severities=["P1", "P2"],
    credit_tiers=[{"below": "98.0", "credit_percent": "10"}, {"below": "95", "credit_percent": "25"}],
    min_events=3,
)


def export(*slos: dict, time_zone: str = "America/Toronto") -> str:
    return export_documents(list(slos), service="alpha-corp", time_zone=time_zone)


def third_party(**spec_changes) -> dict:
    """A plain OpenSLO document as another tool writes it: no keel.dev annotations."""
    document = {
        "apiVersion": "openslo/v1",
        "kind": "SLO",
        "metadata": {
            "name": "web-availability",
            "displayName": "Web availability",
            "labels": {"sli-kind": "availability"},
        },
        "spec": {
            "description": "Written by another tool",
            "service": "web",
            "indicatorRef": "web-good-requests",
            "timeWindow": [{"duration": "4w", "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"displayName": "Good", "targetPercent": 99.5}],
        },
    }
    document["spec"].update(spec_changes)
    return document


def dump(*documents) -> str:
    return yaml.safe_dump_all(list(documents), sort_keys=False)


def problems(text: str) -> list[str]:
    with pytest.raises(OpenSloError) as caught:
        parse_documents(text)
    assert isinstance(caught.value, ValueError)
    return caught.value.messages


# --- Round trips -------------------------------------------------------------------------------------------


def test_calendar_month_occurrences_availability_round_trips():
    original = slo()
    text = export(original)
    assert parse_documents(text) == [original]
    document = yaml.safe_load(text)
    assert document["spec"]["timeWindow"] == [
        {
            "duration": "1M",
            "isRolling": False,
            "calendar": {"startTime": "2026-01-01 00:00:00", "timeZone": "America/Toronto"},
        }
    ]
    assert document["spec"]["budgetingMethod"] == "Occurrences"
    assert document["spec"]["service"] == "alpha-corp"
    assert document["spec"]["description"] == original["description"]
    assert document["spec"]["objectives"] == [{"displayName": "Chat assistant availability", "target": 0.999}]
    assert document["metadata"]["annotations"]["keel.dev/sli-kind"] == "availability"
    assert document["metadata"]["annotations"]["keel.dev/asset"] == ""


def test_rolling_timeslice_latency_with_threshold_round_trips():
    text = export(LATENCY)
    (parsed,) = parse_documents(text)
    assert parsed == LATENCY
    assert parsed["threshold"] == Decimal("800") and parsed["starts_at"].microsecond == 123456
    document = yaml.safe_load(text)
    assert document["spec"]["timeWindow"] == [{"duration": "28d", "isRolling": True}]
    assert document["spec"]["budgetingMethod"] == "Timeslices"
    assert document["spec"]["objectives"] == [
        {
            "displayName": "Chat time to first token",
            "op": "lte",
            "value": 800,
            "target": 0.95,
            "timeSliceTarget": 0.9,
            "timeSliceWindow": "5m",
        }
    ]
    assert "description" not in document["spec"]
    # Latency's threshold lives in op/value only: no second copy in the annotations to drift apart.
    assert "keel.dev/threshold" not in document["metadata"]["annotations"]
    assert document["metadata"]["annotations"]["keel.dev/asset"] == "support-bot"


def test_incident_response_with_calendar_severities_and_credit_tiers_round_trips():
    text = export(INCIDENT)
    assert parse_documents(text) == [INCIDENT]
    annotations = yaml.safe_load(text)["metadata"]["annotations"]
    assert annotations["keel.dev/threshold"] == "15"
    assert annotations["keel.dev/keel-source"] == "incidents"
    assert annotations["keel.dev/calendar"] == "Toronto support hours"
    assert annotations["keel.dev/incident-severities"] == "P1,P2"
    assert json.loads(annotations["keel.dev/credit-tiers"]) == INCIDENT["credit_tiers"]
    assert annotations["keel.dev/min-events"] == "3"


def test_several_slos_round_trip_in_one_file_in_order():
    text = export(slo(), LATENCY, INCIDENT)
    assert text.count("---\n") == 3
    assert parse_documents(text) == [slo(), LATENCY, INCIDENT]


def test_quality_threshold_uses_op_gte():
    quality = slo(
        name="golden-set", sli_kind="quality", threshold=Decimal("0.8500"), window_kind="rolling", window_days=7
    )
    objective = yaml.safe_load(export(quality))["spec"]["objectives"][0]
    assert (objective["op"], objective["value"]) == ("gte", 0.85)
    assert parse_documents(export(quality)) == [quality]


def test_values_only_other_modes_use_survive_the_round_trip():
    # A calendar SLO's window_days and an occurrences SLO's slice settings have no OpenSLO field here.
    odd = slo(window_days=90, timeslice_minutes=10, timeslice_target=Decimal("0.8"))
    assert parse_documents(export(odd)) == [odd]
    hourly = dict(LATENCY, timeslice_minutes=120)
    assert yaml.safe_load(export(hourly))["spec"]["objectives"][0]["timeSliceWindow"] == "2h"
    assert parse_documents(export(hourly)) == [hourly]


def test_calendar_start_keeps_the_exact_instant_even_when_local_time_is_ambiguous():
    # 01:30 on 2026-11-01 happens twice in Toronto; the second time is 06:30 UTC.
    second = slo(starts_at=dt.datetime(2026, 11, 1, 6, 30, 0, 250000, tzinfo=UTC))
    text = export(second)
    assert yaml.safe_load(text)["spec"]["timeWindow"][0]["calendar"]["startTime"] == "2026-11-01 01:30:00"
    assert parse_documents(text)[0]["starts_at"] == second["starts_at"]


def test_a_long_name_keeps_the_indicator_name_within_63_characters():
    name = "a" * 63
    indicator = yaml.safe_load(export(slo(name=name)))["spec"]["indicator"]
    assert indicator["metadata"]["name"] == "a" * 59 + "-sli"
    assert indicator["spec"]["ratioMetric"]["good"]["metricSource"] == {"type": "keel", "spec": {"sli": "availability"}}
    assert indicator["spec"]["ratioMetric"]["counter"] is False


@pytest.mark.parametrize(
    "description", ["two blank lines\n\n", " leading space\nx", "tab\there\n", "---\n...", "# é\n"]
)
def test_awkward_text_round_trips(description):
    # YAML-significant words as names must come back as the strings they were, not null or true.
    awkward = slo(description=description, asset="null", calendar="on", incident_severities=["yes", "1"])
    assert parse_documents(export(awkward)) == [awkward]


def test_empty_input_and_output():
    assert export() == ""
    assert parse_documents("") == []
    assert parse_documents("---\n---\n") == []


# --- The YAML itself ---------------------------------------------------------------------------------------


def test_export_is_plain_openslo_yaml():
    documents = list(yaml.safe_load_all(export(slo(), INCIDENT)))
    assert [(d["apiVersion"], d["kind"]) for d in documents] == [("openslo/v1", "SLO")] * 2
    assert list(documents[0]) == ["apiVersion", "kind", "metadata", "spec"]
    assert list(documents[0]["spec"]) == [
        "description",
        "service",
        "indicator",
        "timeWindow",
        "budgetingMethod",
        "objectives",
    ]
    assert all(isinstance(value, str) for value in documents[1]["metadata"]["annotations"].values())


def test_export_is_stable():
    assert export(slo(), LATENCY) == export(slo(), LATENCY)


def test_decimals_are_written_without_float_artefacts():
    text = export(
        slo(objective=Decimal("0.999")),
        slo(name="b", objective=Decimal("0.99999999")),
        dict(LATENCY, threshold=Decimal("1E+3"), timeslice_target=Decimal("0.90000000")),
    )
    assert "target: 0.999\n" in text and "target: 0.99999999\n" in text
    assert "value: 1000\n" in text and "timeSliceTarget: 0.9\n" in text
    assert "0.9990000000000001" not in text
    assert re.search(r"\d[eE][-+]?\d", text) is None  # no exponent notation anywhere


def test_objective_precision_is_exact():
    (parsed,) = parse_documents(export(slo(objective=Decimal("0.9995"))))
    assert parsed["objective"] == Decimal("0.9995")
    assert str(parsed["objective"]) == "0.9995"
    assert parse_documents(export(slo(objective=Decimal("0.99999999"))))[0]["objective"] == Decimal("0.99999999")


def test_target_percent_is_exact():
    text = dump(third_party(objectives=[{"targetPercent": 99.95}]))
    assert str(parse_documents(text)[0]["objective"]) == "0.9995"


# --- Third-party documents ---------------------------------------------------------------------------------


def test_a_plain_openslo_document_imports_with_keel_defaults():
    (parsed,) = parse_documents(dump(third_party()))
    assert parsed == {
        "name": "web-availability",
        "display_name": "Web availability",
        "description": "Written by another tool",
        "sli_kind": "availability",
        "objective": Decimal("0.995"),
        "threshold": None,
        "window_kind": "rolling",
        "window_days": 28,
        "budgeting": "occurrences",
        "timeslice_minutes": 1,
        "timeslice_target": Decimal("0.95"),
        "keel_source": "",
        "calendar": None,
        "incident_severities": [],
        "credit_tiers": [],
        "min_events": 1,
        "asset": None,
        "starts_at": None,
    }


def test_other_kinds_are_ignored():
    service = {"apiVersion": "openslo/v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {}}
    policy = {
        "apiVersion": "openslo/v1",
        "kind": "AlertPolicy",
        "metadata": {"name": "fast-burn"},
        "spec": {"alertWhenBreaching": True, "conditions": [{"conditionRef": "burn-14x"}]},
    }
    sli = {"apiVersion": "openslo/v1", "kind": "SLI", "metadata": {"name": "web-good-requests"}, "spec": {}}
    parsed = parse_documents(dump(service, third_party(), policy, sli))
    assert [item["name"] for item in parsed] == ["web-availability"]


def test_a_third_party_latency_threshold_metric_imports():
    document = third_party(
        indicator={
            "metadata": {"name": "ttfb"},
            "spec": {"thresholdMetric": {"metricSource": {"type": "Prometheus", "spec": {"query": "ttfb_ms"}}}},
        },
        budgetingMethod="Timeslices",
        objectives=[{"op": "lte", "value": 250, "target": 0.99, "timeSliceTarget": 0.95, "timeSliceWindow": "1h"}],
    )
    del document["spec"]["indicatorRef"]
    document["metadata"]["labels"] = {"sli-kind": ["latency"], "team": ["web"]}  # OpenSLO labels may be lists
    (parsed,) = parse_documents(dump(document))
    assert (parsed["sli_kind"], parsed["threshold"], parsed["objective"]) == (
        "latency",
        Decimal("250"),
        Decimal("0.99"),
    )
    assert (parsed["budgeting"], parsed["timeslice_minutes"], parsed["timeslice_target"]) == (
        "timeslices",
        60,
        Decimal("0.95"),
    )


def test_a_third_party_calendar_window_with_an_unquoted_start_time():
    text = dump(third_party()).replace(
        "  - duration: 4w\n    isRolling: true\n",
        "  - duration: 1M\n    calendar:\n      startTime: 2026-01-01 00:00:00\n      timeZone: Europe/Paris\n",
    )
    assert "startTime: 2026-01-01 00:00:00\n" in text  # a YAML timestamp, not a string
    (parsed,) = parse_documents(text)
    assert parsed["window_kind"] == "calendar_month" and parsed["window_days"] == 30
    assert parsed["starts_at"] == dt.datetime(2025, 12, 31, 23, 0, tzinfo=UTC)


def test_the_annotation_wins_over_the_label():
    document = third_party()
    document["metadata"]["annotations"] = {"keel.dev/sli-kind": "integration", "other.io/x": "ignored"}
    assert parse_documents(dump(document))[0]["sli_kind"] == "integration"


# --- Refusals ----------------------------------------------------------------------------------------------


def test_not_yaml():
    assert problems("apiVersion: openslo/v1\nkind: [SLO\n") == [
        "document 1: not YAML (line 3, column 1: expected ',' or ']', but got '<stream end>')"
    ]


def test_not_yaml_in_a_later_document():
    messages = problems(dump(third_party()) + "---\nkey: 'unclosed\n")
    assert len(messages) == 1 and messages[0].startswith("document 2: not YAML (")


def test_deep_nesting_is_refused_not_a_crash():
    assert problems("[" * 100_000) == ["document 1: not YAML (nested too deeply)"]


def test_not_a_mapping():
    assert problems("- apiVersion\n- kind\n") == ["document 1: not a mapping"]
    assert problems(dump(third_party()) + "---\njust text\n") == ["document 2: not a mapping"]


def test_missing_kind():
    assert problems("apiVersion: openslo/v1\nmetadata: {name: x}\n") == ["document 1: missing kind"]


def test_wrong_api_version():
    document = third_party()
    document["apiVersion"] = "openslo/v2alpha"
    assert problems(dump(document)) == [
        "document 1 (web-availability): apiVersion must be openslo/v1, not 'openslo/v2alpha'"
    ]


@pytest.mark.parametrize("name", ["Web-Availability", "web_availability", "web-", "-web", "web.availability", ""])
def test_names_must_be_rfc_1123_labels(name):
    document = third_party()
    document["metadata"]["name"] = name
    (message,) = problems(dump(document))
    assert message.endswith(
        "metadata.name must be an RFC 1123 label: lower-case letters, digits and hyphens, starting and ending "
        "with a letter or digit"
    )


def test_names_longer_than_63_characters():
    document = third_party()
    document["metadata"]["name"] = "a" * 64
    assert problems(dump(document)) == [f"document 1 ({'a' * 64}): metadata.name is longer than 63 characters"]
    document["metadata"]["name"] = "a" * 63
    assert parse_documents(dump(document))[0]["name"] == "a" * 63


def test_description_longer_than_1050_characters():
    assert parse_documents(dump(third_party(description="x" * 1050)))[0]["description"] == "x" * 1050
    assert problems(dump(third_party(description="x" * 1051))) == [
        "document 1 (web-availability): spec.description is longer than 1050 characters (1051)"
    ]


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        (("metadata",), "document 1: missing metadata"),
        (("metadata", "name"), "document 1: missing metadata.name"),
        (("spec", "service"), "document 1 (web-availability): missing spec.service"),
        (("spec", "indicatorRef"), "document 1 (web-availability): missing spec.indicator or spec.indicatorRef"),
        (("spec", "timeWindow"), "document 1 (web-availability): missing spec.timeWindow"),
        (("spec", "budgetingMethod"), "document 1 (web-availability): missing spec.budgetingMethod"),
        (("spec", "objectives"), "document 1 (web-availability): missing spec.objectives"),
    ],
)
def test_missing_fields(remove, message):
    document = third_party()
    parent = document
    for key in remove[:-1]:
        parent = parent[key]
    del parent[remove[-1]]
    assert message in problems(dump(document))


def test_missing_target():
    assert problems(dump(third_party(objectives=[{"displayName": "Good"}]))) == [
        "document 1 (web-availability): missing objectives[0].target (or targetPercent)"
    ]


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        ({"target": 1}, "objective must be greater than 0 and less than 1 (target 1)"),
        ({"target": 0.0}, "objective must be greater than 0 and less than 1 (target 0)"),
        ({"target": 1.5}, "objective must be greater than 0 and less than 1 (target 1.5)"),
        ({"target": -0.5}, "objective must be greater than 0 and less than 1 (target -0.5)"),
        (
            {"targetPercent": 100},
            "objective must be greater than 0 and less than 1 (targetPercent 100 is not between 0 and 100)",
        ),
        ({"target": 0.999999999}, "objective has more than 8 decimal places (0.999999999)"),
        ({"target": 0.00005}, "objective must be at least 0.0001 (0.00005)"),
        ({"target": "high"}, "objectives[0].target must be a number, not 'high'"),
        ({"target": 0.99, "targetPercent": 99}, "objectives[0] has both target and targetPercent: give one"),
    ],
)
def test_objective_outside_0_1(objective, message):
    assert problems(dump(third_party(objectives=[objective]))) == [f"document 1 (web-availability): {message}"]


def test_more_than_one_objective():
    objectives = [{"target": 0.99}, {"target": 0.999}]
    assert problems(dump(third_party(objectives=objectives))) == [
        "document 1 (web-availability): Keel supports exactly one objective per SLO; this one has 2"
    ]


def test_unknown_sli_kind():
    document = third_party()
    document["metadata"]["labels"]["sli-kind"] = "happiness"
    (message,) = problems(dump(document))
    assert message.startswith("document 1 (web-availability): unknown SLI kind 'happiness'; Keel knows availability,")


def test_no_sli_kind_names_the_document():
    document = third_party()
    del document["metadata"]["labels"]
    messages = problems(dump({"kind": "Service", "metadata": {"name": "web"}}, document))
    assert messages == [
        "document 2 (web-availability): no SLI kind: set the annotation keel.dev/sli-kind or the label sli-kind "
        "(one of availability, latency, quality, hallucination, drift, integration, incident_response, "
        "incident_resolution, budget_adherence)"
    ]


def test_ratio_timeslices_is_refused():
    assert problems(dump(third_party(budgetingMethod="RatioTimeslices"))) == [
        "document 1 (web-availability): budgetingMethod RatioTimeslices is not supported: Keel supports "
        "Occurrences and Timeslices"
    ]


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (
            {"duration": "1M", "isRolling": True},
            "rolling windows of months, quarters or years (1M) are not supported: use days or weeks, e.g. 28d or 4w",
        ),
        (
            {"duration": "1Q", "isRolling": True},
            "rolling windows of months, quarters or years (1Q) are not supported: use days or weeks, e.g. 28d or 4w",
        ),
        (
            {"duration": "36h", "isRolling": True},
            "rolling windows are whole days (36h): use days or weeks, e.g. 28d or 4w",
        ),
        ({"duration": "60w", "isRolling": True}, "rolling windows are 1 to 366 days long (60w is 420 days)"),
        ({"duration": "1Q", "isRolling": False}, "calendar windows must be one month (duration 1M), not 1Q"),
        ({"duration": "28d", "isRolling": False}, "calendar windows must be one month (duration 1M), not 28d"),
        (
            {"duration": "a month", "isRolling": True},
            "timeWindow duration 'a month' is not a duration such as 28d, 4w or 1M",
        ),
    ],
)
def test_unsupported_windows(window, message):
    assert problems(dump(third_party(timeWindow=[window]))) == [f"document 1 (web-availability): {message}"]


def test_two_time_windows_are_refused():
    windows = [{"duration": "28d", "isRolling": True}, {"duration": "7d", "isRolling": True}]
    assert problems(dump(third_party(timeWindow=windows))) == [
        "document 1 (web-availability): spec.timeWindow must be a list of exactly one window"
    ]


def test_unknown_calendar_time_zone():
    window = {"duration": "1M", "calendar": {"startTime": "2026-01-01 00:00:00", "timeZone": "Mars/Olympus"}}
    assert problems(dump(third_party(timeWindow=[window]))) == [
        "document 1 (web-availability): unknown time zone 'Mars/Olympus' in timeWindow[0].calendar.timeZone"
    ]


def test_time_slices_need_a_window_of_minutes_or_hours():
    objectives = [{"target": 0.99, "timeSliceTarget": 0.9, "timeSliceWindow": "30s"}]
    assert problems(dump(third_party(budgetingMethod="Timeslices", objectives=objectives))) == [
        "document 1 (web-availability): timeSliceWindow must be 1 minute to 24 hours in minutes or hours, "
        "e.g. 1m, 5m or 1h ('30s')"
    ]
    objectives = [{"target": 0.99}]
    assert problems(dump(third_party(budgetingMethod="Timeslices", objectives=objectives))) == [
        "document 1 (web-availability): missing objectives[0].timeSliceTarget (Timeslices budgeting needs it)",
        "document 1 (web-availability): missing objectives[0].timeSliceWindow (Timeslices budgeting needs it)",
    ]


def test_latency_must_compare_with_lte():
    document = yaml.safe_load(export(LATENCY))
    document["spec"]["objectives"][0]["op"] = "gte"
    assert problems(dump(document)) == [
        "document 1 (chat-latency): a latency objective compares with op lte (value = milliseconds an event may "
        "take), not 'gte'"
    ]


def test_edited_start_time_that_disagrees_with_the_annotation():
    document = yaml.safe_load(export(slo()))
    document["spec"]["timeWindow"][0]["calendar"]["startTime"] = "2026-02-01 00:00:00"
    assert problems(dump(document)) == [
        "document 1 (chat-availability): calendar.startTime 2026-02-01 00:00:00 disagrees with keel.dev/starts-at "
        "2026-01-01T05:00:00+00:00 (2026-01-01 00:00:00 in America/Toronto); correct or remove the annotation"
    ]
    del document["metadata"]["annotations"]["keel.dev/starts-at"]
    assert parse_documents(dump(document))[0]["starts_at"] == dt.datetime(2026, 2, 1, tzinfo=TORONTO)


def test_bad_keel_annotations():
    document = yaml.safe_load(export(INCIDENT))
    annotations = document["metadata"]["annotations"]
    annotations["keel.dev/keel-source"] = "tickets"
    annotations["keel.dev/min-events"] = "-1"
    annotations["keel.dev/credit-tiers"] = '[{"below": "150", "credit_percent": "10"}]'
    annotations["keel.dev/threshold"] = "15.00001"
    assert problems(dump(document)) == [
        "document 1 (p1-first-response): threshold has more than 4 decimal places (15.00001)",
        "document 1 (p1-first-response): unknown keel.dev/keel-source 'tickets'; Keel knows incidents, alerts, "
        "billing_runs, budgets, drift_checks",
        "document 1 (p1-first-response): keel.dev/credit-tiers: Tier 1: `below` is an attainment in percent, over 0 "
        "and at most 100.",
        "document 1 (p1-first-response): keel.dev/min-events must be a whole number from 0 to 2147483647, not '-1'",
    ]


def test_duplicate_names():
    assert problems(dump(third_party(), third_party())) == [
        "document 2 (web-availability): name already used by document 1"
    ]


def test_every_problem_of_every_document_is_reported():
    first = third_party(budgetingMethod="RatioTimeslices", description="x" * 2000)
    second = third_party(objectives=[{"target": 2}])
    second["metadata"]["name"] = "Second"
    messages = problems(dump(first, second))
    assert messages == [
        "document 1 (web-availability): spec.description is longer than 1050 characters (2000)",
        "document 1 (web-availability): budgetingMethod RatioTimeslices is not supported: Keel supports "
        "Occurrences and Timeslices",
        "document 2 (Second): metadata.name must be an RFC 1123 label: lower-case letters, digits and hyphens, "
        "starting and ending with a letter or digit",
        "document 2 (Second): objective must be greater than 0 and less than 1 (target 2)",
    ]


def test_more_than_200_documents():
    documents = [copy.deepcopy(third_party()) for _ in range(201)]
    for number, document in enumerate(documents):
        document["metadata"]["name"] = f"slo-{number}"
    assert len(parse_documents(dump(*documents[:200]))) == 200
    assert problems(dump(*documents)) == ["file: more than 200 documents"]


def test_text_over_1_mb():
    text = dump(third_party()) + "# " + "x" * (1024 * 1024) + "\n"
    assert problems(text) == ["file: larger than 1 MB"]


def test_error_is_a_value_error_with_readable_text():
    with pytest.raises(ValueError, match=r"document 1 \(web-availability\): budgetingMethod RatioTimeslices"):
        parse_documents(dump(third_party(budgetingMethod="RatioTimeslices")))


# --- Export refusals ---------------------------------------------------------------------------------------


def test_export_refuses_what_keel_could_not_have_stored():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        export(slo(), time_zone="Mars/Olympus")
    with pytest.raises(ValueError, match="chat-availability: a calendar window needs starts_at"):
        export(slo(starts_at=None))
    with pytest.raises(ValueError, match="service is required"):
        export_documents([slo()], service=" ", time_zone="UTC")
