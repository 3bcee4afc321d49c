from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from apps.accounts.roles import Cap
from apps.core.forms import apply_validation_error
from apps.core.permissions import capability_required
from apps.tenancy.models import Client

from . import health, report
from .forms import HealthWeightsForm
from .grid import rows_html
from .selectors import DEFAULT_SORT, FIRST_DIRECTION, SORTS, clean_options, console_alert_feed, console_grid
from .services import weights_get, weights_update

# The grid's columns: (sort key or None, label, numeric).
COLUMNS = [
    ("name", "Client", False),
    ("health", "Health", False),
    ("spend", "Spend this month", True),
    (None, "Trend", False),
    ("alerts", "Critical", True),
    ("sla", "SLA", True),
    ("readiness", "Readiness", True),
    ("maturity", "Maturity", True),
    ("freshness", "Billing data", False),
    ("report", "Last report", False),
]


def _query(options: dict, **changes) -> str:
    params = {"q": options["query"], "lifecycle": options["lifecycle"], "band": options["band"]}
    params["sort"] = options["sort"]
    params |= changes
    kept = {k: v for k, v in params.items() if v and not (k == "sort" and v == DEFAULT_SORT)}
    return "?" + urlencode(kept) if kept else "?"


def _columns(options: dict) -> list[dict]:
    """Header cells: a link that sorts by the column (worst first), then reverses it; aria-sort on the active one."""
    current = options["sort"]
    columns = []
    for key, label, numeric in COLUMNS:
        column = {"label": label, "numeric": numeric, "href": "", "aria_sort": "", "arrow": ""}
        if key is not None:
            first = FIRST_DIRECTION.get(key, key)
            active = current.lstrip("-") == key
            target = ("-" + key if not current.startswith("-") else key) if active else first
            column["href"] = _query(options, sort=target)
            if active:
                column["aria_sort"] = "descending" if current.startswith("-") else "ascending"
                column["arrow"] = "▼" if current.startswith("-") else "▲"
            column["title"] = f"Sort by {SORTS[key].lower()}"
        columns.append(column)
    return columns


@capability_required(Cap.CONSOLE)
def console(request):
    target = request.GET.get("client", "")
    if target.startswith("/c/") and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return redirect(target)  # the client switcher without JavaScript
    options = clean_options(request.GET)
    grid = console_grid(user=request.user, **options)
    bands = [
        {"key": key, "label": label, "count": grid.counts[key], "css": css, "href": _query(options, band=key)}
        for _, key, label, css in health.BANDS
    ] + [
        {
            "key": health.UNMEASURED[0],
            "label": health.UNMEASURED[1],
            "count": grid.counts[health.UNMEASURED[0]],
            "css": health.UNMEASURED[2],
            "href": _query(options, band=health.UNMEASURED[0]),
        }
    ]
    return render(
        request,
        "portfolio/console.html",
        {
            "grid": grid,
            "clients": grid.rows,
            "rows_html": rows_html(grid.rows),
            "columns": _columns(options),
            "bands": bands,
            "options": options,
            "filtered": bool(options["query"] or options["lifecycle"] or options["band"]),
            "all_bands_href": _query(options, band=""),
            "lifecycles": [(v, label) for v, label in Client.Lifecycle.choices if v != Client.Lifecycle.OFFBOARDED],
            "feed": console_alert_feed(user=request.user),
        },
    )


@capability_required(Cap.CONSOLE)
def health_settings(request):
    """The health-score weights and mappings: everyone with the console reads them, MSP admins change them."""
    can_edit = request.access.can(Cap.MANAGE_CLIENTS)
    weights = weights_get()
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        form = HealthWeightsForm(request.POST)
        if form.is_valid():
            try:
                weights_update(values=form.cleaned_data, updated_by=request.user.email)
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Health-score weights saved. Today's scores use them now.")
                return redirect("portfolio:health_settings")
    else:
        form = HealthWeightsForm(initial=weights.as_dict())
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    return render(
        request,
        "portfolio/health_settings.html",
        {
            "form": form,
            "weights": weights,
            "can_edit": can_edit,
            "defaults": health.DEFAULT_WEIGHTS,
            "bands": health.BANDS,
        },
    )


@capability_required(Cap.CONSOLE)
def summary_report(request):
    return HttpResponse(report.summary_html(user=request.user, web=True))


@capability_required(Cap.CONSOLE)
def summary_report_pdf(request):
    response = HttpResponse(report.summary_pdf(user=request.user), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.summary_filename()}"'
    return response
