"""Azure connectors against canned HTTP answers (requests adapter under azure-core's RequestsTransport) and a
fake storage container: query paging by nextLink, throttling with the QPU retry-after, rejected
credentials, the shared EA sample to the cent, exports with a manifest, and re-runs that replace."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.core.pipeline.transport import RequestsTransport
from azure.mgmt.costmanagement import CostManagementClient

from apps.core.tasks import TransientError
from apps.finops import connectors
from apps.finops.connectors.azure import (
    CostQueryConnector,
    ExportConnector,
    actual_cost_rows,
    export_runs,
    pricing_unit,
    resolve_service,
    resource_type_of,
)
from apps.finops.connectors.base import ConnectorError, CredentialsRejected, ProviderUnavailable, Throttled, Window
from apps.finops.ledger import BILLING_PERIODS, load_rows, sum_file_independently
from apps.finops.models import BillingSource, CostRecord, IngestionRun
from apps.finops.services import billing_source_save, billing_source_test, ingestion_run_execute

from .conftest import shared_file

FIXTURES = Path(__file__).parent / "fixtures" / "azure"
EA_SAMPLE = "sample-anonymous-ea-export-dataset.csv"
SCOPE = "/subscriptions/11111111-2222-3333-4444-555555555555"
QUERY_URL = f"https://management.azure.com{SCOPE}/providers/Microsoft.CostManagement/query"
CENT = Decimal("0.01")


# --- the canned transport -------------------------------------------------------------------------------


class CannedAdapter(requests.adapters.BaseAdapter):
    """Answers each request with the next (status, body, headers); records what was sent."""

    def __init__(self, items):
        super().__init__()
        self.items, self.sent = list(items), []

    def send(self, request, **kwargs):
        self.sent.append(request)
        status, body, headers = self.items.pop(0)
        response = requests.Response()
        response.status_code, response.url, response.request = status, request.url, request
        response.headers.update({"Content-Type": "application/json", **headers})
        response.raw = io.BytesIO(body if isinstance(body, bytes) else json.dumps(body).encode())
        return response

    def close(self):
        pass


class FakeCred:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("test-token", 4102444800)

    def get_token_info(self, *scopes, **kwargs):
        return AccessTokenInfo("test-token", 4102444800)


def canned_client(items) -> tuple[CostManagementClient, CannedAdapter]:
    adapter = CannedAdapter(items)
    session = requests.Session()
    session.mount("https://", adapter)
    transport = RequestsTransport(session=session, session_owner=False)
    return CostManagementClient(FakeCred(), transport=transport, retry_total=0), adapter


def page(rows, *, next_link=None, columns=("PreTaxCost", "UsageDate", "SubscriptionId", "ServiceName", "Currency")):
    """A query answer; amounts are written as JSON numbers, the way Azure sends them."""
    types = {"PreTaxCost": "Number", "Cost": "Number", "UsageDate": "Number"}
    body = {
        "id": "subscriptions/x/providers/Microsoft.CostManagement/query/1",
        "properties": {
            "nextLink": next_link,
            "columns": [{"name": c, "type": types.get(c, "String")} for c in columns],
            "rows": rows,
        },
    }
    # Decimals are written as bare JSON numbers with every digit (no float round trip in the fixture).
    text = json.dumps(body, default=lambda d: f"__number__{d}__")
    return re.sub(r'"__number__([^_]+)__"', r"\1", text).encode()


SUB = "11111111-2222-3333-4444-555555555555"
NEXT = f"{QUERY_URL}?api-version=2025-03-01&$skiptoken=AQAAAA%3D%3D"

ACTUAL_PAGE_1 = [
    [Decimal("41.4720000000000001"), 20250101, SUB, "Virtual Machines", "EUR"],
    [Decimal("0.0183456"), 20250101, SUB, "Storage", "EUR"],
]
# Page 2 orders its columns differently: rows are read by the column names, never by position.
ACTUAL_PAGE_2_COLUMNS = ("UsageDate", "ServiceName", "SubscriptionId", "Currency", "PreTaxCost")
ACTUAL_PAGE_2 = [
    [20250102, "Virtual Machines", SUB, "EUR", Decimal("917.472")],  # the reservation bought that day
    [20250102, "Azure OpenAI", SUB, "EUR", Decimal("12.5")],
]
AMORTIZED = [
    [Decimal("41.4720000000000001"), 20250101, SUB, "Virtual Machines", "EUR"],
    [Decimal("0.0183456"), 20250101, SUB, "Storage", "EUR"],
    [Decimal("43.872"), 20250102, SUB, "Virtual Machines", "EUR"],
    [Decimal("12.5"), 20250102, SUB, "Azure OpenAI", "EUR"],
]


def query_answers():
    return [
        (200, page(ACTUAL_PAGE_1, next_link=NEXT), {"x-ms-ratelimit-microsoft.costmanagement-qpu-remaining": "11"}),
        (200, page(ACTUAL_PAGE_2, columns=ACTUAL_PAGE_2_COLUMNS), {}),
        (200, page(AMORTIZED), {}),
    ]


QUERY_SETTINGS = {
    "scope": SCOPE,
    "tenant_id": "tenant",
    "client_id": "app",
    "cost_type": "both",
    "group_by": "SubscriptionId",
    "cost_column": "PreTaxCost",
    "billing_account_id": "",
    "invoice_issuer": "",
}
WINDOW = Window(dt.date(2025, 1, 1), dt.date(2025, 1, 3))


@pytest.fixture
def query_connector(monkeypatch):
    connector = connectors.connector_for("azure_cost_query")
    state = {"items": []}

    def factory(source):
        client, adapter = canned_client(state["items"])
        state["adapter"] = adapter
        return client

    monkeypatch.setattr(connector, "client_factory", factory)
    return state


@pytest.fixture
def query_source(in_alpha, query_connector):
    return billing_source_save(
        kind="azure_cost_query",
        name="Harbor Azure",
        settings=dict(QUERY_SETTINGS),
        secrets={"client_secret": "s3cr3t-value-of-the-app-1234"},
    )


# --- Cost Management query ------------------------------------------------------------------------------


def test_query_follows_next_link_with_the_same_body_and_merges_actual_and_amortized(query_connector):
    query_connector["items"] = query_answers()
    source = SimpleNamespace(pk=1, settings=dict(QUERY_SETTINGS))
    connector = connectors.connector_for("azure_cost_query")
    fetched = connector.fetch(source, {}, WINDOW)
    sent = query_connector["adapter"].sent
    assert [r.method for r in sent] == ["POST", "POST", "POST"]
    assert sent[0].url == f"{QUERY_URL}?api-version=2025-03-01"
    assert sent[1].url == NEXT  # the nextLink, verbatim, with its $skiptoken
    first, second, third = (json.loads(r.body) for r in sent)
    assert first == second  # the same body goes to the next page
    assert first["type"] == "ActualCost" and third["type"] == "AmortizedCost"
    assert first["timeframe"] == "Custom"
    assert first["timePeriod"] == {"from": "2025-01-01T00:00:00Z", "to": "2025-01-02T23:59:59Z"}
    assert first["dataset"]["granularity"] == "Daily"
    assert first["dataset"]["aggregation"] == {"totalCost": {"name": "PreTaxCost", "function": "Sum"}}
    assert first["dataset"]["grouping"] == [
        {"type": "Dimension", "name": "SubscriptionId"},
        {"type": "Dimension", "name": "ServiceName"},
    ]
    assert sent[0].headers["Authorization"] == "Bearer test-token"

    rows = {(r["charge_period_start"].date(), r["service_name"]): r for r in fetched.rows}
    assert fetched.scope == "window" and len(rows) == 4
    assert fetched.details["pages"] == 3 and fetched.details["qpu_remaining"] == "11"
    vm_day1 = rows[(dt.date(2025, 1, 1), "Virtual Machines")]
    assert vm_day1["billed_cost"] == Decimal("41.4720000000000001")  # parsed as Decimal, never float
    purchase_day = rows[(dt.date(2025, 1, 2), "Virtual Machines")]
    assert purchase_day["billed_cost"] == Decimal("917.472")  # ActualCost: the invoice, purchase in full
    assert purchase_day["effective_cost"] == Decimal("43.872")  # AmortizedCost: the day's share
    storage = rows[(dt.date(2025, 1, 1), "Storage")]
    assert (storage["service_category"], storage["service_subcategory"]) == ("Storage", "Storage Platforms")
    aoai = rows[(dt.date(2025, 1, 2), "Azure OpenAI")]
    assert (aoai["service_category"], aoai["service_subcategory"]) == ("AI and Machine Learning", "Generative AI")
    assert vm_day1["sub_account_id"] == SUB and vm_day1["billing_account_id"] == SCOPE
    assert vm_day1["billing_period_start"] == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert vm_day1["billing_currency"] == "EUR" and vm_day1["provider_name"] == "Microsoft"


def test_query_run_books_the_window_and_a_rerun_replaces_it(query_source, query_connector):
    query_connector["items"] = query_answers()
    run = ingestion_run_execute(source=query_source, trigger="manual", window=WINDOW)
    assert run.status == IngestionRun.Status.SUCCEEDED, run.error
    assert run.rows_loaded == 4 and run.details["pages"] == 3
    expected_billed = Decimal("41.4720000000000001") + Decimal("0.0183456") + Decimal("917.472") + Decimal("12.5")
    expected_effective = Decimal("41.4720000000000001") + Decimal("0.0183456") + Decimal("43.872") + Decimal("12.5")
    assert Decimal(run.totals["EUR"]["billed_cost"]) == expected_billed.quantize(Decimal("1e-12"))
    assert Decimal(run.totals["EUR"]["effective_cost"]) == expected_effective.quantize(Decimal("1e-12"))

    query_connector["items"] = query_answers()
    again = ingestion_run_execute(source=query_source, trigger="manual", window=WINDOW)
    assert again.status == IngestionRun.Status.SUCCEEDED, again.error
    assert (again.rows_loaded, again.rows_replaced) == (4, 4)
    records = CostRecord.objects.filter(source=query_source)
    assert records.count() == 4 and {r.run_id for r in records} == {again.pk}
    assert sum(r.billed_cost for r in records).quantize(CENT) == Decimal("971.46")


def test_query_429_is_throttled_with_the_qpu_retry_after(query_source, query_connector):
    throttled = {"error": {"code": "429", "message": "Too many requests. Please retry."}}
    query_connector["items"] = [
        (429, throttled, {"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "42", "Retry-After": "5"})
    ]
    with pytest.raises(Throttled) as caught:
        ingestion_run_execute(source=query_source, trigger="manual", window=WINDOW)
    assert caught.value.retry_after == 42.0  # the QPU header wins over Retry-After
    run = query_source.runs.get()
    assert (run.status, run.error_kind) == (IngestionRun.Status.RETRYING, IngestionRun.ErrorKind.THROTTLED)
    assert "Retry after 42 s" in run.error


def test_query_429_on_a_next_page_is_throttled_too(query_connector):
    query_connector["items"] = [
        (200, page(ACTUAL_PAGE_1, next_link=NEXT), {}),
        (429, {"error": {"code": "429", "message": "quota"}}, {"Retry-After": "17"}),
    ]
    with pytest.raises(Throttled) as caught:
        connectors.connector_for("azure_cost_query").fetch(SimpleNamespace(pk=1, settings=QUERY_SETTINGS), {}, WINDOW)
    assert caught.value.retry_after == 17.0


def test_query_401_rejects_the_credentials_and_stops(query_source, query_connector):
    body = {"error": {"code": "InvalidAuthenticationToken", "message": "The access token is invalid."}}
    query_connector["items"] = [(401, body, {})]
    run = ingestion_run_execute(source=query_source, trigger="manual", window=WINDOW)
    assert (run.status, run.error_kind) == (IngestionRun.Status.FAILED, IngestionRun.ErrorKind.CREDENTIALS)
    assert "InvalidAuthenticationToken" in run.error
    query_source.refresh_from_db()
    assert query_source.status == BillingSource.Status.CREDENTIALS


def test_query_403_and_5xx_and_400_are_classified(query_connector):
    source = SimpleNamespace(pk=1, settings=QUERY_SETTINGS)
    connector = connectors.connector_for("azure_cost_query")
    forbidden = {"error": {"code": "AuthorizationFailed", "message": "does not have authorization"}}
    cases = [
        ((403, forbidden, {}), CredentialsRejected, "AuthorizationFailed"),
        ((503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}, {}), ProviderUnavailable, "unavailable"),
        (
            (400, {"error": {"code": "BadRequest", "message": "Invalid dataset grouping"}}, {}),
            ConnectorError,
            "refused",
        ),
    ]
    for answer, error, words in cases:
        query_connector["items"] = [answer]
        with pytest.raises(error) as caught:
            connector.fetch(source, {}, WINDOW)
        assert words in str(caught.value)
    assert issubclass(ProviderUnavailable, TransientError)  # retried with backoff by the ingestion task


def test_query_never_follows_a_next_link_to_another_host(query_connector):
    query_connector["items"] = [(200, page(ACTUAL_PAGE_1, next_link="https://evil.example/query?$skiptoken=x"), {})]
    with pytest.raises(ConnectorError, match="another host"):
        connectors.connector_for("azure_cost_query").fetch(SimpleNamespace(pk=1, settings=QUERY_SETTINGS), {}, WINDOW)
    assert len(query_connector["adapter"].sent) == 1  # the token went nowhere else


def test_query_connection_test_reports_what_it_sees(query_source, query_connector):
    columns = ("PreTaxCost", "UsageDate", "Currency")
    query_connector["items"] = [
        (200, page([[Decimal("10.5"), 20250101, "EUR"], [1, 20250102, "EUR"]], columns=columns), {})
    ]
    result = billing_source_test(source=query_source)
    assert result.ok, result.message
    assert "11.50 EUR" in result.message and SCOPE in result.message
    body = json.loads(query_connector["adapter"].sent[0].body)
    assert "grouping" not in body["dataset"] or not body["dataset"]["grouping"]


# --- mapping helpers --------------------------------------------------------------------------------------


def test_pricing_units_and_services_come_from_microsofts_open_data():
    assert pricing_unit("10K") == (Decimal(10000), "Units")
    assert pricing_unit("1 Hour") == (Decimal(1), "Hours")
    assert pricing_unit("100 Hours") == (Decimal(100), "Hours")
    assert pricing_unit("Widgets") == (Decimal(1), "Widgets")
    vm = resolve_service(consumed_service="Microsoft.Compute", resource_type="microsoft.compute/virtualmachines")
    assert (vm.name, vm.category, vm.subcategory) == ("Virtual Machines", "Compute", "Virtual Machines")
    assert resolve_service(consumed_service="Microsoft.Storage", meter_category="Storage").name == "Storage Accounts"
    assert resolve_service(consumed_service="MICROSOFT.DATAFACTORY", meter_category="Azure Data Factory v2").name == (
        "Azure Data Factory"
    )
    unknown = resolve_service(consumed_service="Microsoft.Unheardof", meter_category="Brand New Thing")
    assert (unknown.name, unknown.category) == ("Brand New Thing", "Other")
    rid = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/extensions/ext"
    assert resource_type_of(rid) == "microsoft.compute/virtualmachines/extensions"
    assert resource_type_of("/subscriptions/<guid>/resourceGroups/<rg>/providers/<arm provider>/<svc>/<r>") == ""


# --- the shared EA sample -------------------------------------------------------------------------------


def independent_sum(path: Path) -> tuple[int, Decimal]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return len(rows), sum((Decimal(r["CostInBillingCurrency"]) for r in rows), Decimal(0))


def test_ea_sample_maps_dates_units_tags_and_services():
    path = shared_file(EA_SAMPLE)
    rows = list(actual_cost_rows(path))
    count, total = independent_sum(path)
    assert len(rows) == count == 27
    assert sum(r["billed_cost"] for r in rows) == total  # exact: every amount a Decimal of the text
    assert {r["billing_currency"] for r in rows} == {"CAD"}
    assert {r["charge_period_start"] for r in rows} == {dt.datetime(2023, 9, 2, tzinfo=dt.UTC)}  # from 9/2/2023
    assert {(r["billing_period_start"], r["billing_period_end"]) for r in rows} == {
        (dt.datetime(2023, 9, 1, tzinfo=dt.UTC), dt.datetime(2023, 10, 1, tzinfo=dt.UTC))
    }
    queue = next(r for r in rows if r["sku_meter"] == "Class 2 Operations")
    assert queue["pricing_quantity"] == Decimal("0.0129") and queue["pricing_unit"] == "10000 Units"
    assert queue["consumed_quantity"] == Decimal("129") and queue["consumed_unit"] == "Units"  # 0.0129 × 10K
    assert queue["tags"] == {"tagA": "valueA", "tagB": "valueB", "tagC": "valueC"}  # tags without braces
    assert (queue["service_name"], queue["service_category"]) == ("Storage Accounts", "Storage")
    spot = next(r for r in rows if r["sku_meter"] == "DS4 v2 Spot")
    assert spot["pricing_category"] == "Dynamic" and spot["region_id"] == "centralus"
    assert {r["service_name"] for r in rows} == {
        "Virtual Network",
        "Virtual Machines",
        "Storage Accounts",
        "Azure Data Factory",
        "Event Hubs",
    }
    assert all(r["billing_account_id"] == "12345678" and r["charge_category"] == "Usage" for r in rows)


def test_ea_sample_books_to_the_cent_and_twice_gives_the_same_ledger(in_alpha):
    source = billing_source_save(kind="focus_upload", name="EA sample", settings={})
    path = shared_file(EA_SAMPLE)
    count, total = independent_sum(path)
    results = []
    for _ in range(2):
        run = IngestionRun.objects.create(source=source, trigger="manual")
        results.append(
            load_rows(source_id=source.pk, run_id=run.pk, rows=actual_cost_rows(path), scope=BILLING_PERIODS)
        )
    first, second = results
    assert first.rows_loaded == count and (second.rows_loaded, second.rows_replaced) == (count, count)
    ledger = sum(r.billed_cost for r in CostRecord.objects.filter(source=source))
    assert ledger.quantize(CENT) == total.quantize(CENT) == Decimal(first.totals["CAD"]["billed_cost"]).quantize(CENT)
    assert CostRecord.objects.filter(source=source).count() == count


def test_a_file_that_is_not_cost_details_is_refused_in_plain_words(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("MeterId,UnitPrice\nabc,1.0\n")
    with pytest.raises(ConnectorError, match="no Date, CostInBillingCurrency, BillingCurrencyCode column"):
        list(actual_cost_rows(path))
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,CostInBillingCurrency,BillingCurrency\n9/2/2023,abc,EUR\n")
    with pytest.raises(ConnectorError, match="bad.csv, row 2"):
        list(actual_cost_rows(bad))


# --- exports in a storage container ---------------------------------------------------------------------


class FakeBlob:
    def __init__(self, name: str, data: bytes, modified: dt.datetime):
        self.name, self.data, self.last_modified, self.size = name, data, modified, len(data)


class FakeDownload:
    def __init__(self, data: bytes):
        self.data = data

    def readinto(self, stream) -> int:
        stream.write(self.data)
        return len(self.data)

    def readall(self) -> bytes:
        return self.data


class FakeContainer:
    """What ExportConnector uses of azure.storage.blob.ContainerClient: list_blobs and download_blob."""

    def __init__(self):
        self.blobs: dict[str, FakeBlob] = {}
        self.downloaded: list[str] = []
        self.error: Exception | None = None

    def put(self, name: str, data: bytes, modified: dt.datetime) -> None:
        self.blobs[name] = FakeBlob(name, data, modified)

    def list_blobs(self, name_starts_with=None):
        if self.error:
            raise self.error
        return [b for n, b in sorted(self.blobs.items()) if n.startswith(name_starts_with or "")]

    def download_blob(self, name):
        self.downloaded.append(name)
        return FakeDownload(self.blobs[name].data)


def manifest_for(kind: str, blobs: list[tuple[str, bytes]]) -> bytes:
    manifest = json.loads((FIXTURES / "focuscost_manifest.json").read_text())
    manifest["exportConfig"]["type"] = kind
    manifest["blobs"] = [{"blobName": n, "byteCount": len(d), "dataRowCount": d.count(b"\n")} for n, d in blobs]
    manifest["blobCount"] = len(blobs)
    return json.dumps(manifest).encode()


def ea_parts() -> tuple[bytes, bytes, bytes]:
    """The EA sample split in two partition files (each with its header), and a stale first version."""
    lines = shared_file(EA_SAMPLE).read_bytes().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    return header + b"".join(body[:15]), header + b"".join(body[15:]), header + b"".join(body[:3])


T0 = dt.datetime(2023, 9, 3, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def container(monkeypatch):
    fake = FakeContainer()
    monkeypatch.setattr(connectors.connector_for("azure_export"), "client_factory", lambda source: fake)
    return fake


def export_source(dataset: str, directory: str):
    return billing_source_save(
        kind="azure_export",
        name=f"Harbor {dataset} export",
        settings={
            "account_url": "https://harborcost.blob.core.windows.net",
            "container": "cost",
            "directory": directory,
            "dataset": dataset,
        },
        secrets={"sas_token": "?sv=2024-11-04&ss=b&srt=co&sp=rl&sig=abc123"},
    )


def put_actual_cost_runs(container: FakeContainer) -> None:
    part1, part2, stale = ea_parts()
    month = "exports/keel-actual/20230901-20230930"
    # An older complete run (the first days of the month), superseded by the newer one.
    old = f"{month}/202309020600/0f0e0d0c-0000-0000-0000-000000000001"
    container.put(f"{old}/part_0_0001.csv", stale, T0 - dt.timedelta(days=1))
    container.put(f"{old}/_manifest.json", manifest_for("ActualCost", [(f"{old}/part_0_0001.csv", stale)]), T0)
    new = f"{month}/202309030600/0f0e0d0c-0000-0000-0000-000000000002"
    names = [(f"{new}/part_0_0001.csv", part1), (f"{new}/part_1_0001.csv", part2)]
    for name, data in names:
        container.put(name, data, T0 + dt.timedelta(hours=1))
    container.put(f"{new}/_manifest.json", manifest_for("ActualCost", names), T0 + dt.timedelta(hours=1, minutes=1))
    # A run still being written (no manifest yet): never read.
    busy = f"{month}/202309040600/0f0e0d0c-0000-0000-0000-000000000003"
    container.put(f"{busy}/part_0_0001.csv", stale, T0 + dt.timedelta(days=1))


def test_actual_cost_export_reads_the_newest_complete_run_through_the_manifest(in_alpha, container):
    put_actual_cost_runs(container)
    source = export_source("ActualCost", "exports/keel-actual")
    window = Window(dt.date(2023, 9, 1), dt.date(2023, 9, 8))
    run = ingestion_run_execute(source=source, trigger="manual", window=window)
    assert run.status == IngestionRun.Status.SUCCEEDED, run.error
    count, total = independent_sum(shared_file(EA_SAMPLE))
    assert run.rows_loaded == count
    assert [r["run"] for r in run.details["runs"]] == ["202309030600/0f0e0d0c-0000-0000-0000-000000000002"]
    assert len(run.details["files"]) == 2 and all("000000000002" in f for f in run.details["files"])
    assert not any("000000000003" in name for name in container.downloaded)  # the busy run is left alone
    ledger = sum(r.billed_cost for r in CostRecord.objects.filter(source=source))
    assert ledger.quantize(CENT) == total.quantize(CENT)
    assert Decimal(run.totals["CAD"]["billed_cost"]).quantize(CENT) == total.quantize(CENT)

    again = ingestion_run_execute(source=source, trigger="manual", window=window)
    assert (again.rows_loaded, again.rows_replaced) == (count, count)
    assert CostRecord.objects.filter(source=source).count() == count
    assert sum(r.billed_cost for r in CostRecord.objects.filter(source=source)) == ledger


def test_a_later_export_run_restates_the_month(in_alpha, container):
    part1, part2, stale = ea_parts()
    month = "exports/keel-actual/20230901-20230930"
    first = f"{month}/202309020600/run-1"
    container.put(f"{first}/part_0_0001.csv", stale, T0)
    container.put(f"{first}/_manifest.json", manifest_for("ActualCost", [(f"{first}/part_0_0001.csv", stale)]), T0)
    source = export_source("ActualCost", "exports/keel-actual")
    window = Window(dt.date(2023, 9, 1), dt.date(2023, 9, 8))
    assert ingestion_run_execute(source=source, trigger="manual", window=window).rows_loaded == 3

    later = f"{month}/202309050600/run-2"
    names = [(f"{later}/part_0_0001.csv", part1), (f"{later}/part_1_0001.csv", part2)]
    for name, data in names:
        container.put(name, data, T0 + dt.timedelta(days=2))
    container.put(f"{later}/_manifest.json", manifest_for("ActualCost", names), T0 + dt.timedelta(days=2, minutes=1))
    run = ingestion_run_execute(source=source, trigger="manual", window=window)
    assert (run.rows_loaded, run.rows_replaced) == (27, 3)
    assert CostRecord.objects.filter(source=source).count() == 27


def test_focus_cost_export_goes_to_the_focus_loader(in_alpha, container):
    raw = (FIXTURES / "focuscost_202501.csv").read_bytes()
    data = gzip.compress(raw)
    manifest = json.loads((FIXTURES / "focuscost_manifest.json").read_text())
    name = manifest["blobs"][0]["blobName"]
    manifest["blobs"][0]["byteCount"] = len(data)
    container.put(name, data, dt.datetime(2025, 1, 4, 6, 13, tzinfo=dt.UTC))
    container.put(
        name.rsplit("/", 1)[0] + "/_manifest.json",
        json.dumps(manifest).encode(),
        dt.datetime(2025, 1, 4, 6, 14, tzinfo=dt.UTC),
    )
    container.put("exports/keel-focus/readme.txt", b"not an export", dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    source = export_source("FocusCost", "exports/keel-focus/")
    run = ingestion_run_execute(
        source=source, trigger="manual", window=Window(dt.date(2025, 1, 1), dt.date(2025, 1, 5))
    )
    assert run.status == IngestionRun.Status.SUCCEEDED, run.error
    expected = sum_file_independently(FIXTURES / "focuscost_202501.csv")
    assert run.rows_loaded == 6 and run.details["files"] == [name]
    assert Decimal(run.totals["EUR"]["billed_cost"]) == expected["EUR"]["billed_cost"] == Decimal("968.2623456")
    assert Decimal(run.totals["EUR"]["effective_cost"]) == expected["EUR"]["effective_cost"] == Decimal("92.2623456")
    aoai = CostRecord.objects.get(source=source, service_name="Azure OpenAI")
    assert aoai.tags == {"agent": "claims-triage"} and aoai.service_subcategory == ""
    assert aoai.x_extra["x_SkuMeterCategory"] == "Foundry Models"
    assert CostRecord.objects.get(source=source, charge_category="Credit").charge_class == "Correction"


def test_an_export_of_the_wrong_dataset_is_refused(in_alpha, container):
    part1, _, _ = ea_parts()
    folder = "exports/keel-actual/20230901-20230930/202309030600/run"
    container.put(f"{folder}/part_0_0001.csv", part1, T0)
    container.put(f"{folder}/_manifest.json", manifest_for("ActualCost", [(f"{folder}/part_0_0001.csv", part1)]), T0)
    source = export_source("FocusCost", "exports/keel-actual")
    run = ingestion_run_execute(
        source=source, trigger="manual", window=Window(dt.date(2023, 9, 1), dt.date(2023, 9, 8))
    )
    assert run.status == IngestionRun.Status.FAILED
    assert "writes ActualCost but this source expects FocusCost" in run.error


def test_two_exports_under_one_directory_are_refused_rather_than_double_booked(in_alpha, container):
    part1, _, _ = ea_parts()
    for export in ("keel-actual", "keel-actual-copy"):
        container.put(f"exports/{export}/20230901-20230930/{export}_0001.csv", part1, T0)  # unpartitioned
    source = export_source("ActualCost", "exports")
    run = ingestion_run_execute(
        source=source, trigger="manual", window=Window(dt.date(2023, 9, 1), dt.date(2023, 9, 8))
    )
    assert run.status == IngestionRun.Status.FAILED and "more than one export for 2023-09" in run.error


def test_storage_errors_are_classified(in_alpha, container):
    source = export_source("FocusCost", "exports/keel-focus")
    denied = HttpResponseError(
        message="This request is not authorized to perform this operation using this permission."
    )
    denied.status_code, denied.error_code = 403, "AuthorizationPermissionMismatch"
    container.error = denied
    run = ingestion_run_execute(
        source=source, trigger="manual", window=Window(dt.date(2025, 1, 1), dt.date(2025, 1, 2))
    )
    assert (run.status, run.error_kind) == (IngestionRun.Status.FAILED, IngestionRun.ErrorKind.CREDENTIALS)
    assert "403 AuthorizationPermissionMismatch: This request is not authorized" in run.error
    container.error = ClientAuthenticationError(message="Server failed to authenticate the request.")
    assert not billing_source_test(source=source).ok


def test_export_runs_group_partitioned_and_legacy_layouts():
    stamp = dt.datetime(2025, 1, 4, tzinfo=dt.UTC)
    blobs = [
        FakeBlob("x/exp/20250101-20250131/202501040612/guid/part_0_0001.csv", b"", stamp),
        FakeBlob("x/exp/20250101-20250131/202501040612/guid/_manifest.json", b"", stamp),
        FakeBlob("x/legacy/20241201-20241231/legacy_abc.csv", b"", stamp),
        FakeBlob("x/legacy/20241201-20241231/legacy_def.csv", b"", stamp),
        FakeBlob("x/backfill/20240101-20240331/backfill.csv", b"", stamp),
        FakeBlob("x/notes/readme.md", b"", stamp),
    ]
    runs, warnings = export_runs(blobs)
    assert sorted((r.export_path, r.month, r.manifest is not None, len(r.blobs)) for r in runs) == [
        ("x/exp", "2025-01", True, 1),
        ("x/legacy", "2024-12", False, 1),
        ("x/legacy", "2024-12", False, 1),
    ]
    assert warnings and "spans more than one month" in warnings[0]


def test_export_connection_test(in_alpha, container):
    source = export_source("ActualCost", "exports/keel-actual")
    result = billing_source_test(source=source)
    assert not result.ok and "found no Cost Management export runs under 'exports/keel-actual/'" in result.message
    put_actual_cost_runs(container)
    result = billing_source_test(source=source)
    assert result.ok and "latest month 2023-09" in result.message


def test_production_clients_are_built_from_the_settings(monkeypatch):
    source = SimpleNamespace(pk=1, settings={**QUERY_SETTINGS})
    client = CostQueryConnector()._client(source, {"client_secret": "x"})
    assert isinstance(client, CostManagementClient)
    with pytest.raises(CredentialsRejected):
        CostQueryConnector()._client(source, {})
    export = SimpleNamespace(pk=1, settings={"account_url": "https://a.blob.core.windows.net", "container": "c"})
    assert ExportConnector()._container(export, {"sas_token": "?sv=1&sig=x"}).container_name == "c"
    with pytest.raises(CredentialsRejected):
        ExportConnector()._container(export, {})


def test_a_month_whose_only_run_is_still_being_written_is_left_for_next_time(in_alpha, container):
    part1, _, _ = ea_parts()
    busy = "exports/keel-actual/20230901-20230930/202309040600/run-in-progress"
    container.put(f"{busy}/part_0_0001.csv", part1, T0)  # partition files, no manifest yet
    source = export_source("ActualCost", "exports/keel-actual")
    run = ingestion_run_execute(
        source=source, trigger="manual", window=Window(dt.date(2023, 9, 1), dt.date(2023, 9, 8))
    )
    assert run.status == IngestionRun.Status.SUCCEEDED and run.rows_loaded == 0
    assert container.downloaded == [] and "still being written" in run.details["warnings"][0]
