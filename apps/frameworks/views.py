"""Framework library pages for MSP staff (public site, /frameworks/): the list, one framework's requirement tree
with filters and crosswalk links, and its version history. Read-only; loading is `manage.py load_frameworks`."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from apps.accounts.roles import Cap
from apps.core.permissions import capability_required

from .selectors import (
    crosswalk_map,
    framework_by_ref,
    framework_versions,
    frameworks_list,
    requirement_tree,
    requirements_search,
    versions_changes,
)

ASSET_TYPES = ["model", "agent", "prompt", "pipeline", "endpoint", "integration", "dataset"]


def _framework_or_404(ref: str):
    framework = framework_by_ref(ref)
    if framework is None:
        raise Http404("No such framework.")
    return framework


def _facts(value, prefix: str = "") -> list[tuple[str, str]]:
    """A metadata mapping as (label, text) rows: nested mappings become "label: sub-label"."""
    rows = []
    if isinstance(value, dict):
        for key, item in value.items():
            label = f"{prefix}{str(key).replace('_', ' ')}"
            if isinstance(item, dict):
                rows += _facts(item, f"{label} · ")
            elif isinstance(item, list):
                rows.append((label, "; ".join(str(v) if not isinstance(v, dict) else _line(v) for v in item)))
            else:
                rows.append((label, str(item)))
    return rows


def _line(mapping: dict) -> str:
    """A list item of the metadata, its ref_id first ("Art 99(3) · EUR 35m or 7% · Art 5 prohibitions"): the
    database keeps JSON keys in its own order, not the file's."""
    keys = sorted(mapping, key=lambda key: key != "ref_id")
    return " · ".join(str(mapping[key]) for key in keys)


@capability_required(Cap.CONSOLE)
def framework_list(request):
    return render(request, "frameworks/list.html", {"frameworks": list(frameworks_list())})


@capability_required(Cap.CONSOLE)
def framework_detail(request, ref: str):
    framework = _framework_or_404(ref)
    version, problem = framework.current, ""
    asked = request.GET.get("version", "").strip()
    if asked:
        older = framework_versions(framework).filter(version=asked).first() if asked.isdigit() else None
        if older is None:
            problem = f"There is no version “{asked}” of {framework.short_name}; the current version is shown."
        else:
            version = older
    filters = {
        "role": request.GET.get("role", "").strip(),
        "risk_tier": request.GET.get("risk_tier", "").strip(),
        "asset_type": request.GET.get("asset_type", "").strip(),
        "q": request.GET.get("q", "").strip()[:200],
    }
    filtered = any(filters.values())
    only = None
    if filtered:
        matches = requirements_search(
            version,
            roles=[filters["role"]] if filters["role"] else None,
            risk_tiers=[filters["risk_tier"]] if filters["risk_tier"] else None,
            asset_types=[filters["asset_type"]] if filters["asset_type"] else None,
            search=filters["q"],
        )
        only = set(matches.values_list("pk", flat=True))
    tree = requirement_tree(version, only=only)
    nodes = _walk(tree)
    links = crosswalk_map(node.urn for node in nodes)
    for node in nodes:
        node.links = links.get(node.urn, [])
    return render(
        request,
        "frameworks/detail.html",
        {
            "framework": framework,
            "version": version,
            "is_current": version.pk == framework.current_id,
            "tree": tree,
            "filters": filters,
            "filtered": filtered,
            "match_count": len(only) if only is not None else None,
            "assessable_count": version.requirements.filter(assessable=True).count(),
            "roles": version.roles,
            "risk_tiers": version.risk_tiers,
            "asset_types": ASSET_TYPES,
            "metadata_facts": _facts(version.metadata),
            "problem": problem,
        },
    )


def _walk(nodes) -> list:
    out = []
    for node in nodes:
        out.append(node)
        out += _walk(node.children)
    return out


@capability_required(Cap.CONSOLE)
def framework_history(request, ref: str):
    framework = _framework_or_404(ref)
    versions = list(framework_versions(framework))
    return render(
        request,
        "frameworks/history.html",
        {"framework": framework, "history": versions_changes(versions)},
    )
