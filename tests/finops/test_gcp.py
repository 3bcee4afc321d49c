"""The BigQuery billing-export connector with a fake BigQuery (dict rows shaped like the export schema):
credits as Credit rows, tax, Pacific invoice months, late rows replacing rather than duplicating, the FOCUS
table column for column, parameterised SQL, and quota / access errors classified."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from google.api_core import exceptions as gexc

from apps.finops import connectors
from apps.finops.connectors.base import ConnectorError, CredentialsRejected, ProviderUnavailable, Throttled, Window
from apps.finops.connectors.gcp import BigQueryConnector, detect_table_kind, service_category
from apps.finops.models import BillingSource, CostRecord, IngestionRun
from apps.finops.selectors import ledger_totals
from apps.finops.services import billing_source_save, billing_source_test, ingestion_run_execute

ACCOUNT = "01A2B3-C4D5E6-F7A8B9"
TABLE = "gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"
WINDOW = Window(dt.date(2025, 1, 30), dt.date(2025, 2, 2))


def at(day: int, hour: int, month: int = 1) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=dt.UTC)


def line(
    start: dt.datetime,
    cost: float,
    *,
    service: str = "Compute Engine",
    service_id: str = "6F81-5844-456A",
    sku: str = "N2 Instance Core running in Belgium",
    sku_id: str = "CF4E-A0C7-E3BF",
    credits: list | None = None,
    cost_type: str = "regular",
    invoice_month: str = "202501",
    project: str = "harbor-prod",
    labels: list | None = None,
    amount: float = 1.0,
    export_time: dt.datetime | None = None,
) -> dict:
    """One line item as BigQuery returns it: nested records as dicts, FLOAT as float, TIMESTAMP aware."""
    return {
        "billing_account_id": ACCOUNT,
        "service": {"id": service_id, "description": service},
        "sku": {"id": sku_id, "description": sku},
        "usage_start_time": start,
        "usage_end_time": start + dt.timedelta(hours=1),
        "project": {
            "id": project,
            "number": "123456789012",
            "name": "Harbor Production",
            "labels": [{"key": "env", "value": "prod"}, {"key": "team", "value": "platform"}],
            "ancestry_numbers": "/123/",
        },
        "labels": labels if labels is not None else [{"key": "team", "value": "claims"}],
        "location": {"location": "europe-west1", "country": "BE", "region": "europe-west1", "zone": "europe-west1-b"},
        "cost": cost,
        "currency": "EUR",
        "cost_type": cost_type,
        "usage": {
            "amount": amount * 3600,
            "unit": "seconds",
            "amount_in_pricing_units": amount,
            "pricing_unit": "hour",
        },
        "credits": credits or [],
        "invoice": {"month": invoice_month, "publisher_type": "GOOGLE"},
        "cost_at_list": cost * 1.25 if cost_type == "regular" else None,
        "export_time": export_time or start + dt.timedelta(hours=6),
    }


SUD = {
    "name": "Sustained usage discount",
    "amount": -0.07,
    "full_name": "",
    "id": "sud",
    "type": "SUSTAINED_USAGE_DISCOUNT",
}
FREE = {"name": "Free tier", "amount": -0.01, "full_name": "", "id": "ft", "type": "FREE_TIER"}


def standard_rows() -> list[dict]:
    return [
        # Two hours of the same VM on Jan 30: one daily row, credits summed per type.
        line(at(30, 10), 0.1, credits=[SUD]),
        line(at(30, 11), 0.2, credits=[SUD, FREE]),
        line(at(31, 9), 0.3),
        line(at(31, 12), 0.9, service="Cloud Storage", service_id="95FF-2EF5-5EA1", sku="Standard Storage Belgium"),
        line(at(31, 0), 0.21, cost_type="tax", service="Invoice", service_id="", sku="Tax", project=""),
        # 2025-02-01 03:00 UTC is still January 31 in Pacific time: the January invoice.
        line(at(1, 3, month=2), 0.5, invoice_month="202501"),
        line(at(1, 4, month=2), -0.000001, cost_type="rounding_error", sku="Rounding"),
    ]


class FakeBigQuery:
    """The connector's BigQuery seam: query(sql, params) -> dict rows. Scripted answers or errors."""

    def __init__(self):
        self.answers: list = []
        self.calls: list[tuple[str, dict]] = []

    def query(self, sql, params):
        self.calls.append((sql, {p.name: (p.type_, p.value) for p in params}))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return iter(answer)


class FakeBilling:
    def get_billing_account(self, name):
        assert name == f"billingAccounts/{ACCOUNT}"
        return SimpleNamespace(name=name, display_name="Harbor Insurance", open_=True)

    def get_project_billing_info(self, name):
        return SimpleNamespace(
            name=f"{name}/billingInfo", billing_enabled=True, billing_account_name=f"billingAccounts/{ACCOUNT}"
        )


@pytest.fixture
def bigquery(monkeypatch):
    fake = FakeBigQuery()
    connector = connectors.connector_for("gcp_bigquery")
    monkeypatch.setattr(connector, "client_factory", lambda source: fake)
    monkeypatch.setattr(connector, "billing_client_factory", lambda source: FakeBilling())
    return fake


SETTINGS = {"project_id": "harbor-billing", "dataset": "billing_export", "table": TABLE, "billing_account_id": ACCOUNT}


@pytest.fixture
def gcp_source(in_alpha, bigquery):
    key = {"type": "service_account", "client_email": "keel@harbor-billing.iam.gserviceaccount.com"}
    return billing_source_save(
        kind="gcp_bigquery",
        name="Harbor GCP",
        settings=dict(SETTINGS),
        secrets={"service_account_json": json.dumps(key)},
    )


def fetch(bigquery, rows, settings=None, window=WINDOW):
    bigquery.answers.append(rows)
    source = SimpleNamespace(pk=1, settings={**SETTINGS, **(settings or {})})
    return connectors.connector_for("gcp_bigquery").fetch(source, {}, window)


# --- mapping ----------------------------------------------------------------------------------------------


def test_standard_export_sums_per_day_and_books_credits_as_credit_rows(bigquery):
    fetched = fetch(bigquery, standard_rows())
    rows = fetched.rows
    by = {
        (r["charge_period_start"].date(), r["charge_category"], r["service_name"], r["charge_description"]): r
        for r in rows
    }
    vm = by[(dt.date(2025, 1, 30), "Usage", "Compute Engine", "N2 Instance Core running in Belgium")]
    assert vm["billed_cost"] == vm["effective_cost"] == Decimal("0.3")  # 0.1 + 0.2, exact: floats go through repr
    assert vm["list_cost"] == Decimal("0.375") and vm["pricing_quantity"] == Decimal("2.0")
    assert vm["consumed_quantity"] == Decimal("7200.0") and vm["consumed_unit"] == "seconds"
    assert vm["x_extra"]["x_LineItems"] == "2"
    sud = by[(dt.date(2025, 1, 30), "Credit", "Compute Engine", "Sustained usage discount")]
    assert sud["billed_cost"] == sud["effective_cost"] == Decimal("-0.14")
    assert sud["x_extra"]["x_CreditType"] == "SUSTAINED_USAGE_DISCOUNT" and sud["consumed_quantity"] is None
    free = by[(dt.date(2025, 1, 30), "Credit", "Compute Engine", "Free tier")]
    assert free["billed_cost"] == Decimal("-0.01")
    # Net cost = cost + Σ credits.amount, to the last digit.
    day30 = [r for r in rows if r["charge_period_start"].date() == dt.date(2025, 1, 30)]
    assert sum(r["billed_cost"] for r in day30) == Decimal("0.15")

    assert vm["tags"] == {"env": "prod", "team": "claims"}  # resource labels win over project labels
    assert (vm["sub_account_id"], vm["sub_account_name"], vm["sub_account_type"]) == (
        "harbor-prod",
        "Harbor Production",
        "Project",
    )
    assert (vm["region_id"], vm["availability_zone"]) == ("europe-west1", "europe-west1-b")
    assert (vm["service_category"], vm["service_subcategory"]) == ("Compute", "Virtual Machines")
    assert vm["billing_account_id"] == ACCOUNT and vm["billing_currency"] == "EUR"
    assert vm["provider_name"] == vm["invoice_issuer_name"] == "Google Cloud"
    storage = by[(dt.date(2025, 1, 31), "Usage", "Cloud Storage", "Standard Storage Belgium")]
    assert storage["service_category"] == "Storage"

    tax = by[(dt.date(2025, 1, 31), "Tax", "Invoice", "Tax")]
    assert tax["billed_cost"] == Decimal("0.21") and tax["sub_account_id"] == "" and tax["consumed_quantity"] is None
    rounding = next(r for r in rows if r["charge_description"] == "Rounding")
    assert rounding["charge_category"] == "Adjustment" and rounding["billed_cost"] == Decimal("-0.000001")

    feb = by[(dt.date(2025, 2, 1), "Usage", "Compute Engine", "N2 Instance Core running in Belgium")]
    assert feb["charge_period_start"] == dt.datetime(2025, 2, 1, tzinfo=dt.UTC)
    assert (feb["billing_period_start"], feb["billing_period_end"]) == (
        dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2025, 2, 1, tzinfo=dt.UTC),
    )  # invoice.month 202501 (Pacific) → the January billing period in UTC
    assert fetched.scope == "window" and fetched.details["line_items"] == 7


def test_sql_is_parameterised_and_reads_a_trailing_window(bigquery):
    fetch(bigquery, [])
    sql, params = bigquery.calls[0]
    assert f"FROM `harbor-billing.billing_export.{TABLE}`" in sql
    assert "_PARTITIONTIME >= @partition_start" in sql and "usage_start_time >= @start" in sql
    assert "usage_start_time < @end" in sql and "billing_account_id = @billing_account_id" in sql
    assert "2025" not in sql and ACCOUNT not in sql  # values only as parameters
    assert params == {
        "start": ("TIMESTAMP", dt.datetime(2025, 1, 30, tzinfo=dt.UTC)),
        "end": ("TIMESTAMP", dt.datetime(2025, 2, 2, tzinfo=dt.UTC)),
        "partition_start": ("TIMESTAMP", dt.datetime(2025, 1, 29, tzinfo=dt.UTC)),  # late rows, Pacific partitions
        "billing_account_id": ("STRING", ACCOUNT),
    }
    assert "credits" in sql and "invoice" in sql and "resource" not in sql.split("FROM")[0]
    fetch(bigquery, [], settings={"table": "gcp_billing_export_resource_v1_01A2B3_C4D5E6_F7A8B9"})
    assert "resource" in bigquery.calls[1][0].split("FROM")[0]


def test_table_names_are_checked_before_they_reach_sql(bigquery):
    for bad in ({"table": "t`; DROP TABLE x; --"}, {"dataset": "a.b"}, {"project_id": "Bad Project"}):
        with pytest.raises(ConnectorError):
            fetch(bigquery, [], settings=bad)
    assert bigquery.calls == []


def test_ai_services_map_to_generative_ai_by_service_and_sku():
    assert service_category("Vertex AI", "Gemini 2.5 Flash Input Text Tokens") == (
        "AI and Machine Learning",
        "Generative AI",
    )
    assert service_category("Vertex AI", "Custom Training n1-standard-4 running in Americas") == (
        "AI and Machine Learning",
        "AI Platforms",
    )
    assert service_category("Gemini API", "Generate content input token count") == (
        "AI and Machine Learning",
        "Generative AI",
    )
    assert service_category("BigQuery") == ("Databases", "")  # gcp_category_mapping.csv
    assert service_category("Something New") == ("Other", "")
    assert detect_table_kind(TABLE) == "standard"
    assert detect_table_kind("gcp_billing_export_resource_v1_X") == "detailed"
    assert detect_table_kind("gcp_billing_export_focus_v1_X") == "focus"


def test_focus_table_maps_column_for_column(bigquery):
    focus_row = {
        "BilledCost": Decimal("12.5"),
        "EffectiveCost": Decimal("11.25"),
        "ListCost": 13.0,
        "ContractedCost": Decimal("12.5"),
        "BillingAccountId": ACCOUNT,
        "BillingCurrency": "EUR",
        "BillingPeriodStart": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        "BillingPeriodEnd": dt.datetime(2025, 2, 1, tzinfo=dt.UTC),
        "ChargePeriodStart": dt.datetime(2025, 1, 31, 10, tzinfo=dt.UTC),
        "ChargePeriodEnd": dt.datetime(2025, 1, 31, 11, tzinfo=dt.UTC),
        "ChargeCategory": "Usage",
        "ChargeDescription": "Gemini 2.5 Flash input tokens",
        "ConsumedQuantity": 5000000,
        "ConsumedUnit": "Tokens",
        "PricingQuantity": Decimal("5"),
        "PricingUnit": "1000000 Tokens",
        "ProviderName": "Google Cloud",
        "PublisherName": "Google Cloud",
        "InvoiceIssuer": "Google Cloud",
        "ServiceName": "Vertex AI",
        "ServiceCategory": "AI and Machine Learning",
        "SubAccountId": "harbor-ai",
        "SubAccountName": "Harbor AI",
        "RegionId": "europe-west4",
        "ResourceId": "//aiplatform.googleapis.com/projects/harbor-ai/locations/europe-west4/endpoints/1",
        "SkuId": "FDA8-1234-5678",
        "Tags": [{"key": "agent", "value": "claims-triage", "inherited": False, "namespace": ""}],
        "x_ServiceId": "C7E2-9256-1C43",
        "x_Credits": [{"type": "PROMOTION", "amount": -1.25}],
        "x_ExportTime": dt.datetime(2025, 1, 31, 18, tzinfo=dt.UTC),
    }
    fetched = fetch(bigquery, [focus_row], settings={"table": "gcp_billing_export_focus_v1_X", "table_kind": "focus"})
    sql, params = bigquery.calls[0]
    assert (
        "ChargePeriodStart >= @start AND ChargePeriodStart < @end" in sql
        and "BillingAccountId = @billing_account_id" in sql
    )
    (row,) = fetched.rows
    assert (row["billed_cost"], row["effective_cost"], row["list_cost"]) == (
        Decimal("12.5"),
        Decimal("11.25"),
        Decimal("13.0"),
    )
    assert row["charge_period_start"] == dt.datetime(2025, 1, 31, 10, tzinfo=dt.UTC)
    assert row["consumed_quantity"] == Decimal("5000000") and row["pricing_unit"] == "1000000 Tokens"
    assert row["provider_name"] == "Google Cloud" and row["invoice_issuer_name"] == "Google Cloud"
    assert row["tags"] == {"agent": "claims-triage"}
    assert row["x_extra"] == {
        "x_ServiceId": "C7E2-9256-1C43",
        "x_Credits": [{"type": "PROMOTION", "amount": -1.25}],
        "x_ExportTime": "2025-01-31T18:00:00+00:00",
    }


# --- through the ingestion service ----------------------------------------------------------------------


def test_ingestion_books_real_figures_and_late_rows_replace_rather_than_duplicate(gcp_source, bigquery):
    bigquery.answers.append(standard_rows())
    run = ingestion_run_execute(source=gcp_source, trigger="manual", window=WINDOW)
    assert run.status == IngestionRun.Status.SUCCEEDED, run.error
    # Usage 0.3 + 0.3 + 0.9 + 0.5, tax 0.21, rounding −0.000001, credits −0.14 −0.01.
    net = Decimal("0.3") + Decimal("0.3") + Decimal("0.9") + Decimal("0.5") + Decimal("0.21") - Decimal("0.000001")
    net -= Decimal("0.15")
    assert run.rows_loaded == 8
    assert ledger_totals(source=gcp_source)["EUR"]["billed_cost"] == net == Decimal("2.059999")

    # The next run re-reads the trailing window: a late line item for Jan 31 has arrived since.
    late = line(at(31, 13), 0.4, export_time=at(1, 23, month=2))
    bigquery.answers.append([*standard_rows(), late])
    again = ingestion_run_execute(source=gcp_source, trigger="manual", window=WINDOW)
    assert again.status == IngestionRun.Status.SUCCEEDED, again.error
    assert (again.rows_loaded, again.rows_replaced) == (8, 8)  # the VM row of Jan 31 grew, nothing doubled
    totals = ledger_totals(source=gcp_source)["EUR"]
    assert totals["billed_cost"] == net + Decimal("0.4") and totals["rows"] == 8
    vm31 = CostRecord.objects.get(
        source=gcp_source,
        charge_category="Usage",
        service_name="Compute Engine",
        charge_period_start=dt.datetime(2025, 1, 31, tzinfo=dt.UTC),
    )
    assert vm31.billed_cost == Decimal("0.7") and vm31.x_extra["x_LineItems"] == "2"


def test_focus_table_through_the_ingestion_service(in_alpha, bigquery):
    source = billing_source_save(
        kind="gcp_bigquery",
        name="Harbor GCP FOCUS",
        settings={**SETTINGS, "table": "gcp_billing_export_focus_v1_01A2B3", "table_kind": "focus"},
        secrets={"service_account_json": json.dumps({"type": "service_account"})},
    )
    rows = [
        {
            "BilledCost": cost,
            "EffectiveCost": cost,
            "BillingAccountId": ACCOUNT,
            "BillingCurrency": "USD",
            "BillingPeriodStart": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            "BillingPeriodEnd": dt.datetime(2025, 2, 1, tzinfo=dt.UTC),
            "ChargePeriodStart": dt.datetime(2025, 1, day, tzinfo=dt.UTC),
            "ChargePeriodEnd": dt.datetime(2025, 1, day, tzinfo=dt.UTC) + dt.timedelta(days=1),
            "ChargeCategory": category,
            "ProviderName": "Google Cloud",
            "ServiceName": "Compute Engine",
            "ServiceCategory": "Compute",
        }
        for day, cost, category in ((30, 10.1, "Usage"), (31, 20.2, "Usage"), (31, -3.3, "Credit"))
    ]
    bigquery.answers.append(rows)
    run = ingestion_run_execute(source=source, trigger="manual", window=WINDOW)
    assert run.status == IngestionRun.Status.SUCCEEDED, run.error
    assert run.rows_loaded == 3
    assert ledger_totals(source=source)["USD"]["billed_cost"] == Decimal("27.0")


def test_quota_and_rate_limits_are_throttled(gcp_source, bigquery):
    quota = gexc.Forbidden(
        "Quota exceeded: Your project exceeded quota for free query bytes scanned.",
        errors=[{"reason": "quotaExceeded", "message": "Quota exceeded"}],
    )
    bigquery.answers.append(quota)
    with pytest.raises(Throttled) as caught:
        ingestion_run_execute(source=gcp_source, trigger="manual", window=WINDOW)
    assert caught.value.retry_after == 600.0
    run = gcp_source.runs.get()
    assert (run.status, run.error_kind) == (IngestionRun.Status.RETRYING, IngestionRun.ErrorKind.THROTTLED)

    rate = gexc.TooManyRequests("Exceeded rate limits", errors=[{"reason": "rateLimitExceeded"}])
    bigquery.answers.append(rate)
    with pytest.raises(Throttled) as caught:
        fetch_via = connectors.connector_for("gcp_bigquery")
        fetch_via.fetch(SimpleNamespace(pk=1, settings=SETTINGS), {}, WINDOW)
    assert caught.value.retry_after == 60.0


def test_access_denied_rejects_the_credentials(gcp_source, bigquery):
    denied = gexc.Forbidden(
        f"Access Denied: Table harbor-billing:billing_export.{TABLE}: User does not have permission to query table.",
        errors=[{"reason": "accessDenied", "message": "Access Denied"}],
    )
    bigquery.answers.append(denied)
    run = ingestion_run_execute(source=gcp_source, trigger="manual", window=WINDOW)
    assert (run.status, run.error_kind) == (IngestionRun.Status.FAILED, IngestionRun.ErrorKind.CREDENTIALS)
    assert "BigQuery Data Viewer" in run.error
    gcp_source.refresh_from_db()
    assert gcp_source.status == BillingSource.Status.CREDENTIALS


def test_other_errors_are_classified(bigquery):
    cases = [
        (
            gexc.NotFound("Not found: Table harbor-billing:billing_export.x", errors=[{"reason": "notFound"}]),
            ConnectorError,
        ),
        (gexc.BadRequest("Unrecognized name: cost_at_list", errors=[{"reason": "invalidQuery"}]), ConnectorError),
        (gexc.ServiceUnavailable("Backend error"), ProviderUnavailable),
        (gexc.InternalServerError("Internal error"), ProviderUnavailable),
        (gexc.Forbidden("Billing has not been enabled", errors=[{"reason": "billingNotEnabled"}]), ConnectorError),
    ]
    for error, expected in cases:
        bigquery.answers.append(error)
        with pytest.raises(expected) as caught:
            connectors.connector_for("gcp_bigquery").fetch(SimpleNamespace(pk=1, settings=SETTINGS), {}, WINDOW)
        assert not isinstance(caught.value, CredentialsRejected)

    def pages_then_failure():
        yield line(at(30, 10), 0.1)
        raise gexc.ServiceUnavailable("Backend error while reading the next page")

    bigquery.answers.append(pages_then_failure())
    with pytest.raises(ProviderUnavailable):
        connectors.connector_for("gcp_bigquery").fetch(SimpleNamespace(pk=1, settings=SETTINGS), {}, WINDOW)
    bigquery.answers.append(gexc.NotFound("Not found: Table", errors=[{"reason": "notFound"}]))
    with pytest.raises(ConnectorError, match="a new billing export creates its table only after the first export"):
        connectors.connector_for("gcp_bigquery").fetch(SimpleNamespace(pk=1, settings=SETTINGS), {}, WINDOW)


def test_connection_test_reads_freshness_and_billing_metadata(gcp_source, bigquery):
    bigquery.answers.append([{"latest": dt.datetime(2025, 2, 1, 6, tzinfo=dt.UTC), "line_items": 1234}])
    result = billing_source_test(source=gcp_source)
    assert result.ok, result.message
    assert "Last export 2025-02-01 06:00 UTC; 1,234 line items" in result.message
    assert "Billing account 'Harbor Insurance' (01A2B3-C4D5E6-F7A8B9) is open." in result.message
    sql, params = bigquery.calls[0]
    assert "MAX(export_time)" in sql and "_PARTITIONTIME >= @since" in sql and params["since"][0] == "TIMESTAMP"


def test_service_account_keys_are_checked():
    for bad in ("", "not json", json.dumps({"type": "authorized_user"})):
        with pytest.raises(CredentialsRejected):
            BigQueryConnector._credentials({"service_account_json": bad})
    with pytest.raises(CredentialsRejected, match="cannot be used"):
        BigQueryConnector._credentials({"service_account_json": json.dumps({"type": "service_account"})})
