"""FOCUS export: CSV and Parquet of any period, FOCUS names from LEDGER_COLUMNS, UTC `Z` times, JSON tags, every
x_ and extra column, no internal ids; a round trip through the file loader books the same rows and totals to the
cent; the portal download is an attachment and is audited."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.finops.export import ExportQuery, export_columns, extra_keys, focus_csv, focus_parquet, ledger_records
from apps.finops.focus import LEDGER_COLUMNS
from apps.finops.ledger import load_focus_file
from apps.finops.models import CostRecord, IngestionRun
from apps.finops.selectors import ledger_totals
from apps.finops.services import billing_source_save, focus_upload_commit
from tests.conftest import make_user

from .conftest import shared_file

SEPTEMBER_2024 = ExportQuery(start=dt.date(2024, 9, 1), end=dt.date(2024, 10, 1))


@pytest.fixture
def sample(in_alpha):
    """focus_sample.csv (1,000 rows of September 2024: AWS, Microsoft, Oracle; tags; an extra `Id` column)."""
    run = focus_upload_commit(path=shared_file("focus_sample.csv"), filename="focus_sample.csv")
    assert run.status == "succeeded", run.error
    return run.source


@pytest.fixture
def llm_rows(in_alpha, tmp_path):
    """A FOCUS 1.3 file with LLM rows: provider and host, token counts, estimates, odd extra columns."""
    header = (
        "BillingAccountId,BillingCurrency,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,"
        "ChargeCategory,BilledCost,EffectiveCost,ServiceName,ServiceCategory,ServiceSubcategory,ServiceProviderName,"
        "HostProviderName,ConsumedQuantity,PricingQuantity,Tags,x_Model,x_TokenType,x_InputTokens,x_CostSource,"
        'x_ServiceTier,"x_Discount%","x_Say ""hi"""'
    )
    lines = [
        "acct-1,USD,2025-11-01T00:00:00Z,2025-12-01T00:00:00Z,2025-11-03T00:00:00Z,2025-11-04T00:00:00Z,Usage,"
        "0.000001,0.0000008,Claude API,AI and Machine Learning,Generative AI,Anthropic,AWS,123456789012.123456789012,"
        '0.5,"{""agent"": ""claims"", ""env"": ""prod""}",claude-sonnet-4-5,Input Tokens,80400,estimate,'
        'priority,12.5,"line\nbreak"',
        "acct-1,USD,2025-11-01T00:00:00Z,2025-12-01T00:00:00Z,2025-11-05T06:00:00.25Z,2025-11-05T07:00:00Z,Usage,"
        "-2.50,-2.5,Claude API,AI and Machine Learning,Generative AI,Anthropic,Anthropic,,,,claude-haiku-4-5,"
        "Output Tokens,,actual,,NULL,",
    ]
    path = tmp_path / "llm.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    source = billing_source_save(kind="focus_upload", name="LLM bills", settings={})
    run = IngestionRun.objects.create(source=source, trigger=IngestionRun.Trigger.UPLOAD)
    load_focus_file(source_id=source.pk, run_id=run.pk, path=path)
    return source


def _csv(query: ExportQuery) -> tuple[list[str], list[dict]]:
    text = b"".join(focus_csv(query)).decode("utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return reader.fieldnames, list(reader)


def _reimport(path, name: str):
    other = billing_source_save(kind="focus_upload", name=name, settings={})
    run = IngestionRun.objects.create(source=other, trigger=IngestionRun.Trigger.UPLOAD)
    result = load_focus_file(source_id=other.pk, run_id=run.pk, path=path)
    return other, result


def _rows(source) -> list[str]:
    """Every booked value, comparable across sources (no ids, no run). PublisherName is filled with the provider
    on export; ProviderName, written for 1.2 readers, comes back in x_extra (the loader keeps every column)."""
    fields = [c.field for c in LEDGER_COLUMNS if c.field != "publisher_name"]
    out = []
    for record in CostRecord.objects.filter(source=source):
        extra = dict(record.x_extra)
        if extra.get("ProviderName") == record.provider_name:
            extra.pop("ProviderName")
        out.append(json.dumps([getattr(record, f) for f in fields] + [extra], default=str, sort_keys=True))
    return sorted(out)


# --- columns and values ---------------------------------------------------------------------------------------


def test_columns_are_the_focus_names_with_1_2_names_alongside_and_no_internal_ids(sample):
    names, rows = _csv(SEPTEMBER_2024)
    assert len(rows) == 1000
    focus_names = [c.focus for c in LEDGER_COLUMNS]
    assert [n for n in names if n in focus_names] == focus_names  # LEDGER_COLUMNS order
    assert names.index("ProviderName") == names.index("ServiceProviderName") + 1
    # The sample's own columns that the ledger has no field for come back, after the ledger's x_ columns.
    assert names[-3:] == ["CommitmentDiscountName", "CommitmentDiscountType", "Id"] and "PublisherName" in names
    assert not {"source", "source_id", "run", "run_id", "x_extra"} & {n.lower() for n in names}
    with open(shared_file("focus_sample.csv"), encoding="utf-8-sig") as fh:
        file_ids = {row["Id"] for row in csv.DictReader(fh)}
    assert {row["Id"] for row in rows} == file_ids  # the file's Id, never Keel's row ids
    assert len({n.lower() for n in names}) == len(names)
    first = rows[0]
    assert first["ServiceProviderName"] == first["ProviderName"] == "AWS"


def test_times_are_utc_with_z_money_is_exact_and_tags_are_json(sample):
    _, rows = _csv(SEPTEMBER_2024)
    for row in rows:
        for name in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"):
            assert row[name].endswith("Z") and "T" in row[name], row[name]
            dt.datetime.fromisoformat(row[name])
        for name in ("BilledCost", "EffectiveCost", "ListCost"):
            assert "E" not in row[name].upper() and (row[name] == "" or Decimal(row[name]) == Decimal(row[name]))
        if row["Tags"]:
            assert isinstance(json.loads(row["Tags"]), dict)
    assert sum(Decimal(r["BilledCost"]) for r in rows) == ledger_totals()["USD"]["billed_cost"]
    assert any(r["Tags"] for r in rows) and any(not r["Tags"] for r in rows)  # no tags: empty, not "{}"


def test_1_3_columns_extra_keys_and_fractional_seconds(llm_rows):
    names, rows = _csv(ExportQuery(start=dt.date(2025, 11, 1), end=dt.date(2025, 12, 1)))
    assert names[-3:] == ["x_Discount%", 'x_Say "hi"', "x_ServiceTier"]  # the extra keys, sorted, last
    by_model = {r["x_Model"]: r for r in rows}
    sonnet, haiku = by_model["claude-sonnet-4-5"], by_model["claude-haiku-4-5"]
    assert (sonnet["ServiceProviderName"], sonnet["HostProviderName"], sonnet["PublisherName"]) == (
        "Anthropic",
        "AWS",
        "Anthropic",
    )
    assert sonnet["BilledCost"] == "0.000001" and sonnet["EffectiveCost"] == "0.0000008"
    assert sonnet["ConsumedQuantity"] == "123456789012.123456789012"
    assert sonnet["x_InputTokens"] == "80400" and sonnet["x_CostSource"] == "estimate"
    assert sonnet['x_Say "hi"'] == "line\nbreak" and sonnet["x_Discount%"] == "12.5"
    assert json.loads(sonnet["Tags"]) == {"agent": "claims", "env": "prod"}
    assert haiku["ChargePeriodStart"] == "2025-11-05T06:00:00.250000Z" and haiku["BilledCost"] == "-2.5"
    assert haiku["x_Discount%"] == "" and haiku["x_InputTokens"] == ""


def test_filters_narrow_the_export_like_the_explorer(sample):
    microsoft = ExportQuery(start=dt.date(2024, 9, 1), end=dt.date(2024, 10, 1), filters={"provider": "Microsoft"})
    _, rows = _csv(microsoft)
    assert len(rows) == 51 and {r["ProviderName"] for r in rows} == {"Microsoft"}
    tagged = ExportQuery(start=dt.date(2024, 9, 1), end=dt.date(2024, 10, 1), tag_key="environment", tag_value="dev")
    _, rows = _csv(tagged)
    assert rows and all(json.loads(r["Tags"])["environment"] == "dev" for r in rows)
    assert len(rows) == ledger_records(tagged).count()
    by_name = ExportQuery(start=dt.date(2024, 9, 1), end=dt.date(2024, 10, 1), source_name=sample.name)
    assert len(_csv(by_name)[1]) == 1000
    assert _csv(ExportQuery(start=dt.date(2024, 9, 1), end=dt.date(2024, 10, 1), source_id=sample.pk + 999))[1] == []


def test_an_empty_period_is_a_header_and_a_parquet_without_rows(sample):
    import pyarrow.parquet as pq

    empty = ExportQuery(start=dt.date(2020, 1, 1), end=dt.date(2020, 2, 1))
    names, rows = _csv(empty)
    assert rows == [] and "BilledCost" in names and "Id" not in names
    with focus_parquet(empty) as fh:
        table = pq.read_table(fh)
    assert table.num_rows == 0 and "BilledCost" in table.column_names


def test_a_key_repeating_a_column_name_is_left_out(in_alpha):
    assert [c.name for c in export_columns(["providername", "Tags", "x_New", "X_NEW"])][-1] == "x_New"
    names = [c.name for c in export_columns(["providername"])]
    assert names.count("ProviderName") == 1 and "providername" not in names


# --- round trips -----------------------------------------------------------------------------------------------


def test_csv_round_trip_books_the_same_rows_and_totals(sample, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"".join(focus_csv(SEPTEMBER_2024)))
    copy, result = _reimport(path, "Round trip CSV")
    original, again = ledger_totals(source=sample), ledger_totals(source=copy)
    assert again == original and again["USD"]["rows"] == 1000 and result.rows_loaded == 1000
    assert result.file["version"] == "1.3" and result.file["missing"] == []
    assert _rows(copy) == _rows(sample)  # every value, row for row


def test_parquet_round_trip_books_the_same_rows_and_totals(sample, llm_rows, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    query = ExportQuery(start=dt.date(2024, 9, 1), end=dt.date(2025, 12, 1))
    path = tmp_path / "export.parquet"
    with focus_parquet(query) as fh:
        path.write_bytes(fh.read())
    table = pq.read_table(path)
    schema = table.schema
    assert schema.field("BilledCost").type == pa.decimal128(30, 12)
    assert schema.field("ConsumedQuantity").type == pa.decimal128(38, 12)
    assert schema.field("ChargePeriodStart").type == pa.timestamp("us", tz="UTC")
    assert schema.field("x_InputTokens").type == pa.int64()
    assert schema.field("Tags").type == pa.string() and schema.metadata[b"focus_version"] == b"1.3"
    assert table.num_rows == 1002
    assert sum(v for v in table.column("BilledCost").to_pylist() if v is not None) == sum(
        t["billed_cost"] for t in ledger_totals().values()
    )
    copy, result = _reimport(path, "Round trip Parquet")
    assert result.rows_loaded == 1002 and result.file["format"] == "parquet"
    expected = {}
    for source in (sample, llm_rows):
        for currency, values in ledger_totals(source=source).items():
            bucket = expected.setdefault(currency, {"billed_cost": 0, "effective_cost": 0, "rows": 0})
            for key in bucket:
                bucket[key] += values[key]
    again = ledger_totals(source=copy)
    assert {c: {k: v[k] for k in ("billed_cost", "effective_cost", "rows")} for c, v in again.items()} == expected
    assert _rows(copy) == sorted(_rows(sample) + _rows(llm_rows))


# --- the portal download ------------------------------------------------------------------------------------------


def test_the_portal_download_is_an_audited_attachment(alpha, sample, login_as):
    executive = login_as(make_user("cfo-export@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha))
    response = executive.get("/c/alpha/finops/export/", {"from": "2024-09-01", "to": "2024-09-30", "provider": "AWS"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="alpha-focus-2024-09-01-2024-09-30.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode(), newline="")))
    assert len(rows) == 942 and {r["ProviderName"] for r in rows} == {"AWS"}
    parquet = executive.get(
        "/c/alpha/finops/export/", {"start": "2024-09-01", "end": "2024-10-01", "format": "parquet"}
    )
    assert parquet.status_code == 200 and b"".join(parquet.streaming_content)[:4] == b"PAR1"
    assert parquet["Content-Disposition"].startswith('attachment; filename="alpha-focus-2024-09-01-2024-09-30.parquet"')
    with schema_context(alpha.schema_name):
        events = list(AuditEvent.objects.filter(action="focus_file.export").order_by("seq"))
    assert [e.after["format"] for e in events] == ["csv", "parquet"]
    assert events[0].actor_email == "cfo-export@alpha.test" and events[0].after["rows"] == 942
    assert events[0].after["filters"] == {"provider": "AWS"} and events[0].after["channel"] == "portal"
    assert events[1].after["totals"]["USD"]["rows"] == 1000


def test_the_portal_download_refuses_bad_parameters_and_people_without_access(alpha, beta, sample, login_as):
    engineer = login_as(make_user("eng-export@msp.test", role=Role.ENGINEER, client=alpha))
    assert engineer.get("/c/alpha/finops/export/", {"format": "xlsx"}).status_code == 400
    bad = engineer.get("/c/alpha/finops/export/", {"start": "2024-10-01", "end": "2024-09-01"})
    assert bad.status_code == 400 and "end" in bad.content.decode()
    assert engineer.get("/c/alpha/finops/export/", {"from": "September"}).status_code == 400
    assert engineer.post("/c/alpha/finops/export/").status_code == 405
    auditor = make_user("aud-export@alpha.test", role=Role.AUDITOR, client=alpha, expires_at=_in_three_days())
    auditor = login_as(auditor)
    assert auditor.get("/c/alpha/finops/export/").status_code == 403
    outsider = login_as(make_user("exec-export@beta.test", role=Role.CLIENT_EXECUTIVE, client=beta))
    assert outsider.get("/c/alpha/finops/export/").status_code == 404
    with schema_context(alpha.schema_name):
        assert not AuditEvent.objects.filter(action="focus_file.export").exists()


def test_the_explorer_link_downloads_what_the_explorer_shows(alpha, sample, login_as):
    engineer = login_as(make_user("eng-link@msp.test", role=Role.ENGINEER, client=alpha))
    service = "Amazon Simple Queue Service"
    page = engineer.get("/c/alpha/finops/", {"from": "2024-09-01", "to": "2024-09-30", "service": service})
    assert page.status_code == 200
    link = page.context["export_url"]
    assert link.startswith("/c/alpha/finops/export/?")
    rows = list(csv.DictReader(io.StringIO(b"".join(engineer.get(link).streaming_content).decode(), newline="")))
    with schema_context(alpha.schema_name):
        expected = CostRecord.objects.filter(service_name=service).count()
    assert len(rows) == expected > 0 and {r["ServiceName"] for r in rows} == {service}


def test_extra_keys_are_sorted_and_unique(sample):
    assert extra_keys(SEPTEMBER_2024) == ["CommitmentDiscountName", "CommitmentDiscountType", "Id"]


def _in_three_days():
    from django.utils import timezone

    return timezone.now() + dt.timedelta(days=3)
