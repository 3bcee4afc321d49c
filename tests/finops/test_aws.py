"""AWS connectors against botocore's Stubber (Cost Explorer) and moto's S3 (Data Exports): what AWS sends is
booked to the cent, pages are followed, throttling retries the same run, rejected keys stop and alert, re-runs
replace instead of duplicating, and a broken export changes nothing that was already booked."""

from __future__ import annotations

import csv
import datetime as dt
import gc
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber
from django.db.models import Sum
from moto import mock_aws

from apps.alerts.models import Alert
from apps.core.tasks import TransientError
from apps.finops.connectors import connector_for
from apps.finops.connectors.aws import CE_SERVICE_CODES, category_table, ce_service, cur2_name, cur_rows
from apps.finops.connectors.base import (
    ConnectorError,
    CredentialsRejected,
    ProviderUnavailable,
    Throttled,
    Window,
)
from apps.finops.ledger import BILLING_PERIODS, sum_file_independently
from apps.finops.models import BillingSource, CostRecord, IngestionRun
from apps.finops.services import billing_source_save, billing_source_test, ingestion_run_execute

from .conftest import shared_file

FIXTURES = Path(__file__).parent / "fixtures" / "aws"
KEYS = {"access_key_id": "AKIAKEELTEST0001", "secret_access_key": "not-a-real-secret-key"}
PROD, STAGE = "444455556666", "777788889999"
CE_WINDOW = Window(dt.date(2025, 3, 1), dt.date(2025, 3, 4))


def _ledger(source) -> dict:
    records = CostRecord.objects.filter(source=source)
    sums = records.aggregate(billed=Sum("billed_cost"), effective=Sum("effective_cost"))
    return {"rows": records.count(), "billed": sums["billed"], "effective": sums["effective"]}


# --- Cost Explorer ---------------------------------------------------------------------------------------------


@pytest.fixture
def ce():
    return boto3.client("ce", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


@pytest.fixture
def ce_source(in_alpha, ce, monkeypatch):
    connector = connector_for("aws_cost_explorer")
    monkeypatch.setattr(connector, "client_factory", lambda source: ce)
    return billing_source_save(
        kind="aws_cost_explorer",
        name="AWS payer (Cost Explorer)",
        settings={"role_arn": "arn:aws:iam::111122223333:role/keel-billing-read"},
        secrets=KEYS,
    )


def _request(token: str | None = None) -> dict:
    request = {
        "TimePeriod": {"Start": "2025-03-01", "End": "2025-03-04"},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost", "AmortizedCost", "NetUnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "SERVICE"}],
    }
    return {**request, "NextPageToken": token} if token else request


def _group(account: str, service: str, unblended: str, amortized: str, net: str | None = None) -> dict:
    metrics = {
        "UnblendedCost": {"Amount": unblended, "Unit": "USD"},
        "AmortizedCost": {"Amount": amortized, "Unit": "USD"},
        "NetUnblendedCost": {"Amount": net if net is not None else unblended, "Unit": "USD"},
    }
    return {"Keys": [account, service], "Metrics": metrics}


def _day(day: str, groups: list, estimated: bool = False) -> dict:
    start = dt.date.fromisoformat(day)
    period = {"Start": day, "End": (start + dt.timedelta(days=1)).isoformat()}
    return {"TimePeriod": period, "Total": {}, "Groups": groups, "Estimated": estimated}


PAGE_1 = {
    "ResultsByTime": [
        _day(
            "2025-03-01",
            [
                _group(PROD, "Amazon Elastic Compute Cloud - Compute", "10.5000000001", "9.25", "10.0"),
                _group(PROD, "Amazon Bedrock", "3.14159", "3.14159"),
                _group(STAGE, "AWS Glue", "0", "0", "0"),  # CE lists idle services at 0: not booked
            ],
        ),
        _day("2025-03-02", [_group(STAGE, "Amazon Simple Storage Service", "1.10", "1.10")]),
    ],
    "DimensionValueAttributes": [{"Value": PROD, "Attributes": {"description": "Production"}}],
    "NextPageToken": "tok2",
}
PAGE_2 = {
    "ResultsByTime": [
        _day("2025-03-02", [_group(PROD, "Tax", "0.99", "0.99")]),
        _day(
            "2025-03-03",
            [
                _group(PROD, "Claude 3.5 Sonnet (Amazon Bedrock Edition)", "2.00", "2.00"),
                _group(STAGE, "Some Brand New Service", "0.01", "0.01"),
            ],
            estimated=True,
        ),
    ],
    "DimensionValueAttributes": [{"Value": STAGE, "Attributes": {"description": "Staging"}}],
}
CE_BILLED = Decimal("10.5000000001") + Decimal("3.14159") + Decimal("1.10") + Decimal("0.99") + Decimal("2.01")
CE_EFFECTIVE = Decimal("9.25") + Decimal("3.14159") + Decimal("1.10") + Decimal("0.99") + Decimal("2.01")


def _stub_pages(stubber: Stubber) -> None:
    stubber.add_response("get_cost_and_usage", PAGE_1, _request())
    stubber.add_response("get_cost_and_usage", PAGE_2, _request("tok2"))


def test_cost_explorer_follows_next_page_token_and_maps_every_group(ce_source, ce):
    with Stubber(ce) as stubber:
        _stub_pages(stubber)
        run = ingestion_run_execute(source=ce_source, window=CE_WINDOW)
        stubber.assert_no_pending_responses()

    assert run.status == IngestionRun.Status.SUCCEEDED, run.error
    assert run.details["pages"] == 2
    assert run.details["zero_groups_skipped"] == 1
    assert run.rows_loaded == 6
    assert run.totals["USD"]["billed_cost"] == "17.741590000100"
    assert _ledger(ce_source) == {"rows": 6, "billed": CE_BILLED, "effective": CE_EFFECTIVE}

    ec2 = CostRecord.objects.get(source=ce_source, service_name="Amazon Elastic Compute Cloud - Compute")
    assert (ec2.billed_cost, ec2.effective_cost) == (Decimal("10.5000000001"), Decimal("9.25"))
    assert ec2.x_extra == {"x_NetUnblendedCost": "10.0", "x_ServiceCode": "AmazonEC2"}
    assert (ec2.sub_account_id, ec2.sub_account_name, ec2.billing_account_id) == (PROD, "Production", "111122223333")
    assert ec2.service_category == "Compute" and ec2.provider_name == "AWS" and ec2.charge_category == "Usage"
    assert ec2.charge_period_start == dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    assert ec2.charge_period_end == dt.datetime(2025, 3, 2, tzinfo=dt.UTC)
    assert ec2.billing_period_start == dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    assert ec2.billing_period_end == dt.datetime(2025, 4, 1, tzinfo=dt.UTC)

    by_service = {r.service_name: r for r in CostRecord.objects.filter(source=ce_source)}
    assert by_service["Amazon Bedrock"].service_category == "AI and Machine Learning"
    assert by_service["Amazon Bedrock"].service_subcategory == "Generative AI"
    marketplace = by_service["Claude 3.5 Sonnet (Amazon Bedrock Edition)"]
    assert (marketplace.service_category, marketplace.service_subcategory) == (
        "AI and Machine Learning",
        "Generative AI",
    )
    assert by_service["Amazon Simple Storage Service"].service_category == "Storage"
    assert by_service["Amazon Simple Storage Service"].sub_account_name == "Staging"  # the name came on page 2
    assert by_service["Some Brand New Service"].sub_account_name == "Staging"
    assert by_service["Some Brand New Service"].service_category == "Other"
    assert by_service["Tax"].charge_category == "Tax"


def test_estimated_days_are_booked_as_estimates(ce_source, ce):
    with Stubber(ce) as stubber:
        _stub_pages(stubber)
        run = ingestion_run_execute(source=ce_source, window=CE_WINDOW)

    assert run.details["estimated_days"] == 1 and run.details["estimated_from"] == "2025-03-03"
    estimates = CostRecord.objects.filter(source=ce_source, x_cost_source="estimate")
    assert {r.charge_period_start.date() for r in estimates} == {dt.date(2025, 3, 3)}
    assert estimates.aggregate(total=Sum("billed_cost"))["total"] == Decimal("2.01")
    assert CostRecord.objects.filter(source=ce_source, x_cost_source="actual").count() == 4


def test_throttled_run_is_retried_as_the_same_run(ce_source, ce):
    with Stubber(ce) as stubber:
        stubber.add_client_error(
            "get_cost_and_usage",
            service_error_code="LimitExceededException",
            service_message="Rate exceeded",
            http_status_code=400,
            expected_params=_request(),
        )
        with pytest.raises(TransientError) as raised:
            ingestion_run_execute(source=ce_source, window=CE_WINDOW)
        assert isinstance(raised.value, Throttled)
        assert raised.value.retry_after == 60.0
        assert "throttling" in str(raised.value) and "LimitExceededException" in str(raised.value)

        run = IngestionRun.objects.get(source=ce_source)
        assert (run.status, run.error_kind, run.attempt) == ("retrying", "throttled", 0)
        ce_source.refresh_from_db()
        assert ce_source.status == BillingSource.Status.RETRYING
        assert not CostRecord.objects.filter(source=ce_source).exists()

        _stub_pages(stubber)
        retried = ingestion_run_execute(source=ce_source, window=CE_WINDOW)
        stubber.assert_no_pending_responses()

    assert retried.pk == run.pk
    assert (retried.status, retried.attempt, retried.rows_loaded) == ("succeeded", 1, 6)
    assert IngestionRun.objects.filter(source=ce_source).count() == 1
    ce_source.refresh_from_db()
    assert ce_source.status == BillingSource.Status.OK


def test_rejected_credentials_fail_the_run_mark_the_source_and_alert(ce_source, ce):
    with Stubber(ce) as stubber:
        stubber.add_client_error(
            "get_cost_and_usage",
            service_error_code="UnrecognizedClientException",
            service_message="The security token included in the request is invalid.",
            http_status_code=400,
            expected_params=_request(),
        )
        run = ingestion_run_execute(source=ce_source, window=CE_WINDOW)

    assert (run.status, run.error_kind) == ("failed", "credentials")
    assert "UnrecognizedClientException" in run.error and "security token" in run.error
    ce_source.refresh_from_db()
    assert ce_source.status == BillingSource.Status.CREDENTIALS
    alert = Alert.objects.get(dedup_key=f"ingestion:{ce_source.pk}")
    assert alert.severity == "high" and "credentials rejected" in alert.subject
    assert alert.data["kind"] == "aws_cost_explorer"


def test_re_running_the_same_window_gives_identical_totals(ce_source, ce):
    with Stubber(ce) as stubber:
        _stub_pages(stubber)
        first = ingestion_run_execute(source=ce_source, window=CE_WINDOW)
        before = _ledger(ce_source)
        _stub_pages(stubber)
        second = ingestion_run_execute(source=ce_source, window=CE_WINDOW)

    assert second.pk != first.pk and second.status == "succeeded"
    assert _ledger(ce_source) == before == {"rows": 6, "billed": CE_BILLED, "effective": CE_EFFECTIVE}
    assert second.totals == first.totals
    assert (second.rows_loaded, second.rows_replaced) == (6, 6)
    assert set(CostRecord.objects.filter(source=ce_source).values_list("run_id", flat=True)) == {second.pk}


@pytest.mark.parametrize(
    ("code", "status", "error", "words"),
    [
        ("DataUnavailableException", 400, ConnectorError, "no data for this period yet"),
        ("BillExpirationException", 400, ConnectorError, "Lower the source's backfill days"),
        ("ResourceNotFoundException", 400, ConnectorError, "billing view was not found"),
        ("AccessDeniedException", 400, CredentialsRejected, "IAM policy"),
        ("ExpiredTokenException", 400, CredentialsRejected, "refused the credentials"),
        ("ThrottlingException", 400, Throttled, "throttling"),
        ("RequestChangedException", 400, ProviderUnavailable, "start the query again"),
        ("ServiceUnavailableException", 503, ProviderUnavailable, "unavailable right now"),
        ("SomethingNewException", 400, ConnectorError, "returned an error"),
    ],
)
def test_cost_explorer_errors_become_plain_connector_errors(ce_source, ce, code, status, error, words):
    connector = connector_for("aws_cost_explorer")
    with Stubber(ce) as stubber:
        stubber.add_client_error(
            "get_cost_and_usage", service_error_code=code, service_message="details", http_status_code=status
        )
        with pytest.raises(error) as raised:
            connector.fetch(ce_source, KEYS, CE_WINDOW)
    assert type(raised.value) is error
    assert words in str(raised.value) and code in str(raised.value)


def test_unreachable_endpoint_is_provider_unavailable(ce_source, monkeypatch):
    class Unreachable:
        def get_cost_and_usage(self, **params):
            raise EndpointConnectionError(endpoint_url="https://ce.us-east-1.amazonaws.com")

    connector = connector_for("aws_cost_explorer")
    monkeypatch.setattr(connector, "client_factory", lambda source: Unreachable())
    with pytest.raises(ProviderUnavailable) as raised:
        ingestion_run_execute(source=ce_source, window=CE_WINDOW)
    assert raised.value.retry_after == 60 and "could not be reached" in str(raised.value)
    assert IngestionRun.objects.get(source=ce_source).error_kind == "provider"


def test_cost_explorer_connection_test_messages(ce_source, ce):
    ok = {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": "2025-03-01", "End": "2025-03-02"},
                "Total": {"UnblendedCost": {"Amount": "12.34", "Unit": "USD"}},
                "Groups": [],
                "Estimated": True,
            }
        ]
    }
    expected = {"TimePeriod": ANY, "Granularity": "DAILY", "Metrics": ["UnblendedCost"]}
    with Stubber(ce) as stubber:
        stubber.add_response("get_cost_and_usage", ok, expected)
        result = billing_source_test(source=ce_source)
        assert result.ok
        assert "Connected to AWS Cost Explorer" in result.message and "12.34 USD (estimated" in result.message

        stubber.add_client_error(
            "get_cost_and_usage",
            service_error_code="AccessDeniedException",
            service_message="User: arn:aws:iam::111122223333:user/keel is not authorized to perform: "
            "ce:GetCostAndUsage",
            http_status_code=400,
        )
        denied = billing_source_test(source=ce_source)
        stubber.add_client_error("get_cost_and_usage", service_error_code="LimitExceededException")
        throttled = billing_source_test(source=ce_source)

    assert not denied.ok and denied.message.startswith("AWS rejected the credentials")
    assert "ce:GetCostAndUsage" in denied.message
    ce_source.refresh_from_db()
    assert ce_source.last_test_ok is False and ce_source.last_test_message == throttled.message
    assert not throttled.ok and "try again in a minute" in throttled.message


def test_service_name_table_matches_the_category_csv():
    categories = category_table()
    assert all(code in categories for code in CE_SERVICE_CODES.values())
    assert ce_service("Amazon Elastic Compute Cloud - Compute") == ("AmazonEC2", "Compute", "")
    assert ce_service("Amazon SageMaker")[1:] == ("AI and Machine Learning", "Machine Learning")
    assert ce_service("AWS Batch")[1] == "Compute"  # a service the CSV names with a trailing '*'
    assert cur2_name("lineItem/UnblendedCost") == "line_item_unblended_cost"
    assert cur2_name("savingsPlan/SavingsPlanARN") == "savings_plan_savings_plan_a_r_n"
    assert cur2_name("pricing/publicOnDemandCost") == "pricing_public_on_demand_cost"


# --- CUR files ---------------------------------------------------------------------------------------------------

CUR2_BILLED = Decimal("63.7905678901")
CUR2_EFFECTIVE = Decimal("8.8605678901")
PARQUET_BILLED = Decimal("2.35")


def _independent_unblended_sum(path: Path, column: str) -> Decimal:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return sum((Decimal(row[column] or "0") for row in csv.DictReader(fh)), Decimal(0))


def test_the_shared_cur1_sample_books_to_the_cent(in_alpha):
    """The real legacy CUR sample (1,281 line items) through cur_rows and the ledger's COPY path."""
    from apps.finops.ledger import load_rows

    path = shared_file("sample-anonymous-aws-export-dataset.csv")
    source = billing_source_save(
        kind="aws_data_export",
        name="CUR 1 sample",
        settings={"bucket": "keel-sample", "export_name": "sample"},
        secrets=KEYS,
    )
    run = IngestionRun.objects.create(source=source, trigger=IngestionRun.Trigger.MANUAL)
    result = load_rows(source_id=source.pk, run_id=run.pk, rows=cur_rows(path), scope=BILLING_PERIODS)

    expected = _independent_unblended_sum(path, "lineItem/UnblendedCost")
    assert expected == Decimal("1.68230869740")
    booked = _ledger(source)
    assert booked["rows"] == result.rows_loaded == 1281
    assert booked["billed"] == expected
    assert booked["billed"].quantize(Decimal("0.01")) == expected.quantize(Decimal("0.01"))
    assert Decimal(result.totals["USD"]["billed_cost"]) == expected
    assert result.periods == ["2023-11"]
    records = CostRecord.objects.filter(source=source)
    assert records.filter(charge_category="Tax").count() == 12
    assert records.filter(charge_category="Usage").count() == 1269
    s3 = records.filter(service_name="Amazon Simple Storage Service").first()
    assert (s3.service_category, s3.billing_account_id, s3.invoice_issuer_name) == (
        "Storage",
        "123412340534",
        "Amazon Web Services Canada, Inc.",
    )
    assert set(records.values_list("service_category", flat=True)) <= set(category_table().values()) | {"Other"}
    assert not records.filter(service_category="Other").exists()


def test_cur2_rows_map_line_item_types_and_amortisation():
    rows = {r["charge_description"][:12]: r for r in cur_rows(FIXTURES / "cur2_2026-09.csv")}
    assert sum(r["billed_cost"] for r in rows.values()) == CUR2_BILLED
    assert sum(r["effective_cost"] for r in rows.values()) == CUR2_EFFECTIVE

    on_demand = rows["$1.234567890"]
    assert on_demand["tags"] == {"team": "payments", "env": "prod"}
    assert (on_demand["service_name"], on_demand["service_category"]) == ("Amazon Elastic Compute Cloud", "Compute")
    assert (on_demand["pricing_category"], on_demand["list_cost"]) == ("Standard", Decimal("1.2345678901"))
    assert on_demand["resource_id"] == "i-0abc123example" and on_demand["availability_zone"] == "eu-west-1a"
    assert on_demand["charge_period_start"] == dt.datetime(2026, 9, 1, tzinfo=dt.UTC)

    covered = rows["1.0 hours of"]
    assert (covered["billed_cost"], covered["effective_cost"]) == (Decimal("0.8"), Decimal("0.52"))
    assert covered["commitment_discount_category"] == "Spend" and covered["commitment_discount_status"] == "Used"
    assert covered["pricing_category"] == "Committed"
    negation = rows["SavingsPlanCo"[:12]]
    assert (negation["billed_cost"], negation["effective_cost"]) == (Decimal("-0.8"), Decimal(0))
    sp_fee = rows["1 year No Up"]
    assert (sp_fee["charge_category"], sp_fee["charge_frequency"]) == ("Purchase", "Recurring")
    assert (sp_fee["billed_cost"], sp_fee["effective_cost"]) == (Decimal("10.00"), Decimal("2.75"))
    ri_usage = rows["USD 0.0 hour"]
    assert (ri_usage["billed_cost"], ri_usage["effective_cost"], ri_usage["list_cost"]) == (
        Decimal(0),
        Decimal("0.3"),
        Decimal("0.5"),
    )
    ri_fee = rows["USD 50.00 mo"]
    assert (ri_fee["charge_category"], ri_fee["effective_cost"]) == ("Purchase", Decimal("1.50"))
    bedrock = rows["Anthropic Cl"]
    assert (bedrock["service_category"], bedrock["service_subcategory"]) == ("AI and Machine Learning", "Generative AI")
    assert (bedrock["x_token_type"], bedrock["sku_meter"]) == ("input", "Input Tokens")
    assert bedrock["tags"] == {"agent": "claims-bot"} and bedrock["consumed_quantity"] == Decimal("1152")
    assert rows["Tax for prod"]["charge_category"] == "Tax"
    assert (rows["AWS Activate"]["charge_category"], rows["AWS Activate"]["billed_cost"]) == (
        "Credit",
        Decimal("-5.00"),
    )
    assert {r["billing_account_id"] for r in rows.values()} == {"111122223333"}
    assert {r["publisher_name"] for r in rows.values()} == {"Amazon Web Services EMEA SARL"}


def test_cur_rows_name_the_broken_file_and_row(tmp_path):
    truncated = tmp_path / "cur.csv.gz"
    truncated.write_bytes(gzip.compress((FIXTURES / "cur2_2026-09.csv").read_bytes())[:-40])
    with pytest.raises(ConnectorError, match="cur.csv.gz cannot be read: the gzip file is truncated"):
        list(cur_rows(truncated))

    bad = tmp_path / "bad.csv"
    text = (FIXTURES / "cur2_2026-09.csv").read_text().replace(",1.2345678901,$1.23", ",one euro,$1.23")
    bad.write_text(text)
    with pytest.raises(ConnectorError, match=r"bad.csv row 2: line_item_unblended_cost 'one euro' is not a number"):
        list(cur_rows(bad))

    focus = FIXTURES / "focus_2026-09.csv"
    with pytest.raises(ConnectorError, match="is a FOCUS file, not a CUR: set the source's export format to FOCUS"):
        list(cur_rows(focus))


def test_legacy_tag_columns_and_map_texts(tmp_path):
    legacy = tmp_path / "legacy.csv"
    legacy.write_text(
        "bill/PayerAccountId,bill/BillingPeriodStartDate,bill/BillingPeriodEndDate,lineItem/UsageAccountId,"
        "lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/ProductCode,"
        "lineItem/UnblendedCost,product/ProductName,reservation/EffectiveCost,reservation/ReservationARN,"
        "resourceTags/user:team,resourceTags/aws:createdBy\n"
        "111122223333,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,444455556666,DiscountedUsage,"
        "2026-09-05T00:00:00Z,2026-09-05T01:00:00Z,AmazonEC2,0,Amazon Elastic Compute Cloud,0.0421,"
        "arn:aws:ec2:eu-west-1:444455556666:reserved-instances/ri-1,payments,\n"
    )
    (row,) = cur_rows(legacy)
    assert row["tags"] == {"team": "payments"}
    assert (row["billed_cost"], row["effective_cost"]) == (Decimal(0), Decimal("0.0421"))
    assert row["commitment_discount_id"].endswith("ri-1") and row["commitment_discount_category"] == "Usage"

    hive = tmp_path / "hive.csv"
    hive.write_text(
        "line_item_line_item_type,line_item_usage_start_date,line_item_product_code,line_item_unblended_cost,"
        "line_item_currency_code,resource_tags,product\n"
        'Usage,2026-09-05T00:00:00Z,AmazonS3,0.5,EUR,"{user:team=data, user:env=prod}",{product_name=Amazon S3}\n'
    )
    (row,) = cur_rows(hive)
    assert row["tags"] == {"team": "data", "env": "prod"} and row["service_name"] == "Amazon S3"
    assert row["billing_currency"] == "EUR"
    assert row["billing_period_start"] == dt.datetime(2026, 9, 1, tzinfo=dt.UTC)  # from the usage date
    assert row["charge_period_end"] == dt.datetime(2026, 9, 6, tzinfo=dt.UTC)

    header_only = tmp_path / "empty-month.csv.gz"
    header_only.write_bytes(gzip.compress(b"line_item_unblended_cost,line_item_usage_start_date\n"))
    assert list(cur_rows(header_only)) == []


# --- Data Exports in S3 (moto) -------------------------------------------------------------------------------------

BUCKET = "keel-billing-exports"
SEPT = Window(dt.date(2026, 9, 1), dt.date(2026, 10, 1))


@pytest.fixture
def s3(in_alpha):
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


def _export_source(name: str, export_name: str, export_format: str = "cur2", **settings) -> BillingSource:
    return billing_source_save(
        kind="aws_data_export",
        name=name,
        settings={
            "bucket": BUCKET,
            "prefix": "exports",
            "export_name": export_name,
            "region": "eu-west-1",
            "export_format": export_format,
            **settings,
        },
        secrets=KEYS,
    )


def _put_manifest(s3, export_name: str, period: str, files: list[str], execution: str = "exec-1") -> None:
    manifest = {
        "executionId": execution,
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:111122223333:export/{export_name}-0a1b",
        "columns": [{"name": "line_item_unblended_cost", "type": "decimal"}],
        "dataFiles": [f"s3://{BUCKET}/{key}" for key in files],
    }
    key = f"exports/{export_name}/metadata/BILLING_PERIOD={period}/{export_name}-Manifest.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(manifest).encode())


def _cur2_parquet() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    start = [dt.datetime(2026, 9, 3, 0, 0), dt.datetime(2026, 9, 3, 5, 0)]
    table = pa.table(
        {
            "bill_payer_account_id": ["111122223333", "111122223333"],
            "bill_billing_period_start_date": pa.array([dt.datetime(2026, 9, 1)] * 2, pa.timestamp("ms")),
            "bill_billing_period_end_date": pa.array([dt.datetime(2026, 10, 1)] * 2, pa.timestamp("ms")),
            "line_item_usage_account_id": [STAGE, PROD],
            "line_item_line_item_type": ["Usage", "Usage"],
            "line_item_usage_start_date": pa.array(start, pa.timestamp("ms")),
            "line_item_usage_end_date": pa.array([s + dt.timedelta(hours=1) for s in start], pa.timestamp("ms")),
            "line_item_product_code": ["AmazonS3", "AWSLambda"],
            "line_item_currency_code": ["USD", "USD"],
            "line_item_unblended_cost": [0.1, 2.25],  # CUR 2.0 Parquet has doubles: booked via repr, not binary
            "pricing_public_on_demand_cost": [0.1, 2.25],
            "product": pa.array(
                [[("product_name", "Amazon Simple Storage Service")], [("product_name", "AWS Lambda")]],
                pa.map_(pa.string(), pa.string()),
            ),
            "resource_tags": pa.array([[("user:team", "data")], []], pa.map_(pa.string(), pa.string())),
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def _publish_cur2(s3, export_name: str = "keel-cur2", execution: str = "exec-1", csv_bytes: bytes | None = None):
    data = f"exports/{export_name}/data/BILLING_PERIOD=2026-09"
    gz_key, parquet_key = f"{data}/{export_name}-00001.csv.gz", f"{data}/{export_name}-00002.snappy.parquet"
    raw = csv_bytes if csv_bytes is not None else (FIXTURES / "cur2_2026-09.csv").read_bytes()
    s3.put_object(Bucket=BUCKET, Key=gz_key, Body=gzip.compress(raw))
    s3.put_object(Bucket=BUCKET, Key=parquet_key, Body=_cur2_parquet())
    _put_manifest(s3, export_name, "2026-09", [gz_key, parquet_key], execution)
    return gz_key


def test_user_tags_have_one_spelling_across_cur_versions_and_clouds():
    from apps.finops.connectors.aws import normalise_tag_key

    assert [normalise_tag_key(k) for k in ("user:team", "user_team", "team", "aws:createdBy", "aws_createdBy")] == [
        "team",
        "team",
        "team",
        "aws:createdBy",
        "aws:createdBy",
    ]


def test_cur2_export_books_gzip_csv_and_parquet(s3):
    _publish_cur2(s3)
    source = _export_source("AWS CUR 2.0", "keel-cur2")
    run = ingestion_run_execute(source=source, window=SEPT)

    assert run.status == "succeeded", run.error
    assert run.rows_loaded == 11 and run.details["periods"] == ["2026-09"]
    assert run.details["manifests"]["2026-09"]["files"] == 2
    assert run.details["files_read"][0].endswith("keel-cur2-00001.csv.gz")
    assert _ledger(source) == {
        "rows": 11,
        "billed": CUR2_BILLED + PARQUET_BILLED,
        "effective": CUR2_EFFECTIVE + PARQUET_BILLED,
    }
    s3_row = CostRecord.objects.get(source=source, service_name="Amazon Simple Storage Service")
    assert (s3_row.billed_cost, s3_row.tags, s3_row.sub_account_id) == (Decimal("0.1"), {"team": "data"}, STAGE)
    assert s3_row.charge_period_start == dt.datetime(2026, 9, 3, tzinfo=dt.UTC)
    lam = CostRecord.objects.get(source=source, service_name="AWS Lambda")
    assert (lam.billed_cost, lam.service_category, lam.tags) == (Decimal("2.25"), "Compute", {})


def test_unchanged_export_is_skipped_and_a_restatement_replaces_the_period(s3):
    _publish_cur2(s3)
    source = _export_source("AWS CUR 2.0", "keel-cur2")
    first = ingestion_run_execute(source=source, window=SEPT)
    booked = _ledger(source)

    again = ingestion_run_execute(source=source, window=SEPT)
    assert again.status == "succeeded" and again.details["unchanged_periods"] == ["2026-09"]
    assert (again.rows_loaded, again.rows_replaced) == (0, 0)
    assert _ledger(source) == booked
    assert set(CostRecord.objects.filter(source=source).values_list("run_id", flat=True)) == {first.pk}

    # AWS restates September: the on-demand line item goes from 1.2345678901 to 2.0000000000.
    restated = (FIXTURES / "cur2_2026-09.csv").read_bytes().replace(b",1.2345678901,$1.23", b",2.0000000000,$1.23")
    _publish_cur2(s3, execution="exec-2", csv_bytes=restated)
    third = ingestion_run_execute(source=source, window=SEPT)
    assert third.status == "succeeded" and third.details["unchanged_periods"] == []
    assert (third.rows_loaded, third.rows_replaced) == (11, 11)
    delta = Decimal("2.0000000000") - Decimal("1.2345678901")
    assert _ledger(source) == {"rows": 11, "billed": booked["billed"] + delta, "effective": booked["effective"] + delta}


def test_truncated_gzip_fails_clearly_and_leaves_the_ledger_as_it_was(s3):
    gz_key = _publish_cur2(s3)
    source = _export_source("AWS CUR 2.0", "keel-cur2")
    good = ingestion_run_execute(source=source, window=SEPT)
    before = list(CostRecord.objects.filter(source=source).order_by("pk").values_list("pk", "billed_cost", "run_id"))
    manifest_key = "exports/keel-cur2/metadata/BILLING_PERIOD=2026-09/keel-cur2-Manifest.json"
    whole = s3.get_object(Bucket=BUCKET, Key=gz_key)["Body"].read()
    manifest = s3.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read()

    s3.put_object(Bucket=BUCKET, Key=gz_key, Body=whole[: len(whole) // 2])
    _put_manifest(s3, "keel-cur2", "2026-09", [gz_key], execution="exec-2")
    broken = ingestion_run_execute(source=source, window=SEPT)

    assert broken.status == "failed" and broken.error_kind == "provider"
    assert f"s3://{BUCKET}/{gz_key} cannot be read: the gzip file is truncated" in broken.error
    assert (
        list(CostRecord.objects.filter(source=source).order_by("pk").values_list("pk", "billed_cost", "run_id"))
        == before
    )
    assert {run_id for _, _, run_id in before} == {good.pk}
    source.refresh_from_db()
    assert source.status == BillingSource.Status.FAILING
    assert Alert.objects.filter(dedup_key=f"ingestion:{source.pk}").exists()

    # The export is whole again, byte for byte as first booked: after a failure it is booked again, not skipped.
    s3.put_object(Bucket=BUCKET, Key=gz_key, Body=whole)
    s3.put_object(Bucket=BUCKET, Key=manifest_key, Body=manifest)
    recovered = ingestion_run_execute(source=source, window=SEPT)
    assert recovered.status == "succeeded" and recovered.details["unchanged_periods"] == []
    assert recovered.details["manifests"]["2026-09"]["signature"] == good.details["manifests"]["2026-09"]["signature"]
    assert (recovered.rows_loaded, recovered.rows_replaced) == (11, 11)
    assert _ledger(source) == {
        "rows": 11,
        "billed": CUR2_BILLED + PARQUET_BILLED,
        "effective": CUR2_EFFECTIVE + PARQUET_BILLED,
    }
    assert Alert.objects.get(dedup_key=f"ingestion:{source.pk}").state == Alert.State.RESOLVED


def test_missing_manifest_and_missing_data_file_are_clear_errors(s3):
    nothing = _export_source("AWS nothing", "no-such-export")
    run = ingestion_run_execute(source=nothing, window=SEPT)
    assert run.status == "failed"
    assert "No export manifest found under s3://keel-billing-exports/exports/no-such-export/ for 2026-09" in run.error
    assert "metadata/BILLING_PERIOD=YYYY-MM/no-such-export-Manifest.json" in run.error

    _put_manifest(s3, "half-export", "2026-09", ["exports/half-export/data/BILLING_PERIOD=2026-09/gone.csv.gz"])
    half = _export_source("AWS half", "half-export")
    run = ingestion_run_execute(source=half, window=SEPT)
    assert run.status == "failed"
    assert "lists s3://keel-billing-exports/exports/half-export/data/BILLING_PERIOD=2026-09/gone.csv.gz" in run.error
    assert "not in the bucket" in run.error

    s3.put_object(
        Bucket=BUCKET, Key="exports/bad-json/metadata/BILLING_PERIOD=2026-09/bad-json-Manifest.json", Body=b"{oops"
    )
    bad = _export_source("AWS bad json", "bad-json")
    run = ingestion_run_execute(source=bad, window=SEPT)
    assert run.status == "failed" and "is not valid JSON" in run.error


def test_a_month_without_manifest_is_skipped_when_others_exist(s3):
    _publish_cur2(s3)
    source = _export_source("AWS CUR 2.0", "keel-cur2")
    run = ingestion_run_execute(source=source, window=Window(dt.date(2026, 8, 20), dt.date(2026, 9, 5)))
    assert run.status == "succeeded", run.error
    assert run.details["missing_periods"] == ["2026-08"] and run.rows_loaded == 11


def test_focus_export_is_booked_by_the_focus_loader(s3, tmp_path):
    data = "exports/keel-focus/data/BILLING_PERIOD=2026-09"
    key = f"{data}/keel-focus-00001.csv.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress((FIXTURES / "focus_2026-09.csv").read_bytes()))
    _put_manifest(s3, "keel-focus", "2026-09", [key])
    source = _export_source("AWS FOCUS", "keel-focus", export_format="focus")
    run = ingestion_run_execute(source=source, window=SEPT)

    assert run.status == "succeeded", run.error
    expected = sum_file_independently(FIXTURES / "focus_2026-09.csv")["USD"]
    assert expected == {"billed_cost": Decimal("9.5905678901"), "effective_cost": Decimal("9.3105678901")}
    assert _ledger(source) == {"rows": 4, "billed": expected["billed_cost"], "effective": expected["effective_cost"]}
    bedrock = CostRecord.objects.get(source=source, service_name="Amazon Bedrock")
    assert bedrock.tags == {"user:agent": "claims-bot"} and bedrock.x_extra["x_ServiceCode"] == "AmazonBedrock"
    assert bedrock.publisher_name == "Anthropic"


def test_legacy_cur_layout_with_the_shared_sample(s3):
    sample = shared_file("sample-anonymous-aws-export-dataset.csv")
    folder = "exports/legacy-cur/20231101-20231201"
    report_key = f"{folder}/assembly-7f3a/legacy-cur-1.csv.gz"
    s3.put_object(Bucket=BUCKET, Key=report_key, Body=gzip.compress(sample.read_bytes()))
    manifest = {
        "assemblyId": "assembly-7f3a",
        "bucket": BUCKET,
        "billingPeriod": {"start": "20231101T000000.000Z", "end": "20231201T000000.000Z"},
        "reportKeys": [report_key],
    }
    s3.put_object(Bucket=BUCKET, Key=f"{folder}/legacy-cur-Manifest.json", Body=json.dumps(manifest).encode())
    source = _export_source("AWS legacy CUR", "legacy-cur")
    run = ingestion_run_execute(source=source, window=Window(dt.date(2023, 11, 10), dt.date(2023, 11, 13)))

    assert run.status == "succeeded", run.error
    assert run.details["manifests"]["2023-11"]["layout"] == "legacy_cur"
    assert _ledger(source)["rows"] == 1281
    assert _ledger(source)["billed"] == _independent_unblended_sum(sample, "lineItem/UnblendedCost")


def test_role_is_assumed_before_reading(s3):
    _publish_cur2(s3)
    source = _export_source(
        "AWS via role", "keel-cur2", role_arn="arn:aws:iam::111122223333:role/keel-billing-read", external_id="keel-7"
    )
    run = ingestion_run_execute(source=source, window=SEPT)
    assert run.status == "succeeded" and run.rows_loaded == 11

    bad_role = _export_source("AWS bad role", "keel-cur2", role_arn="keel-billing-read")
    run = ingestion_run_execute(source=bad_role, window=SEPT)
    assert run.status == "failed" and "is not a role ARN" in run.error


def test_export_connection_test_messages(s3):
    _publish_cur2(s3)
    ok = billing_source_test(source=_export_source("AWS CUR 2.0", "keel-cur2"))
    assert ok.ok and ok.message == (
        "Connected: Data Exports export at s3://keel-billing-exports/exports/keel-cur2/ with 1 billing period(s), "
        "latest 2026-09."
    )
    empty = billing_source_test(source=_export_source("AWS typo", "keel-cur-2"))
    assert not empty.ok and "no export under s3://keel-billing-exports/exports/keel-cur-2/" in empty.message
    no_bucket = _export_source("AWS no bucket", "keel-cur2")
    no_bucket.settings["bucket"] = "keel-no-such-bucket"
    missing = connector_for("aws_data_export").test_connection(no_bucket, KEYS)
    assert not missing.ok and "The S3 bucket does not exist" in missing.message


def test_downloaded_files_are_removed_once_booked(s3):
    _publish_cur2(s3)
    connector = connector_for("aws_data_export")
    fetched = connector.fetch(_export_source("AWS CUR 2.0", "keel-cur2"), KEYS, SEPT)
    rows = list(fetched.rows)
    assert len(rows) == 11 and sum(r["billed_cost"] for r in rows) == CUR2_BILLED + PARQUET_BILLED
    assert fetched.details["bytes_downloaded"] > 0

    key = "exports/keel-focus/data/BILLING_PERIOD=2026-09/keel-focus-00001.csv.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress((FIXTURES / "focus_2026-09.csv").read_bytes()))
    _put_manifest(s3, "keel-focus", "2026-09", [key])
    fetched = connector.fetch(_export_source("AWS FOCUS", "keel-focus", export_format="focus"), KEYS, SEPT)
    paths = [Path(p) for p in fetched.files]
    assert len(paths) == 1 and paths[0].exists() and paths[0].read_bytes()[:2] == b"\x1f\x8b"
    del fetched
    gc.collect()
    assert not paths[0].exists() and not paths[0].parent.exists()
