"""The FinOps pages: billing sources (forms built from the connector's fields, secrets never shown again, test
connection, run now), run history, FOCUS upload (preview, defaults, import, errors, size limit), the cost
explorer (totals equal the ledger to the cent, top N + Other, HTMX partial), read-only executives, and
constant query counts on the lists."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.finops import connectors
from apps.finops.connectors.base import (
    ConnectionResult,
    Connector,
    CredentialsRejected,
    FetchResult,
    FieldSpec,
)
from apps.finops.focus import day_bounds
from apps.finops.ledger import sum_file_independently
from apps.finops.models import BillingSource, CostRecord, IngestionRun
from apps.finops.rollups import rollup_refresh
from apps.finops.selectors import (
    ExplorerQuery,
    cost_explorer,
    explorer_choices,
    explorer_params,
    ledger_totals,
    preset_range,
)
from apps.finops.services import billing_source_save, focus_upload_commit, source_secrets
from apps.finops.views import UPLOAD_DIR
from tests.conftest import make_user

from .conftest import openai_day_row, shared_file

BASE = "/c/alpha/finops/"
SECRET = "sk-admin-PORTAL-very-secret-7788"


class PortalConnector(Connector):
    """A connector whose answers the test decides; its fields are what the form is built from."""

    kind = "openai"
    label = "Portal test connector"
    settings_fields = (
        FieldSpec("organization_id", "Organization ID", help="org-… from the provider's settings page."),
        FieldSpec("tier", "Tier", required=False, choices=(("default", "Default"), ("flex", "Flex"))),
    )
    secret_fields = (FieldSpec("admin_key", "Admin API key", secret=True),)
    default_interval_minutes = 15

    def __init__(self):
        self.rows = [("2026-11-10", "12.5000"), ("2026-11-11", "7.25")]

    def test_connection(self, source, secrets):
        if secrets.get("admin_key") == "bad-key":
            raise CredentialsRejected("invalid admin key")
        return ConnectionResult(True, f"Reached organisation {source.settings.get('organization_id')}.")

    def fetch(self, source, secrets, window):
        return FetchResult(rows=[_row(day, amount) for day, amount in self.rows], details={"pages": 2})


def _row(day: str, amount: str) -> dict:
    return openai_day_row(day, amount)


@pytest.fixture
def fake(monkeypatch):
    connector = PortalConnector()
    monkeypatch.setitem(connectors._cache, "openai", connector)
    return connector


@pytest.fixture
def engineer(alpha):
    return make_user("eng-finops@msp.test", role=Role.ENGINEER, client=alpha)


@pytest.fixture
def executive(alpha):
    return make_user("cfo-finops@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha)


@pytest.fixture(autouse=True)
def own_media(settings, tmp_path):
    """Uploads wait in a media folder of this test's own (other test runs share the default one)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def source(alpha, fake):
    with schema_context(alpha.schema_name):
        return billing_source_save(
            kind="openai",
            name="OpenAI production org",
            settings={"organization_id": "org-1"},
            secrets={"admin_key": SECRET},
        )


@pytest.fixture
def sample_run(alpha):
    with schema_context(alpha.schema_name):
        return focus_upload_commit(path=shared_file("focus_sample.csv"), filename="focus_sample.csv")


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


def _html(response) -> str:
    return response.content.decode()


def _csv_bytes(rows: list[dict], fields: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _sample_rows(n: int) -> tuple[list[str], list[dict]]:
    with open(shared_file("focus_sample.csv"), encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [row for _, row in zip(range(n), reader, strict=False)]
        return list(reader.fieldnames), rows


def _upload(http, name: str, content: bytes):
    handle = io.BytesIO(content)
    handle.name = name
    return http.post(f"{BASE}upload/", {"file": handle})


def _stored_uploads() -> list[str]:
    if not default_storage.exists(UPLOAD_DIR):
        return []
    return default_storage.listdir(UPLOAD_DIR)[1]


# --- every page, editor and read-only --------------------------------------------------------------------


def _pages(source, run) -> list[str]:
    return [
        BASE,
        f"{BASE}?from=2024-09-01&to=2024-09-30&group=tag:application&measure=billed_cost&granularity=month",
        f"{BASE}sources/",
        f"{BASE}sources/{source.pk}/",
        f"{BASE}runs/",
        f"{BASE}runs/?source={source.pk}&status=succeeded",
        f"{BASE}runs/{run.pk}/",
    ]


def test_every_page_renders_for_an_engineer(alpha, engineer, source, sample_run, login_as):
    http = login_as(engineer)
    for url in [
        *_pages(source, sample_run),
        f"{BASE}sources/new/",
        f"{BASE}sources/new/?kind=openai",
        f"{BASE}sources/{source.pk}/edit/",
        f"{BASE}sources/{source.pk}/delete/",
        f"{BASE}upload/",
    ]:
        response = http.get(url)
        assert response.status_code == 200, (url, response.status_code)
    page = _html(http.get(f"{BASE}sources/"))
    assert "Add a source" in page and "Run now" in page and "OpenAI production org" in page
    nav = re.search(r'<nav class="nav".*?</nav>', page, re.S).group(0)
    assert "Cost explorer" in nav and "Billing sources" in nav and "Upload FOCUS file" in nav


def test_executives_read_everything_but_change_nothing(alpha, executive, source, sample_run, login_as):
    http = login_as(executive)
    for url in _pages(source, sample_run):
        response = http.get(url)
        assert response.status_code == 200, url
        page = _html(response)
        for action in ("Add a source", "Run now", "Test connection", ">Edit<", ">Delete<", "upload/commit/"):
            assert action not in page, (url, action)
        assert not re.search(r'<form[^>]*method="post"[^>]*action="/c/alpha/finops/', page), url  # no FinOps POST
    nav = re.search(r'<nav class="nav".*?</nav>', _html(http.get(BASE)), re.S).group(0)
    assert "Cost explorer" in nav and "Upload FOCUS file" not in nav
    for url in [f"{BASE}sources/new/", f"{BASE}sources/{source.pk}/edit/", f"{BASE}upload/"]:
        assert http.get(url).status_code == 403, url
    posts = [
        (f"{BASE}sources/new/?kind=openai", {"name": "Sneaky", "setting__organization_id": "x"}),
        (f"{BASE}sources/{source.pk}/edit/", {"name": "Renamed"}),
        (f"{BASE}sources/{source.pk}/delete/", {}),
        (f"{BASE}sources/{source.pk}/test/", {}),
        (f"{BASE}sources/{source.pk}/run/", {}),
        (f"{BASE}upload/commit/", {"upload": "x"}),
    ]
    for url, data in posts:
        assert http.post(url, data).status_code == 403, url
    assert _upload(http, "focus.csv", b"BilledCost\n1\n").status_code == 403
    with schema_context(alpha.schema_name):
        assert BillingSource.objects.filter(pk=source.pk, name="OpenAI production org").exists()
        assert not IngestionRun.objects.filter(source=source).exists()
        assert not BillingSource.objects.filter(name="Sneaky").exists()


# --- billing sources ---------------------------------------------------------------------------------------


def test_a_source_is_added_through_its_connector_form_and_its_secret_never_shows_again(alpha, engineer, fake, login_as):
    http = login_as(engineer)
    form = _html(http.get(f"{BASE}sources/new/?kind=openai"))
    assert "Organization ID" in form and "org-… from the provider&#x27;s settings page." in form
    assert 'type="password" name="secret__admin_key"' in form and 'autocomplete="new-password"' in form
    assert 'value="15"' in form  # the connector's default interval
    missing = http.post(f"{BASE}sources/new/?kind=openai", {"name": "OpenAI", "interval_minutes": 15})
    assert missing.status_code == 200
    assert "This field is required." in _html(missing) and SECRET not in _html(missing)
    data = {
        "name": "OpenAI production org",
        "enabled": "on",
        "interval_minutes": "15",
        "lookback_days": "2",
        "backfill_days": "30",
        "setting__organization_id": "org-1",
        "setting__tier": "flex",
        "secret__admin_key": SECRET,
    }
    response = http.post(f"{BASE}sources/new/?kind=openai", data)
    assert response.status_code == 302, _html(response)[:3000]
    with schema_context(alpha.schema_name):
        source = BillingSource.objects.get(name="OpenAI production org")
        assert source.settings == {"organization_id": "org-1", "tier": "flex"}
        assert (source.interval_minutes, source.lookback_days, source.backfill_days) == (15, 2, 30)
        assert source_secrets(source) == {"admin_key": SECRET}
        with connection.cursor() as cur:
            cur.execute("SELECT credentials FROM finops_billingsource WHERE id = %s", [source.pk])
            stored = cur.fetchone()[0]
        assert SECRET not in stored and stored.startswith("gAAAA")
    assert response["Location"] == f"{BASE}sources/{source.pk}/"
    for url in (f"{BASE}sources/{source.pk}/", f"{BASE}sources/{source.pk}/edit/", f"{BASE}sources/"):
        page = _html(http.get(url))
        assert SECRET not in page and SECRET[-12:] not in page, url
        assert "…7788" in page, url
    edit = _html(http.get(f"{BASE}sources/{source.pk}/edit/"))
    assert (
        "Leave blank to keep it as stored" in edit
        and '(<span class="mono">…7788</span>)' in edit
        and 'name="secret__admin_key"' in edit
    )
    assert re.search(r'name="secret__admin_key"[^>]*value=', edit) is None

    # An edit with the secret left blank keeps it; the schedule and the name change.
    changed = {**data, "name": "OpenAI org", "interval_minutes": "30", "secret__admin_key": ""}
    changed.pop("enabled")
    assert http.post(f"{BASE}sources/{source.pk}/edit/", changed).status_code == 302
    with schema_context(alpha.schema_name):
        source.refresh_from_db()
        assert (source.name, source.interval_minutes, source.enabled) == ("OpenAI org", 30, False)
        assert source_secrets(source) == {"admin_key": SECRET}
    assert "Paused" in _html(http.get(f"{BASE}sources/"))
    # A new secret replaces it; a service error lands next to its field.
    replaced = http.post(f"{BASE}sources/{source.pk}/edit/", {**changed, "secret__admin_key": "sk-new-000011112222"})
    assert replaced.status_code == 302
    with schema_context(alpha.schema_name):
        source.refresh_from_db()
        assert source_secrets(source) == {"admin_key": "sk-new-000011112222"}
    with schema_context(alpha.schema_name):
        billing_source_save(kind="openai", name="Taken", settings={"organization_id": "o"}, secrets={"admin_key": "k"})
    clash = http.post(f"{BASE}sources/{source.pk}/edit/", {**changed, "name": "taken"})
    assert clash.status_code == 200 and "already exists" in _html(clash)
    assert "sk-new-000011112222" not in _html(clash)


def test_the_kind_picker_lists_every_kind_and_refuses_unknown_ones(engineer, login_as):
    http = login_as(engineer)
    page = _html(http.get(f"{BASE}sources/new/"))
    for label in ("AWS Cost Explorer", "Azure Cost Management query", "OpenAI organisation usage and costs"):
        assert label in page
    assert "FOCUS file upload" not in page  # made by Keel on the first upload
    assert http.get(f"{BASE}sources/new/?kind=nope").status_code == 200  # the picker again


def test_test_connection_and_run_now_show_their_results(alpha, engineer, source, login_as):
    http = login_as(engineer)
    page = _html(http.post(f"{BASE}sources/{source.pk}/test/", follow=True))
    assert "Connection test of OpenAI production org passed: Reached organisation org-1." in page
    assert "Passed" in page
    with schema_context(alpha.schema_name):
        billing_source_save(source=source, secrets={"admin_key": "bad-key"})
    page = _html(http.post(f"{BASE}sources/{source.pk}/test/", {"back": "list"}, follow=True))
    assert "failed: Credentials rejected: invalid admin key" in page and "<h1>Billing sources</h1>" in page

    response = http.post(f"{BASE}sources/{source.pk}/run/", follow=True)
    page = _html(response)
    assert "OpenAI production org ran: 2 rows booked." in page
    with schema_context(alpha.schema_name):
        run = IngestionRun.objects.get(source=source)
        assert run.trigger == IngestionRun.Trigger.MANUAL and run.status == "succeeded"
        assert run.started_by == "eng-finops@msp.test"
        assert ledger_totals(source=source)["USD"]["effective_cost"] == Decimal("19.75")
    assert f"{BASE}runs/{run.pk}/" in page and "19.75" in page and "Healthy" in page
    detail = _html(http.get(f"{BASE}runs/{run.pk}/"))
    assert "OpenAI API" in detail and "Top services" in detail and "Pages" in detail and "19.75 USD" in detail

    with schema_context(alpha.schema_name):
        billing_source_save(source=source, enabled=False)
    paused = _html(http.post(f"{BASE}sources/{source.pk}/run/", follow=True))
    assert "is paused. Enable it first" in paused
    with schema_context(alpha.schema_name):
        assert IngestionRun.objects.filter(source=source).count() == 1


def test_a_failed_run_is_explained_in_plain_words(alpha, engineer, source, fake, login_as):
    fake.rows = [("2030-01-01", "1.00")]  # outside the window: the ledger refuses it
    http = login_as(engineer)
    page = _html(http.post(f"{BASE}sources/{source.pk}/run/", follow=True))
    assert "ran: Failed" in page
    listing = _html(http.get(f"{BASE}sources/"))
    assert "Failing" in listing and "fall outside the window" in listing
    with schema_context(alpha.schema_name):
        run = IngestionRun.objects.get(source=source)
    detail = _html(http.get(f"{BASE}runs/{run.pk}/"))
    assert "Bad data" in detail and "fall outside the window" in detail


def test_deleting_a_source_asks_first_and_removes_its_costs(alpha, engineer, source, login_as):
    http = login_as(engineer)
    http.post(f"{BASE}sources/{source.pk}/run/")
    confirm = _html(http.get(f"{BASE}sources/{source.pk}/delete/"))
    assert "every cost it booked" in confirm and "2 ledger rows" in confirm and "19.75 USD" in confirm
    response = http.post(f"{BASE}sources/{source.pk}/delete/", follow=True)
    assert "removed, with every cost it had booked" in _html(response)
    with schema_context(alpha.schema_name):
        assert not BillingSource.objects.filter(pk=source.pk).exists()
        assert not CostRecord.objects.exists()


def test_another_clients_source_and_run_are_404(alpha, beta, engineer, fake, login_as):
    with schema_context(beta.schema_name):
        other = billing_source_save(
            kind="openai", name="Beta org", settings={"organization_id": "b"}, secrets={"admin_key": "k"}
        )
    http = login_as(engineer)
    with schema_context(alpha.schema_name):
        assert not BillingSource.objects.filter(pk=other.pk).exists()
    assert http.get(f"{BASE}sources/{other.pk}/").status_code == 404
    assert http.post(f"{BASE}sources/{other.pk}/run/").status_code == 404
    assert http.get(f"{BASE}runs/999999/").status_code == 404


# --- FOCUS upload --------------------------------------------------------------------------------------


def test_upload_preview_then_import_books_the_sample_with_exact_totals(alpha, engineer, login_as):
    http = login_as(engineer)
    path = shared_file("focus_sample.csv")
    expected = sum_file_independently(path)["USD"]
    response = _upload(http, "focus_sample.csv", path.read_bytes())
    assert response.status_code == 302 and "/finops/upload/preview/?upload=" in response["Location"]
    preview = http.get(response["Location"])
    page = _html(preview)
    assert preview.status_code == 200
    assert "Import 1,000 rows" in page and "Nothing has been booked yet" in page
    assert _money(expected["effective_cost"]) in page and _money(expected["billed_cost"]) in page
    assert "September 2024" in page and ">1.0<" in page and ">CSV<" in page
    assert "EffectiveCost" in page and "ProviderName" in page and "mandatory" in page
    assert "Id" in page  # the non-x_ column Id is listed as ignored
    with schema_context(alpha.schema_name):
        assert CostRecord.objects.count() == 0 and IngestionRun.objects.count() == 0
    token = re.search(r'name="upload" value="([^"]+)"', page).group(1)
    committed = http.post(f"{BASE}upload/commit/", {"upload": token})
    assert committed.status_code == 302
    with schema_context(alpha.schema_name):
        run = IngestionRun.objects.get()
        assert committed["Location"] == f"{BASE}runs/{run.pk}/"
        assert run.status == "succeeded" and run.rows_loaded == 1000
        assert ledger_totals()["USD"]["effective_cost"] == expected["effective_cost"]
        assert ledger_totals()["USD"]["billed_cost"] == expected["billed_cost"]
    page = _html(http.get(committed["Location"]))
    assert "Imported focus_sample.csv: 1,000 rows." in page
    assert _money(expected["effective_cost"]) in page and "Top services" in page and "Top accounts" in page
    assert "September 2024" in page and "Amazon Elastic Compute Cloud" in page
    assert not _stored_uploads()  # the waiting file is gone
    again = http.post(f"{BASE}upload/commit/", {"upload": token}, follow=True)
    assert "expired or was already imported" in _html(again)
    # The same file again replaces what it booked, never doubles it. (The loader's temporary table goes at
    # commit; the test's transaction never commits, so it is dropped here as the commit would.)
    with schema_context(alpha.schema_name), connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS keel_cost_raw")
    response = _upload(http, "focus_sample.csv", path.read_bytes())
    assert "Replaces 1,000 rows" in _html(http.get(response["Location"]))


def test_a_file_without_currency_provider_or_service_asks_for_them(alpha, engineer, login_as):
    fields, rows = _sample_rows(20)
    kept = [f for f in fields if f not in ("BillingCurrency", "ProviderName", "ServiceName")]
    http = login_as(engineer)
    response = _upload(http, "no-currency.csv", _csv_bytes(rows, kept))
    location = response["Location"]
    page = _html(http.get(location))
    for name in ("default_billing_currency", "default_provider_name", "default_service_name"):
        assert f'name="{name}"' in page
    assert "upload/commit/" not in page  # nothing to import before the values are given
    bad = _html(
        http.get(f"{location}&{urlencode({'default_billing_currency': 'dollars', 'default_provider_name': 'X'})}")
    )
    assert "three-letter ISO 4217 code" in bad and "This field is required." in bad
    good = {"default_billing_currency": "eur", "default_provider_name": "Example Cloud", "default_service_name": "VMs"}
    page = _html(http.get(f"{location}&{urlencode(good)}"))
    assert "Import 20 rows" in page and "given: EUR" in page
    token = re.search(r'name="upload" value="([^"]+)"', page).group(1)
    hidden = dict(re.findall(r'<input type="hidden" name="(default_[a-z_]+)" value="([^"]*)"', page))
    assert hidden == {**good, "default_billing_currency": "EUR"}
    assert http.post(f"{BASE}upload/commit/", {"upload": token, **hidden}).status_code == 302
    with schema_context(alpha.schema_name):
        assert set(CostRecord.objects.values_list("billing_currency", "provider_name", "service_name")) == {
            ("EUR", "Example Cloud", "VMs")
        }


def test_a_bad_file_shows_the_error_and_writes_nothing(alpha, engineer, login_as):
    fields, rows = _sample_rows(5)
    rows[2]["BilledCost"] = "twelve"
    http = login_as(engineer)
    response = _upload(http, "bad.csv", _csv_bytes(rows, fields))
    page = _html(http.get(response["Location"]))
    assert "This file cannot be booked." in page
    assert "row 4: BilledCost &#x27;twelve&#x27; is not a number" in page
    assert "Import 5" not in page and 'action="/c/alpha/finops/upload/commit/"' not in page
    for content, message in [
        (b"", "The submitted file is empty."),
        (b"\n\n", "The file is empty."),
        (b"Name,Cost\nx,1\n", "Mandatory FOCUS columns are missing: BilledCost, EffectiveCost"),
        ("BilledCost,EffectiveCost\n1,1\n".encode("utf-16"), "not UTF-8"),
    ]:
        response = _upload(http, "bad.csv", content)
        if response.status_code == 302:
            response = http.get(response["Location"])
        assert message in _html(response), message
    with schema_context(alpha.schema_name):
        assert CostRecord.objects.count() == 0 and IngestionRun.objects.count() == 0
    assert not _stored_uploads()


def test_an_oversized_upload_is_refused_before_it_is_read(alpha, engineer, login_as, settings):
    http = login_as(engineer)
    # A 2 GB request: refused from its Content-Length, the body is never read (FakePayload would raise).
    handle = io.BytesIO(b"BilledCost\n1\n")
    handle.name = "huge.csv"
    response = http.post(f"{BASE}upload/", {"file": handle}, CONTENT_LENGTH=str(2 * 1024**3))
    assert response.status_code == 413
    assert "larger than 500 MB" in _html(response) and "Split it by billing period" in _html(response)
    # A file over the limit without an honest Content-Length: the upload handler stops it mid-stream.
    settings.KEEL_FOCUS_UPLOAD_MAX_BYTES = 50 * 1024
    response = _upload(http, "focus_sample.csv", shared_file("focus_sample.csv").read_bytes())
    assert response.status_code == 413 and "larger than 50 KB" in _html(response)
    assert not _stored_uploads()
    with schema_context(alpha.schema_name):
        assert CostRecord.objects.count() == 0 and IngestionRun.objects.count() == 0


def test_the_upload_still_checks_csrf_after_its_size_checks(engineer):
    from django.test import Client

    from apps.finops import views

    assert views.upload.csrf_exempt and views.upload.required_capability == "edit"
    http = Client(enforce_csrf_checks=True)
    http.force_login(engineer, backend="django.contrib.auth.backends.ModelBackend")
    assert _upload(http, "focus.csv", b"BilledCost\n1\n").status_code == 403
    assert not _stored_uploads()


def test_a_forged_or_foreign_upload_token_is_refused(alpha, engineer, login_as):
    from django.core import signing

    from apps.finops.views import SIGNING_SALT

    http = login_as(engineer)
    forged = signing.dumps({"name": f"{UPLOAD_DIR}/x.csv", "schema": "beta", "filename": "x"}, salt=SIGNING_SALT)
    for token in ("nonsense", forged):
        response = http.get(f"{BASE}upload/preview/", {"upload": token}, follow=True)
        assert "expired or was already imported" in _html(response)
        response = http.post(f"{BASE}upload/commit/", {"upload": token}, follow=True)
        assert "expired or was already imported" in _html(response)


# --- cost explorer --------------------------------------------------------------------------------------


def test_explorer_totals_equal_the_ledger_to_the_cent(alpha, engineer, sample_run, login_as):
    http = login_as(engineer)
    with schema_context(alpha.schema_name):
        ledger = ledger_totals()["USD"]
    url = f"{BASE}?from=2024-09-01&to=2024-09-30&group=service"
    response = http.get(url)
    page = _html(response)
    table = response.context["table"]
    assert response.context["result"].totals == {"USD": ledger["effective_cost"]}
    assert sum(row["amount"] for row in table.rows) == ledger["effective_cost"]
    assert sum(row["rows"] for row in table.rows) == 1000
    assert len(table.rows) == 11 and table.rows[-1]["other"]  # top 10 of 33 services + "All other"
    assert f'data-table-total="USD">{_money(ledger["effective_cost"])} USD' in page
    assert f'data-total="USD">{_money(ledger["effective_cost"])}' in page
    assert "All other (23)" in page and "Amazon Elastic Compute Cloud" in page
    assert 'data-plotly-figure="explorer-figure"' in page
    embedded = re.search(r'<script type="application/json" id="explorer-figure">(.*?)</script>', page)
    figure = json.loads(embedded.group(1))
    assert {trace["type"] for trace in figure["data"]} == {"bar"} and figure["layout"]["barmode"] == "relative"
    assert "vendor/plotly.min.js" in page and "keel/charts.js" in page and "finops/explorer.js" in page
    assert response.context["result"].read_from == "rollup"
    options = {f["name"]: f["options"] for f in response.context["filters"]}
    assert options["provider"] == [("AWS", "AWS"), ("Microsoft", "Microsoft"), ("Oracle", "Oracle")]
    assert ("1234567890123", "1234567890123 · SunBird") in options["account"]
    assert options["source"] == [("FOCUS file uploads", "FOCUS file uploads")] and options["currency"] == [
        ("USD", "USD")
    ]
    with schema_context(alpha.schema_name):
        query = ExplorerQuery(start=dt.date(2024, 9, 1), end=dt.date(2024, 10, 1))
        assert [v for v, _ in options["service"]] == explorer_choices(query, "service")
        assert [v for v, _ in options["sub_account"]] == explorer_choices(query, "sub_account")
    assert "Application" not in options  # tags are offered in the tag input, not as dimensions
    # BilledCost, tags, filters: still exact.
    billed = http.get(f"{BASE}?from=2024-09-01&to=2024-09-30&measure=billed_cost&group=tag:application&top=50")
    assert billed.context["result"].totals == {"USD": ledger["billed_cost"]}
    assert "(untagged)" in _html(billed)
    one = http.get(f"{BASE}?from=2024-09-01&to=2024-09-30&provider=Microsoft&group=sub_account")
    with schema_context(alpha.schema_name):
        microsoft = sum(
            CostRecord.objects.filter(provider_name="Microsoft").values_list("effective_cost", flat=True), Decimal(0)
        )
    assert one.context["result"].totals == {"USD": microsoft} and one.context["result"].row_count == 51
    tagged = http.get(f"{BASE}?from=2024-09-01&to=2024-09-30&tag=application")
    assert tagged.context["result"].row_count == 660


def test_explorer_defaults_to_this_month_and_updates_by_htmx(alpha, engineer, sample_run, login_as):
    http = login_as(engineer)
    response = http.get(BASE)
    page = _html(response)
    params = response.context["params"]
    assert params.preset == "this_month" and params.first_day.day == 1
    assert "No costs booked between" in page and 'aria-current="true"' in page
    assert 'hx-get="/c/alpha/finops/"' in page and 'hx-target="#explorer"' in page
    partial = http.get(f"{BASE}?from=2024-09-01&to=2024-09-30", HTTP_HX_REQUEST="true")
    body = _html(partial)
    assert partial.status_code == 200 and "<html" not in body and body.lstrip().startswith('<div id="explorer"')
    assert "HX-Request" in partial["Vary"]
    assert "Amazon Elastic Compute Cloud" in body
    broken = _html(http.get(f"{BASE}?from=yesterday&group=nonsense&measure=cost"))
    assert "is not a date" in broken and "Cannot group by" in broken and "Unknown measure" in broken


def test_explorer_escapes_ledger_text_in_the_chart_and_the_table(in_alpha, engineer, fake, login_as):
    from apps.finops.ledger import ChargeWindow, load_rows

    source = billing_source_save(
        kind="openai", name="Odd", settings={"organization_id": "o"}, secrets={"admin_key": "k"}
    )
    run = IngestionRun.objects.create(source=source)
    row = {**_row("2026-11-10", "3.00"), "service_name": "</script><script>alert(1)</script>"}
    load_rows(source_id=source.pk, run_id=run.pk, rows=[row], scope=ChargeWindow(*day_bounds(dt.date(2026, 11, 10))))
    rollup_refresh(source_id=source.pk, start=dt.date(2026, 11, 10), end=dt.date(2026, 11, 11))
    page = _html(login_as(engineer).get(f"{BASE}?from=2026-11-01&to=2026-11-30"))
    assert "<script>alert(1)" not in page
    assert "\\u003cscript\\u003ealert(1)" in page.lower()  # inside the figure's JSON, escaped
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page  # in the table


def test_explorer_presets_and_granularity():
    today = dt.date(2026, 1, 15)
    assert preset_range("this_month", today) == (dt.date(2026, 1, 1), today)
    assert preset_range("last_month", today) == (dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    assert preset_range("last_30_days", today) == (dt.date(2025, 12, 17), today)
    assert preset_range("last_90_days", today) == (dt.date(2025, 10, 18), today)
    assert preset_range("last_12_months", today) == (dt.date(2025, 1, 1), today)
    params = explorer_params({"preset": "last_12_months"}, today=today)
    assert params.query.granularity == "month" and params.query.end == dt.date(2026, 1, 16)
    params = explorer_params({"from": "2026-01-10", "to": "2026-01-01", "service": "S3"}, today=today)
    assert (params.first_day, params.last_day) == (dt.date(2026, 1, 1), dt.date(2026, 1, 10))
    assert params.query.filters == {"service": "S3"} and params.query.granularity == "day"
    assert "service=S3" in params.querystring() and "from=2026-01-01" in params.querystring()


def test_explorer_top_n_keeps_every_currency_whole(in_alpha, fake):
    from apps.finops.selectors import explorer_table

    source = billing_source_save(
        kind="openai", name="Multi", settings={"organization_id": "o"}, secrets={"admin_key": "k"}
    )
    from apps.finops.ledger import ChargeWindow, load_rows

    rows = []
    for i in range(6):
        for currency in ("USD", "EUR"):
            row = _row("2026-11-10", f"{i + 1}.005")
            rows.append({**row, "service_name": f"Service {i}", "billing_currency": currency})
    run = IngestionRun.objects.create(source=source)
    load_rows(
        source_id=source.pk,
        run_id=run.pk,
        rows=rows,
        scope=ChargeWindow(*day_bounds(dt.date(2026, 11, 10))),
    )
    rollup_refresh(source_id=source.pk, start=dt.date(2026, 11, 10), end=dt.date(2026, 11, 11))
    result = cost_explorer(ExplorerQuery(start=dt.date(2026, 11, 1), end=dt.date(2026, 12, 1)))
    table = explorer_table(result, top=3)
    for currency in ("USD", "EUR"):
        lines = [r for r in table.rows if r["currency"] == currency]
        assert len(lines) == 4 and lines[-1]["other"] and lines[-1]["groups"] == 3
        assert sum(r["amount"] for r in lines) == result.totals[currency] == Decimal("21.030")
    assert sum(p["amount"] for p in table.series) == Decimal("42.060")


# --- constant query counts ------------------------------------------------------------------------------


def _make_sources(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        source = billing_source_save(
            kind="openai",
            name=f"Org {i:03d}",
            settings={"organization_id": f"o{i}"},
            secrets={"admin_key": f"k{i:012d}"},
        )
        IngestionRun.objects.create(source=source, status="succeeded", rows_loaded=i, totals={"USD": {"rows": 1}})
        IngestionRun.objects.create(source=source, status="failed", error="boom", error_kind="provider")


@pytest.mark.parametrize("path", ["sources/", "runs/"])
def test_lists_have_constant_query_counts(alpha, engineer, fake, login_as, path):
    http = login_as(engineer)
    with schema_context(alpha.schema_name):
        _make_sources(1)
    http.get(BASE + path)  # warm the session
    with CaptureQueriesContext(connection) as one:
        assert http.get(BASE + path).status_code == 200
    with schema_context(alpha.schema_name):
        _make_sources(19, start=1)
    with CaptureQueriesContext(connection) as twenty:
        response = http.get(BASE + path)
        assert response.status_code == 200
    assert len(twenty.captured_queries) == len(one.captured_queries), [q["sql"] for q in twenty.captured_queries]
    assert "Org 019" in _html(response)
