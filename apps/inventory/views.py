from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts.roles import Cap
from apps.audit.selectors import audit_events_for_object
from apps.core.forms import apply_validation_error
from apps.core.permissions import capability_required

from .forms import AgentToolForm, BulkForm, DepartmentForm, PromptVersionForm, RelationForm, asset_form_class
from .graph import graph_layout
from .guardrails import RULES
from .models import (
    AgentTool,
    Asset,
    AssetKind,
    AssetRelation,
    Department,
    GuardrailFinding,
    Lifecycle,
    Power,
    RelationKind,
    RiskTier,
    Severity,
)
from .selectors import (
    asset_get,
    assets_list,
    departments_list,
    dependency_graph,
    findings_for,
    findings_list,
    relations_of,
)
from .services import (
    AUDIT_OBJECT_TYPE,
    agent_tool_delete,
    agent_tool_save,
    asset_delete,
    asset_save,
    assets_assign_owner,
    assets_retire,
    department_delete,
    department_save,
    owner_choices,
    prompt_version_add,
    relation_delete,
    relation_save,
)

DANGEROUS_POWERS = {Power.MOVE_MONEY, Power.DELETE_DATA, Power.CHANGE_ACCESS, Power.EXECUTE_CODE}
FILTERS = ["kind", "lifecycle", "risk_tier", "department", "owner", "findings", "query"]


def _asset_or_404(pk: int) -> Asset:
    try:
        return asset_get(pk=pk)
    except Asset.DoesNotExist as exc:
        raise Http404("No such asset.") from exc


# --- assets --------------------------------------------------------------------------------------------------


@capability_required(Cap.VIEW)
def asset_list(request):
    filters = {name: request.GET.get(name, "").strip() for name in FILTERS}
    page = Paginator(assets_list(**filters), 50).get_page(request.GET.get("page"))
    open_by_severity = {
        severity: count
        for severity, count in GuardrailFinding.objects.filter(status="open")
        .values_list("severity")
        .annotate(n=Count("pk"))
    }
    context = {
        "page": page,
        "assets": page.object_list,
        "filters": filters,
        "filter_query": "&".join(f"{k}={v}" for k, v in filters.items() if v),
        "filtered": any(filters.values()),
        "kinds": AssetKind.choices,
        "lifecycles": Lifecycle.choices,
        "risk_tiers": RiskTier.choices,
        "severities": Severity.choices,
        "departments": Department.objects.order_by("name"),
        "owners": owner_choices(),
        "open_by_severity": open_by_severity,
        "totals": Asset.objects.exclude(lifecycle=Lifecycle.RETIRED).aggregate(
            in_production=Count("pk", filter=Q(lifecycle=Lifecycle.PRODUCTION)),
            high_risk=Count("pk", filter=Q(risk_tier__in=[RiskTier.HIGH, RiskTier.PROHIBITED])),
            unassessed=Count("pk", filter=Q(risk_tier=RiskTier.UNASSESSED)),
            unowned=Count("pk", filter=Q(owner_email="")),
        ),
        "open_total": sum(open_by_severity.values()),
    }
    return render(request, "inventory/asset_list.html", context)


@require_POST
@capability_required(Cap.EDIT)
def asset_bulk(request):
    form = BulkForm(request.POST)
    back = reverse("inventory:assets") + ("?" + request.POST["back"] if request.POST.get("back") else "")
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(back)
    assets = list(form.cleaned_data["ids"])
    try:
        if form.cleaned_data["action"] == "retire":
            changed = assets_retire(assets=assets)
            messages.success(request, f"{changed} asset(s) retired.")
        else:
            changed = assets_assign_owner(assets=assets, owner_email=form.cleaned_data["owner_email"])
            messages.success(request, f"{changed} asset(s) now owned by {form.cleaned_data['owner_email']}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(back)


@capability_required(Cap.EDIT)
def asset_new(request, kind):
    if kind not in AssetKind.values:
        raise Http404("Unknown asset kind.")
    return _asset_form(request, kind, None)


@capability_required(Cap.EDIT)
def asset_edit(request, pk):
    asset = _asset_or_404(pk)
    return _asset_form(request, asset.kind, asset)


def _asset_form(request, kind, asset):
    form_class = asset_form_class(kind)
    form = form_class(request.POST or None, instance=asset, owners=owner_choices())
    if request.method == "POST" and form.is_valid():
        try:
            saved = asset_save(kind=kind, asset=asset, **form.service_fields())
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            opened = saved.findings.filter(status="open").count()
            note = f" It breaks {opened} guardrail(s): see below." if opened else ""
            messages.success(request, f"{saved.name} saved.{note}")
            return redirect("inventory:asset", pk=saved.pk)
    return render(
        request,
        "inventory/asset_form.html",
        {"form": form, "asset": asset, "kind": kind, "kind_label": AssetKind(kind).label},
    )


@capability_required(Cap.VIEW)
def asset_detail(request, pk):
    asset = _asset_or_404(pk)
    depends_on, used_by = relations_of(asset=asset)
    history = [
        {"event": event, **_describe(event)}
        for event in audit_events_for_object(object_type=AUDIT_OBJECT_TYPE, object_id=asset.pk)[:50]
    ]
    can_edit = request.access.can(Cap.EDIT)
    found = findings_for(asset=asset)
    context = {
        "asset": asset,
        "open_findings": [f for f in found if f.status == GuardrailFinding.Status.OPEN],
        "resolved_findings": [f for f in found if f.status == GuardrailFinding.Status.RESOLVED][:10],
        "power_choices": Power.choices,
        "dangerous_powers": DANGEROUS_POWERS,
        "depends_on": depends_on,
        "used_by": used_by,
        "history": history,
        "graph": graph_layout(dependency_graph(around=asset)),
        "relation_form": RelationForm(source=asset) if can_edit else None,
        "version_form": PromptVersionForm() if can_edit and asset.kind == AssetKind.PROMPT else None,
        "owners": owner_choices(),
        "can_edit": can_edit,
    }
    return render(request, "inventory/asset_detail.html", context)


def _describe(event) -> dict:
    """A person's reading of an audit event on an asset: a one-line summary and, for edits, what changed."""
    before, after = event.before or {}, event.after or {}
    action = event.action.split(".", 1)[-1]
    powers = dict(Power.choices)
    if action in ("tool_add", "tool_update", "tool_remove"):
        tool = after or before
        verbs = {"tool_add": "Tool added", "tool_update": "Tool changed", "tool_remove": "Tool removed"}
        labels = ", ".join(powers.get(p, p).lower() for p in tool.get("powers", []))
        return {"title": verbs[action], "summary": f"{tool.get('name', '')}: {labels}", "changes": []}
    if action in ("add", "remove", "update") and event.action.startswith("relation."):
        link = after or before
        version = f" v{link['prompt_version']}" if link.get("prompt_version") else ""
        kind = dict(RelationKind.choices).get(link.get("kind"), link.get("kind"))
        verbs = {"add": "Link added", "remove": "Link removed", "update": "Link changed"}
        return {"title": verbs[action], "summary": f"{kind} {link.get('target_name', '')}{version}", "changes": []}
    if action == "version_add":
        return {"title": f"Version {after.get('version')}", "summary": after.get("change_note", ""), "changes": []}
    titles = {"create": "Registered", "update": "Changed", "delete": "Removed", "retire": "Retired"}
    titles["assign_owner"] = "Owner assigned"
    changes = [
        (key.replace("_", " "), before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if event.before is not None and before.get(key) != after.get(key)
    ]
    return {"title": titles.get(action, event.action), "summary": "", "changes": changes}


@require_POST
@capability_required(Cap.EDIT)
def asset_remove(request, pk):
    asset = _asset_or_404(pk)
    asset_delete(asset=asset)
    messages.success(request, f"{asset.name} removed from the inventory.")
    return redirect("inventory:assets")


# --- agent tools, prompt versions, relations ------------------------------------------------------------------


@capability_required(Cap.EDIT)
def tool_edit(request, pk, tool_pk=None):
    agent = _asset_or_404(pk)
    if agent.kind != AssetKind.AGENT:
        raise Http404("Only agents have tools.")
    tool = get_object_or_404(AgentTool, pk=tool_pk, agent=agent) if tool_pk else None
    form = AgentToolForm(request.POST or None, instance=tool)
    if request.method == "POST" and form.is_valid():
        try:
            saved = agent_tool_save(agent=agent, tool=tool, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            opened = agent.findings.filter(status="open").count()
            note = f" {agent.name} now breaks {opened} guardrail(s)." if opened else ""
            messages.success(request, f"Tool {saved.name} saved.{note}")
            return redirect("inventory:asset", pk=agent.pk)
    return render(
        request, "inventory/tool_form.html", {"form": form, "agent": agent, "tool": tool, "kind_label": "Tool"}
    )


@require_POST
@capability_required(Cap.EDIT)
def tool_remove(request, pk, tool_pk):
    tool = get_object_or_404(AgentTool, pk=tool_pk, agent_id=pk)
    agent_tool_delete(tool=tool)
    messages.success(request, f"Tool {tool.name} removed.")
    return redirect("inventory:asset", pk=pk)


@require_POST
@capability_required(Cap.EDIT)
def prompt_version_new(request, pk):
    prompt = _asset_or_404(pk)
    if prompt.kind != AssetKind.PROMPT:
        raise Http404("Only prompts have versions.")
    form = PromptVersionForm(request.POST)
    if form.is_valid():
        try:
            version = prompt_version_add(prompt=prompt, author_email=request.user.email, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Version {version.number} of {prompt.name} saved.")
    else:
        messages.error(request, "Write the template and say what changed.")
    return redirect(reverse("inventory:asset", args=[pk]) + "#versions")


@require_POST
@capability_required(Cap.EDIT)
def relation_new(request, pk):
    source = _asset_or_404(pk)
    form = RelationForm(request.POST, source=source)
    if form.is_valid():
        try:
            relation_save(source=source, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{source.name} {form.cleaned_data['target'].name}: link added.")
    else:
        messages.error(request, "Choose the relation and the asset.")
    return redirect(reverse("inventory:asset", args=[pk]) + "#relations")


@require_POST
@capability_required(Cap.EDIT)
def relation_remove(request, pk, relation_pk):
    relation = get_object_or_404(AssetRelation.objects.select_related("source", "target"), pk=relation_pk)
    if pk not in (relation.source_id, relation.target_id):
        raise Http404("No such relation.")
    relation_delete(relation=relation)
    messages.success(request, "Link removed.")
    return redirect(reverse("inventory:asset", args=[pk]) + "#relations")


# --- dependency view, findings -------------------------------------------------------------------------------


@capability_required(Cap.VIEW)
def dependencies(request):
    return render(request, "inventory/dependencies.html", {"graph": graph_layout(dependency_graph())})


@capability_required(Cap.VIEW)
def findings(request):
    status = request.GET.get("status", "open")
    severity = request.GET.get("severity", "")
    page = Paginator(findings_list(status=status if status != "all" else "", severity=severity), 50).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "findings": page.object_list,
        "status": status,
        "severity": severity,
        "severities": Severity.choices,
        "rules": RULES,
        "filter_query": f"status={status}&severity={severity}",
    }
    return render(request, "inventory/findings.html", context)


# --- departments ---------------------------------------------------------------------------------------------


@capability_required(Cap.VIEW)
def department_list(request):
    query = request.GET.get("query", "").strip()
    return render(request, "inventory/departments.html", {"departments": departments_list(query=query), "query": query})


@capability_required(Cap.EDIT)
def department_edit(request, pk=None):
    department = get_object_or_404(Department, pk=pk) if pk else None
    form = DepartmentForm(request.POST or None, instance=department)
    if request.method == "POST" and form.is_valid():
        try:
            saved = department_save(department=department, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Department {saved.name} saved.")
            return redirect("inventory:departments")
    return render(request, "inventory/department_form.html", {"form": form, "department": department})


@require_POST
@capability_required(Cap.EDIT)
def department_remove(request, pk):
    department = get_object_or_404(Department, pk=pk)
    department_delete(department=department)
    messages.success(request, f"Department {department.name} removed.")
    return redirect("inventory:departments")
