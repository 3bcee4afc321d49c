"""The FinOps demo: each story's provider-format fixtures booked through the real connectors into a test client,
with the figures the stories promise (monthly totals, cost per claim before and after the routing change, the
runaway loop's burn rate), disabled demo sources, and loads that are idempotent."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from django.db.models import Count, Sum
from django_tenants.utils import schema_context

from apps.catalog.services import catalog_load_bundled
from apps.demo import finops_demo
from apps.demo import fixtures_finops as fx
from apps.demo.inventory_demo import DEPARTMENTS
from apps.finops.connectors import connector_for
from apps.finops.models import BillingSource, CostRecord, IngestionRun, SourceKind, UsageEvent, UsageReconciliation
from apps.finops.services import source_secrets, sources_due

TODAY = dt.date(2026, 11, 18)  # a fixed "today": 12 whole months Nov 2025 – Oct 2026, then Nov 1–17
WHOLE_MONTHS = [f"{2025 + (10 + i) // 12}-{(10 + i) % 12 + 1:02d}" for i in range(12)]
CENT = Decimal("0.01")


@pytest.fixture
def catalog(db):
    """The model price catalog keel_setup loads before the demo (usage events are priced from it)."""
    with schema_context("public"):
        catalog_load_bundled(loaded_by="test")


@pytest.fixture
def in_alpha_schema(alpha, catalog):
    with schema_context(alpha.schema_name):
        yield alpha


def monthly(source: BillingSource, **filters) -> dict[str, Decimal]:
    """EffectiveCost per billing period (YYYY-MM) of a source's ledger rows."""
    rows = (
        CostRecord.objects.filter(source=source, **filters)
        .values("billing_period_start")
        .annotate(total=Sum("effective_cost"))
    )
    return {f"{r['billing_period_start']:%Y-%m}": r["total"] for r in rows}


def ledger_state() -> dict[str, tuple[int, Decimal, Decimal]]:
    """Per source: (rows, Σ BilledCost, Σ EffectiveCost): what "identical totals" compares."""
    rows = CostRecord.objects.values("source__name").annotate(
        n=Count("id"), billed=Sum("billed_cost"), effective=Sum("effective_cost")
    )
    return {r["source__name"]: (r["n"], r["billed"], r["effective"]) for r in rows}


def assert_demo_source(source: BillingSource, *, secret_marker: str) -> IngestionRun:
    """Disabled, never scheduled, fake credentials, a message saying why, and the demo run as its last run."""
    assert not source.enabled and source.next_run_at is None
    assert source.status == BillingSource.Status.OK
    assert source.status_message.startswith("Demo source: ")
    assert "provider-format fixture files" in source.status_message and "credentials are fake" in source.status_message
    assert any(secret_marker in value for value in source_secrets(source).values())
    run = source.runs.order_by("-started_at", "-id").first()
    assert run.trigger == IngestionRun.Trigger.DEMO and run.status == IngestionRun.Status.SUCCEEDED, run.error
    assert (run.window_start, run.window_end) == (dt.date(2025, 11, 1), TODAY + dt.timedelta(days=1))
    assert run.rows_loaded == CostRecord.objects.filter(source=source).count() > 0
    assert f"{run.rows_loaded:,} ledger rows" in source.status_message
    return run


def assert_twelve_months_daily(source: BillingSource) -> None:
    """Every day of the 12 whole months and of this month to date has ledger rows; nothing after yesterday."""
    days = set(CostRecord.objects.filter(source=source).values_list("charge_period_start", flat=True).distinct())
    expected = {fx.utc(day) for day in fx.demo_days(TODAY)}
    assert days == expected
    assert sorted(monthly(source)) == [*WHOLE_MONTHS, "2026-11"]


def assert_factories_restored() -> None:
    for kind in (SourceKind.AWS_DATA_EXPORT, SourceKind.OPENAI, SourceKind.ANTHROPIC, SourceKind.AZURE_EXPORT,
                 SourceKind.GCP_BIGQUERY):  # fmt: skip
        assert "client_factory" not in vars(connector_for(kind))


# --- Harbor Insurance ---------------------------------------------------------------------------------------


def test_harbor_story_books_gcp_and_anthropic_with_the_cost_per_claim_before_and_after_routing(in_alpha_schema):
    result = finops_demo.harbor_story(in_alpha_schema, today=TODAY)

    gcp = BillingSource.objects.get(kind=SourceKind.GCP_BIGQUERY)
    anthropic = BillingSource.objects.get(kind=SourceKind.ANTHROPIC)
    assert_demo_source(gcp, secret_marker="KEEL-DEMO-NOT-A-REAL-KEY")
    assert_demo_source(anthropic, secret_marker="NOT-A-REAL-KEY")
    assert gcp.settings["table"].startswith("gcp_billing_export_resource_v1_")
    assert_twelve_months_daily(gcp)
    assert_twelve_months_daily(anthropic)
    assert_factories_restored()

    # GCP: the four services the story names, ≈ $12–15k a month net of the sustained-use credits
    records = CostRecord.objects.filter(source=gcp)
    assert set(records.values_list("service_name", flat=True)) == {
        "BigQuery",
        "Kubernetes Engine",
        "Compute Engine",
        "Cloud Storage",
        "Vertex AI",
    }
    assert set(records.values_list("billing_currency", flat=True)) == {"USD"}
    credits = records.filter(charge_category="Credit")
    assert credits.count() == 4 * len(fx.demo_days(TODAY)) and all(c.effective_cost < 0 for c in credits[:50])
    gcp_months = monthly(gcp)
    assert all(Decimal(11_500) < gcp_months[m] < Decimal(15_000) for m in WHOLE_MONTHS), gcp_months
    assert Decimal(12_000) < sum(gcp_months[m] for m in WHOLE_MONTHS) / 12 < Decimal(15_000)
    departments = {code for _, code, _, _ in DEPARTMENTS["harbor"]}
    assert {r.tags["department"] for r in records.filter(charge_category="Usage")[:500]} <= departments
    assert records.filter(resource_id="//storage.googleapis.com/projects/_/buckets/harbor-claim-attachments").exists()
    # the ledger holds exactly the export's money, to the last digit
    exported = sum(
        Decimal(repr(row["cost"])) + sum((Decimal(repr(c["amount"])) for c in row["credits"]), Decimal(0))
        for row in fx.harbor_gcp_rows(TODAY)
    )
    assert records.aggregate(total=Sum("billed_cost"))["total"] == exported

    # Anthropic: cost per claim of the claims workspace, per whole month, before and after the routing change
    change = fx.routing_change_day(TODAY)
    assert change == dt.date(2026, 8, 18)
    claims = defaultdict(int)
    for day, count in fx.harbor_claims(TODAY).items():
        claims[f"{day:%Y-%m}"] += count
    assert all(27_000 <= claims[m] <= 33_000 for m in WHOLE_MONTHS), claims
    spent = monthly(anthropic, sub_account_id=fx.HARBOR_CLAIMS_WORKSPACE)
    per_claim = {m: (spent[m] / claims[m]).quantize(Decimal("0.0001")) for m in WHOLE_MONTHS}
    before = [m for m in WHOLE_MONTHS if m < f"{change:%Y-%m}"]
    after = [m for m in WHOLE_MONTHS if m > f"{change:%Y-%m}"]
    assert len(before) == 9 and len(after) == 2
    assert all(abs(per_claim[m] - Decimal("0.61")) <= Decimal("0.02") for m in before), per_claim
    assert all(abs(per_claim[m] - Decimal("0.42")) <= Decimal("0.02") for m in after), per_claim
    models = set(CostRecord.objects.filter(source=anthropic).values_list("x_model", flat=True))
    assert models == {fx.OPUS, fx.SONNET, fx.HAIKU}
    september = CostRecord.objects.filter(
        source=anthropic, sub_account_id=fx.HARBOR_CLAIMS_WORKSPACE, billing_period_start=fx.utc(dt.date(2026, 9, 1))
    )
    by_model = dict(september.values_list("x_model").annotate(total=Sum("effective_cost")))
    assert by_model[fx.SONNET] > by_model[fx.OPUS]  # most claims moved to Sonnet
    # Σ of the cost report's cents ÷ 100, exactly
    org = fx.harbor_anthropic(TODAY)
    reported = sum(
        (Decimal(r["amount"]) / 100 for day in org.days for r in fx.anthropic_cost_results(org, day)), Decimal(0)
    )
    assert CostRecord.objects.filter(source=anthropic).aggregate(total=Sum("billed_cost"))["total"] == reported
    tokens = CostRecord.objects.filter(source=anthropic).aggregate(
        inp=Sum("x_input_tokens"), cached=Sum("x_cached_tokens"), out=Sum("x_output_tokens")
    )
    assert tokens["inp"] == sum(u.uncached for day in org.days for u in org.usage[day])
    assert tokens["out"] == sum(u.output for day in org.days for u in org.usage[day])

    # claims-triage usage events: one per claim for the last 30 days, catalog-priced, not counted twice
    last_30 = [day for day in fx.demo_days(TODAY) if (TODAY - day).days <= 30]
    events = UsageEvent.objects.all()
    assert result.events_accepted == events.count() == sum(fx.harbor_claims(TODAY)[day] for day in last_30)
    assert set(events.values_list("agent", "department", "provider").distinct()) == {
        ("claims-triage", "claims-ops", "anthropic")
    }
    assert {e.occurred_at.date() for e in events.only("occurred_at")} == set(last_30)
    assert not events.filter(cost__isnull=True).exists()
    assert set(events.values_list("cost_source", "currency").distinct()) == {("estimate", "USD")}
    sonnet_share = events.filter(model=fx.SONNET).count() / events.count()
    assert 0.76 < sonnet_share < 0.80
    usage_source = BillingSource.objects.get(kind=SourceKind.USAGE_EVENTS)
    assert usage_source.enabled and usage_source.runs.order_by("-started_at", "-id").first().trigger == "demo"
    assert not CostRecord.objects.filter(source=usage_source).exists()  # Anthropic's bill covers every day
    reconciled = UsageReconciliation.objects.filter(provider="anthropic", day__in=last_30)
    assert reconciled.count() == 30 and all(r.actual_cost > r.estimated_cost > 0 for r in reconciled)
    # the scheduler never picks the demo sources; the live usage events source is scheduled as usual
    due = set(sources_due(now=dt.datetime(2100, 1, 1, tzinfo=dt.UTC)).values_list("kind", flat=True))
    assert due == {SourceKind.USAGE_EVENTS}

    # a second load finds the demo runs and loads nothing; a forced reload replaces: identical totals
    state, runs = ledger_state(), {name: run.pk for name, run in result.runs.items()}
    again = finops_demo.harbor_story(in_alpha_schema, today=TODAY)
    assert again.loaded == [] and again.events_sent == 0
    assert {name: run.pk for name, run in again.runs.items()} == runs
    assert ledger_state() == state and UsageEvent.objects.count() == result.events_accepted
    reloaded = finops_demo.harbor_story(in_alpha_schema, today=TODAY, reload=True)
    assert set(reloaded.loaded) == {"GCP billing export (demo)", "Anthropic organisation (demo)", "Live usage events"}
    assert reloaded.events_sent == result.events_accepted and reloaded.events_accepted == 0  # all duplicates
    assert ledger_state() == state
    assert_demo_source(BillingSource.objects.get(pk=gcp.pk), secret_marker="KEEL-DEMO-NOT-A-REAL-KEY")


# --- Acme Underwriting ----------------------------------------------------------------------------------------


def test_acme_story_books_aws_and_openai_and_the_runaway_loop_events(in_alpha_schema):
    result = finops_demo.acme_story(in_alpha_schema, today=TODAY)
    aws = BillingSource.objects.get(kind=SourceKind.AWS_DATA_EXPORT)
    openai = BillingSource.objects.get(kind=SourceKind.OPENAI)
    aws_run = assert_demo_source(aws, secret_marker="NOT-A-REAL-SECRET")
    assert_demo_source(openai, secret_marker="NOT-A-REAL-KEY")
    assert_twelve_months_daily(aws)
    assert_twelve_months_daily(openai)
    assert_factories_restored()

    # AWS CUR 2.0: three linked accounts in Frankfurt and Ireland, ≈ $35–40k a month, Bedrock ≈ $3–5k
    assert sorted(aws_run.details["manifests"]) == [*WHOLE_MONTHS, "2026-11"]
    records = CostRecord.objects.filter(source=aws)
    assert set(records.values_list("billing_account_id", flat=True)) == {fx.ACME_PAYER[0]}
    assert set(records.values_list("sub_account_id", "sub_account_name").distinct()) == {
        fx.ACME_PROD,
        fx.ACME_DATA,
        fx.ACME_SHARED,
    }
    assert set(records.values_list("region_id", flat=True)) == {"eu-central-1", "eu-west-1"}
    services = set(records.values_list("service_name", flat=True))
    assert {
        "Amazon Elastic Compute Cloud",
        "Amazon Simple Storage Service",
        "Amazon Relational Database Service",
        "AmazonCloudWatch",
        "Amazon Bedrock",
    } <= services
    aws_months = monthly(aws)
    assert all(Decimal(33_000) < aws_months[m] < Decimal(41_000) for m in WHOLE_MONTHS), aws_months
    assert Decimal(35_000) < sum(aws_months[m] for m in WHOLE_MONTHS) / 12 < Decimal(40_000)
    bedrock = monthly(aws, service_name="Amazon Bedrock")
    assert all(Decimal(3_000) < bedrock[m] < Decimal(5_000) for m in WHOLE_MONTHS), bedrock
    assert records.filter(service_name="Amazon Bedrock", sku_meter="Output Tokens").exists()
    departments = {code for _, code, _, _ in DEPARTMENTS["acme"]}
    tagged = records.values_list("tags__department", flat=True).distinct()
    assert set(tagged) == departments
    assert records.filter(tags__agent="underwriter-7", service_name="Amazon Elastic Compute Cloud").exists()
    assert not records.filter(billing_period_start__lt=fx.utc(dt.date(2026, 11, 1)), invoice_id="").exists()
    assert not records.filter(billing_period_start=fx.utc(dt.date(2026, 11, 1))).exclude(invoice_id="").exists()
    cost_column = fx.CUR2_COLUMNS.index("line_item_unblended_cost")
    exported = Decimal(0)
    month = fx.demo_start(TODAY)
    while month < TODAY:
        exported += sum(Decimal(row[cost_column]) for row in fx.acme_cur_rows(TODAY, month))
        month = fx.next_month(month)
    assert records.aggregate(total=Sum("billed_cost"))["total"] == exported

    # OpenAI: projects per agent and department, gpt-4o / gpt-4o-mini, ≈ $6–9k a month, tokens on the cost rows
    records = CostRecord.objects.filter(source=openai)
    assert set(records.values_list("sub_account_id", flat=True)) == set(fx.ACME_PROJECTS)
    assert set(records.values_list("x_model", flat=True)) == {fx.GPT_4O, fx.GPT_4O_MINI, fx.EMBED_LARGE}
    openai_months = monthly(openai)
    assert all(Decimal(5_500) < openai_months[m] < Decimal(9_000) for m in WHOLE_MONTHS), openai_months
    assert Decimal(6_000) < sum(openai_months[m] for m in WHOLE_MONTHS) / 12 < Decimal(9_000)
    assert records.filter(x_input_tokens__gt=0, list_unit_price=Decimal("2.5"), x_model=fx.GPT_4O).exists()

    # the runaway loop 3 days ago: 4,000 calls in 40 minutes, one prompt, $22.60 a minute, then nothing
    loop = UsageEvent.objects.filter(prompt_hash=fx.RUNAWAY_PROMPT_HASH)
    assert loop.count() == 4_000
    assert set(loop.values_list("agent", "department", "model").distinct()) == {
        ("underwriter-7", "underwriting", fx.GPT_4O)
    }
    start = dt.datetime(2026, 11, 15, 13, 12, tzinfo=dt.UTC)
    first, last = loop.order_by("occurred_at").first().occurred_at, loop.order_by("occurred_at").last().occurred_at
    assert first == start and start + dt.timedelta(minutes=39) < last < start + dt.timedelta(minutes=40)
    per_minute = defaultdict(Decimal)
    for moment, cost in loop.values_list("occurred_at", "cost"):
        per_minute[moment.replace(second=0, microsecond=0)] += cost
    assert len(per_minute) == 40 and set(per_minute.values()) == {Decimal("22.60")}
    assert loop.aggregate(total=Sum("cost"))["total"] == Decimal("904.00")
    assert set(loop.values_list("cost_source", flat=True)) == {"estimate"}  # priced from the catalog
    # underwriter-7's normal traffic: distinct prompts, nowhere near that burn
    normal = UsageEvent.objects.filter(agent="underwriter-7").exclude(prompt_hash=fx.RUNAWAY_PROMPT_HASH)
    assert normal.values("prompt_hash").distinct().count() == normal.count()
    assert {e.occurred_at.date() for e in normal.only("occurred_at")} == {
        TODAY - dt.timedelta(days=n) for n in range(1, 15)
    }
    normal_minutes = defaultdict(Decimal)
    for moment, cost in normal.values_list("occurred_at", "cost"):
        normal_minutes[moment.replace(second=0, microsecond=0)] += cost
    assert max(normal_minutes.values()) < Decimal("2")
    assert result.events_accepted == UsageEvent.objects.count() == loop.count() + normal.count()
    # OpenAI's daily bill has the loop in it: the usage events give way to it, and reconcile against it
    loop_day = CostRecord.objects.filter(
        source=openai, sub_account_id=fx.UW7_PROJECT, charge_period_start=fx.utc(dt.date(2026, 11, 15))
    ).aggregate(total=Sum("effective_cost"))["total"]
    assert loop_day > Decimal("904")
    reconciled = UsageReconciliation.objects.get(provider="openai", day=dt.date(2026, 11, 15))
    assert reconciled.actual_cost > reconciled.estimated_cost > Decimal("904")
    assert not CostRecord.objects.filter(source__kind=SourceKind.USAGE_EVENTS).exists()


# --- Maple Health Clinics --------------------------------------------------------------------------------------


def test_maple_story_books_the_azure_export_in_cad_and_the_intake_assistants_events(in_alpha_schema):
    result = finops_demo.maple_story(in_alpha_schema, today=TODAY)
    azure = BillingSource.objects.get(kind=SourceKind.AZURE_EXPORT)
    run = assert_demo_source(azure, secret_marker="KEEL-DEMO-NOT-A-REAL-SIGNATURE")
    assert_twelve_months_daily(azure)
    assert_factories_restored()
    assert [r["month"] for r in run.details["runs"]] == [*WHOLE_MONTHS, "2026-11"]

    records = CostRecord.objects.filter(source=azure)
    assert set(records.values_list("billing_currency", flat=True)) == {"CAD"}
    months = monthly(azure)
    assert all(Decimal(17_000) < months[m] < Decimal(24_000) for m in WHOLE_MONTHS), months
    assert Decimal(18_000) < sum(months[m] for m in WHOLE_MONTHS) / 12 < Decimal(24_000)
    gpu = records.filter(resource_name__startswith="vm-llama70b-")
    assert set(gpu.values_list("region_id", "service_name", "sku_meter").distinct()) == {
        ("canadacentral", "Virtual Machines", "NC48ads A100 v4")
    }
    assert gpu.aggregate(t=Sum("effective_cost"))["t"] > records.aggregate(t=Sum("effective_cost"))["t"] / 2
    triage = monthly(azure, service_subcategory="Generative AI")
    assert all(Decimal(50) < triage[m] < Decimal(300) for m in WHOLE_MONTHS), triage  # Azure OpenAI: small
    departments = {code for _, code, _, _ in DEPARTMENTS["maple"]}
    assert set(records.values_list("tags__department", flat=True).distinct()) == departments
    cost_column = fx.EA_COLUMNS.index("CostInBillingCurrency")
    exported = Decimal(0)
    month = fx.demo_start(TODAY)
    while month < TODAY:
        exported += sum(Decimal(row[cost_column]) for row in fx.maple_cost_rows(TODAY, month))
        month = fx.next_month(month)
    assert records.aggregate(total=Sum("billed_cost"))["total"] == exported

    # the intake assistant's calls to the self-hosted model: tokens, and no marginal cost (the VMs are billed)
    events = UsageEvent.objects.all()
    assert result.events_accepted == events.count() == len(fx.maple_intake_events(TODAY))
    assert set(
        events.values_list("agent", "department", "provider", "model", "currency", "cost_source").distinct()
    ) == {("patient-intake-assistant", "intake", "hosted_vllm", fx.LLAMA, "CAD", "actual")}
    assert events.aggregate(total=Sum("cost"))["total"] == 0
    usage_source = BillingSource.objects.get(kind=SourceKind.USAGE_EVENTS)
    booked = CostRecord.objects.filter(source=usage_source)
    assert booked.count() == 30 and set(booked.values_list("billing_currency", flat=True)) == {"CAD"}
    tokens = events.aggregate(inp=Sum("input_tokens"), out=Sum("output_tokens"))
    assert booked.aggregate(t=Sum("x_input_tokens"))["t"] == tokens["inp"]
    assert booked.aggregate(t=Sum("x_output_tokens"))["t"] == tokens["out"]


# --- the demo step, the fixtures and the stand-ins --------------------------------------------------------------


def test_the_finops_step_follows_the_inventory_in_the_demo():
    from apps.demo.services import _demo_steps

    names = [step.__name__ for step in _demo_steps()]
    assert names.index("demo_finops") == names.index("demo_inventory") + 1
    assert set(finops_demo.STORIES) == {"acme", "maple", "harbor"}


def test_fixtures_are_deterministic_and_follow_today(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    fx.write_acme_cur_export(first, TODAY)
    fx.write_acme_cur_export(second, TODAY)

    def digests(root: Path) -> dict[str, str]:
        files = sorted(p for p in root.rglob("*") if p.is_file())
        return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    assert digests(first) == digests(second) and len(digests(first)) == 26  # 13 periods × (data + manifest)
    november = (
        first / "acme-billing-exports/cur2/acme-cur2-daily/data/BILLING_PERIOD=2026-11/acme-cur2-daily-00001.csv.gz"
    )
    lines = gzip.decompress(november.read_bytes()).decode().splitlines()
    assert lines[0].split(",") == fx.CUR2_COLUMNS and "2026-11-17T00:00:00.000Z" in lines[-1]
    assert fx.demo_start(dt.date(2027, 3, 9)) == dt.date(2026, 3, 1)
    assert fx.demo_days(dt.date(2027, 3, 9))[-1] == dt.date(2027, 3, 8)
    assert fx.routing_change_day(dt.date(2027, 5, 31)) == dt.date(2027, 2, 28)
    assert fx.acme_openai(TODAY).events == fx.acme_openai(TODAY).events


def test_local_s3_answers_the_connectors_calls_like_s3(tmp_path):
    fx.write_acme_cur_export(tmp_path, TODAY)
    s3 = fx.LocalS3(tmp_path)
    bucket, base = "acme-billing-exports", "cur2/acme-cur2-daily"
    manifest = s3.get_object(Bucket=bucket, Key=f"{base}/metadata/BILLING_PERIOD=2026-10/acme-cur2-daily-Manifest.json")
    assert b'"dataFiles"' in manifest["Body"].read() and manifest["ETag"].startswith('"')
    key = f"{base}/data/BILLING_PERIOD=2026-10/acme-cur2-daily-00001.csv.gz"
    body = b"".join(s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(4096))
    assert s3.head_object(Bucket=bucket, Key=key)["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"{base}/metadata/", MaxKeys=1000)
    assert listing["KeyCount"] == 13 and all(o["Key"].endswith("-Manifest.json") for o in listing["Contents"])
    for call, code in ((s3.get_object, "NoSuchKey"), (s3.head_object, "404")):
        with pytest.raises(ClientError) as missing:
            call(Bucket=bucket, Key=f"{base}/nothing-here")
        assert missing.value.response["Error"]["Code"] == code
    with pytest.raises(ClientError) as no_bucket:
        s3.list_objects_v2(Bucket="not-a-bucket", Prefix="")
    assert no_bucket.value.response["Error"]["Code"] == "NoSuchBucket"


def test_provider_api_pages_daily_buckets_like_the_admin_apis():
    org = fx.acme_openai(TODAY)
    session = fx.api_session("https://api.openai.com", fx.openai_routes(org))
    start, end = fx.utc(dt.date(2026, 1, 1)), fx.utc(dt.date(2026, 3, 1))
    params = {"start_time": int(start.timestamp()), "end_time": int(end.timestamp()), "bucket_width": "1d"}
    days, cursor, pages = [], None, 0
    while True:
        body = session.get(
            "https://api.openai.com/v1/organization/usage/completions",
            params={**params, "limit": 31, **({"page": cursor} if cursor else {})},
        ).json()
        pages += 1
        days += [bucket["start_time"] for bucket in body["data"]]
        if not body["has_more"]:
            break
        cursor = body["next_page"]
    assert pages == 2 and len(days) == len(set(days)) == 59
    assert session.get("https://api.openai.com/v1/organization/nothing").status_code == 404
    costs = fx.openai_cost_results(org, dt.date(2026, 1, 5))
    assert {r["amount"]["currency"] for r in costs} == {"usd"} and all(
        isinstance(r["amount"]["value"], Decimal) for r in costs
    )
