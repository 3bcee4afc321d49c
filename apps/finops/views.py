"""FinOps portal pages: billing sources and their runs, FOCUS file upload (upload → preview → import), and the
cost explorer. Reads go through selectors, writes through services; amounts stay Decimal up to the template.

Between preview and import the uploaded file waits in default_storage under finops-uploads/; the page carries
its name signed and bound to this client, so an import can only book what was previewed here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import secrets as random_tokens
import shutil
import tempfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.roles import Cap
from apps.core.charts import OTHER_COLOUR, base_layout, colour, figure_json
from apps.core.permissions import capability_required
from apps.core.uploads import pending_upload, pending_upload_token

from .connectors import CONNECTORS, connector_for
from .connectors.base import Connector
from .dashboard import LedgerLinks
from .focus import COLUMN_BY_FIELD, REQUIRED_FIELDS, header_lookup
from .forms import DEFAULT_PREFIX, SourceForm, UploadDefaultsForm, UploadForm
from .ledger import DEFAULTABLE_FIELDS, LedgerError, inspect_focus_file
from .models import BillingSource, IngestionRun, SourceKind
from .selectors import (
    ALLOCATION_DIMENSIONS,
    EXPLORER_ALL_DIMENSIONS,
    EXPLORER_DIMENSIONS,
    GRANULARITIES,
    MEASURE_LABELS,
    PRESETS,
    SPREAD_DIMENSIONS,
    TOP_CHOICES,
    cost_explorer,
    explorer_filter_options,
    explorer_params,
    explorer_table,
    preset_range,
    run_breakdown,
    run_get,
    run_rows_in_ledger,
    runs_list,
    source_booked,
    source_choices,
    source_get,
    sources_list,
    tag_keys,
    upload_runs,
)
from .services import (
    UPLOAD_DIR,
    billing_source_delete,
    billing_source_save,
    billing_source_test,
    focus_upload_commit,
    focus_upload_preview,
)
from .uploads import SizeLimitHandler, announced_too_big, upload_max_bytes

logger = logging.getLogger(__name__)

# Kinds a person adds; the upload and live-usage sources are made by Keel on first use.
ADDABLE_KINDS = [kind for kind in SourceKind if kind not in (SourceKind.FOCUS_UPLOAD, SourceKind.USAGE_EVENTS)]
STATUS_BADGES = {  # status → (short label, chip class)
    "new": ("Not run yet", "chip-muted"),
    "ok": ("Healthy", "chip-ok"),
    "retrying": ("Retrying", "sev-medium"),
    "failing": ("Failing", "sev-high"),
    "credentials": ("Credentials rejected", "sev-critical"),
    "paused": ("Paused", "chip-muted"),
}
TROUBLED = {"retrying", "failing", "credentials"}
RUNS_PER_PAGE = 50
SOURCE_RUNS_SHOWN = 20

SIGNING_SALT = "keel.finops.upload"
UPLOAD_MAX_AGE = 24 * 3600  # seconds a previewed file may wait for its import
FORMAT_LABELS = {"csv": "CSV", "csv.gz": "gzip-compressed CSV", "parquet": "Parquet"}


# --- helpers ------------------------------------------------------------------------------------------


def _connector(kind: str) -> Connector | None:
    """The kind's connector, or None while its module is not installed (connectors arrive one by one)."""
    if kind not in CONNECTORS:
        return None
    try:
        return connector_for(kind)
    except (ImportError, AttributeError):
        logger.warning("billing connector for %s is not available", kind)
        return None


def _source_or_404(pk: int) -> BillingSource:
    try:
        return source_get(pk=pk)
    except BillingSource.DoesNotExist as exc:
        raise Http404("No such billing source.") from exc


def _run_or_404(pk: int) -> IngestionRun:
    try:
        return run_get(pk=pk)
    except IngestionRun.DoesNotExist as exc:
        raise Http404("No such run.") from exc


def _status_key(source: BillingSource) -> str:
    return "paused" if not source.enabled else source.status


def _describe_source(source: BillingSource, now: dt.datetime) -> BillingSource:
    """Attach what the pages show about a source's health and schedule (no queries)."""
    key = _status_key(source)
    source.badge_label, source.badge_class = STATUS_BADGES.get(key, (source.get_status_display(), "chip-muted"))
    source.badge_title = BillingSource.Status(key).label if key in BillingSource.Status.values else ""
    source.troubled = key in TROUBLED
    error = ""
    if key in TROUBLED:
        error = source.status_message
    elif getattr(source, "latest_run_status", "") == IngestionRun.Status.FAILED:
        error = getattr(source, "latest_run_error", "")
    source.plain_error = error
    if not source.is_pull:
        source.next_run_text = "When a file is uploaded"
    elif not source.enabled:
        source.next_run_text = "Paused"
    elif source.next_run_at is None:
        source.next_run_text = "Not scheduled"
    elif source.next_run_at <= now:
        source.next_run_text = "Due now"
    else:
        source.next_run_text = ""
    return source


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 90:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _totals_list(totals: dict) -> list[dict]:
    """A run's totals ({currency: {rows, billed_cost, …} as strings}) as Decimal rows for the template."""
    rows = []
    for currency in sorted(totals or {}):
        values = totals[currency] or {}
        rows.append(
            {
                "currency": currency,
                "rows": values.get("rows", 0),
                **{
                    key: Decimal(str(values[key])) if values.get(key) not in (None, "") else None
                    for key in ("billed_cost", "effective_cost", "list_cost")
                },
            }
        )
    return rows


def _describe_run(run: IngestionRun) -> IngestionRun:
    run.duration_text = duration_text(run.duration_seconds)
    run.totals_list = _totals_list(run.totals)
    run.window_last = run.window_end - dt.timedelta(days=1) if run.window_end else None
    return run


def _apply_form_errors(form, exc: ValidationError) -> None:
    form.apply_service_errors(exc)


def _money(value) -> str:
    """2 decimals for display, rounded half up like the templates' floatformat (the stored value keeps them all)."""
    return f"{Decimal(str(value)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


# --- billing sources ------------------------------------------------------------------------------------


@capability_required(Cap.VIEW)
def source_list(request):
    now = timezone.now()
    sources = [_describe_source(s, now) for s in sources_list()]
    context = {
        "sources": sources,
        "kinds": [(kind.value, kind.label) for kind in ADDABLE_KINDS],
        "counts": {
            "all": len(sources),
            "healthy": sum(1 for s in sources if _status_key(s) == "ok"),
            "troubled": sum(1 for s in sources if s.troubled),
            "paused": sum(1 for s in sources if _status_key(s) == "paused"),
        },
        "last_success": max((s.last_success_at for s in sources if s.last_success_at), default=None),
        "can_edit": request.access.can(Cap.EDIT),
    }
    return render(request, "finops/sources.html", context)


@capability_required(Cap.EDIT)
def source_new(request):
    kind = request.GET.get("kind", "") or request.POST.get("kind", "")
    if kind not in [k.value for k in ADDABLE_KINDS]:
        return render(
            request,
            "finops/source_kind.html",
            {"kinds": [(k.value, k.label, _connector(k.value) is not None) for k in ADDABLE_KINDS]},
        )
    connector = _connector(kind)
    if connector is None:
        messages.error(request, f"The {SourceKind(kind).label} connector is not installed on this Keel yet.")
        return redirect("finops:source_new")
    form = SourceForm(request.POST or None, connector=connector)
    if request.method == "POST" and form.is_valid():
        try:
            source = billing_source_save(kind=kind, secrets=form.secrets(), **form.service_fields())
        except ValidationError as exc:
            _apply_form_errors(form, exc)
        else:
            messages.success(
                request, f"{source.name} added. Test the connection, then run it now or wait for its schedule."
            )
            return redirect("finops:source", pk=source.pk)
    return render(
        request,
        "finops/source_form.html",
        {"form": form, "source": None, "kind": kind, "kind_label": SourceKind(kind).label},
    )


@capability_required(Cap.VIEW)
def source_detail(request, pk):
    source = _describe_source(_source_or_404(pk), timezone.now())
    connector = _connector(source.kind)
    labels = {spec.name: spec.label for spec in connector.settings_fields} if connector else {}
    settings_shown = [(labels.get(key, key), value) for key, value in (source.settings or {}).items()]
    runs = [_describe_run(run) for run in runs_list(source=source)[:SOURCE_RUNS_SHOWN]]
    context = {
        "source": source,
        "connector_missing": connector is None,
        "settings_shown": settings_shown,
        "has_secrets": bool(connector and connector.secret_fields) or bool(source.credentials_hint),
        "runs": runs,
        "booked": source_booked(source=source),
        "can_edit": request.access.can(Cap.EDIT),
    }
    return render(request, "finops/source_detail.html", context)


@capability_required(Cap.EDIT)
def source_edit(request, pk):
    source = _source_or_404(pk)
    connector = _connector(source.kind)
    if connector is None:
        messages.error(request, f"The {source.get_kind_display()} connector is not installed on this Keel yet.")
        return redirect("finops:source", pk=source.pk)
    form = SourceForm(request.POST or None, connector=connector, source=source)
    if request.method == "POST" and form.is_valid():
        try:
            saved = billing_source_save(source=source, secrets=form.secrets(), **form.service_fields())
        except ValidationError as exc:
            source.refresh_from_db()
            _apply_form_errors(form, exc)
        else:
            messages.success(request, f"{saved.name} saved.")
            return redirect("finops:source", pk=saved.pk)
    return render(
        request,
        "finops/source_form.html",
        {"form": form, "source": source, "kind": source.kind, "kind_label": source.get_kind_display()},
    )


@capability_required(Cap.EDIT)
def source_delete(request, pk):
    source = _source_or_404(pk)
    if request.method == "POST":
        billing_source_delete(source=source)
        messages.success(request, f"{source.name} removed, with every cost it had booked.")
        return redirect("finops:sources")
    booked = source_booked(source=source)
    return render(
        request,
        "finops/source_delete.html",
        {
            "source": source,
            "booked": booked,
            "rows": sum(b["rows"] for b in booked),
            "runs": runs_list(source=source).count(),
        },
    )


def _back(request, source: BillingSource):
    if request.POST.get("back") == "list":
        return redirect("finops:sources")
    return redirect("finops:source", pk=source.pk)


@require_POST
@capability_required(Cap.EDIT)
def source_test(request, pk):
    source = _source_or_404(pk)
    if _connector(source.kind) is None:
        messages.error(request, f"The {source.get_kind_display()} connector is not installed on this Keel yet.")
        return _back(request, source)
    result = billing_source_test(source=source)
    if result.ok:
        messages.success(request, f"Connection test of {source.name} passed: {result.message}")
    else:
        messages.error(request, f"Connection test of {source.name} failed: {result.message}")
    return _back(request, source)


@require_POST
@capability_required(Cap.EDIT)
def source_run(request, pk):
    from celery.result import EagerResult

    from .tasks import ingest_source_task

    source = _source_or_404(pk)
    if not source.is_pull:
        messages.error(request, "Uploads are booked when a file is imported: upload a FOCUS file instead.")
        return _back(request, source)
    if not source.enabled:
        messages.error(request, f"{source.name} is paused. Enable it first, then run it.")
        return _back(request, source)
    if _connector(source.kind) is None:
        messages.error(request, f"The {source.get_kind_display()} connector is not installed on this Keel yet.")
        return _back(request, source)
    try:
        outcome = ingest_source_task.delay(source.pk, IngestionRun.Trigger.MANUAL)
    except Exception as exc:  # eager mode (tests, one-process set-ups) runs the task here and may raise
        logger.exception("run now of source %s failed", source.pk)
        messages.error(request, f"The run of {source.name} could not finish: {exc}")
        return _back(request, source)
    if isinstance(outcome, EagerResult):
        run = runs_list(source=source).first()
        if run is not None and run.status == IngestionRun.Status.SUCCEEDED:
            messages.success(request, f"{source.name} ran: {run.rows_loaded:,} rows booked.")
        elif run is not None:
            messages.error(request, f"{source.name} ran: {run.get_status_display()}. {run.error}".strip())
        else:
            messages.info(request, f"{source.name}: nothing ran ({outcome.result}).")
    else:
        messages.success(request, f"Run of {source.name} queued. It appears in the run history as soon as it starts.")
    return _back(request, source)


# --- runs ----------------------------------------------------------------------------------------------


@capability_required(Cap.VIEW)
def run_list(request):
    sources = list(source_choices())
    chosen = request.GET.get("source", "")
    source = next((s for s in sources if str(s.pk) == chosen), None)
    status = request.GET.get("status", "")
    if status not in IngestionRun.Status.values:
        status = ""
    page = Paginator(runs_list(source=source, status=status), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    for run in page.object_list:
        _describe_run(run)
    pairs = (("source", source.pk if source else ""), ("status", status))
    query = urlencode({key: value for key, value in pairs if value})
    context = {
        "page": page,
        "runs": page.object_list,
        "sources": sources,
        "source": source,
        "status": status,
        "statuses": IngestionRun.Status.choices,
        "filter_query": query,
    }
    return render(request, "finops/runs.html", context)


def _detail_items(details: dict) -> dict:
    """A run's details JSON split into what the page shows in its own way, and the rest in plain key/values."""
    details = dict(details or {})
    file = details.pop("file", None) or {}
    shown = {
        "filename": details.pop("filename", ""),
        "file": file,
        "periods": details.pop("periods", []) or [],
        "warnings": details.pop("warnings", []) or [],
        "charge_start": _iso(details.pop("charge_start", None)),
        "charge_end": _iso(details.pop("charge_end", None)),
        "files": [_plain(f) for f in details.pop("files", []) or []],
    }
    rest = []
    for key, value in details.items():
        label = key.replace("_", " ").capitalize()
        if isinstance(value, dict | list) and value and not all(isinstance(v, str | int | float) for v in value):
            rest.append({"label": label, "json": json.dumps(value, indent=2, sort_keys=True, default=str)})
        elif isinstance(value, list):
            rest.append({"label": label, "text": ", ".join(str(v) for v in value) or "—"})
        elif isinstance(value, dict):
            rest.append({"label": label, "text": "—"})
        else:
            rest.append({"label": label, "text": "—" if value in (None, "") else value})
    shown["rest"] = rest
    return shown


def _plain(value) -> str:
    if isinstance(value, dict):
        return " · ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _iso(value) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _period_label(period: str) -> str:
    try:
        return dt.date.fromisoformat(f"{period}-01").strftime("%B %Y")
    except ValueError:
        return period


@capability_required(Cap.VIEW)
def run_detail(request, pk):
    run = _describe_run(_run_or_404(pk))
    details = _detail_items(run.details)
    context = {
        "run": run,
        "details": details,
        "periods": [(p, _period_label(p)) for p in details["periods"]],
        "mapping": sorted((details["file"].get("mapped") or {}).items()),
        "format_label": FORMAT_LABELS.get(details["file"].get("format", ""), details["file"].get("format", "")),
        "top_services": run_breakdown(run=run, by="service"),
        "top_accounts": run_breakdown(run=run, by="sub_account"),
        "still_booked": run_rows_in_ledger(run=run) if run.rows_loaded else 0,
    }
    return render(request, "finops/run_detail.html", context)


# --- FOCUS file upload ------------------------------------------------------------------------------------


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:,.0f} MB" if size >= 1024 * 1024 else f"{size / 1024:,.0f} KB"


def _too_big(limit: int) -> str:
    return (
        f"The file is larger than {_mb(limit)}, the most Keel takes in one upload. Split it by billing period "
        "or account (each file replaces only the periods and accounts it contains), or compress it with gzip."
    )


def _recent_uploads():
    return [_describe_run(run) for run in upload_runs(limit=10)]


def _upload_page(request, *, form, refused: str = "", status: int = 200):
    limit = upload_max_bytes()
    return render(
        request,
        "finops/upload.html",
        {"form": form, "refused": refused, "max_size": _mb(limit), "recent": _recent_uploads()},
        status=status,
    )


@capability_required(Cap.EDIT)
@csrf_exempt  # the CSRF check runs in upload_receive, after the size checks: it would read the body first
def upload(request):
    """The upload form. A request announcing more than the limit is refused before its body is read."""
    limit = upload_max_bytes()
    if request.method == "POST":
        if announced_too_big(request, limit):
            form = UploadForm(max_mb=limit // 1024 // 1024)
            return _upload_page(request, form=form, refused=_too_big(limit), status=413)
        handler = SizeLimitHandler(request, limit)
        request.upload_handlers.insert(0, handler)
        return upload_receive(request, handler)
    return _upload_page(request, form=UploadForm(max_mb=limit // 1024 // 1024))


@csrf_protect
def upload_receive(request, handler: SizeLimitHandler):
    limit = upload_max_bytes()
    max_mb = limit // 1024 // 1024
    form = UploadForm(request.POST, request.FILES, max_mb=max_mb)
    if handler.exceeded:
        return _upload_page(request, form=UploadForm(max_mb=max_mb), refused=_too_big(limit), status=413)
    if not form.is_valid():
        return _upload_page(request, form=form)
    upload_file = form.cleaned_data["file"]
    if upload_file.size > limit:
        return _upload_page(request, form=UploadForm(max_mb=max_mb), refused=_too_big(limit), status=413)
    filename = Path(upload_file.name or "upload.csv").name[:200]
    suffix = "".join(s for s in Path(filename).suffixes[-2:] if s.lower() in (".csv", ".gz", ".parquet"))
    name = default_storage.save(f"{UPLOAD_DIR}/{random_tokens.token_hex(16)}{suffix}", upload_file)
    return redirect(f"{reverse('finops:upload_preview')}?upload={_sign(name, filename)}")


def _sign(name: str, filename: str) -> str:
    return pending_upload_token(name=name, filename=filename, salt=SIGNING_SALT)


def _unsign(token: str) -> dict | None:
    return pending_upload(token, salt=SIGNING_SALT, folder=UPLOAD_DIR, max_age=UPLOAD_MAX_AGE)


@contextlib.contextmanager
def _local_path(name: str):
    """A filesystem path for the stored upload (a temporary copy when the storage is not on this disk)."""
    try:
        yield Path(default_storage.path(name))
        return
    except NotImplementedError:
        pass
    with tempfile.NamedTemporaryFile(suffix=Path(name).suffix) as copy:
        with default_storage.open(name, "rb") as stored:
            shutil.copyfileobj(stored, copy)
        copy.flush()
        yield Path(copy.name)


def _discard(name: str) -> None:
    with contextlib.suppress(OSError):
        default_storage.delete(name)


def _expired(request):
    messages.error(request, "That upload has expired or was already imported. Upload the file again.")
    return redirect("finops:upload")


def _mapping_rows(info: dict) -> list[dict]:
    """FOCUS column ← file header, mandatory ones first."""
    required = {COLUMN_BY_FIELD[f].focus for f in REQUIRED_FIELDS}
    rows = [
        {"focus": focus, "header": header, "required": focus in required, "renamed": focus.lower() != header.lower()}
        for focus, header in info["mapped"].items()
    ]
    for focus, value in info.get("defaulted", {}).items():
        rows.append({"focus": focus, "header": "", "default": value, "required": focus in required, "renamed": False})
    for row in rows:
        row.setdefault("default", "")
    return sorted(rows, key=lambda r: (not r["required"], r["focus"].lower()))


def _preview_context(*, info: dict | None, result=None, error: str = "", filename: str = "", token: str = "") -> dict:
    context = {"info": info, "result": result, "error": error, "filename": filename, "token": token}
    if info:
        context["mapping"] = _mapping_rows(info)
        context["other_mapped"] = [
            m for m in context["mapping"] if not (m["required"] or m["renamed"] or m.get("default"))
        ]
        context["format_label"] = FORMAT_LABELS.get(info["format"], info["format"])
    if result is not None:
        context["totals"] = _totals_list(result.totals)
        context["periods"] = [(p, _period_label(p)) for p in result.periods]
    return context


@require_GET
@capability_required(Cap.EDIT)
def upload_preview(request):
    """What the file would book, from the same load the import runs, rolled back. Nothing is written."""
    token = request.GET.get("upload", "")
    payload = _unsign(token)
    if payload is None:
        return _expired(request)
    name, filename = payload["name"], payload.get("filename", "")
    page = "finops/upload_preview.html"
    with _local_path(name) as path:
        try:
            info = inspect_focus_file(path)
        except LedgerError as exc:
            _discard(name)
            return render(request, page, _preview_context(info=None, error=str(exc), filename=filename))
        absent = [f for f in REQUIRED_FIELDS if f not in header_lookup(info["headers"])]
        blocking = [COLUMN_BY_FIELD[f].focus for f in absent if f not in DEFAULTABLE_FIELDS]
        defaultable = [f for f in absent if f in DEFAULTABLE_FIELDS]
        asked = any(key.startswith(DEFAULT_PREFIX) for key in request.GET)
        defaults_form = UploadDefaultsForm(request.GET if asked else None, fields=defaultable)
        if blocking:
            _discard(name)
            error = (
                f"Mandatory FOCUS columns are missing: {', '.join(blocking)}. Keel cannot book a file without them; "
                "add them to the file and upload it again."
            )
            return render(request, page, _preview_context(info=info, error=error, filename=filename))
        if defaultable and not (asked and defaults_form.is_valid()):
            context = _preview_context(info=info, filename=filename, token=token)
            context["defaults_form"] = defaults_form  # ask for the missing values first
            return render(request, page, context)
        defaults = defaults_form.defaults() if defaultable else {}
        try:
            result = focus_upload_preview(path=path, defaults=defaults or None)
        except LedgerError as exc:
            _discard(name)
            return render(request, page, _preview_context(info=info, error=str(exc), filename=filename))
        info = inspect_focus_file(path, defaults)
    context = _preview_context(info=info, result=result, filename=filename, token=token)
    context["defaults"] = [(f"{DEFAULT_PREFIX}{f}", v) for f, v in defaults.items()]
    return render(request, page, context)


@require_POST
@capability_required(Cap.EDIT)
def upload_commit(request):
    payload = _unsign(request.POST.get("upload", ""))
    if payload is None:
        return _expired(request)
    name, filename = payload["name"], payload.get("filename", "")
    posted = [f for f in DEFAULTABLE_FIELDS if f"{DEFAULT_PREFIX}{f}" in request.POST]
    defaults_form = UploadDefaultsForm(request.POST, fields=posted)
    defaults = defaults_form.defaults() if posted else {}
    if posted and not defaults_form.is_valid():
        messages.error(request, "The values for the missing columns need a look.")
        return redirect(f"{reverse('finops:upload_preview')}?upload={request.POST.get('upload', '')}")
    with _local_path(name) as path:
        try:
            run = focus_upload_commit(path=path, filename=filename, defaults=defaults or None)
        except LedgerError as exc:
            _discard(name)
            failed = next(iter(upload_runs(status=IngestionRun.Status.FAILED, limit=1)), None)
            context = _preview_context(info=None, error=str(exc), filename=filename)
            context["failed_run"] = failed
            return render(request, "finops/upload_preview.html", context, status=409)
    _discard(name)
    effective = ", ".join(f"{_money(t['effective_cost'])} {currency}" for currency, t in sorted(run.totals.items()))
    replaced = f", {run.rows_replaced:,} earlier rows replaced" if run.rows_replaced else ""
    messages.success(request, f"Imported {filename}: {run.rows_loaded:,} rows{replaced}. EffectiveCost {effective}.")
    return redirect("finops:run", pk=run.pk)


# --- cost explorer -------------------------------------------------------------------------------------

PLURALS = {
    "provider": "Providers",
    "service": "Services",
    "category": "Service categories",
    "account": "Billing accounts",
    "sub_account": "Sub-accounts",
    "region": "Regions",
    "charge_category": "Charge categories",
    "model": "Models",
    "source": "Billing sources",
    "currency": "Currencies",
    "department": "Departments",
    "asset": "AI assets",
    "rule": "Allocation rules",
}
NONE_LABELS = {"department": "No department", "asset": "No AI asset", "rule": "No rule"}


def _group_label(key, *, other: bool, group_by: str, groups: int = 0, names: dict | None = None) -> str:
    if other:
        return f"All other ({groups})" if groups else "All other"
    if key in (None, ""):
        return "(untagged)" if group_by.startswith("tag:") else NONE_LABELS.get(group_by, "(not set)")
    if group_by in ALLOCATION_DIMENSIONS:
        return (names or {}).get(str(key), f"#{key} (deleted)")
    return str(key)


def _group_drill(group_by: str, key) -> dict[str, str]:
    """The ledger-rows filter of one group ("none" selects rows no department or asset carries); the ledger
    page cannot select "no rule" or "untagged", so those (and "All other") open every row of the period."""
    if group_by.startswith("tag:"):
        return {"tag": f"{group_by[4:]}={key}"} if key else {}
    if key in (None, ""):
        return {group_by: "none"} if group_by in ("department", "asset") else {}
    return {group_by: str(key)}


def _ledger_url(
    links: LedgerLinks, params, *, first: dt.date, last: dt.date, currency: str, group: dict | None = None
) -> str:
    """The ledger rows behind a figure: the explorer's filters, the figure's days, currency and group."""
    filters = {name: value for name, value in params.query.filters.items() if value}
    if params.tag:
        filters["tag"] = params.tag
    filters.update(group or {})
    filters["currency"] = currency
    return links.url(first_day=first, last_day=last, **filters)


def _period_days(period: dt.date, params) -> tuple[dt.date, dt.date]:
    """The days a bar covers: one day, or its month clipped to the explorer's period."""
    if params.query.granularity != "month":
        return period, period
    month_end = (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return max(period, params.first_day), min(month_end, params.last_day)


def _figure(table, params, *, dimension_label: str, names: dict, links: LedgerLinks):
    """A stacked bar per period and group; each bar opens its ledger rows. Floats are for drawing only."""
    if not table.series:
        return None
    currencies = sorted({row["currency"] for row in table.rows})
    several = len(currencies) > 1
    monthly = params.query.granularity == "month"
    group_by = params.query.group_by
    x_values = [p.isoformat() for p in table.periods]
    points: dict[tuple, dict] = {}
    for point in table.series:
        points.setdefault((point["currency"], point["key"], point["other"]), {})[point["period"].isoformat()] = point[
            "amount"
        ]
    date_format = "%B %Y" if monthly else "%a %-d %b %Y"
    traces = []
    for index, row in enumerate(table.rows):
        values = points.get((row["currency"], row["key"], row["other"]), {})
        name = _group_label(row["key"], other=row["other"], group_by=group_by, groups=row.get("groups", 0), names=names)
        if several:
            name = f"{name} ({row['currency']})"
        group = {} if row["other"] else _group_drill(group_by, row["key"])
        urls = []
        for period in table.periods:
            if period.isoformat() in values:
                first, last = _period_days(period, params)
                urls.append(_ledger_url(links, params, first=first, last=last, currency=row["currency"], group=group))
            else:
                urls.append("")
        hover_name = name.replace("%{", "%%{")
        traces.append(
            {
                "type": "bar",
                "name": name,
                "x": x_values,
                "y": [float(values[x]) if x in values else None for x in x_values],
                "customdata": urls,
                "marker": {"color": OTHER_COLOUR if row["other"] else colour(index)},
                "hovertemplate": f"%{{x|{date_format}}}<br>{hover_name}: %{{y:,.2f}} {row['currency']}"
                "<br><i>Click for the ledger rows</i><extra></extra>",
            }
        )
    measure = MEASURE_LABELS[params.query.measure].split(" ")[0]
    layout = base_layout(height=380, y_title=f"{measure} ({', '.join(currencies)})", monthly=monthly)
    layout["barmode"] = "relative"
    layout["legend"].update({"y": -0.12, "title": {"text": f"{dimension_label}: "}})
    if monthly:
        layout["xaxis"]["dtick"] = "M1"
    if len(x_values) == 1:
        layout["xaxis"]["type"] = "category"
    return figure_json({"data": traces, "layout": layout})


def _export_url(querystring: str) -> str:
    try:
        base = reverse("finops:export")
    except NoReverseMatch:
        return ""
    return f"{base}?{querystring}" if querystring else base


@capability_required(Cap.VIEW)
def explorer(request):
    today = timezone.localdate()  # the client's day: "this month" is the client's month
    params = explorer_params(request.GET, today=today)
    query = params.query
    result = cost_explorer(query)
    table = explorer_table(result, top=params.top)
    options = explorer_filter_options(query)
    names = {dimension: dict(options[dimension]) for dimension in ALLOCATION_DIMENSIONS}
    links = LedgerLinks()  # one reverse() for the page's hundreds of bars
    group_by = query.group_by
    dimension_label = f"Tag {group_by[4:]}" if group_by.startswith("tag:") else EXPLORER_ALL_DIMENSIONS[group_by][0]
    for row in table.rows:
        share = row["share"] if row["share"] is not None else Decimal(0)
        row["bar"] = f"{min(max(share, Decimal(0)), Decimal(100)):.1f}"
        row["label"] = _group_label(
            row["key"], other=row["other"], group_by=group_by, groups=row.get("groups", 0), names=names.get(group_by)
        )
        group = {} if row["other"] else _group_drill(group_by, row["key"])
        row["rows_url"] = _ledger_url(
            links, params, first=params.first_day, last=params.last_day, currency=row["currency"], group=group
        )
        if not row["other"]:
            if group_by.startswith("tag:"):
                drill = {"tag": f"{group_by[4:]}={row['key']}"} if row["key"] else {}
            else:
                drill = {group_by: str(row["key"])} if row["key"] not in (None, "") else {}
            row["drill"] = params.querystring(**drill) if drill else ""
    keys = tag_keys(query)
    querystring = params.querystring()
    allocation_filtered = any(query.filters.get(name) for name in ALLOCATION_DIMENSIONS)
    context = {
        "params": params,
        "query": query,
        "result": result,
        "table": table,
        "figure": _figure(table, params, dimension_label=dimension_label, names=names.get(group_by, {}), links=links),
        "dimension_label": dimension_label,
        "dimension_plural": PLURALS.get(group_by, f"{dimension_label} values"),
        "measure_name": MEASURE_LABELS[query.measure].split(" ")[0],
        "filter_count": len(query.filters) + (1 if query.tag_key else 0),
        "filters": [
            {"name": name, "label": label, "options": options[name], "value": query.filters.get(name, "")}
            for name, (label, _) in EXPLORER_ALL_DIMENSIONS.items()
        ],
        "group_choices": [(name, label) for name, (label, _) in EXPLORER_DIMENSIONS.items()],
        "allocation_choices": [(name, label) for name, (label, _) in ALLOCATION_DIMENSIONS.items()],
        "tag_keys": keys,
        "measures": [(value, label.split(" ")[0], label) for value, label in MEASURE_LABELS.items()],
        "largest": next((row for row in table.rows if not row["other"]), None),
        "granularities": list(GRANULARITIES.items()),
        "top_choices": TOP_CHOICES,
        "presets": [
            {
                "name": name,
                "label": label,
                "active": params.preset == name,
                "querystring": params.querystring(**_preset_dates(name, today), granularity=""),
            }
            for name, label in PRESETS.items()
        ],
        "filtered": bool(query.filters or query.tag_key),
        "clear_querystring": params.querystring(**{name: "" for name in EXPLORER_ALL_DIMENSIONS}, tag=""),
        "querystring": querystring,
        # The FOCUS export filters on ledger columns only: with a department/asset/rule filter it would hold
        # more rows than the explorer shows, so it is not offered then.
        "export_url": "" if allocation_filtered else _export_url(querystring),
        "allocation_filtered": allocation_filtered,
        "spread_group": group_by in SPREAD_DIMENSIONS,
        "all_rows_url": _ledger_url(
            links, params, first=params.first_day, last=params.last_day, currency=table.totals[0]["currency"]
        )
        if table.totals
        else "",
        "tz": timezone.get_current_timezone_name(),
    }
    partial = request.htmx and not request.htmx.boosted and not request.htmx.history_restore_request
    response = render(request, "finops/_explorer.html" if partial else "finops/explorer.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _preset_dates(name: str, today: dt.date) -> dict[str, str]:
    first, last = preset_range(name, today)
    return {"from": first.isoformat(), "to": last.isoformat()}
