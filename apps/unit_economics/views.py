"""Unit economics pages: the units with last month's cost per unit, one unit's trend and drivers (with CSV
downloads of both), its stored counts, the unit form, and the counts CSV upload (upload → preview → import).

Reads go through selectors (the daily rollup, never the raw ledger), writes through services. Between preview
and import the uploaded file waits in default_storage under unit-economics-uploads/; the page carries its name
signed and bound to this client (apps.core.uploads), so an import can only store what was previewed here.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import secrets as random_tokens
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.roles import Cap
from apps.core.permissions import capability_required
from apps.core.uploads import pending_upload, pending_upload_token
from apps.finops.uploads import SizeLimitHandler, announced_too_big
from apps.inventory.models import Asset, AssetKind, Department

from .charts import drivers_rows, money_text, per_unit_text, series_rows, trend_figure
from .forms import BusinessUnitForm, CountsUploadForm
from .models import BusinessUnit
from .selectors import (
    BASIS_LABELS,
    DRIVER_DIMENSIONS,
    MAX_RANGE_DAYS,
    counts_list,
    default_driver_dimension,
    model_choices,
    month_start,
    next_month,
    previous_month,
    scope_from_params,
    scope_label,
    unit_cost_drivers,
    unit_cost_series,
    unit_get,
    unit_scope,
    unit_scope_label,
    units_list,
    units_overview,
    utc_today,
)
from .services import CsvError, business_unit_delete, business_unit_save, unit_counts_csv_ingest

DAILY_UP_TO_DAYS = 93  # longer ranges default to months
COUNTS_PER_PAGE = 100
UPLOAD_DIR = "unit-economics-uploads"
SIGNING_SALT = "keel.unit_economics.upload"
UPLOAD_MAX_AGE = 24 * 3600
UPLOAD_MAX_BYTES = 20 * 1024 * 1024
ERRORS_SHOWN = 200


def _unit_or_404(code: str) -> BusinessUnit:
    try:
        return unit_get(code)
    except BusinessUnit.DoesNotExist as exc:
        raise Http404("No such business unit.") from exc


def _can_edit(request) -> bool:
    return request.access.can(Cap.EDIT)


def _last_complete_month(today: dt.date) -> dt.date:
    """The latest month whose last day is over (bills come a day late, so yesterday's month if it ended)."""
    yesterday = today - dt.timedelta(days=1)
    return (
        month_start(yesterday)
        if next_month(yesterday) == yesterday + dt.timedelta(days=1)
        else previous_month(month_start(today))
    )


# --- the list -------------------------------------------------------------------------------------------------


@require_GET
@capability_required(Cap.VIEW)
def index(request):
    today = utc_today()
    month = _last_complete_month(today)
    overview = units_overview(units_list(), month)
    return render(
        request,
        "unit_economics/index.html",
        {
            "overview": overview,
            "month": month,
            "previous": previous_month(month),
            "can_edit": _can_edit(request),
            "api_url": reverse("unit-metrics").rstrip("/") + "/",
        },
    )


# --- one unit ------------------------------------------------------------------------------------------------


def _date(params, name: str, default: dt.date, errors: list[str]) -> dt.date:
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors.append(f"{raw!r} is not a date (YYYY-MM-DD); {default:%-d %b %Y} is used.")
        return default


def _month_param(raw: str, default: dt.date, errors: list[str]) -> dt.date:
    raw = (raw or "").strip()
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(f"{raw}-01" if len(raw) == 7 else raw).replace(day=1)
    except ValueError:
        errors.append(f"{raw!r} is not a month (YYYY-MM); {default:%B %Y} is shown.")
        return default


def _page_query(request, unit: BusinessUnit) -> dict:
    """Read the page's query string; mistakes fall back to defaults, with a message for the page."""
    params, errors = request.GET, []
    today = utc_today()
    # Twelve whole months, ending with the last one that is over: a month just begun would end the line on a
    # day or two of data.
    last_month = _last_complete_month(today)
    default_last = next_month(last_month) - dt.timedelta(days=1)
    default_first = last_month
    for _ in range(11):
        default_first = previous_month(default_first)
    last = _date(params, "to", default_last, errors)
    first = _date(params, "from", default_first, errors)
    if last < first:
        first, last = last, first
        errors.append("The period ended before it started; the dates were swapped.")
    if (last - first).days >= MAX_RANGE_DAYS:
        first = last - dt.timedelta(days=MAX_RANGE_DAYS - 1)
        errors.append(f"At most {MAX_RANGE_DAYS:,} days at a time; the period was shortened.")
    granularity = params.get("granularity") or ("day" if (last - first).days < DAILY_UP_TO_DAYS else "month")
    if granularity not in ("day", "month"):
        errors.append("Granularity is day or month; months are shown.")
        granularity = "month"
    choice = scope_from_params(params, unit)
    errors += choice.errors
    scope = choice.scope
    drivers_default = _last_complete_month(last + dt.timedelta(days=1))
    if drivers_default < month_start(first):
        drivers_default = month_start(last)
    month = _month_param(params.get("month", ""), drivers_default, errors)
    by = params.get("by") or default_driver_dimension(scope)
    if by not in DRIVER_DIMENSIONS:
        errors.append(f"Unknown contributor dimension {by!r}; services are shown.")
        by = "service"
    currency = (params.get("currency") or "").strip().upper()[:3] or None
    return {
        "first": first,
        "last": last,
        "granularity": granularity,
        "scope": scope,
        "is_default_scope": choice.is_default,
        "month": month,
        "by": by,
        "currency": currency,
        "errors": errors,
    }


def _querystring(query: dict, **override) -> str:
    scope = query["scope"]
    values = {
        "from": query["first"].isoformat(),
        "to": query["last"].isoformat(),
        "granularity": query["granularity"],
        "scope": "" if query["is_default_scope"] else (scope.token() or "default"),
        "ai": "" if query["is_default_scope"] else ("yes" if scope.ai_only else "no"),
        "currency": query["currency"] or "",
        "month": f"{query['month']:%Y-%m}",
        "by": query["by"],
    }
    values.update(override)
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def _scope_options(unit: BusinessUnit, since: dt.date) -> dict:
    """The scope picker: the unit's own scope, the whole client, then departments, AI assets and models."""
    departments = [
        (f"department:{pk}", name) for pk, name in Department.objects.order_by("name").values_list("pk", "name")
    ]
    assets = [
        (f"asset:{a.pk}", f"{a.name} ({a.get_kind_display().lower()})")
        for a in Asset.objects.order_by("name").only("pk", "name", "kind")
        if a.kind in (AssetKind.AGENT, AssetKind.MODEL, AssetKind.ENDPOINT, AssetKind.PIPELINE)
    ]
    models = [(f"model:{m}", m) for m in model_choices(since=since)]
    groups = [
        (label, values) for label, values in (("Department", departments), ("AI asset", assets), ("Model", models))
    ]
    return {"groups": [g for g in groups if g[1]], "default_label": _inline(unit_scope_label(unit))}


def _series_csv(unit: BusinessUnit, series, rows) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["period", "first_day", "last_day", unit.plural, "cost", "currency", "cost_per_unit", "days_with_counts"]
    )
    for r in rows:
        writer.writerow(
            [
                r.period.isoformat() if series.granularity == "day" else f"{r.period:%Y-%m}",
                r.first_day.isoformat(),
                r.last_day.isoformat(),
                "" if r.units is None else r.units,
                r.cost,
                series.currency,
                "" if r.cost_per_unit is None else r.cost_per_unit,
                r.days_with_counts,
            ]
        )
    writer.writerow(
        [
            "total",
            series.start.isoformat(),
            (series.end - dt.timedelta(days=1)).isoformat(),
            "" if series.units is None else series.units,
            series.cost,
            series.currency,
            "" if series.cost_per_unit is None else series.cost_per_unit,
            sum(r.days_with_counts for r in rows),
        ]
    )
    name = f"keel-unit-cost-{unit.code}-{series.granularity}-{series.start}-{series.end - dt.timedelta(days=1)}.csv"
    return _csv_response(out.getvalue(), name)


def _drivers_csv(unit: BusinessUnit, drivers) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    before, after = f"{drivers.previous_month:%Y-%m}", f"{drivers.month:%Y-%m}"
    writer.writerow(
        [
            "line",
            DRIVER_DIMENSIONS[drivers.by][0].lower(),
            f"cost_{before}",
            f"cost_{after}",
            "change",
            f"per_unit_{before}",
            f"per_unit_{after}",
            "per_unit_change",
            "currency",
        ]
    )
    for c in drivers.contributors:
        writer.writerow(
            [
                "all other" if c.other else "contributor",
                c.label,
                c.previous_cost,
                c.current_cost,
                c.change,
                _blank(c.previous_per_unit),
                _blank(c.current_per_unit),
                _blank(c.per_unit_change),
                drivers.currency,
            ]
        )
    writer.writerow(
        [
            "total",
            "",
            drivers.previous.cost,
            drivers.current.cost,
            drivers.cost_change,
            _blank(drivers.previous.cost_per_unit),
            _blank(drivers.current.cost_per_unit),
            _blank(drivers.per_unit_change),
            drivers.currency,
        ]
    )
    writer.writerow(
        [
            "units",
            "",
            _blank(drivers.previous.units),
            _blank(drivers.current.units),
            _blank(drivers.volume_change),
            "",
            "",
            "",
            "",
        ]
    )
    writer.writerow(["volume_effect", "", "", "", _blank(drivers.volume_effect), "", "", "", drivers.currency])
    writer.writerow(["unit_cost_effect", "", "", "", _blank(drivers.unit_cost_effect), "", "", "", drivers.currency])
    return _csv_response(out.getvalue(), f"keel-unit-cost-drivers-{unit.code}-{after}-by-{drivers.by}.csv")


def _blank(value) -> str:
    return "" if value is None else str(value)


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _drivers_sentences(drivers, unit: BusinessUnit) -> list[str]:
    """The month's story in words, from the same figures as the table."""
    label, plural, currency = unit.unit_label, unit.plural, drivers.currency
    before, after = drivers.previous, drivers.current
    names = f"{drivers.previous_month:%B}", f"{drivers.month:%B %Y}"
    if after.cost_per_unit is None or before.cost_per_unit is None:
        missing = names[1] if after.cost_per_unit is None else names[0]
        return [f"No cost per {label} for {missing}: no {plural} were reported, so there is nothing to compare."]
    change = drivers.per_unit_change
    direction = "rose" if change > 0 else "fell" if change < 0 else "stayed"
    percent = drivers.per_unit_change_percent
    first = (
        f"From {names[0]} to {names[1]} the cost per {label} {direction} from {per_unit_text(before.cost_per_unit)} "
        f"to {per_unit_text(after.cost_per_unit)} {currency}"
        + (f" ({'+' if percent > 0 else '−'}{abs(percent)} %)." if percent else ".")
    )
    volume = drivers.volume_change
    effect, rate = drivers.volume_effect, drivers.unit_cost_effect
    moved = "more" if volume > 0 else "fewer"
    second = (
        f"Spend went from {money_text(before.cost)} to {money_text(after.cost)} {currency} "
        f"({'+' if drivers.cost_change >= 0 else '−'}{money_text(abs(drivers.cost_change))}): "
    )
    if volume:
        second += (
            f"{abs(volume):,} {moved} {plural} account for {'+' if effect >= 0 else '−'}{money_text(abs(effect))} "
            f"at {names[0]}’s cost per {label}, "
        )
    else:
        second += "the volume did not change, so "
    second += (
        f"and the {'higher' if rate > 0 else 'lower'} cost per {label} for "
        f"{'+' if rate >= 0 else '−'}{money_text(abs(rate))}."
        if rate
        else f"and the cost per {label} itself did not move it."
    )
    return [first, second]


@require_GET
@capability_required(Cap.VIEW)
def unit_detail(request, code: str):
    unit = _unit_or_404(code)
    query = _page_query(request, unit)
    scope = query["scope"]
    end = query["last"] + dt.timedelta(days=1)
    series = unit_cost_series(
        unit,
        start=query["first"],
        end=end,
        granularity=query["granularity"],
        scope=scope,
        currency=query["currency"],
    )
    rows = series_rows(series)
    if request.GET.get("format") == "csv" and request.GET.get("table", "series") == "series":
        return _series_csv(unit, series, rows)
    drivers = unit_cost_drivers(unit, query["month"], scope=scope, by=query["by"], currency=series.currency or None)
    if request.GET.get("format") == "csv":
        return _drivers_csv(unit, drivers)
    month_options = []
    cursor = month_start(query["first"])
    while cursor <= query["last"]:
        month_options.append(cursor)
        cursor = next_month(cursor)
    if drivers.month not in month_options:
        month_options.append(drivers.month)
    context = {
        "unit": unit,
        "query": query,
        "series": series,
        "rows": rows,
        "figure": trend_figure(series, rows) if series.has_costs or series.units else None,
        "drivers": drivers,
        "driver_rows": drivers_rows(drivers, dimension_filter=drivers.by),
        "driver_sentences": _drivers_sentences(drivers, unit),
        "driver_dimensions": [(name, label) for name, (label, _c) in DRIVER_DIMENSIONS.items()],
        "driver_label": DRIVER_DIMENSIONS[drivers.by][0],
        "month_options": sorted(month_options, reverse=True),
        "scope_text": scope_label(scope),
        "scope_inline": _inline(scope_label(scope)),
        "basis_text": BASIS_LABELS[series.volume_basis],
        "options": _scope_options(unit, query["first"]),
        "selected_scope": "default" if query["is_default_scope"] else (scope.token() or "default"),
        "series_csv": "?" + _querystring(query, format="csv", table="series"),
        "drivers_csv": "?" + _querystring(query, format="csv", table="drivers"),
        "querystring": _querystring(query),
        "month_hidden": [(k, v) for k, v in parse_qsl(_querystring(query)) if k != "month"],
        "by_links": [
            (name, label, "?" + _querystring(query, by=name) + "#drivers")
            for name, (label, _c) in DRIVER_DIMENSIONS.items()
        ],
        "all_rows_url": rows and _range_rows_url(series, query),
        "can_edit": _can_edit(request),
        "own_scope": unit_scope(unit),
    }
    return render(request, "unit_economics/detail.html", context)


def _inline(text: str) -> str:
    """ "All spend of X" → "all spend of X", for the middle of a sentence (names keep their capitals)."""
    return text if text.startswith("AI ") else text[:1].lower() + text[1:]


def _range_rows_url(series, query) -> str:
    from apps.finops.drilldown import ledger_rows_url

    filters = series.scope.ledger_filters()
    if series.currency:
        filters["currency"] = series.currency
    return ledger_rows_url(first_day=query["first"], last_day=query["last"], **filters)


@require_GET
@capability_required(Cap.VIEW)
def unit_counts(request, code: str):
    unit = _unit_or_404(code)
    page = Paginator(counts_list(unit), COUNTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "unit_economics/counts.html", {"unit": unit, "page": page, "can_edit": _can_edit(request)})


# --- the form ----------------------------------------------------------------------------------------------


def _form_page(request, form, unit: BusinessUnit | None, status: int = 200):
    since = utc_today() - dt.timedelta(days=366)
    return render(
        request,
        "unit_economics/form.html",
        {"form": form, "unit": unit, "models": model_choices(since=since)},
        status=status,
    )


def _save(request, form, unit: BusinessUnit | None):
    if not form.is_valid():
        return _form_page(request, form, unit, status=400)
    try:
        saved = business_unit_save(unit=unit, **form.unit_fields())
    except ValidationError as exc:
        for name, problems in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, problems)
        return _form_page(request, form, unit, status=400)
    messages.success(request, f"Saved “{saved.name}”.")
    return redirect("unit_economics:unit", code=saved.code)


@require_http_methods(["GET", "POST"])
@capability_required(Cap.EDIT)
def unit_new(request):
    if request.method == "POST":
        return _save(request, BusinessUnitForm(request.POST), None)
    return _form_page(request, BusinessUnitForm(), None)


@require_http_methods(["GET", "POST"])
@capability_required(Cap.EDIT)
def unit_edit(request, code: str):
    unit = _unit_or_404(code)
    if request.method == "POST":
        return _save(request, BusinessUnitForm(request.POST, unit=unit), unit)
    return _form_page(request, BusinessUnitForm(unit=unit), unit)


@require_http_methods(["GET", "POST"])
@capability_required(Cap.EDIT)
def unit_delete(request, code: str):
    unit = _unit_or_404(code)
    if request.method == "POST":
        name = unit.name
        business_unit_delete(unit=unit)
        messages.success(request, f"Deleted “{name}” and its counts.")
        return redirect("unit_economics:index")
    count_rows = unit.counts.count()
    return render(request, "unit_economics/delete.html", {"unit": unit, "count_rows": count_rows})


# --- CSV upload --------------------------------------------------------------------------------------------


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:,.0f} MB"


def _upload_page(request, form, *, refused: str = "", status: int = 200):
    return render(request, "unit_economics/upload.html", {"form": form, "refused": refused}, status=status)


def _too_big() -> str:
    return f"The file is larger than {_mb(UPLOAD_MAX_BYTES)}, the most Keel takes in one upload: split it by month."


@capability_required(Cap.EDIT)
@csrf_exempt  # the CSRF check runs in upload_receive, after the size checks: it would read the body first
def upload(request):
    max_mb = UPLOAD_MAX_BYTES // 1024 // 1024
    if request.method == "POST":
        if announced_too_big(request, UPLOAD_MAX_BYTES):
            return _upload_page(request, CountsUploadForm(max_mb=max_mb), refused=_too_big(), status=413)
        handler = SizeLimitHandler(request, UPLOAD_MAX_BYTES)
        request.upload_handlers.insert(0, handler)
        return _upload_receive(request, handler)
    initial = {"unit": request.GET.get("unit")} if request.GET.get("unit") else None
    return _upload_page(request, CountsUploadForm(max_mb=max_mb, initial=initial))


@csrf_protect
def _upload_receive(request, handler: SizeLimitHandler):
    max_mb = UPLOAD_MAX_BYTES // 1024 // 1024
    form = CountsUploadForm(request.POST, request.FILES, max_mb=max_mb)
    if handler.exceeded:
        return _upload_page(request, CountsUploadForm(max_mb=max_mb), refused=_too_big(), status=413)
    if not form.is_valid():
        return _upload_page(request, form, status=400)
    upload_file = form.cleaned_data["file"]
    if upload_file.size > UPLOAD_MAX_BYTES:
        return _upload_page(request, CountsUploadForm(max_mb=max_mb), refused=_too_big(), status=413)
    filename = Path(upload_file.name or "counts.csv").name[:200]
    name = default_storage.save(f"{UPLOAD_DIR}/{random_tokens.token_hex(16)}.csv", upload_file)
    token = pending_upload_token(name=name, filename=filename, salt=SIGNING_SALT)
    unit = form.cleaned_data.get("unit")
    params = {"upload": token, **({"unit": unit.code} if unit else {})}
    return redirect(f"{reverse('unit_economics:upload_preview')}?{urlencode(params)}")


def _pending(token: str) -> dict | None:
    return pending_upload(token, salt=SIGNING_SALT, folder=UPLOAD_DIR, max_age=UPLOAD_MAX_AGE)


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as stored:
        return stored.read()


def _discard(name: str) -> None:
    with contextlib.suppress(OSError):
        default_storage.delete(name)


def _expired(request):
    messages.error(request, "That upload has expired or was already imported. Upload the file again.")
    return redirect("unit_economics:upload")


def _default_unit(request) -> BusinessUnit | None:
    code = (request.GET.get("unit") or request.POST.get("unit") or "").strip()
    return BusinessUnit.objects.filter(code=code).first() if code else None


@require_GET
@capability_required(Cap.EDIT)
def upload_preview(request):
    """What the file would store, from the same validation the import runs. Nothing is written."""
    token = request.GET.get("upload", "")
    payload = _pending(token)
    if payload is None:
        return _expired(request)
    default_unit = _default_unit(request)
    context = {"filename": payload.get("filename", ""), "token": token, "default_unit": default_unit}
    try:
        result, parsed = unit_counts_csv_ingest(
            _read(payload["name"]), default_unit=default_unit.code if default_unit else "", dry_run=True
        )
    except CsvError as exc:
        _discard(payload["name"])
        context["error"] = str(exc)
        return render(request, "unit_economics/upload_preview.html", context)
    context.update(
        result=result,
        parsed=parsed,
        errors_shown=result.errors[:ERRORS_SHOWN],
        errors_hidden=result.rejected and (len(result.errors) + result.errors_omitted - ERRORS_SHOWN),
        units=_unit_summaries(result),
    )
    return render(request, "unit_economics/upload_preview.html", context)


def _unit_summaries(result) -> list[dict]:
    names = dict(BusinessUnit.objects.filter(code__in=list(result.units)).values_list("code", "name"))
    return [{"code": code, "name": names.get(code, code), **summary} for code, summary in sorted(result.units.items())]


@require_POST
@capability_required(Cap.EDIT)
def upload_commit(request):
    payload = _pending(request.POST.get("upload", ""))
    if payload is None:
        return _expired(request)
    default_unit = _default_unit(request)
    try:
        result, _parsed = unit_counts_csv_ingest(
            _read(payload["name"]), default_unit=default_unit.code if default_unit else ""
        )
    except CsvError as exc:
        _discard(payload["name"])
        messages.error(request, str(exc))
        return redirect("unit_economics:upload")
    _discard(payload["name"])
    filename = payload.get("filename", "the file")
    skipped = f" {result.rejected:,} rows with errors were skipped." if result.rejected else ""
    messages.success(
        request,
        f"Imported {filename}: {result.created:,} new counts, {result.updated:,} replaced, "
        f"{result.unchanged:,} unchanged.{skipped}",
    )
    if len(result.units) == 1:
        return redirect("unit_economics:unit", code=next(iter(result.units)))
    return redirect("unit_economics:index")
