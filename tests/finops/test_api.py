"""FinOps API: GET /focus-export (CSV streamed, Parquet, parameters, permissions, another client's prefix,
audit, OpenAPI), and the contract every FinOps list and read keeps: money as decimal strings, constant queries."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.finops.ledger import load_focus_file
from apps.finops.models import IngestionRun
from apps.finops.selectors import ledger_totals
from apps.finops.services import billing_source_save, focus_upload_commit
from tests.conftest import auth_header

from .conftest import shared_file

BASE = "/c/alpha/api/v1/"
EXPORT = f"{BASE}focus-export/"
PROBLEM = "application/problem+json"


@pytest.fixture
def reader(alpha, api_key_for):
    return auth_header(api_key_for(alpha, ["read"])[1])


@pytest.fixture
def sample(alpha):
    with schema_context(alpha.schema_name):
        run = focus_upload_commit(path=shared_file("focus_sample.csv"), filename="focus_sample.csv")
        assert run.status == "succeeded", run.error
        return ledger_totals()["USD"]


def _rows(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(body, newline="")))


def test_csv_export_streams_the_period_as_an_attachment_and_is_audited(alpha, client, reader, sample):
    response = client.get(EXPORT, {"start": "2024-09-01", "end": "2024-10-01"}, **reader)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="alpha-focus-2024-09-01-2024-09-30.csv"'
    rows = _rows(response)
    assert len(rows) == 1000
    assert sum(Decimal(r["BilledCost"]) for r in rows) == sample["billed_cost"]
    assert sum(Decimal(r["EffectiveCost"]) for r in rows) == sample["effective_cost"]
    assert all(r["ChargePeriodStart"].endswith("Z") for r in rows)
    with schema_context(alpha.schema_name):
        event = AuditEvent.objects.get(action="focus_file.export")
    assert event.actor_api_key and event.after["channel"] == "api" and event.after["format"] == "csv"
    assert event.after["rows"] == 1000 and event.after["totals"]["USD"]["billed_cost"] == str(sample["billed_cost"])


def test_the_format_parameter_decides_whatever_accept_says(client, reader, sample):
    as_json = client.get(EXPORT, {"start": "2024-09-01", "end": "2024-10-01"}, HTTP_ACCEPT="application/json", **reader)
    assert as_json.status_code == 200 and as_json["Content-Type"].startswith("text/csv")
    as_csv = client.get(EXPORT, {"start": "2024-09-01", "end": "2024-10-01"}, HTTP_ACCEPT="text/csv", **reader)
    assert as_csv.status_code == 200 and len(_rows(as_csv)) == 1000


def test_parquet_export_has_exact_types(client, reader, sample, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    response = client.get(EXPORT, {"start": "2024-09-01", "end": "2024-10-01", "format": "parquet"}, **reader)
    assert response.status_code == 200 and response["Content-Type"] == "application/vnd.apache.parquet"
    assert response["Content-Disposition"] == 'attachment; filename="alpha-focus-2024-09-01-2024-09-30.parquet"'
    data = b"".join(response.streaming_content)
    assert data[:4] == b"PAR1"
    table = pq.read_table(pa.BufferReader(data))
    assert table.num_rows == 1000 and table.schema.field("EffectiveCost").type == pa.decimal128(30, 12)
    assert table.schema.field("ChargePeriodStart").type == pa.timestamp("us", tz="UTC")
    assert sum(v for v in table.column("EffectiveCost").to_pylist() if v is not None) == sample["effective_cost"]


def test_an_export_reimports_into_another_source_with_the_same_totals(alpha, client, reader, sample, tmp_path):
    path = tmp_path / "export.csv"
    response = client.get(EXPORT, {"start": "2024-09-01", "end": "2024-10-01"}, **reader)
    path.write_bytes(b"".join(response.streaming_content))
    with schema_context(alpha.schema_name):
        copy = billing_source_save(kind="focus_upload", name="Re-import", settings={})
        run = IngestionRun.objects.create(source=copy, trigger=IngestionRun.Trigger.UPLOAD)
        result = load_focus_file(source_id=copy.pk, run_id=run.pk, path=path)
        again = ledger_totals(source=copy)["USD"]
    assert result.rows_loaded == 1000 and again["rows"] == sample["rows"]
    assert (again["billed_cost"], again["effective_cost"]) == (sample["billed_cost"], sample["effective_cost"])


def test_filters_and_defaults(client, reader, sample):
    aws = _rows(client.get(EXPORT, {"start": "2024-09-01", "end": "2024-10-01", "provider": "AWS"}, **reader))
    assert len(aws) == 942 and {r["ProviderName"] for r in aws} == {"AWS"}
    tagged = _rows(client.get(EXPORT, {"start": "2024-09-01", "end": "2024-10-01", "tag": "environment=dev"}, **reader))
    assert tagged and all(json.loads(r["Tags"])["environment"] == "dev" for r in tagged)
    only_end = client.get(EXPORT, {"end": "2024-10-01"}, **reader)  # start defaults to the month before end
    assert only_end["Content-Disposition"].endswith('focus-2024-09-01-2024-09-30.csv"') and len(_rows(only_end)) == 1000
    same = client.get(EXPORT, {"from": "2024-09-01", "to": "2024-10-01"}, **reader)  # cost-records' spelling
    assert len(_rows(same)) == 1000
    default = client.get(EXPORT, **reader)  # this month: the sample is not in it
    assert default.status_code == 200 and _rows(default) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "xlsx"}, "format"),
        ({"start": "2024-10-01", "end": "2024-09-01"}, "end"),
        ({"start": "2024-09-01", "end": "2024-09-01"}, "end"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2010-01-01", "end": "2024-01-01"}, "end"),
        ({"source_id": "x"}, "source_id"),
        ({"start": "2024-09-01", "from": "2024-08-01"}, "start"),
    ],
)
def test_bad_parameters_are_400_problems_naming_the_field(alpha, client, reader, params, field):
    response = client.get(EXPORT, params, **reader)
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert field in json.loads(response.content)["errors"]
    with schema_context(alpha.schema_name):
        assert not AuditEvent.objects.filter(action="focus_file.export").exists()


def test_who_may_export(alpha, beta, client, api_key_for, sample):
    ingest_only = auth_header(api_key_for(alpha, ["ingest"])[1])
    assert client.get(EXPORT, **ingest_only).status_code == 403
    beta_key = auth_header(api_key_for(beta, ["read", "write"])[1])
    assert client.get(EXPORT, **beta_key).status_code == 404
    signed_out = client.get(EXPORT)
    assert signed_out.status_code == 401 and signed_out["Content-Type"] == PROBLEM
    beta_own = client.get("/c/beta/api/v1/focus-export/", {"start": "2024-09-01", "end": "2024-10-01"}, **beta_key)
    assert beta_own.status_code == 200 and _rows(beta_own) == []  # alpha's ledger is not beta's


def test_the_export_is_in_the_openapi_document_with_examples(client, db):
    document = yaml.safe_load(client.get("/api/schema/").content)
    operation = document["paths"]["/c/{client}/api/v1/focus-export/"]["get"]
    assert operation["operationId"] == "focus_export"
    names = {p["name"] for p in operation["parameters"]}
    assert {"client", "start", "end", "format", "provider", "service", "account", "tag", "source_id"} <= names
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"text/csv", "application/vnd.apache.parquet"}
    assert content["text/csv"]["examples"]
    assert operation["responses"]["400"]["content"]["application/problem+json"]["examples"]


# --- the contract of the FinOps reads -------------------------------------------------------------------------


def test_money_is_always_a_decimal_string(client, reader, sample):
    record = client.get(f"{BASE}cost-records/?page_size=1", **reader).json()["results"][0]
    for name in ("billed_cost", "effective_cost", "list_cost"):
        assert record[name] is None or isinstance(record[name], str)
    explorer = client.get(f"{BASE}cost-explorer?from=2024-09-01&to=2024-10-01", **reader).json()
    assert isinstance(explorer["totals"]["USD"], str) and Decimal(explorer["totals"]["USD"]) == sample["effective_cost"]
    assert all(isinstance(g["amount"], str) for g in explorer["groups"])
    run = client.get(f"{BASE}ingestion-runs/", **reader).json()["results"][0]
    assert all(isinstance(v, str) for k, v in run["totals"]["USD"].items() if k != "rows")


def test_the_cost_records_list_costs_the_same_queries_for_5_or_50_rows(alpha, client, reader, sample):
    def count(size: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{BASE}cost-records/?page_size={size}", **reader)
        assert response.status_code == 200 and len(response.json()["results"]) == size
        return len(queries.captured_queries)

    count(5)  # the key's first use records itself
    assert count(5) == count(50)


def test_times_in_finops_responses_are_utc_with_z(client, reader, sample):
    record = client.get(f"{BASE}cost-records/?page_size=1", **reader).json()["results"][0]
    run = client.get(f"{BASE}ingestion-runs/", **reader).json()["results"][0]
    assert record["charge_period_start"].endswith("Z") and run["started_at"].endswith("Z")
