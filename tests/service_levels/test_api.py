"""Service levels over the API (/c/<slug>/api/v1/): SLO CRUD with problem+json validation errors, lists whose
queries do not grow, series and percentiles; key scopes; measurement batches (mixed shapes, idempotency, per-item
errors, size limits); late data that breaks a closed month; breaches and credits; drift checks and their alert;
OpenSLO export and import; business calendars; and other clients' objects answering 404.

The API runs on the real clock, so dated data is placed relative to `timezone.now()` in alpha's time zone
(Europe/Paris): "last month" is the client's previous calendar month."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context
from scipy.spatial.distance import jensenshannon

from apps.alerts.models import Alert
from apps.inventory.models import AIModel
from apps.service_levels import windows
from apps.service_levels.evaluation import slos_evaluate
from apps.service_levels.ingest import MAX_MEASUREMENTS, measurements_ingest
from apps.service_levels.models import (
    SLO,
    Breach,
    BusinessCalendar,
    DriftCheck,
    Measurement,
    ServiceCredit,
    SliMinute,
    SloPeriod,
)
from apps.service_levels.services import drift_submit
from apps.tenancy.models import Client
from tests.conftest import auth_header
from tests.service_levels.conftest import minutes

pytestmark = pytest.mark.django_db

UTC = dt.UTC
API = "/c/alpha/api/v1/"
SLOS = API + "slos/"
MEASUREMENTS = API + "slo-measurements/"
PROBLEM = "application/problem+json"
TIERS = [{"below": "99", "credit_percent": "10"}, {"below": "95", "credit_percent": "25"}]
# The API docs' drift example: weekly histograms of a classifier score on five bins.
EDGES = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
REFERENCE_COUNTS = [120, 340, 410, 260, 70]
DRIFTED_COUNTS = [60, 190, 380, 420, 150]


# --- helpers ---------------------------------------------------------------------------------------------------


def send(client, method: str, url: str, body, headers: dict):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json", **headers)


def is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:2000]
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["type"] == "about:blank"
    return body


def make_slo(owner: Client, name: str, **fields) -> SLO:
    values = {
        "display_name": name.replace("-", " ").capitalize(),
        "sli_kind": "availability",
        "objective": Decimal("0.99"),
        "starts_at": dt.datetime(2026, 1, 1, tzinfo=UTC),
        **fields,
    }
    with schema_context(owner.schema_name):
        return SLO.objects.create(name=name, **values)


def this_month(owner: Client) -> windows.Period:
    return windows.month_period(timezone.now(), owner.tz)


def last_month(owner: Client) -> windows.Period:
    return windows.month_period(this_month(owner).start - dt.timedelta(seconds=1), owner.tz)


def recent(owner: Client, minutes_ago: int = 5) -> dt.datetime:
    """A moment a few minutes ago, kept inside the client's current month (the live window)."""
    return max(timezone.now() - dt.timedelta(minutes=minutes_ago), this_month(owner).start)


def rollup(owner: Client, slo: SLO) -> tuple[int, int]:
    with schema_context(owner.schema_name):
        rows = list(SliMinute.objects.filter(slo_id=slo.pk).values_list("good", "total"))
    return sum(g for g, _ in rows), sum(t for _, t in rows)


def stored(owner: Client) -> int:
    with schema_context(owner.schema_name):
        return Measurement.objects.count()


def breach_last_month(owner: Client, name: str = "api-availability", *, retainer: str = "12000.00") -> SLO:
    """An SLO that closed last month at 50 % against 99 %: one breach, one credit of 10 % of the retainer."""
    Client.objects.filter(pk=owner.pk).update(monthly_retainer=Decimal(retainer))
    month = last_month(owner)
    slo = make_slo(owner, name, credit_tiers=[TIERS[0]], starts_at=month.start)
    with schema_context(owner.schema_name):
        measurements_ingest(minutes(month.start + dt.timedelta(days=3), 10, good=5, total=10, slo=name))
        slos_evaluate()
    return slo


@pytest.fixture(autouse=True)
def public_schema_after():
    """Requests leave the connection in the schema of the client they addressed (beta's, in the isolation test):
    put it back so later tests start where they expect."""
    yield
    connection.set_schema_to_public()


@pytest.fixture
def ingest(alpha, api_key_for) -> dict:
    """Headers of an alpha key with the ingest scope only."""
    return auth_header(api_key_for(alpha, ["ingest"])[1])


@pytest.fixture
def model(alpha) -> AIModel:
    with schema_context(alpha.schema_name):
        return AIModel.objects.create(kind="model", name="Triage scorer", provider="self-hosted", model_id="triage-v2")


# --- SLOs: create, validate, change, delete ---------------------------------------------------------------------


LATENCY_SLO = {
    "name": "claims-api-latency",
    "display_name": "Claims API answers in 800 ms",
    "sli_kind": "latency",
    "objective": "0.95",
    "threshold": "800",
    "credit_tiers": [{"below": "90", "credit_percent": "25"}, {"below": "95", "credit_percent": "10"}],
}


def test_create_a_latency_slo_with_credit_tiers(alpha, client, writer):
    response = send(client, "post", SLOS, LATENCY_SLO, writer)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "claims-api-latency" and body["display_name"] == "Claims API answers in 800 ms"
    assert (body["sli_kind"], body["objective"], body["threshold"]) == ("latency", "0.95000000", "800.0000")
    assert (body["window_kind"], body["budgeting"], body["source"], body["keel_source"]) == (
        "calendar_month",
        "occurrences",
        "pushed",
        "",
    )
    assert body["active"] is True and body["starts_at"]
    assert body["status"] is None  # not evaluated yet
    # Tiers are kept highest `below` first whatever order they came in.
    assert [(Decimal(t["below"]), Decimal(t["credit_percent"])) for t in body["credit_tiers"]] == [
        (Decimal("95"), Decimal("10")),
        (Decimal("90"), Decimal("25")),
    ]
    with schema_context(alpha.schema_name):
        slo = SLO.objects.get(name="claims-api-latency")
        assert slo.objective == Decimal("0.95") and slo.threshold == Decimal("800")
        assert [Decimal(t["below"]) for t in slo.credit_tiers] == [Decimal("95"), Decimal("90")]
        slos_evaluate()
    detail = client.get(f"{SLOS}{body['id']}/", **writer).json()
    assert detail["status"]["state"] == "no_data"
    assert (detail["status"]["good"], detail["status"]["total"], detail["status"]["attainment"]) == (0, 0, None)


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"name": "Bad Name!"}, "name", ""),
        ({"name": "-leading-dash"}, "name", "RFC 1123"),
        ({"objective": "1.5"}, "objective", ""),
        ({"objective": "0"}, "objective", "greater than or equal to 0.0001"),
        ({"threshold": None}, "threshold", "latency each event may take"),
        ({"threshold": "-1"}, "threshold", "At least 0"),
        ({"source": "keel", "keel_source": "billing_runs"}, "keel_source", "cannot measure a latency SLI"),
        ({"source": "keel", "keel_source": "nowhere"}, "keel_source", ""),
        ({"credit_tiers": [{"below": "150", "credit_percent": "10"}]}, "credit_tiers", "Tier 1"),
        ({"credit_tiers": [{"below": "95", "credit_percent": "0"}]}, "credit_tiers", "credit_percent"),
        ({"credit_tiers": [{"below": "95"}]}, "credit_tiers", ""),
        ({"sli_kind": "speed"}, "sli_kind", ""),
    ],
)
def test_invalid_slos_are_400_problems_naming_the_field(alpha, client, writer, changes, field, fragment):
    body = is_problem(send(client, "post", SLOS, {**LATENCY_SLO, **changes}, writer), 400)
    assert body["title"] == "Invalid request"
    assert field in body["errors"], body["errors"]
    assert fragment in json.dumps(body["errors"][field])
    with schema_context(alpha.schema_name):
        assert not SLO.objects.exists()


def test_a_drift_slo_computed_by_keel_needs_its_asset(alpha, client, writer, model):
    drift = {
        "name": "triage-drift",
        "display_name": "Triage drift",
        "sli_kind": "drift",
        "objective": "0.9",
        "source": "keel",
    }
    body = is_problem(send(client, "post", SLOS, {**drift, "keel_source": "drift_checks"}, writer), 400)
    assert "asset" in body["errors"]
    response = send(client, "post", SLOS, {**drift, "keel_source": "drift_checks", "asset": model.pk}, writer)
    assert response.status_code == 201, response.content
    assert (response.json()["source"], response.json()["keel_source"], response.json()["asset"]) == (
        "keel",
        "drift_checks",
        model.pk,
    )


def test_patch_changes_only_what_is_sent(alpha, client, writer):
    created = send(client, "post", SLOS, LATENCY_SLO, writer).json()
    url = f"{SLOS}{created['id']}/"
    response = send(client, "patch", url, {"objective": "0.99", "display_name": "Claims API, stricter"}, writer)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["objective"], body["display_name"], body["threshold"]) == (
        "0.99000000",
        "Claims API, stricter",
        "800.0000",
    )
    with schema_context(alpha.schema_name):
        slo = SLO.objects.get(pk=created["id"])
        assert slo.objective == Decimal("0.99") and slo.name == "claims-api-latency"
    assert "objective" in is_problem(send(client, "patch", url, {"objective": "1.5"}, writer), 400)["errors"]
    assert "threshold" in is_problem(send(client, "patch", url, {"threshold": None}, writer), 400)["errors"]
    # A name another SLO has is refused.
    send(client, "post", SLOS, {**LATENCY_SLO, "name": "other-latency"}, writer)
    assert "name" in is_problem(send(client, "patch", url, {"name": "other-latency"}, writer), 400)["errors"]
    with schema_context(alpha.schema_name):
        assert SLO.objects.get(pk=created["id"]).objective == Decimal("0.99")
    # Retire it: still readable by id, gone from the default list.
    assert send(client, "patch", url, {"active": False}, writer).json()["active"] is False
    assert client.get(url, **writer).json()["active"] is False
    assert [item["name"] for item in client.get(SLOS, **writer).json()["results"]] == ["other-latency"]


def test_a_kind_change_is_refused_once_there_are_measurements(alpha, client, writer):
    slo = make_slo(alpha, "api-availability")
    with schema_context(alpha.schema_name):
        measurements_ingest([{"slo": slo.name, "at": recent(alpha).isoformat(), "ok": True}])
    url = f"{SLOS}{slo.pk}/"
    body = is_problem(send(client, "patch", url, {"sli_kind": "latency", "threshold": "500"}, writer), 400)
    assert "measurements" in body["errors"]["sli_kind"][0]


def test_delete_an_slo_without_breaches_and_refuse_one_with_a_breach(alpha, client, writer):
    plain = make_slo(alpha, "plain")
    assert client.delete(f"{SLOS}{plain.pk}/", **writer).status_code == 204
    assert client.get(f"{SLOS}{plain.pk}/", **writer).status_code == 404
    breached = breach_last_month(alpha, "breached")
    with schema_context(alpha.schema_name):
        assert Breach.objects.filter(slo=breached).count() == 1
    body = is_problem(client.delete(f"{SLOS}{breached.pk}/", **writer), 400)
    assert "retire" in body["errors"]["slo"][0]
    with schema_context(alpha.schema_name):
        assert SLO.objects.filter(pk=breached.pk).exists()
        assert not SLO.objects.filter(pk=plain.pk).exists()


# --- SLOs: lists, series, percentiles ------------------------------------------------------------------------


def test_the_list_takes_the_same_queries_for_3_or_10_slos_with_statuses(alpha, client, writer):
    def add(first: int, last: int) -> None:
        for number in range(first, last):
            make_slo(alpha, f"slo-{number}")
        with schema_context(alpha.schema_name):
            slos_evaluate()

    add(0, 3)
    client.get(SLOS, **writer)  # records the key's last use
    with CaptureQueriesContext(connection) as few:
        body = client.get(SLOS, **writer).json()
    assert len(body["results"]) == 3 and all(item["status"]["state"] == "no_data" for item in body["results"])
    add(3, 10)
    with CaptureQueriesContext(connection) as many:
        body = client.get(SLOS, **writer).json()
    assert len(body["results"]) == 10 and all(item["status"] is not None for item in body["results"])
    assert len(many.captured_queries) == len(few.captured_queries)
    # Key, page of SLOs with their status, asset and calendar in one join (+ search_path switches).
    statements = [q["sql"] for q in many.captured_queries if not q["sql"].startswith("SET search_path")]
    assert len(statements) <= 6, statements


def test_retired_slos_are_listed_only_when_asked(alpha, client, writer):
    make_slo(alpha, "live")
    make_slo(alpha, "retired", active=False)
    default = client.get(SLOS, **writer).json()["results"]
    assert [item["name"] for item in default] == ["live"]
    everything = client.get(SLOS + "?retired=true", **writer).json()["results"]
    assert sorted(item["name"] for item in everything) == ["live", "retired"]
    assert {item["name"]: item["active"] for item in everything} == {"live": True, "retired": False}


def test_series_and_percentiles_of_the_live_window(alpha, client, writer, ingest):
    slo = make_slo(alpha, "claims-api-latency", sli_kind="latency", threshold=Decimal("800"))
    at = recent(alpha)
    samples = [{"slo": slo.name, "id": f"s{ms}", "at": at.isoformat(), "value_ms": ms} for ms in range(100, 1001, 100)]
    assert send(client, "post", MEASUREMENTS, samples, ingest).json()["accepted"] == 10

    series = client.get(f"{SLOS}{slo.pk}/series/", **writer)
    assert series.status_code == 200
    day = at.astimezone(alpha.tz).date()  # the client's day the samples fall on
    assert series.json() == [
        {
            "day": day.isoformat(),
            "good": 8,  # 100 … 800 ms are within the threshold, 900 and 1000 are not
            "total": 10,
            "sli": "0.80000000",
            # 20 % errors against a 1 % budget: 20 budgets spent → 1 − 20 = −19.
            "budget_remaining": "-19.00000000",
        }
    ]
    # percentile_cont over 100, 200, …, 1000: p50 = 550, p95 = 900 + 0.55 × 100, p99 = 900 + 0.91 × 100.
    percentiles = client.get(f"{SLOS}{slo.pk}/percentiles/", **writer).json()
    assert percentiles["samples"] == 10 and percentiles["source"] == "samples"
    assert [Decimal(str(percentiles[p])) for p in ("p50", "p95", "p99")] == [
        Decimal("550.0"),
        Decimal("955.0"),
        Decimal("991.0"),
    ]
    other = make_slo(alpha, "no-samples", sli_kind="latency", threshold=Decimal("800"))
    assert client.get(f"{SLOS}{other.pk}/series/", **writer).json() == []
    assert client.get(f"{SLOS}999999/series/", **writer).status_code == 404


def test_percentiles_of_histograms_are_estimated_within_the_buckets(alpha, client, writer, ingest):
    slo = make_slo(alpha, "histogram-latency", sli_kind="latency", threshold=Decimal("800"))
    at = recent(alpha)
    # Two quarter-hours of per-bucket counts: 100 requests in all (60 ≤ 200 ms, 30 in 200–800, 10 in 800–2000).
    histograms = [
        {
            "slo": slo.name,
            "id": "q1",
            "at": at.isoformat(),
            "histogram": [
                {"le": 200, "count": 30},
                {"le": 800, "count": 15},
                {"le": 2000, "count": 5},
                {"le": "+Inf", "count": 0},
            ],
        },
        {
            "slo": slo.name,
            "id": "q2",
            "at": at.isoformat(),
            "histogram": [
                {"le": 200, "count": 30},
                {"le": 800, "count": 15},
                {"le": 2000, "count": 5},
                {"le": "+Inf", "count": 0},
            ],
        },
    ]
    assert send(client, "post", MEASUREMENTS, histograms, ingest).json()["accepted"] == 2
    body = client.get(f"{SLOS}{slo.pk}/percentiles/", **writer).json()
    # p50: rank 50 in (0, 200] → 200 × 50/60; p95: rank 95 in (800, 2000] → 800 + 1200 × 5/10; p99 → 800 + 1200 × 0.9.
    assert body == {"samples": 100, "source": "histogram", "p50": "166.7", "p95": "1400.0", "p99": "1880.0"}


def test_percentiles_without_samples_are_null(alpha, client, writer):
    slo = make_slo(alpha, "no-samples", sli_kind="latency", threshold=Decimal("800"))
    response = client.get(f"{SLOS}{slo.pk}/percentiles/", **writer)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"samples": 0, "source": None, "p50": None, "p95": None, "p99": None}


# --- scopes ----------------------------------------------------------------------------------------------------


def test_a_read_key_reads_but_cannot_write(alpha, client, reader):
    slo = make_slo(alpha, "api-availability")
    assert client.get(SLOS, **reader).status_code == 200
    assert client.get(f"{SLOS}{slo.pk}/", **reader).json()["name"] == "api-availability"
    body = is_problem(send(client, "post", SLOS, LATENCY_SLO, reader), 403)
    assert body["title"] == "Permission denied"
    is_problem(send(client, "patch", f"{SLOS}{slo.pk}/", {"objective": "0.9"}, reader), 403)
    is_problem(client.delete(f"{SLOS}{slo.pk}/", **reader), 403)
    is_problem(send(client, "post", MEASUREMENTS, [{"slo": slo.name, "ok": True}], reader), 403)
    with schema_context(alpha.schema_name):
        assert list(SLO.objects.values_list("name", "objective")) == [("api-availability", Decimal("0.99"))]
        assert not Measurement.objects.exists()


def test_an_ingest_key_pushes_measurements_but_cannot_manage_slos(alpha, client, ingest):
    slo = make_slo(alpha, "api-availability")
    response = send(
        client, "post", MEASUREMENTS, [{"slo": slo.name, "at": recent(alpha).isoformat(), "ok": True}], ingest
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1
    is_problem(send(client, "post", SLOS, LATENCY_SLO, ingest), 403)
    is_problem(send(client, "patch", f"{SLOS}{slo.pk}/", {"objective": "0.5"}, ingest), 403)
    with schema_context(alpha.schema_name):
        assert SLO.objects.count() == 1 and SLO.objects.get().objective == Decimal("0.99")
    signed_out = client.post(MEASUREMENTS, "[]", content_type="application/json")
    assert signed_out.status_code == 401 and signed_out["Content-Type"] == PROBLEM


# --- measurements -------------------------------------------------------------------------------------------------


@pytest.fixture
def pushed(alpha) -> dict[str, SLO]:
    """One pushed SLO of each shape the mixed batch feeds."""
    return {
        "avail": make_slo(alpha, "api-availability"),
        "lat": make_slo(alpha, "api-latency", sli_kind="latency", threshold=Decimal("800")),
        "qual": make_slo(alpha, "answer-quality", sli_kind="quality", threshold=Decimal("0.8")),
        "hall": make_slo(alpha, "triage-hallucination", sli_kind="hallucination"),
        "resp": make_slo(alpha, "p1-first-response", sli_kind="incident_response", threshold=Decimal("60")),
    }


def mixed_batch(alpha, slos: dict[str, SLO]) -> list[dict]:
    at = recent(alpha, 5)
    when = at.isoformat()
    return [
        {"slo": slos["avail"].name, "id": "probe-1", "at": when, "ok": True},
        {"slo": slos["avail"].name, "id": "probe-2", "at": when, "ok": False},
        {"slo": slos["avail"].name, "at": when, "good": 95, "total": 100},
        {"slo": slos["lat"].name, "id": "lat-1", "at": when, "value_ms": 250},
        {"slo": slos["lat"].name, "id": "lat-2", "at": when, "value_ms": 1200.5},
        {  # 812 + 160 within 800 ms, 9 slower
            "slo": slos["lat"].name,
            "at": when,
            "histogram": [{"le": 250, "count": 812}, {"le": 800, "count": 160}, {"le": "+Inf", "count": 9}],
        },
        {"slo": slos["qual"].name, "id": "eval-1", "at": when, "score": 0.92},
        {"slo": slos["qual"].name, "id": "eval-2", "at": when, "score": 0.5},
        {"slo": slos["hall"].name, "id": "judge-1", "at": when, "hallucinated": False},
        {"slo": slos["hall"].name, "id": "judge-2", "at": when, "hallucinated": True},
        {  # answered after 10 minutes: within the hour
            "slo": slos["resp"].name,
            "id": "INC-1",
            "opened_at": (at - dt.timedelta(minutes=40)).isoformat(),
            "responded_at": (at - dt.timedelta(minutes=30)).isoformat(),
            "severity": "critical",
        },
        {  # answered after two hours: late
            "slo": slos["resp"].name,
            "id": "INC-2",
            "opened_at": (at - dt.timedelta(hours=3)).isoformat(),
            "responded_at": (at - dt.timedelta(hours=1)).isoformat(),
        },
    ]


EXPECTED_ROLLUP = {"avail": (96, 102), "lat": (973, 983), "qual": (1, 2), "hall": (1, 2), "resp": (1, 2)}


def test_a_mixed_batch_is_stored_and_rolled_up(alpha, client, ingest, pushed):
    response = send(client, "post", MEASUREMENTS, {"measurements": mixed_batch(alpha, pushed)}, ingest)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "accepted": 12,
        "replaced": 0,
        "duplicates": 0,
        "rejected": 0,
        "periods_recomputed": 0,
        "errors": [],
    }
    assert {key: rollup(alpha, slo) for key, slo in pushed.items()} == EXPECTED_ROLLUP
    with schema_context(alpha.schema_name):
        latency = Measurement.objects.get(slo=pushed["lat"], key="lat-2")
        assert latency.value == Decimal("1200.5") and (latency.good, latency.total) == (0, 1)
        incident = Measurement.objects.get(slo=pushed["resp"], key="INC-1")
        assert incident.value == Decimal("10") and incident.data["severity"] == "critical"
        assert Measurement.objects.get(slo=pushed["qual"], key="eval-1").value == Decimal("0.92")


def test_resending_is_a_duplicate_and_a_changed_item_replaces_the_old(alpha, client, ingest, pushed):
    batch = mixed_batch(alpha, pushed)
    assert send(client, "post", MEASUREMENTS, batch, ingest).json()["accepted"] == 12
    again = send(client, "post", MEASUREMENTS, {"measurements": batch}, ingest).json()
    assert (again["accepted"], again["replaced"], again["duplicates"], again["rejected"]) == (0, 0, 12, 0)
    assert {key: rollup(alpha, slo) for key, slo in pushed.items()} == EXPECTED_ROLLUP
    assert stored(alpha) == 12

    # probe-2 was a false alarm: the same id with ok = true replaces it.
    fixed = {**batch[1], "ok": True}
    body = send(client, "post", MEASUREMENTS, [fixed, batch[0]], ingest).json()
    assert (body["accepted"], body["replaced"], body["duplicates"]) == (0, 1, 1)
    assert rollup(alpha, pushed["avail"]) == (97, 102)
    assert stored(alpha) == 12
    # The same id twice within one batch: the last one wins and the first counts as a duplicate.
    twice = [{**batch[0], "id": "probe-3", "ok": False}, {**batch[0], "id": "probe-3", "ok": True}]
    body = send(client, "post", MEASUREMENTS, twice, ingest).json()
    assert (body["accepted"], body["duplicates"]) == (1, 1)
    assert rollup(alpha, pushed["avail"]) == (98, 103)


def test_bad_items_get_errors_by_index_and_field_and_good_ones_are_kept(alpha, client, ingest, pushed):
    when = recent(alpha).isoformat()
    avail, lat, qual = pushed["avail"].name, pushed["lat"].name, pushed["qual"].name
    batch = [
        {"slo": avail, "id": "ok-1", "at": when, "ok": True},
        {"slo": lat, "at": when, "value_ms": -5},
        {"slo": qual, "at": when, "score": 1.5},
        {"slo": "no-such-slo", "at": when, "ok": True},
        {"slo": avail, "at": when, "good": 11, "total": 10},
        {"slo": avail, "ok": True},
        {"slo": lat, "id": "ok-2", "at": when, "value_ms": 300},
        {"slo": avail, "at": "2999-01-01T00:00:00Z", "ok": True},
        {"slo": avail, "at": "yesterday", "ok": True},
        "not an object",
        {"slo": lat, "at": when, "histogram": [{"le": 800, "count": 5}, {"le": 250, "count": 1}]},
        {"slo": pushed["resp"].name, "id": "INC-9", "opened_at": when, "responded_at": "2000-01-01T00:00:00Z"},
        {"slo": avail, "at": when},
    ]
    response = send(client, "post", MEASUREMENTS, batch, ingest)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (2, 11, 0)
    assert {(e["index"], e["field"]) for e in body["errors"]} == {
        (1, "value_ms"),
        (2, "score"),
        (3, "slo"),
        (4, "good"),
        (5, "at"),
        (7, "at"),
        (8, "at"),
        (9, ""),
        (10, "histogram[1].le"),
        (11, "responded_at"),
        (12, ""),
    }
    messages = {e["index"]: e["message"] for e in body["errors"]}
    assert "no-such-slo" in messages[3] and "cannot be more than total" in messages[4]
    assert "nothing to measure" in messages[12]
    assert rollup(alpha, pushed["avail"]) == (1, 1) and rollup(alpha, pushed["lat"]) == (1, 1)
    assert rollup(alpha, pushed["qual"]) == (0, 0)
    assert stored(alpha) == 2


def test_a_batch_with_no_valid_item_or_no_batch_at_all_is_a_400_problem(alpha, client, ingest, pushed):
    body = is_problem(send(client, "post", MEASUREMENTS, [{"slo": "no-such-slo", "ok": True}], ingest), 400)
    assert (body["accepted"], body["rejected"]) == (0, 1)
    assert {e["field"] for e in body["errors"]} == {"slo"}
    for not_a_batch in ({"measurement": []}, {"measurements": {}}, "text", 12, {"measurements": "x"}):
        is_problem(send(client, "post", MEASUREMENTS, not_a_batch, ingest), 400)
    broken = client.post(MEASUREMENTS, "[{not json", content_type="application/json", **ingest)
    is_problem(broken, 400)
    empty = send(client, "post", MEASUREMENTS, [], ingest)
    assert empty.status_code == 200 and empty.json()["accepted"] == 0
    assert stored(alpha) == 0


def test_nan_is_refused_by_the_parser(alpha, client, ingest, pushed):
    when = recent(alpha).isoformat()
    text = (
        f'[{{"slo": "api-latency", "at": "{when}", "value_ms": NaN}}, '
        f'{{"slo": "api-availability", "at": "{when}", "ok": true}}]'
    )
    body = is_problem(client.post(MEASUREMENTS, text, content_type="application/json", **ingest), 400)
    assert "NaN" in body["detail"]
    infinity = text.replace("NaN", "Infinity")
    is_problem(client.post(MEASUREMENTS, infinity, content_type="application/json", **ingest), 400)
    assert stored(alpha) == 0


def test_more_than_10000_items_is_413_and_nothing_is_stored(alpha, client, ingest, pushed):
    when = recent(alpha).isoformat()
    items = [{"slo": "api-availability", "id": f"p{i}", "at": when, "ok": True} for i in range(MAX_MEASUREMENTS + 1)]
    body = is_problem(send(client, "post", MEASUREMENTS, {"measurements": items}, ingest), 413)
    assert "10,000" in body["detail"] and "10,001" in body["detail"]
    assert stored(alpha) == 0 and rollup(alpha, pushed["avail"]) == (0, 0)
    accepted = send(client, "post", MEASUREMENTS, items[:MAX_MEASUREMENTS], ingest).json()
    assert accepted["accepted"] == MAX_MEASUREMENTS
    assert rollup(alpha, pushed["avail"]) == (MAX_MEASUREMENTS, MAX_MEASUREMENTS)


def test_a_million_small_items_are_refused_cleanly(alpha, client, ingest, pushed):
    item = '{"slo":"api-availability","ok":true}'
    text = "[" + ",".join([item] * 1_000_000) + "]"  # 37 MB
    body = is_problem(client.post(MEASUREMENTS, text, content_type="application/json", **ingest), 413)
    # Refused by the count check (today) or by the request-size limit (KEEL_MAX_REQUEST_BYTES): 413 either way.
    assert "1,000,000" in body["detail"] or "larger than this endpoint accepts" in body["detail"]
    assert stored(alpha) == 0 and rollup(alpha, pushed["avail"]) == (0, 0)


def test_a_body_over_the_request_size_limit_is_413(alpha, client, ingest, pushed):
    padded = "[" + " " * (11 * 1024 * 1024) + "]"  # a valid, empty batch, over the 10 MiB limit
    body = is_problem(client.post(MEASUREMENTS, padded, content_type="application/json", **ingest), 413)
    assert "larger than this endpoint accepts" in body["detail"]


# --- late data ------------------------------------------------------------------------------------------------


def test_late_bad_data_breaks_a_closed_month_and_the_breach_stays(alpha, client, ingest, writer):
    Client.objects.filter(pk=alpha.pk).update(monthly_retainer=Decimal("12000.00"))
    month = last_month(alpha)
    started = windows.month_period(month.start - dt.timedelta(seconds=1), alpha.tz).start  # two months ago
    slo = make_slo(alpha, "late-availability", objective=Decimal("0.99"), starts_at=started, credit_tiers=TIERS)
    good = minutes(month.start + dt.timedelta(days=5), 10, good=100, total=100, slo=slo.name)
    first = send(client, "post", MEASUREMENTS, good, ingest).json()
    assert (first["accepted"], first["periods_recomputed"]) == (10, 0)  # nothing settled yet
    with schema_context(alpha.schema_name):
        slos_evaluate()
        period = SloPeriod.objects.get(slo=slo, start=month.start)
        assert (period.label, period.met, period.revision, period.good, period.total) == (
            month.label,
            True,
            1,
            1000,
            1000,
        )
        assert not Breach.objects.exists()

    late = minutes(month.start + dt.timedelta(days=20), 10, good=0, total=100, slo=slo.name)
    for number, item in enumerate(late):
        item["id"] = f"late-{number}"
    body = send(client, "post", MEASUREMENTS, late, ingest).json()
    assert body["accepted"] == 10 and body["periods_recomputed"] >= 1
    with schema_context(alpha.schema_name):
        period.refresh_from_db()
        assert (period.revision, period.met, period.good, period.total) == (2, False, 1000, 2000)
        assert period.attainment == Decimal("0.5")
        breach = Breach.objects.get(slo=slo)
        assert (breach.period_id, breach.period_label, breach.attainment) == (period.pk, month.label, Decimal("0.5"))
        # 50 % is under both tiers: the larger credit, 25 % of 12,000.
        assert (breach.credit_percent, breach.credit_amount, breach.currency) == (
            Decimal("25"),
            Decimal("3000.00"),
            "EUR",
        )
        assert ServiceCredit.objects.get(breach=breach).amount == Decimal("3000.00")

    # The late samples were wrong after all: corrected, the month is met again, but the breach is on record.
    fixed = [{**item, "good": 100} for item in late]
    body = send(client, "post", MEASUREMENTS, fixed, ingest).json()
    assert (body["replaced"], body["periods_recomputed"]) == (10, 1)
    extra = send(
        client,
        "post",
        MEASUREMENTS,
        minutes(month.start + dt.timedelta(days=25), 5, good=100, total=100, slo=slo.name),
        ingest,
    ).json()
    assert extra["accepted"] == 5
    with schema_context(alpha.schema_name):
        period.refresh_from_db()
        assert (period.met, period.revision, period.good, period.total) == (True, 4, 2500, 2500)
        assert Breach.objects.filter(slo=slo).count() == 1
        assert Breach.objects.get(slo=slo).attainment == Decimal("0.5")
    breaches = client.get(API + "slo-breaches/", **writer).json()["results"]
    assert [b["period_label"] for b in breaches] == [month.label]


# --- breaches and credits ---------------------------------------------------------------------------------------


def test_breaches_are_listed_and_read(alpha, client, reader, writer):
    slo = breach_last_month(alpha)
    other = make_slo(alpha, "clean")
    month = last_month(alpha)
    listed = client.get(API + "slo-breaches/", **reader)
    assert listed.status_code == 200
    results = listed.json()["results"]
    assert len(results) == 1
    breach = results[0]
    assert (breach["slo"], breach["slo_name"], breach["period_label"]) == (slo.pk, "api-availability", month.label)
    assert (breach["objective"], breach["attainment"], breach["good"], breach["total"]) == (
        "0.99000000",
        "0.50000000",
        50,
        100,
    )
    assert (Decimal(breach["credit_percent"]), Decimal(breach["credit_amount"]), breach["currency"]) == (
        Decimal("10"),
        Decimal("1200"),
        "EUR",
    )
    assert breach["slo_snapshot"]["name"] == "api-availability" and breach["credit"] is not None
    assert client.get(f"{API}slo-breaches/{breach['id']}/", **reader).json() == breach
    assert client.get(f"{API}slo-breaches/?slo={slo.pk}", **reader).json()["results"] == [breach]
    assert client.get(f"{API}slo-breaches/?slo={other.pk}", **reader).json()["results"] == []
    assert client.get(f"{API}slo-breaches/{breach['id'] + 1000}/", **reader).status_code == 404
    # Read-only: not even an edit key may change or remove one.
    for method in ("patch", "put", "delete"):
        is_problem(send(client, method, f"{API}slo-breaches/{breach['id']}/", {"attainment": "1"}, writer), 405)
    is_problem(send(client, "post", f"{API}slo-breaches/", breach, writer), 405)
    with schema_context(alpha.schema_name):
        assert Breach.objects.get(pk=breach["id"]).attainment == Decimal("0.5")


def test_credits_by_month_and_their_settlement(alpha, client, writer):
    breach_last_month(alpha)
    month = last_month(alpha).start.astimezone(alpha.tz).date()
    credits = client.get(f"{API}service-credits/?month={month:%Y-%m}", **writer).json()["results"]
    assert len(credits) == 1
    credit = credits[0]
    assert (credit["month"], Decimal(credit["percent"]), Decimal(credit["amount"])) == (
        month.isoformat(),
        Decimal("10"),
        Decimal("1200"),
    )
    assert (credit["currency"], credit["status"]) == ("EUR", "due")
    assert credit["slo_name"] == "api-availability" and credit["capped"] is False
    other = (month - dt.timedelta(days=1)).replace(day=1)
    assert client.get(f"{API}service-credits/?month={other:%Y-%m}", **writer).json()["results"] == []
    assert client.get(f"{API}service-credits/?month=not-a-month", **writer).json()["results"] == []

    url = f"{API}service-credits/{credit['id']}/"
    issued = send(client, "patch", url, {"status": "issued", "amount": "1.00", "percent": "1"}, writer)
    assert issued.status_code == 200, issued.content
    # amount and percent are read-only: sent, but ignored.
    assert (issued.json()["status"], Decimal(issued.json()["amount"]), Decimal(issued.json()["percent"])) == (
        "issued",
        Decimal("1200"),
        Decimal("10"),
    )
    assert issued.json()["updated_by"]
    body = is_problem(send(client, "patch", url, {"status": "waived"}, writer), 400)
    assert "note" in body["errors"]
    assert "status" in is_problem(send(client, "patch", url, {"status": "forgiven"}, writer), 400)["errors"]
    waived = send(client, "patch", url, {"status": "waived", "note": "Client-caused outage (change 4411)."}, writer)
    assert waived.status_code == 200
    assert (waived.json()["status"], waived.json()["note"]) == ("waived", "Client-caused outage (change 4411).")
    with schema_context(alpha.schema_name):
        stored_credit = ServiceCredit.objects.get(pk=credit["id"])
        assert (stored_credit.status, stored_credit.amount, stored_credit.percent) == (
            "waived",
            Decimal("1200.00"),
            Decimal("10"),
        )


# --- drift -------------------------------------------------------------------------------------------------------


def reference_psi_js(reference: list[int], current: list[int]) -> tuple[Decimal, Decimal]:
    """PSI and base-2 Jensen–Shannon distance from the textbook formulas (numpy, scipy), at 6 places."""
    r = np.array(reference, dtype=float) / sum(reference)
    c = np.array(current, dtype=float) / sum(current)
    psi = float(np.sum((r - c) * np.log(r / c)))
    js = float(jensenshannon(r, c, base=2))
    return Decimal(psi).quantize(Decimal("0.000001")), Decimal(js).quantize(Decimal("0.000001"))


def drift_body(asset_id: int, *, start: str, end: str, counts, reference=True, **extra) -> dict:
    body = {
        "asset": asset_id,
        "feature": "triage_score",
        "window_start": start,
        "window_end": end,
        "current": {"edges": EDGES, "counts": counts},
        **extra,
    }
    if reference:
        body["reference"] = {"edges": EDGES, "counts": REFERENCE_COUNTS}
        body["reference_label"] = "First 30 days after go-live"
    return body


def open_drift_alerts(alpha) -> list[Alert]:
    with schema_context(alpha.schema_name):
        return list(Alert.objects.filter(kind="drift").exclude(state="resolved"))


def test_drift_checks_their_idempotency_listing_and_alert(alpha, client, writer, model):
    week = {"start": "2026-11-23T00:00:00Z", "end": "2026-11-30T00:00:00Z"}
    url = API + "drift-checks/"
    first = drift_body(model.pk, **week, counts=DRIFTED_COUNTS, reference=False, id="triage_score:2026-W48")
    body = is_problem(send(client, "post", url, first, writer), 400)
    assert "reference" in body["errors"]

    response = send(
        client, "post", url, drift_body(model.pk, **week, counts=DRIFTED_COUNTS, id="triage_score:2026-W48"), writer
    )
    assert response.status_code == 201, response.content
    check = response.json()
    psi, js = reference_psi_js(REFERENCE_COUNTS, DRIFTED_COUNTS)
    assert psi > Decimal("0.2")  # the example drifts: PSI ≈ 0.224
    assert (Decimal(check["psi"]), Decimal(check["js"])) == (psi, js)
    assert (check["status"], check["n"], check["asset"], check["feature"]) == (
        "significant",
        1200,
        model.pk,
        "triage_score",
    )
    assert check["key"] == "triage_score:2026-W48" and check["current"]["counts"] == DRIFTED_COUNTS

    # A retry with the same id answers 200 with the check already stored.
    again = send(
        client, "post", url, drift_body(model.pk, **week, counts=DRIFTED_COUNTS, id="triage_score:2026-W48"), writer
    )
    assert again.status_code == 200 and again.json()["id"] == check["id"]
    with schema_context(alpha.schema_name):
        assert DriftCheck.objects.count() == 1

    alerts = open_drift_alerts(alpha)
    assert len(alerts) == 1 and alerts[0].severity == "high" and "triage_score" in alerts[0].subject
    assert alerts[0].data["check_id"] == check["id"]

    # The following week looks like the reference again: stable, and the alert is resolved.
    later = {"start": "2026-11-30T00:00:00Z", "end": "2026-12-07T00:00:00Z"}
    stable = send(
        client, "post", url, drift_body(model.pk, **later, counts=REFERENCE_COUNTS, reference=False, id="W49"), writer
    )
    assert stable.status_code == 201 and stable.json()["status"] == "stable"
    assert Decimal(stable.json()["psi"]) == Decimal("0") and Decimal(stable.json()["js"]) == Decimal("0")
    assert open_drift_alerts(alpha) == []
    with schema_context(alpha.schema_name):
        assert Alert.objects.get(pk=alerts[0].pk).state == "resolved"

    with schema_context(alpha.schema_name):
        other = AIModel.objects.create(kind="model", name="Other scorer", provider="self-hosted", model_id="o-1")
    other_check = send(client, "post", url, drift_body(other.pk, **week, counts=REFERENCE_COUNTS, id="o-W48"), writer)
    assert other_check.status_code == 201
    mine = client.get(f"{url}?asset={model.pk}", **writer).json()["results"]
    assert [item["key"] for item in mine] == ["W49", "triage_score:2026-W48"]  # newest window first
    assert [item["key"] for item in client.get(f"{url}?asset={other.pk}", **writer).json()["results"]] == ["o-W48"]
    assert len(client.get(url, **writer).json()["results"]) == 3
    assert client.get(f"{url}{check['id']}/", **writer).json()["psi"] == check["psi"]


def test_drift_input_errors_are_400(alpha, client, writer, model):
    url = API + "drift-checks/"
    week = {"start": "2026-11-23T00:00:00Z", "end": "2026-11-30T00:00:00Z"}
    backwards = drift_body(model.pk, start=week["end"], end=week["start"], counts=DRIFTED_COUNTS)
    assert "window_end" in is_problem(send(client, "post", url, backwards, writer), 400)["errors"]
    short = drift_body(model.pk, **week, counts=[1, 2])
    assert "current" in is_problem(send(client, "post", url, short, writer), 400)["errors"]
    assert (
        "asset"
        in is_problem(send(client, "post", url, drift_body(999999, **week, counts=DRIFTED_COUNTS), writer), 400)[
            "errors"
        ]
    )
    with schema_context(alpha.schema_name):
        assert not DriftCheck.objects.exists()


# --- OpenSLO --------------------------------------------------------------------------------------------------------


COMPARED = [
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
    "credit_tiers",
    "min_events",
    "starts_at",
    "source",
    "keel_source",
]


def test_openslo_export_and_import_round_trip(alpha, client, writer):
    created = [
        send(client, "post", SLOS, {**LATENCY_SLO, "description": "p95 of claim lookups"}, writer).json(),
        send(
            client,
            "post",
            SLOS,
            {
                "name": "claims-api-availability",
                "display_name": "Claims API is up",
                "sli_kind": "availability",
                "objective": "0.999",
                "window_kind": "rolling",
                "window_days": 28,
                "budgeting": "timeslices",
                "timeslice_minutes": 5,
                "timeslice_target": "0.9",
            },
            writer,
        ).json(),
    ]
    before = {item["name"]: {field: item[field] for field in COMPARED} for item in created}
    exported = client.get(SLOS + "openslo/", **writer)
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("application/yaml")
    text = exported.content.decode()
    assert "apiVersion: openslo/v1" in text and "claims-api-latency" in text and "claims-api-availability" in text

    for item in created:
        assert client.delete(f"{SLOS}{item['id']}/", **writer).status_code == 204
    with schema_context(alpha.schema_name):
        assert not SLO.objects.exists()

    imported = send(client, "post", SLOS + "openslo/", {"yaml": text}, writer)
    assert imported.status_code == 200, imported.content
    after = {item["name"]: {field: item[field] for field in COMPARED} for item in imported.json()}
    assert after == before
    # Importing the same file again updates by name: nothing new.
    assert send(client, "post", SLOS + "openslo/", {"yaml": text}, writer).status_code == 200
    with schema_context(alpha.schema_name):
        assert SLO.objects.count() == 2


def test_a_bad_openslo_file_lists_its_problems_and_creates_nothing(alpha, client, writer, model):
    url = SLOS + "openslo/"
    good = send(client, "post", SLOS, {**LATENCY_SLO, "asset": model.pk}, writer).json()
    text = client.get(url, **writer).content.decode()
    assert "Triage scorer" in text
    client.delete(f"{SLOS}{good['id']}/", **writer)

    bad_name = text.replace("name: claims-api-latency", "name: Claims API Latency", 1)
    body = is_problem(send(client, "post", url, {"yaml": bad_name}, writer), 400)
    assert body["errors"]["file"] == [
        "document 1 (Claims API Latency): metadata.name must be an RFC 1123 label: lower-case letters, digits and "
        "hyphens, starting and ending with a letter or digit"
    ]
    body = is_problem(send(client, "post", url, {"yaml": "{not: [yaml"}, writer), 400)
    assert body["errors"]["file"][0].startswith("document 1: not YAML")
    # The asset it names is gone from the inventory.
    with schema_context(alpha.schema_name):
        AIModel.objects.filter(pk=model.pk).delete()
    body = is_problem(send(client, "post", url, {"yaml": text}, writer), 400)
    assert body["errors"]["file"] == ["claims-api-latency: asset 'Triage scorer' is not in the inventory."]
    assert "yaml" in is_problem(send(client, "post", url, {"text": text}, writer), 400)["errors"]
    assert "yaml" in is_problem(send(client, "post", url, [text], writer), 400)["errors"]
    with schema_context(alpha.schema_name):
        assert not SLO.objects.exists()


def test_an_openslo_file_with_one_bad_document_creates_none_of_them(alpha, client, writer):
    url = SLOS + "openslo/"
    with schema_context(alpha.schema_name):
        office = BusinessCalendar.objects.create(name="Paris office", time_zone="Europe/Paris", hours={})
    first = send(client, "post", SLOS, {**LATENCY_SLO, "display_name": "A latency"}, writer).json()
    second = {
        "name": "p1-response",
        "display_name": "B first response",
        "sli_kind": "incident_response",
        "objective": "0.9",
        "threshold": "60",
        "calendar": office.pk,
    }
    second = send(client, "post", SLOS, second, writer).json()
    text = client.get(url, **writer).content.decode()
    assert text.count("apiVersion: openslo/v1") == 2 and "Paris office" in text
    for item in (first, second):
        assert client.delete(f"{SLOS}{item['id']}/", **writer).status_code == 204
    with schema_context(alpha.schema_name):
        office.delete()

    # The first document is valid and is saved before the second fails: the whole import is rolled back.
    body = is_problem(send(client, "post", url, {"yaml": text}, writer), 400)
    assert body["errors"]["file"] == ["p1-response: business calendar 'Paris office' does not exist."]
    broken = text.replace("name: p1-response", "name: P1_Response", 1)
    body = is_problem(send(client, "post", url, {"yaml": broken}, writer), 400)
    assert body["errors"]["file"][0].startswith("document 2 (P1_Response): metadata.name must be an RFC 1123 label")
    with schema_context(alpha.schema_name):
        assert not SLO.objects.exists()


# --- business calendars --------------------------------------------------------------------------------------------


TORONTO = {
    "name": "Toronto office hours",
    "time_zone": "America/Toronto",
    "hours": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holiday_country": "CA",
    "holiday_subdivision": "ON",
    "extra_holidays": ["2026-12-24"],
}


def test_business_calendars(alpha, client, writer):
    url = API + "business-calendars/"
    response = send(client, "post", url, TORONTO, writer)
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in TORONTO} == TORONTO
    assert client.get(url, **writer).json()["results"][0]["id"] == body["id"]
    with schema_context(alpha.schema_name):
        calendar = BusinessCalendar.objects.get()
        assert calendar.extra_holidays == [dt.date(2026, 12, 24)] and calendar.holiday_subdivision == "ON"

    bad_hours = is_problem(
        send(client, "post", url, {**TORONTO, "name": "Backwards", "hours": {"mon": [["17:00", "09:00"]]}}, writer), 400
    )
    assert "before end" in bad_hours["errors"]["hours"][0]
    bad_day = is_problem(
        send(client, "post", url, {**TORONTO, "name": "Funday", "hours": {"funday": [["09:00", "17:00"]]}}, writer), 400
    )
    assert "unknown day" in bad_day["errors"]["hours"][0]
    bad_zone = is_problem(
        send(client, "post", url, {**TORONTO, "name": "Nowhere", "time_zone": "Mars/Olympus"}, writer), 400
    )
    assert "time_zone" in bad_zone["errors"]
    duplicate = is_problem(send(client, "post", url, TORONTO, writer), 400)
    assert "name" in duplicate["errors"]
    with schema_context(alpha.schema_name):
        assert BusinessCalendar.objects.count() == 1

    # An incident SLO runs on it; a latency SLO has no use for a calendar and drops it.
    response_slo = {
        "name": "p1-response",
        "display_name": "P1 first response",
        "sli_kind": "incident_response",
        "objective": "0.9",
        "threshold": "60",
    }
    made = send(client, "post", SLOS, {**response_slo, "calendar": body["id"]}, writer).json()
    assert made["calendar"] == body["id"]
    latency = send(client, "post", SLOS, {**LATENCY_SLO, "calendar": body["id"]}, writer).json()
    assert latency["calendar"] is None
    renamed = send(client, "patch", f"{url}{body['id']}/", {"name": "Toronto, 9 to 5"}, writer)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Toronto, 9 to 5"


# --- other clients --------------------------------------------------------------------------------------------------


def test_another_clients_service_levels_are_404(alpha, beta, client, writer, api_key_for):
    slo = breach_last_month(beta, "beta-availability", retainer="5000.00")
    with schema_context(beta.schema_name):
        breach = Breach.objects.get(slo=slo)
        credit = ServiceCredit.objects.get(breach=breach)
        asset = AIModel.objects.create(kind="model", name="Beta scorer", provider="self-hosted", model_id="b-1")
        check, _ = drift_submit(
            asset=asset,
            feature="score",
            current={"edges": EDGES, "counts": REFERENCE_COUNTS},
            reference={"edges": EDGES, "counts": REFERENCE_COUNTS},
            window_start=dt.datetime(2026, 11, 1, tzinfo=UTC),
            window_end=dt.datetime(2026, 11, 8, tzinfo=UTC),
        )
    with schema_context(alpha.schema_name):
        assert not SLO.objects.exists()  # so none of beta's ids can name one of alpha's

    for path in (
        f"slos/{slo.pk}/",
        f"slos/{slo.pk}/series/",
        f"slo-breaches/{breach.pk}/",
        f"service-credits/{credit.pk}/",
        f"drift-checks/{check.pk}/",
    ):
        is_problem(client.get(API + path, **writer), 404)
    is_problem(send(client, "patch", f"{API}service-credits/{credit.pk}/", {"status": "issued"}, writer), 404)
    is_problem(send(client, "patch", f"{SLOS}{slo.pk}/", {"objective": "0.5"}, writer), 404)
    is_problem(client.delete(f"{SLOS}{slo.pk}/", **writer), 404)
    for path in ("slos/", "slo-breaches/", "service-credits/", "drift-checks/"):
        assert client.get(API + path, **writer).json()["results"] == [], path
    pushed = send(
        client, "post", MEASUREMENTS, [{"slo": slo.name, "at": recent(alpha).isoformat(), "ok": True}], writer
    )
    assert is_problem(pushed, 400)["errors"][0]["field"] == "slo"

    # alpha's key under beta's address: no such client for it.
    assert client.get(f"/c/beta/api/v1/slos/{slo.pk}/", **writer).status_code == 404
    assert client.get(f"/c/beta/api/v1/slo-breaches/{breach.pk}/", **writer).status_code == 404
    _, alpha_ingest = api_key_for(alpha, ["ingest"])
    beta_batch = [{"slo": slo.name, "at": recent(beta).isoformat(), "ok": True}]
    assert (
        send(client, "post", "/c/beta/api/v1/slo-measurements/", beta_batch, auth_header(alpha_ingest)).status_code
        == 404
    )
    with schema_context(beta.schema_name):
        assert SLO.objects.get(pk=slo.pk).objective == Decimal("0.99")
        assert ServiceCredit.objects.get(pk=credit.pk).status == "due"
        assert Measurement.objects.filter(slo=slo).count() == 10
