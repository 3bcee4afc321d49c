"""Shadow AI portal: the review queue (open items by monthly spend, totals at the top), decided and vanished items,
one item with its evidence and the three decisions, the register form, settings and a CSV of the queue.
Everyone with the view capability reads; the edit capability decides."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.core.forms import apply_validation_error
from apps.core.permissions import capability_required
from apps.inventory.forms import asset_form_class
from apps.inventory.models import AssetKind
from apps.inventory.services import owner_choices

from . import selectors, services
from .forms import DismissForm, MapForm, RuleChoiceForm, SettingsForm
from .known import SUGGESTABLE_KINDS
from .models import IdentityKind, Origin, ShadowItem, Status
from .suggest import item_prefill

ITEMS_PER_PAGE = 50
STATUS_CHIPS = {
    Status.OPEN: "sev-medium",
    Status.REGISTERED: "chip-ok",
    Status.MAPPED: "chip-ok",
    Status.DISMISSED: "chip-muted",
    Status.GONE: "chip-muted",
}
TABS = {"open": "To review", "decided": "Decided", "gone": "No longer seen"}


def _item_or_404(pk: int) -> ShadowItem:
    try:
        return selectors.item_get(pk=pk)
    except ShadowItem.DoesNotExist as exc:
        raise Http404("No such shadow AI item in this client.") from exc


def rows_url(item: ShadowItem) -> str:
    """The ledger rows behind the item (the ledger page's closest filters), or "" while that page is missing."""
    from apps.finops.drilldown import ledger_rows_url

    first, last = selectors.window_days(item)
    try:
        return ledger_rows_url(first_day=first, last_day=last, **(item.ledger_filters or {}))
    except (NoReverseMatch, ValueError):
        return ""


def _decorate(item: ShadowItem) -> ShadowItem:
    item.status_chip = STATUS_CHIPS.get(item.status, "chip-muted")
    return item


def _list_params(request, default_status: str) -> dict:
    status = request.GET.get("status", default_status)
    return {
        "status": status if status in selectors.STATUS_FILTERS else default_status,
        "kind": request.GET.get("kind", "") if request.GET.get("kind", "") in IdentityKind.values else "",
        "origin": request.GET.get("origin", "") if request.GET.get("origin", "") in Origin.values else "",
        "query": request.GET.get("q", "").strip()[:200],
    }


def _render_list(request, *, default_status: str):
    params = _list_params(request, default_status)
    page = Paginator(selectors.items_list(**params), ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    items = [_decorate(item) for item in page.object_list]
    query = {
        k: v
        for k, v in {
            "status": params["status"],
            "kind": params["kind"],
            "origin": params["origin"],
            "q": params["query"],
        }.items()
        if v
    }
    context = {
        "items": items,
        "page": page,
        "params": params,
        "tabs": TABS,
        "filter_query": urlencode(query),
        "filtered": bool(params["kind"] or params["origin"] or params["query"]),
        "kinds": IdentityKind.choices,
        "origins": Origin.choices,
        "totals": selectors.queue_totals(),
        "counts": selectors.status_counts(),
        "scan": selectors.last_scan(),
        "settings": services.shadow_settings(),
        "can_edit": request.access.can(Cap.EDIT),
        "is_history": params["status"] != "open",
    }
    return render(request, "shadow_ai/queue.html", context)


@capability_required(Cap.VIEW)
def queue(request):
    return _render_list(request, default_status="open")


@capability_required(Cap.VIEW)
def history(request):
    return _render_list(request, default_status="decided")


@capability_required(Cap.VIEW)
def queue_csv(request):
    params = _list_params(request, "open")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="shadow-ai-{params["status"]}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "id",
            "status",
            "origin",
            "identity_kind",
            "identity",
            "label",
            "provider",
            "service",
            "models",
            "cost_30d",
            "cost_month",
            "currency",
            "rows_or_events",
            "first_seen",
            "last_seen",
            "suggested_kind",
            "department_guess",
            "asset",
            "decided_by",
            "decided_at",
            "dismiss_reason",
        ]
    )
    for item in selectors.items_list(**params).iterator(chunk_size=500):
        writer.writerow(
            [
                item.pk,
                item.status,
                item.origin,
                item.identity_kind,
                item.identity_value,
                item.label,
                item.provider,
                item.service,
                " ".join(item.models_seen),
                item.cost_30d,
                item.cost_month,
                item.currency,
                item.row_count,
                item.first_seen_at.isoformat(),
                item.last_seen_at.isoformat(),
                item.suggested_kind,
                item.department.name if item.department else "",
                item.asset.name if item.asset else "",
                item.decided_by,
                item.decided_at.isoformat() if item.decided_at else "",
                item.dismiss_reason,
            ]
        )
    return response


def _detail_context(request, item: ShadowItem, *, map_form=None, dismiss_form=None) -> dict:
    item = _decorate(item)
    can_edit = request.access.can(Cap.EDIT)
    similar = selectors.similar_assets(item)
    context = {
        "item": item,
        "rows_url": rows_url(item),
        "window": selectors.window_days(item),
        "current_rules": selectors.current_rules(item),
        "similar": similar,
        "history": selectors.decision_history(item) if request.access.can(Cap.VIEW_AUDIT) else None,
        "can_edit": can_edit,
        "register_kinds": [(k, AssetKind(k).label) for k in SUGGESTABLE_KINDS],
        "tag_rows": _tag_rows(item),
    }
    if can_edit:
        context["map_form"] = map_form or MapForm(item=item, initial=_map_initial(similar))
        context["dismiss_form"] = dismiss_form or DismissForm()
    return context


@capability_required(Cap.VIEW)
def item_detail(request, pk):
    return render(request, "shadow_ai/detail.html", _detail_context(request, _item_or_404(pk)))


USAGE_FIELD_LABELS = {"api_key": "API keys reported", "agent": "Agents reported", "department": "Departments reported"}


def _tag_rows(item: ShadowItem) -> list[tuple[str, str, list[str]]]:
    """(label, tag key or "", values) rows of the evidence: usage events report fields, bills carry tags."""
    if item.origin == "usage":
        return [(USAGE_FIELD_LABELS.get(key, key), "", values) for key, values in item.tags.items()]
    return [("Tag", key, values) for key, values in item.tags.items()]


def _map_initial(similar) -> dict:
    return {"asset": similar[0].pk} if similar else {}


@capability_required(Cap.EDIT)
def item_register(request, pk):
    item = _item_or_404(pk)
    if item.status in (Status.REGISTERED, Status.MAPPED):
        messages.info(request, f"This item is already {item.get_status_display().lower()}.")
        return redirect("shadow_ai:detail", pk=item.pk)
    kind = request.GET.get("kind") or request.POST.get("kind") or item.suggested_kind
    if kind not in SUGGESTABLE_KINDS:
        kind = item.suggested_kind if item.suggested_kind in SUGGESTABLE_KINDS else "model"
    form_class = asset_form_class(kind)
    initial = item_prefill(item, kind)
    form = form_class(request.POST or None, initial=initial, owners=owner_choices())
    rule_form = RuleChoiceForm(request.POST or None, item=item, prefix="rule")
    if request.method == "POST" and form.is_valid() and rule_form.is_valid():
        try:
            services.item_register(
                item=item, kind=kind, fields=form.service_fields(), match=rule_form.cleaned_data.get("match") or None
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request,
                f"{item.asset.name} registered, and rule “{item.rule.name}” routes this spend to it. History is "
                "being re-allocated in the background.",
            )
            return redirect("shadow_ai:detail", pk=item.pk)
    context = {
        "item": item,
        "form": form,
        "rule_form": rule_form,
        "kind": kind,
        "kind_label": AssetKind(kind).label,
        "register_kinds": [(k, AssetKind(k).label) for k in SUGGESTABLE_KINDS],
    }
    return render(request, "shadow_ai/register.html", context)


def _detail_with_errors(request, item, *, map_form=None, dismiss_form=None):
    context = _detail_context(request, item, map_form=map_form, dismiss_form=dismiss_form)
    return render(request, "shadow_ai/detail.html", context)  # the page again, with the form's errors


@require_POST
@capability_required(Cap.EDIT)
def item_map(request, pk):
    item = _item_or_404(pk)
    form = MapForm(request.POST, item=item)
    if form.is_valid():
        try:
            services.item_map(item=item, asset=form.cleaned_data["asset"], match=form.cleaned_data.get("match") or None)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request,
                f"Mapped to {item.asset.name}: rule “{item.rule.name}” routes this spend to it. History is being "
                "re-allocated in the background.",
            )
            return redirect("shadow_ai:detail", pk=item.pk)
    return _detail_with_errors(request, _item_or_404(pk), map_form=form)


@require_POST
@capability_required(Cap.EDIT)
def item_dismiss(request, pk):
    item = _item_or_404(pk)
    form = DismissForm(request.POST)
    if form.is_valid():
        try:
            services.item_dismiss(item=item, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"“{item.label}” dismissed. It stays in the history with your reason.")
            return redirect("shadow_ai:queue")
    return _detail_with_errors(request, _item_or_404(pk), dismiss_form=form)


@require_POST
@capability_required(Cap.EDIT)
def item_reopen(request, pk):
    item = _item_or_404(pk)
    try:
        services.item_reopen(item=item)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"“{item.label}” is back in the review queue.")
    return redirect("shadow_ai:detail", pk=item.pk)


@require_POST
@capability_required(Cap.EDIT)
def scan_now(request):
    scan = services.shadow_scan(trigger="manual")
    messages.success(
        request,
        f"Scanned {scan.window_start:%-d %b} – {scan.window_end:%-d %b %Y}: {scan.found} identities with "
        f"unregistered AI spend, {scan.created} new.",
    )
    return redirect("shadow_ai:queue")


@capability_required(Cap.VIEW)
def review_settings(request):
    current = services.shadow_settings()
    can_edit = request.access.can(Cap.EDIT)
    form = SettingsForm(request.POST if can_edit and request.method == "POST" else None, instance=current)
    if can_edit and request.method == "POST" and form.is_valid():
        try:
            services.shadow_settings_save(**{name: form.cleaned_data[name] for name in services.SETTINGS_FIELDS})
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "Shadow AI settings saved; the next scan uses them.")
            return redirect("shadow_ai:queue")
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    return render(request, "shadow_ai/settings.html", {"form": form, "can_edit": can_edit})
