"""The ledger's file loader: re-runs replace and never duplicate, a crash in the swap changes nothing, every
malformed file is refused with a message naming what is wrong (and changes nothing), FOCUS quirks load, and
CSV, CSV.gz and Parquet of the same data book the same totals. Also the internals that make it fast."""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from apps.finops import ledger
from apps.finops.ledger import BILLING_PERIODS, ChargeWindow, LedgerError, load_focus_file, load_rows
from apps.finops.models import BillingSource, CostRecord, IngestionRun
from apps.finops.selectors import ledger_totals
from apps.finops.services import billing_source_save
from tests.conftest import auth_header

HEADER = [
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ServiceName",
    "ServiceCategory",
    "ProviderName",
    "RegionId",
    "Tags",
    "x_Model",
    "x_InputTokens",
    "x_Team",
]


def focus_row(**values) -> dict:
    row = {
        "BillingAccountId": "111111111111",
        "BillingAccountName": "Payer",
        "BillingCurrency": "USD",
        "BillingPeriodStart": "2025-09-01T00:00:00Z",
        "BillingPeriodEnd": "2025-10-01T00:00:00Z",
        "ChargePeriodStart": "2025-09-03T00:00:00Z",
        "ChargePeriodEnd": "2025-09-04T00:00:00Z",
        "ChargeCategory": "Usage",
        "BilledCost": "1.10",
        "EffectiveCost": "1.00",
        "ListCost": "1.20",
        "ServiceName": "Amazon Bedrock",
        "ServiceCategory": "AI and Machine Learning",
        "ProviderName": "AWS",
        "RegionId": "us-east-1",
        "Tags": '{"team": "claims"}',
        "x_Model": "anthropic.claude-sonnet-4-5",
        "x_InputTokens": "1200",
        "x_Team": "claims",
    }
    row.update(values)
    return row


def write_focus(path: Path, rows: list[dict], header: list[str] = HEADER, delimiter: str = ",") -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, delimiter=delimiter, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def sample_rows(n: int = 6, **values) -> list[dict]:
    """n daily rows of September 2025 for account 1; BilledCost 0.25, 1.25, … unless given."""
    rows = []
    for i in range(n):
        defaults = {"ChargePeriodStart": f"2025-09-{i + 1:02d}T00:00:00Z", "BilledCost": f"{i}.25"}
        rows.append(focus_row(**{**defaults, **values}))
    return rows


@pytest.fixture
def source(in_alpha):
    return billing_source_save(kind="focus_upload", name="Ledger tests", settings={})


@pytest.fixture
def other_source(in_alpha):
    return billing_source_save(kind="focus_upload", name="Ledger tests (other)", settings={})


def load(source: BillingSource, path: Path, **kwargs):
    run = IngestionRun.objects.create(source=source, trigger=IngestionRun.Trigger.UPLOAD)
    return load_focus_file(source_id=source.pk, run_id=run.pk, path=path, **kwargs), run


def snapshot(source: BillingSource) -> tuple:
    """Everything the ledger holds for a source: totals, and every row's id and run."""
    rows = sorted(CostRecord.objects.filter(source=source).values_list("id", "run_id", "billed_cost"))
    return ledger_totals(source=source), rows


# --- re-runs replace -----------------------------------------------------------------------------------


def test_the_same_file_twice_gives_the_same_rows_and_totals(source, tmp_path):
    path = write_focus(tmp_path / "sept.csv", sample_rows())
    first, first_run = load(source, path)
    totals = ledger_totals(source=source)
    second, second_run = load(source, path)
    assert first.rows_loaded == second.rows_loaded == 6
    assert (first.rows_replaced, second.rows_replaced) == (0, 6)
    assert ledger_totals(source=source) == totals
    assert totals["USD"]["billed_cost"] == Decimal("16.50") and totals["USD"]["rows"] == 6
    assert set(CostRecord.objects.filter(source=source).values_list("run_id", flat=True)) == {second_run.pk}
    assert (
        first.totals
        == second.totals
        == {
            "USD": {
                "rows": 6,
                "billed_cost": "16.500000000000",
                "effective_cost": "6.000000000000",
                "list_cost": "7.200000000000",
            }
        }
    )
    assert second.periods == ["2025-09"] and first_run.pk != second_run.pk


def test_a_new_file_for_the_same_account_and_period_replaces_another_account_is_kept(source, tmp_path):
    load(source, write_focus(tmp_path / "a.csv", sample_rows(4)))
    load(source, write_focus(tmp_path / "b.csv", sample_rows(3, BillingAccountId="222222222222")))
    august = sample_rows(2, BillingPeriodStart="2025-08-01T00:00:00Z", BillingPeriodEnd="2025-09-01T00:00:00Z")
    load(source, write_focus(tmp_path / "aug.csv", august))
    assert CostRecord.objects.filter(source=source).count() == 9
    month_to_date = [focus_row(BilledCost="100")]  # the next export of account 1, September
    result, run = load(source, write_focus(tmp_path / "a2.csv", month_to_date))
    assert (result.rows_loaded, result.rows_replaced) == (1, 4)
    by_account = {
        (r["billing_account_id"], r["billing_period_start"].month): r["n"]
        for r in CostRecord.objects.filter(source=source)
        .values("billing_account_id", "billing_period_start")
        .annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("id"))
    }
    assert by_account == {("111111111111", 9): 1, ("222222222222", 9): 3, ("111111111111", 8): 2}


def test_another_sources_rows_are_never_touched(source, other_source, tmp_path):
    path = write_focus(tmp_path / "sept.csv", sample_rows())
    load(other_source, path)
    before = snapshot(other_source)
    load(source, path)
    load(source, path)
    assert snapshot(other_source) == before


def test_several_files_in_one_run_report_each_files_own_rows(source, tmp_path):
    run = IngestionRun.objects.create(source=source, trigger=IngestionRun.Trigger.SCHEDULE)
    first = load_focus_file(source_id=source.pk, run_id=run.pk, path=write_focus(tmp_path / "1.csv", sample_rows(2)))
    second = load_focus_file(
        source_id=source.pk,
        run_id=run.pk,
        path=write_focus(tmp_path / "2.csv", sample_rows(3, BillingAccountId="222222222222")),
    )
    assert (first.rows_loaded, second.rows_loaded) == (2, 3) and second.rows_replaced == 0
    assert CostRecord.objects.filter(run=run).count() == 5


# --- a crash in the swap -----------------------------------------------------------------------------------


def test_a_crash_after_the_insert_and_before_the_delete_leaves_the_previous_rows(source, tmp_path, monkeypatch):
    load(source, write_focus(tmp_path / "old.csv", sample_rows()))
    before = snapshot(source)

    def crash(*args, **kwargs):
        assert CostRecord.objects.filter(source=source).count() == 12  # the new rows are in, the old not yet out
        raise RuntimeError("power cut between INSERT and DELETE")

    monkeypatch.setattr(ledger, "_delete_replaced", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        load(source, write_focus(tmp_path / "new.csv", sample_rows(BilledCost="9")))
    assert snapshot(source) == before


def test_a_crash_inside_the_delete_leaves_the_previous_rows(source, tmp_path):
    load(source, write_focus(tmp_path / "old.csv", sample_rows()))
    before = snapshot(source)

    def fail_in_delete(execute, sql, params, many, context):
        if sql.startswith(f"DELETE FROM {ledger.LEDGER_TABLE}"):
            execute("SELECT 1/0", None, many, context)  # the statement itself fails in the database
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_in_delete), pytest.raises(Exception, match="division by zero"):
        load(source, write_focus(tmp_path / "new.csv", sample_rows(BilledCost="9")))
    assert snapshot(source) == before


def test_a_crash_while_the_file_is_read_leaves_the_previous_rows(source, tmp_path):
    load(source, write_focus(tmp_path / "old.csv", sample_rows()))
    before = snapshot(source)
    data = gzip.compress(write_focus(tmp_path / "new.csv", sample_rows(500)).read_bytes())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(LedgerError, match="truncated"):
        load(source, cut)
    assert snapshot(source) == before


# --- malformed files: a clear message, nothing changed ---------------------------------------------------


def _refused(source, path) -> str:
    before = snapshot(source)
    with pytest.raises(LedgerError) as caught:
        load(source, path)
    assert snapshot(source) == before
    return str(caught.value)


@pytest.fixture
def booked(source, tmp_path):
    """A source that already holds September: every refusal below must leave it exactly as it was."""
    load(source, write_focus(tmp_path / "booked.csv", sample_rows()))
    return source


def test_truncated_gzip(booked, tmp_path):
    data = gzip.compress(write_focus(tmp_path / "f.csv", sample_rows(2000)).read_bytes())
    path = tmp_path / "f.csv.gz"
    path.write_bytes(data[: len(data) - 40])
    assert "the gzip file is truncated" in _refused(booked, path)


def test_corrupt_gzip(booked, tmp_path):
    data = bytearray(gzip.compress(write_focus(tmp_path / "f.csv", sample_rows(50)).read_bytes()))
    data[40:60] = b"\x00" * 20
    path = tmp_path / "f.csv.gz"
    path.write_bytes(bytes(data))
    message = _refused(booked, path)
    assert message.startswith("The file cannot be read")


@pytest.mark.parametrize("delimiter", [":", " "])
def test_a_delimiter_keel_does_not_know_gives_a_one_column_header(booked, tmp_path, delimiter):
    path = write_focus(tmp_path / "f.csv", sample_rows(2), delimiter=delimiter)
    message = _refused(booked, path)
    assert "Mandatory FOCUS columns are missing" in message
    assert "The header has a single column" in message


def test_semicolons_tabs_and_pipes_are_read(source, tmp_path):
    for delimiter, name in ((";", "semi"), ("\t", "tab"), ("|", "pipe")):
        result, _ = load(source, write_focus(tmp_path / f"{name}.csv", sample_rows(2), delimiter=delimiter))
        assert result.rows_loaded == 2 and result.file["delimiter"] == {"\t": "tab"}.get(delimiter, delimiter)


def test_missing_mandatory_columns_are_named(booked, tmp_path):
    header = [h for h in HEADER if h not in ("EffectiveCost", "ChargePeriodEnd")]
    message = _refused(booked, write_focus(tmp_path / "f.csv", sample_rows(), header=header))
    assert "Mandatory FOCUS columns are missing: EffectiveCost, ChargePeriodEnd." in message


def test_a_non_numeric_cost_names_the_row_and_the_column(booked, tmp_path):
    rows = sample_rows(5)
    rows[3]["EffectiveCost"] = "12,50 €"
    message = _refused(booked, write_focus(tmp_path / "f.csv", rows))
    assert message == "Some values cannot be read: row 5: EffectiveCost '12,50 €' is not a number."


def test_nan_is_not_a_cost(booked, tmp_path):
    rows = sample_rows(3)
    rows[1]["BilledCost"] = "NaN"
    message = _refused(booked, write_focus(tmp_path / "f.csv", rows))
    assert "row 3: BilledCost 'NaN' is not a number" in message


def test_a_bad_timestamp_names_the_row_and_the_column(booked, tmp_path):
    rows = sample_rows(3)
    rows[2]["ChargePeriodStart"] = "the third of September"
    message = _refused(booked, write_focus(tmp_path / "f.csv", rows))
    assert "row 4: ChargePeriodStart 'the third of September' is not a date and time" in message
    assert "ISO 8601" in message


def test_a_us_date_reads_month_first_whatever_the_servers_datestyle(source, tmp_path):
    with connection.cursor() as cur:
        cur.execute("SET LOCAL DateStyle = 'ISO, DMY'")
    result, run = load(source, write_focus(tmp_path / "us.csv", sample_rows(1, ChargePeriodStart="9/3/25")))
    assert CostRecord.objects.get(run=run).charge_period_start.date().isoformat() == "2025-09-03"


def test_bad_tags_are_named(booked, tmp_path):
    rows = sample_rows(2)
    rows[0]["Tags"] = "team=claims"
    assert "row 2: Tags 'team=claims' is not JSON" in _refused(booked, write_focus(tmp_path / "f.csv", rows))


def test_a_file_that_is_not_utf8(booked, tmp_path):
    path = tmp_path / "latin1.csv"
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=HEADER)
    writer.writeheader()
    writer.writerows(sample_rows(2, ServiceName="Überweisung"))
    path.write_bytes(text.getvalue().encode("latin-1"))
    assert _refused(booked, path) == "The file is not UTF-8 text. Save it as UTF-8 CSV and upload it again."


def test_a_header_that_is_not_utf8(booked, tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes(write_focus(tmp_path / "f.csv", sample_rows(2)).read_text().encode("utf-16"))
    assert "not UTF-8" in _refused(booked, path)


@pytest.mark.parametrize("content", [b"", b"\r\n", b"   \n"])
def test_an_empty_file(booked, tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    assert _refused(booked, path) == "The file is empty."


def test_a_header_without_rows(booked, tmp_path):
    path = write_focus(tmp_path / "header.csv", [])
    assert _refused(booked, path) == "The file has a header but no rows."


def test_a_repeated_column(booked, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text(",".join([*HEADER, "billedcost"]) + "\n" + ",".join(["x"] * (len(HEADER) + 1)) + "\n")
    assert _refused(booked, path) == "The header repeats a column: BilledCost, billedcost."


def test_a_row_with_more_columns_than_the_header(booked, tmp_path):
    path = write_focus(tmp_path / "f.csv", sample_rows(2))
    path.write_text(path.read_text() + "1,2,3," * 10 + "\n")
    assert "A row has a different number of columns than the header" in _refused(booked, path)


def test_an_unterminated_quote(booked, tmp_path):
    path = write_focus(tmp_path / "f.csv", sample_rows(2))
    path.write_text(path.read_text() + '111111111111,"Payer,USD\n')
    assert "quoted value" in _refused(booked, path)


def test_rows_without_a_mandatory_value_are_numbered(booked, tmp_path):
    rows = sample_rows(4)
    rows[1]["ServiceName"] = ""
    rows[3]["BillingCurrency"] = "NULL"
    message = _refused(booked, write_focus(tmp_path / "f.csv", rows))
    assert message.startswith("2 rows have no currency, charge category, service or provider.")
    assert "see rows 3, 5." in message


def test_a_parquet_file_that_is_not_parquet(booked, tmp_path):
    path = tmp_path / "f.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 64)
    assert _refused(booked, path).startswith("The Parquet file cannot be read")


# --- FOCUS quirks ----------------------------------------------------------------------------------------


def test_literal_null_and_timestamps_without_t_or_z(source, tmp_path):
    rows = sample_rows(
        2,
        ChargePeriodStart="2025-09-03 00:00:00",
        ChargePeriodEnd="2025-09-03 01:00:00",
        BillingPeriodStart="2025-09-01 00:00:00",
        BillingPeriodEnd="2025-10-01 00:00:00",
        ListCost="NULL",
        RegionId="NULL",
        Tags="NULL",
        x_InputTokens="NULL",
    )
    result, run = load(source, write_focus(tmp_path / "quirks.csv", rows))
    record = CostRecord.objects.filter(run=run).first()
    assert record.list_cost is None and record.region_id == "" and record.tags == {} and record.x_input_tokens is None
    assert record.charge_period_start.isoformat() == "2025-09-03T00:00:00+00:00"  # no offset means UTC
    assert result.totals["USD"]["list_cost"] == "0"


def test_extension_columns_are_kept_in_x_extra(source, tmp_path):
    header = [*HEADER, "x_Discount%", 'x_Say "hi"', "Id"]
    rows = sample_rows(2, **{"x_Discount%": "12.5", 'x_Say "hi"': "NULL", "Id": "row-1"})
    result, run = load(source, write_focus(tmp_path / "ext.csv", rows, header=header))
    record = CostRecord.objects.filter(run=run).first()
    assert record.x_model == "anthropic.claude-sonnet-4-5" and record.x_input_tokens == 1200
    assert record.x_extra == {"x_Team": "claims", "x_Discount%": "12.5", "Id": "row-1"}  # NULL is no value
    assert result.file["extensions"] == ["x_Team", "x_Discount%", 'x_Say "hi"', "Id"]


def test_a_focus_1_3_file_with_service_and_host_provider(source, tmp_path):
    header = [h if h != "ProviderName" else "ServiceProviderName" for h in HEADER] + ["HostProviderName"]
    header.append("ProviderName")  # 1.3 exports may still carry the deprecated column
    rows = [
        focus_row(ServiceProviderName="Anthropic", HostProviderName="AWS", ProviderName="Amazon"),
        focus_row(ServiceProviderName="", HostProviderName="AWS", ProviderName="Amazon"),
    ]
    result, run = load(source, write_focus(tmp_path / "v13.csv", rows, header=header))
    assert result.file["version"] == "1.3"
    providers = sorted(CostRecord.objects.filter(run=run).values_list("provider_name", "host_provider_name"))
    assert providers == [("Amazon", "AWS"), ("Anthropic", "AWS")]  # the deprecated name only fills a gap


def test_defaults_fill_columns_a_file_does_not_have(source, tmp_path):
    header = [h for h in HEADER if h not in ("BillingCurrency", "ProviderName")]
    path = write_focus(tmp_path / "nocurrency.csv", sample_rows(2), header=header)
    defaults = {"billing_currency": "EUR", "provider_name": "O'Brien % Cloud"}
    result, run = load(source, path, defaults=defaults)
    assert list(result.totals) == ["EUR"]
    assert set(CostRecord.objects.filter(run=run).values_list("provider_name", flat=True)) == {"O'Brien % Cloud"}


def test_parquet_and_gzip_of_the_same_data_give_the_same_totals(source, other_source, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = sample_rows(30)
    for i, row in enumerate(rows):
        row["BilledCost"] = f"{i * 3}.123456789"
        row["ListCost"] = "" if i % 4 == 0 else f"{i}.5"
    csv_path = write_focus(tmp_path / "same.csv", rows)
    gz_path = tmp_path / "same.csv.gz"
    gz_path.write_bytes(gzip.compress(csv_path.read_bytes()))
    table = pa.table(
        {
            **{h: [r[h] for r in rows] for h in HEADER if h not in ("BilledCost", "EffectiveCost", "ListCost")},
            "BilledCost": pa.array([Decimal(r["BilledCost"]) for r in rows], pa.decimal128(20, 10)),
            "EffectiveCost": pa.array([float(r["EffectiveCost"]) for r in rows], pa.float64()),
            "ListCost": pa.array([Decimal(r["ListCost"]) if r["ListCost"] else None for r in rows]),
            "ChargePeriodStart": pa.array(
                [__import__("datetime").datetime.fromisoformat(r["ChargePeriodStart"]) for r in rows],
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )
    parquet_path = tmp_path / "same.parquet"
    pq.write_table(table, parquet_path)
    gz_result, _ = load(source, gz_path)
    parquet_result, _ = load(other_source, parquet_path)
    assert (gz_result.file["format"], parquet_result.file["format"]) == ("csv.gz", "parquet")
    assert gz_result.totals == parquet_result.totals
    assert ledger_totals(source=source) == ledger_totals(source=other_source)
    assert gz_result.totals["USD"]["billed_cost"] == "1308.703703670000"  # 3 × Σ0..29 + 30 × 0.123456789


def test_the_shared_sample_books_exactly_what_python_sums(source):
    from .conftest import shared_file

    path = shared_file("focus_sample.csv")
    result, _ = load(source, path)
    expected = ledger.sum_file_independently(path)
    assert {c: Decimal(t["billed_cost"]) for c, t in result.totals.items()} == {
        c: v["billed_cost"] for c, v in expected.items()
    }
    assert result.rows_loaded == 1000


def test_a_dry_run_books_nothing_and_says_what_it_would_do(booked, tmp_path):
    before = snapshot(booked)
    result, _ = load(booked, write_focus(tmp_path / "again.csv", sample_rows()), dry_run=True)
    assert (result.rows_loaded, result.rows_replaced) == (6, 6)
    assert snapshot(booked) == before


# --- how it is made fast -----------------------------------------------------------------------------------


def _statements(callable_):
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        seen.append(" ".join(str(sql).split()))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        result = callable_()
    return seen, result


def test_one_pass_no_rereading_of_the_run_and_the_source_locked_once(source, tmp_path):
    path = write_focus(tmp_path / "f.csv", sample_rows(20))
    seen, (result, run) = _statements(lambda: load(source, path))
    assert result.rows_loaded == 20
    ledger_reads = [s for s in seen if f"FROM {ledger.LEDGER_TABLE} WHERE run_id" in s]
    assert ledger_reads == []  # totals, checks and pairs come from the INSERT's own RETURNING
    assert sum(f"INSERT INTO {ledger.LEDGER_TABLE}" in s for s in seen) == 1
    assert sum(s.startswith("DELETE") for s in seen) == 1
    assert any("FOR KEY SHARE" in s for s in seen)
    assert not any("session_replication_role" in s for s in seen)  # no trigger is ever switched off


def test_a_source_removed_meanwhile_is_a_clear_error(source, tmp_path):
    path = write_focus(tmp_path / "f.csv", sample_rows(2))
    with pytest.raises(LedgerError, match="removed while this load"):
        load_focus_file(source_id=987654321, run_id=1, path=path)


def test_a_load_inside_a_transaction_with_an_open_cursor(source, tmp_path):
    with connection.cursor() as cur:
        cur.execute("DECLARE keel_test_open_cursor CURSOR WITH HOLD FOR SELECT 1")
    try:
        result, _ = load(source, write_focus(tmp_path / "f.csv", sample_rows(3)))
    finally:
        with connection.cursor() as cur:
            cur.execute("CLOSE keel_test_open_cursor")
    assert result.rows_loaded == 3


def test_rows_from_connectors_check_the_window_and_replace_it(source):
    import datetime as dt

    from apps.finops.focus import ledger_row

    def rows(day, cost):
        start = dt.datetime(2025, 9, day, tzinfo=dt.UTC)
        return ledger_row(
            billing_currency="USD",
            billing_period_start=dt.datetime(2025, 9, 1, tzinfo=dt.UTC),
            billing_period_end=dt.datetime(2025, 10, 1, tzinfo=dt.UTC),
            charge_period_start=start,
            charge_period_end=start + dt.timedelta(days=1),
            charge_category="Usage",
            billed_cost=Decimal(cost),
            effective_cost=Decimal(cost),
            service_name="OpenAI API",
            provider_name="OpenAI",
            tags={"team": Decimal("1.5")},
        )

    window = ChargeWindow(dt.datetime(2025, 9, 1, tzinfo=dt.UTC), dt.datetime(2025, 9, 8, tzinfo=dt.UTC))
    first_run = IngestionRun.objects.create(source=source)
    first = load_rows(source_id=source.pk, run_id=first_run.pk, rows=[rows(d, "2.5") for d in (1, 2, 3)], scope=window)
    again = IngestionRun.objects.create(source=source)
    second = load_rows(source_id=source.pk, run_id=again.pk, rows=[rows(2, "4")], scope=window)
    assert (first.rows_loaded, second.rows_loaded, second.rows_replaced) == (3, 1, 3)
    assert second.totals == {
        "USD": {"rows": 1, "billed_cost": "4.000000000000", "effective_cost": "4.000000000000", "list_cost": "0"}
    }
    outside = IngestionRun.objects.create(source=source)
    with pytest.raises(LedgerError, match="1 rows fall outside the window 2025-09-01–2025-09-08"):
        load_rows(source_id=source.pk, run_id=outside.pk, rows=[rows(20, "1")], scope=window)
    periods = IngestionRun.objects.create(source=source)
    by_period = load_rows(source_id=source.pk, run_id=periods.pk, rows=[rows(20, "1")], scope=BILLING_PERIODS)
    assert by_period.rows_replaced == 1 and by_period.periods == ["2025-09"]
    assert CostRecord.objects.filter(source=source).count() == 1


# --- the API refuses what is too big before reading it -------------------------------------------------------


def test_a_2_gb_upload_is_refused_cleanly_at_the_api(alpha, client, api_key_for, settings):
    settings.KEEL_FOCUS_UPLOAD_MAX_BYTES = 500 * 1024 * 1024
    secret = api_key_for(alpha, ["read", "write"])[1]
    body = b'--x\r\nContent-Disposition: form-data; name="file"; filename="huge.csv"\r\n\r\nBilledCost\r\n--x--\r\n'
    answer = client.post(
        "/c/alpha/api/v1/focus-uploads/",
        data=body,
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(2 * 1024**3),  # what the client announces; the body is never read
        **auth_header(secret),
    )
    assert answer.status_code == 413 and answer["Content-Type"] == "application/problem+json"
    problem = json.loads(answer.content)
    assert problem["status"] == 413 and "limit" in problem["detail"]
    from django_tenants.utils import schema_context

    with schema_context(alpha.schema_name):
        assert not IngestionRun.objects.exists() and not CostRecord.objects.exists()
