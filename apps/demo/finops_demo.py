"""FinOps demo data: twelve months of each demo client's bills, booked through the real connectors.

For each provider the demo generates the provider's own format (apps.demo.fixtures_finops) into a temporary
directory, plugs a local stand-in for the provider's client into the connector's `client_factory` seam, and
runs the ordinary ingestion service with trigger "demo" — the same fetch, mapping and ledger swap as a
scheduled pull. The billing sources carry obviously fake credentials and stay disabled, so the scheduler never
calls a real provider with them; the "Live usage events" source stays enabled (it is real and scheduled).

Stories (PRODUCT.md, "The demo MSP"):
- Acme Underwriting: AWS CUR 2.0 export (3 linked accounts, Frankfurt and Ireland, Bedrock) and OpenAI costs and
  usage per project; underwriter-7's calls as live usage events, with its runaway loop 3 days ago.
- Maple Health Clinics: Azure ActualCost export in CAD (A100 VMs serving the open-weight model in Canada);
  the patient-intake assistant's calls to that model as usage events.
- Harbor Insurance: GCP billing export in BigQuery and Anthropic costs and usage for the claims pipeline, whose
  routing change 3 months ago took the cost per claim from ≈ $0.61 to ≈ $0.42; claims-triage usage events.

Idempotent: a source whose demo run succeeded is not loaded again (reload=True books it again, which replaces
what it booked, so totals stay the same); usage events are idempotent by request_id.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.utils import timezone
from django_tenants.utils import schema_context

from apps.core.context import acting_as
from apps.finops.connectors import connector_for
from apps.finops.connectors.base import Window
from apps.finops.models import BillingSource, CostRecord, IngestionRun, SourceKind
from apps.finops.services import billing_source_save, ingestion_run_execute, usage_events_source
from apps.finops.usage import MAX_EVENTS, usage_events_ingest

from . import fixtures_finops as fx

logger = logging.getLogger(__name__)

STATUS_MESSAGE = (
    "Demo source: {rows:,} ledger rows booked by the demo run from provider-format fixture files that Keel "
    "generated; no {provider} API was called. Disabled on purpose: its credentials are fake, so the scheduler "
    "must never call {provider} with them."
)
GCP_DEMO_KEY = (
    '{"type": "service_account", "project_id": "harbor-billing", "private_key_id": "keel-demo-not-a-real-key", '
    '"private_key": "-----BEGIN PRIVATE KEY-----\\nKEEL-DEMO-NOT-A-REAL-KEY\\n-----END PRIVATE KEY-----\\n", '
    '"client_email": "keel-demo-reader@harbor-billing.iam.gserviceaccount.com", "client_id": "000000000000000000000", '
    '"token_uri": "https://oauth2.googleapis.com/token"}'
)


class DemoLoadError(RuntimeError):
    """A demo run did not succeed: the fixtures and a connector disagree (a bug, never a provider's fault)."""


@dataclass(frozen=True)
class DemoSource:
    """One billing source of a story: how it is configured, and how to serve its fixtures to the connector."""

    name: str
    kind: str
    provider: str  # in the status message
    settings: dict
    secrets: dict
    serve: Callable[[Path], object]  # writes the fixtures under the directory, returns the provider client


@dataclass
class StoryResult:
    """What one story did for one client: the demo run of each source and the usage events it sent."""

    slug: str
    today: dt.date
    window: Window
    runs: dict[str, IngestionRun] = field(default_factory=dict)  # source name → its latest demo run
    loaded: list[str] = field(default_factory=list)  # sources booked this time (not skipped)
    events_sent: int = 0
    events_accepted: int = 0
    seconds: float = 0.0


def _today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def demo_window(today: dt.date) -> Window:
    """Twelve whole months before today's month, and this month to date (the runs' window ends tomorrow, as a
    scheduled run's does: today has no bills yet, so the demo's data ends yesterday)."""
    return Window(start=fx.demo_start(today), end=today + dt.timedelta(days=1))


@contextmanager
def client_factory(kind: str, client) -> Iterator[None]:
    """Plug a stand-in client into the connector's seam for the block, then put back what was there."""
    connector = connector_for(kind)
    had, previous = "client_factory" in vars(connector), vars(connector).get("client_factory")
    connector.client_factory = lambda source: client
    try:
        yield
    finally:
        if had:
            connector.client_factory = previous
        else:
            del connector.client_factory


def _ensure_source(spec: DemoSource) -> BillingSource:
    source = BillingSource.objects.filter(name=spec.name).first()
    if source is None:
        source = billing_source_save(
            kind=spec.kind, name=spec.name, settings=spec.settings, secrets=spec.secrets, enabled=False
        )
    return source


def _demo_run(source: BillingSource) -> IngestionRun | None:
    return source.runs.filter(trigger=IngestionRun.Trigger.DEMO, status=IngestionRun.Status.SUCCEEDED).first()


def _load_source(spec: DemoSource, window: Window) -> IngestionRun:
    source = _ensure_source(spec)
    with tempfile.TemporaryDirectory(prefix="keel-demo-finops-") as root:
        client = spec.serve(Path(root))
        try:
            with client_factory(spec.kind, client):
                run = ingestion_run_execute(source=source, trigger=IngestionRun.Trigger.DEMO, window=window)
        finally:
            if hasattr(client, "close"):
                client.close()
    if run.status != IngestionRun.Status.SUCCEEDED:
        raise DemoLoadError(f"{source.name}: the demo run {run.status}: {run.error}")
    rows = CostRecord.objects.filter(source=source).count()
    # The run's own message ("N rows booked") would hide why the source is disabled.
    BillingSource.objects.filter(pk=source.pk).update(
        status_message=STATUS_MESSAGE.format(rows=rows, provider=spec.provider)
    )
    return run


def _send_events(events: list[dict]) -> int:
    """Through the service behind POST /usage-events, in the API's batch size; duplicates are ignored."""
    accepted = 0
    for i in range(0, len(events), MAX_EVENTS):
        result = usage_events_ingest(events=events[i : i + MAX_EVENTS])
        if result.rejected:
            raise DemoLoadError(f"{result.rejected} demo usage events were rejected: {result.errors[:3]}")
        accepted += result.accepted
    return accepted


def run_story(
    client,
    *,
    slug: str,
    today: dt.date,
    sources: list[DemoSource],
    events: Callable[[], list[dict]],
    reload: bool = False,
) -> StoryResult:
    """Load one client's FinOps demo: usage events first (so the LLM cost runs reconcile them), then every
    billing source, then the usage events source's own demo run."""
    started = time.perf_counter()
    window = demo_window(today)
    result = StoryResult(slug=slug, today=today, window=window)
    with schema_context(client.schema_name), acting_as(source="command", user_email="demo-loader"):
        usage_source = BillingSource.objects.filter(kind=SourceKind.USAGE_EVENTS).order_by("pk").first()
        usage_done = usage_source is not None and _demo_run(usage_source) is not None
        if reload or not usage_done:
            batch = events()
            result.events_sent = len(batch)
            result.events_accepted = _send_events(batch)
        for spec in sources:
            source = BillingSource.objects.filter(name=spec.name).first()
            done = _demo_run(source) if source is not None else None
            if done is not None and not reload:
                result.runs[spec.name] = done
                continue
            result.runs[spec.name] = _load_source(spec, window)
            result.loaded.append(spec.name)
        if reload or not usage_done:
            usage_source = usage_events_source()
            run = ingestion_run_execute(source=usage_source, trigger=IngestionRun.Trigger.DEMO, window=window)
            if run.status != IngestionRun.Status.SUCCEEDED:
                raise DemoLoadError(f"{usage_source.name}: the demo run {run.status}: {run.error}")
            result.loaded.append(usage_source.name)
        usage_source = usage_events_source()
        result.runs[usage_source.name] = _demo_run(usage_source)
    result.seconds = time.perf_counter() - started
    logger.info(
        "finops demo %s: %s loaded, %s events accepted, %.1f s",
        slug,
        ", ".join(result.loaded) or "nothing",
        result.events_accepted,
        result.seconds,
    )
    return result


# --- the three stories ----------------------------------------------------------------------------------------

AWS_DEMO_SECRETS = {
    "access_key_id": "AKIAKEELDEMO0FAKE000",
    "secret_access_key": "keel-demo/NOT-A-REAL-SECRET/0000000000000000",
}


def acme_story(client, *, today: dt.date | None = None, reload: bool = False) -> StoryResult:
    """Acme Underwriting: AWS CUR 2.0 (USD) and OpenAI (USD); underwriter-7's events and its runaway loop."""
    today = today or _today()
    openai = functools.cache(lambda: fx.acme_openai(today))

    def serve_aws(root: Path):
        fx.write_acme_cur_export(root, today)
        return fx.LocalS3(root)

    sources = [
        DemoSource(
            "AWS CUR 2.0 export (demo)",
            SourceKind.AWS_DATA_EXPORT,
            "AWS",
            {**fx.ACME_EXPORT, "region": "eu-central-1", "export_format": "cur2"},
            AWS_DEMO_SECRETS,
            serve_aws,
        ),
        DemoSource(
            "OpenAI organisation (demo)",
            SourceKind.OPENAI,
            "OpenAI",
            {"organisation": fx.ACME_ORG},
            {"api_key": "sk-admin-keel-demo-NOT-A-REAL-KEY-0000"},
            lambda root: fx.api_session("https://api.openai.com", fx.openai_routes(openai())),
        ),
    ]
    return run_story(client, slug="acme", today=today, sources=sources, events=lambda: openai().events, reload=reload)


def maple_story(client, *, today: dt.date | None = None, reload: bool = False) -> StoryResult:
    """Maple Health Clinics: Azure ActualCost export (CAD); the patient-intake assistant's usage events."""
    today = today or _today()

    def serve_azure(root: Path):
        fx.write_maple_actual_cost_export(root, today)
        return fx.LocalContainer(root / fx.MAPLE_EXPORT["container"])

    sources = [
        DemoSource(
            "Azure ActualCost export (demo)",
            SourceKind.AZURE_EXPORT,
            "Azure",
            {
                "account_url": "https://maplecostexports.blob.core.windows.net",
                **fx.MAPLE_EXPORT,
                "dataset": "ActualCost",
                "billing_account_id": fx.MAPLE_ENROLLMENT[0],
                "invoice_issuer": "Microsoft",
            },
            {"sas_token": "sv=2024-11-04&ss=b&srt=co&sp=rl&sig=KEEL-DEMO-NOT-A-REAL-SIGNATURE"},
            serve_azure,
        ),
    ]
    return run_story(
        client,
        slug="maple",
        today=today,
        sources=sources,
        events=lambda: fx.maple_intake_events(today),
        reload=reload,
    )


def harbor_story(client, *, today: dt.date | None = None, reload: bool = False) -> StoryResult:
    """Harbor Insurance: GCP BigQuery billing export and Anthropic (USD); claims-triage usage events."""
    today = today or _today()
    anthropic = functools.cache(lambda: fx.harbor_anthropic(today))
    sources = [
        DemoSource(
            "GCP billing export (demo)",
            SourceKind.GCP_BIGQUERY,
            "Google Cloud",
            {**fx.HARBOR_TABLE, "billing_account_id": fx.HARBOR_BILLING_ACCOUNT, "location": "US"},
            {"service_account_json": GCP_DEMO_KEY},
            lambda root: fx.LocalBigQuery(fx.harbor_gcp_rows(today)),
        ),
        DemoSource(
            "Anthropic organisation (demo)",
            SourceKind.ANTHROPIC,
            "Anthropic",
            {"organisation": "harbor-insurance"},
            {"api_key": "sk-ant-admin01-keel-demo-NOT-A-REAL-KEY-0000"},
            lambda root: fx.api_session("https://api.anthropic.com", fx.anthropic_routes(anthropic())),
        ),
    ]
    return run_story(
        client, slug="harbor", today=today, sources=sources, events=lambda: anthropic().events, reload=reload
    )


STORIES = {"acme": acme_story, "maple": maple_story, "harbor": harbor_story}


def demo_finops(clients) -> None:
    """The demo step: each demo client's FinOps story (after demo_inventory, whose agents the data names)."""
    today = _today()
    for slug, story in STORIES.items():
        if slug in clients:
            story(clients[slug], today=today)
