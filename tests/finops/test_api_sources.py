"""FinOps API: billing sources (secrets write-only), test and run, runs, FOCUS uploads (dry run, commit, errors,
size limit), cost records and the explorer — with the client's own data only, money as decimal strings."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.finops import connectors
from apps.finops.connectors.base import ConnectionResult, Connector, FetchResult, FieldSpec
from apps.finops.ledger import sum_file_independently
from apps.finops.models import BillingSource, IngestionRun
from apps.finops.selectors import ledger_totals
from tests.conftest import auth_header

from .conftest import shared_file

BASE = "/c/alpha/api/v1/"
SECRET = "sk-admin-never-shown-0123456789"


class QuietConnector(Connector):
    kind = "openai"
    label = "OpenAI (test)"
    settings_fields = (FieldSpec("organisation", "Organisation", required=False),)
    secret_fields = (FieldSpec("api_key", "Admin key", secret=True),)

    def test_connection(self, source, secrets):
        return ConnectionResult(secrets.get("api_key") == SECRET, "Connected to OpenAI organisation org-1.")

    def fetch(self, source, secrets, window):
        return FetchResult(rows=[], details={"pages": 1})


@pytest.fixture(autouse=True)
def quiet_openai(monkeypatch):
    monkeypatch.setitem(connectors._cache, "openai", QuietConnector())


def _create(client, headers, name="OpenAI org", **extra):
    body = {"name": name, "kind": "openai", "settings": {}, "secrets": {"api_key": SECRET}, **extra}
    return client.post(f"{BASE}billing-sources/", json.dumps(body), content_type="application/json", **headers)


def test_secrets_are_write_only_and_encrypted(alpha, client, writer):
    created = _create(client, writer)
    assert created.status_code == 201, created.content
    body = created.json()
    assert "secrets" not in body and SECRET not in created.content.decode()
    assert body["credentials_hint"] == "…6789" and body["status"] == "new"
    listed = client.get(f"{BASE}billing-sources/", **writer)
    assert SECRET not in listed.content.decode() and listed.json()["results"][0]["name"] == "OpenAI org"
    with schema_context(alpha.schema_name), connection.cursor() as cur:
        cur.execute("SELECT credentials FROM finops_billingsource")
        assert SECRET not in cur.fetchone()[0]
    # An update without secrets keeps them; the connection test uses them.
    patched = client.patch(
        f"{BASE}billing-sources/{body['id']}/",
        json.dumps({"interval_minutes": 30}),
        content_type="application/json",
        **writer,
    )
    assert patched.status_code == 200 and patched.json()["interval_minutes"] == 30
    tested = client.post(f"{BASE}billing-sources/{body['id']}/test/", **writer)
    assert tested.json() == {"ok": True, "message": "Connected to OpenAI organisation org-1."}


def test_validation_errors_are_problems_naming_the_field(client, writer):
    missing = client.post(
        f"{BASE}billing-sources/",
        json.dumps({"name": "No key", "kind": "openai", "settings": {}}),
        content_type="application/json",
        **writer,
    )
    assert missing.status_code == 400 and missing["Content-Type"] == "application/problem+json"
    assert "credentials" in missing.json()["errors"]
    unknown = _create(client, writer, name="Bad", settings={"bucket": "x"})
    assert unknown.status_code == 400 and "Unknown settings" in json.dumps(unknown.json())
    upload_kind = _create(client, writer, name="Up", kind="focus_upload")
    assert upload_kind.status_code == 400


def test_run_now_queues_a_run_and_runs_are_listed(alpha, client, writer):
    source_id = _create(client, writer).json()["id"]
    queued = client.post(f"{BASE}billing-sources/{source_id}/run/", **writer)
    assert queued.status_code == 202 and queued.json() == {"queued": True, "source": source_id}
    runs = client.get(f"{BASE}billing-sources/{source_id}/runs/", **writer).json()["results"]
    assert [(r["trigger"], r["status"]) for r in runs] == [("manual", "succeeded")]
    everything = client.get(f"{BASE}ingestion-runs/?status=succeeded", **writer).json()["results"]
    assert [r["id"] for r in everything] == [runs[0]["id"]]


def test_read_keys_read_and_cannot_write(client, writer, reader):
    source_id = _create(client, writer).json()["id"]
    assert client.get(f"{BASE}billing-sources/{source_id}/", **reader).status_code == 200
    assert _create(client, reader, name="Other").status_code == 403
    assert client.post(f"{BASE}billing-sources/{source_id}/run/", **reader).status_code == 403
    assert client.delete(f"{BASE}billing-sources/{source_id}/", **reader).status_code == 403


def test_another_clients_source_is_a_404(alpha, beta, client, writer, api_key_for):
    source_id = _create(client, writer).json()["id"]
    beta_key = auth_header(api_key_for(beta, ["read", "write"])[1])
    assert client.get(f"/c/beta/api/v1/billing-sources/{source_id}/", **beta_key).status_code == 404
    assert client.get(f"{BASE}billing-sources/{source_id}/", **beta_key).status_code == 404


def test_lists_cost_the_same_queries_with_few_or_many_rows(alpha, client, writer):
    def add(start, n):
        with schema_context(alpha.schema_name):
            for i in range(start, start + n):
                source = BillingSource.objects.create(name=f"s{i}", kind="openai")
                IngestionRun.objects.create(source=source, status="succeeded")

    def count(url):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, **writer).status_code == 200
        return len(queries.captured_queries)

    add(0, 2)
    count(f"{BASE}billing-sources/")  # the key's first use records itself
    few = (count(f"{BASE}billing-sources/"), count(f"{BASE}ingestion-runs/"))
    add(2, 20)
    assert (count(f"{BASE}billing-sources/"), count(f"{BASE}ingestion-runs/")) == few


def _upload(client, headers, path, *, dry_run=False, **fields):
    with open(path, "rb") as fh:
        return client.post(
            f"{BASE}focus-uploads" + ("?dry_run=true" if dry_run else ""),
            {"file": fh, **fields},
            **headers,
        )


def test_upload_dry_run_then_commit_with_exact_totals(alpha, client, writer):
    path = shared_file("focus_sample.csv")
    expected = sum_file_independently(path)["USD"]
    preview = _upload(client, writer, path, dry_run=True)
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["rows"] == 1000 and Decimal(body["totals"]["USD"]["effective_cost"]) == expected["effective_cost"]
    assert body["file"]["version"] == "1.0" and body["periods"]
    with schema_context(alpha.schema_name):
        assert not ledger_totals()
    booked = _upload(client, writer, path)
    assert booked.status_code == 201 and booked.json()["rows_loaded"] == 1000
    with schema_context(alpha.schema_name):
        assert ledger_totals()["USD"]["billed_cost"] == expected["billed_cost"]


def test_upload_errors_are_problems_and_write_nothing(alpha, client, writer, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("BilledCost;Currency\n1;USD\n", encoding="utf-8")
    answer = _upload(client, writer, bad)
    assert answer.status_code == 400 and answer["Content-Type"] == "application/problem+json"
    assert "Mandatory FOCUS columns are missing" in answer.json()["detail"]
    with schema_context(alpha.schema_name):
        assert not ledger_totals()


def test_a_2_gb_upload_is_refused_before_it_is_read(client, writer):
    answer = client.post(
        f"{BASE}focus-uploads",
        data=b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(2 * 1024**3),
        **writer,
    )
    assert answer.status_code == 413 and answer["Content-Type"] == "application/problem+json"


def test_cost_records_and_explorer_match_the_ledger(alpha, client, writer, reader):
    _upload(client, writer, shared_file("focus_sample.csv"))
    with schema_context(alpha.schema_name):
        totals = ledger_totals()["USD"]
    page = client.get(f"{BASE}cost-records/?from=2024-09-01&to=2024-10-01&provider=AWS&page_size=5", **reader).json()
    assert len(page["results"]) == 5 and page["next"]
    row = page["results"][0]
    assert row["provider_name"] == "AWS" and isinstance(row["effective_cost"], str)
    explorer = client.get(f"{BASE}cost-explorer?from=2024-09-01&to=2024-10-02&group=provider", **reader).json()
    assert Decimal(explorer["totals"]["USD"]) == totals["effective_cost"] and explorer["row_count"] == 1000
    assert sum(Decimal(g["amount"]) for g in explorer["groups"]) == totals["effective_cost"]
    assert {g["key"] for g in explorer["groups"]} == {"AWS", "Microsoft", "Oracle"}
    bad = client.get(f"{BASE}cost-explorer?from=yesterday", **reader)
    assert bad.status_code == 400


def test_kinds_describe_what_a_create_needs(client, reader):
    kinds = {k["kind"]: k for k in client.get(f"{BASE}billing-sources/kinds/", **reader).json()}
    assert "focus_upload" not in kinds and "usage_events" not in kinds
    assert [s["name"] for s in kinds["openai"]["secrets"]] == ["api_key"]


def test_a_chunked_upload_past_the_limit_is_stopped_mid_stream(client, writer, settings, tmp_path):
    settings.KEEL_FOCUS_UPLOAD_MAX_BYTES = 1024
    big = tmp_path / "big.csv"
    big.write_bytes(b"BilledCost\n" + b"1\n" * 5000)
    with open(big, "rb") as fh:
        answer = client.post(f"{BASE}focus-uploads", {"file": fh}, **writer)
    assert answer.status_code == 413 and answer["Content-Type"] == "application/problem+json"


def test_a_disabled_source_is_not_run(client, writer):
    source_id = _create(client, writer, enabled=False).json()["id"]
    answer = client.post(f"{BASE}billing-sources/{source_id}/run/", **writer)
    assert answer.status_code == 400 and "disabled" in json.dumps(answer.json())
