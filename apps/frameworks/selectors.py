"""Reads of the framework library (public schema). Other apps call these; keep the names.

The tables exist only in the public schema, which is on every client's search path, so these work from a
client's schema too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from .models import Framework, FrameworkVersion, Requirement

# The same relation read from the other side (NIST OLIR): if A is a subset of B, B is a superset of A.
INVERSE_RELATION = {"equal": "equal", "subset": "superset", "superset": "subset", "intersect": "intersect"}


def frameworks_list() -> QuerySet[Framework]:
    """Every framework that has a current version, with it, by short name."""
    return Framework.objects.filter(current__isnull=False).select_related("current").order_by("short_name")


def framework_by_ref(ref: str) -> Framework | None:
    return frameworks_list().filter(ref=ref).first()


def current_versions() -> QuerySet[FrameworkVersion]:
    """The current version of each framework, with its framework."""
    return (
        FrameworkVersion.objects.filter(pk__in=Framework.objects.values("current_id"))
        .select_related("framework")
        .order_by("framework__short_name")
    )


def framework_versions(framework: Framework) -> QuerySet[FrameworkVersion]:
    """All loaded versions of a framework, newest first."""
    return framework.versions.select_related("framework").order_by("-version")


def requirement_tree(version: FrameworkVersion, *, only: Iterable[int] | None = None) -> list[Requirement]:
    """The version's nodes as a tree: the top-level nodes, each with `.children` (a list, in file order).

    With `only` (requirement ids), just those nodes and their ancestors, so a filtered tree stays navigable;
    each node then also has `.matched` (it is in `only` itself). One query.
    """
    nodes = list(version.requirements.order_by("position"))
    by_urn = {node.urn: node for node in nodes}
    keep = None
    if only is not None:
        wanted = set(only)
        keep = set()
        for node in nodes:
            if node.pk in wanted:
                cursor = node
                while cursor is not None and cursor.urn not in keep:
                    keep.add(cursor.urn)
                    cursor = by_urn.get(cursor.parent_urn)
    roots = []
    for node in nodes:
        node.children = []
        node.matched = keep is None or node.pk in (set(only) if only is not None else ())
    for node in nodes:
        if keep is not None and node.urn not in keep:
            continue
        parent = by_urn.get(node.parent_urn)
        (parent.children if parent is not None else roots).append(node)
    return roots


def _hint_q(field: str, values: Iterable[str] | None) -> Q:
    """A node applies when its hint list is empty (all) or shares a value with `values`; None: no filter."""
    if values is None:
        return Q()
    values = [v for v in values if v]
    return Q(**{field: []}) | Q(**{f"{field}__has_any_keys": values}) if values else Q(**{field: []})


def applicable_requirements(
    version: FrameworkVersion,
    *,
    roles: Iterable[str] | None = None,
    risk_tiers: Iterable[str] | None = None,
    asset_types: Iterable[str] | None = None,
) -> QuerySet[Requirement]:
    """The version's nodes that apply: each hint list a node has must intersect the given values.

    A node with an empty hint list applies to everyone on that axis. None skips an axis; an empty list means "none
    of these" (a client with no assets), so only nodes without that hint apply. Groups are included: filter
    `assessable=True` for what is assessed.
    """
    return (
        version.requirements.filter(
            _hint_q("roles", roles), _hint_q("risk_tiers", risk_tiers), _hint_q("asset_types", asset_types)
        )
        .select_related("version__framework")
        .order_by("position")
    )


def requirements_by_urn(urns: Iterable[str]) -> dict[str, Requirement]:
    """{urn: the node in its framework's current version}, for the URNs that exist there. One query."""
    urns = set(urns)
    if not urns:
        return {}
    rows = Requirement.objects.filter(
        urn__in=urns, version_id__in=Framework.objects.values("current_id")
    ).select_related("version__framework")
    return {row.urn: row for row in rows}


@dataclass(frozen=True)
class CrosswalkLink:
    requirement: Requirement  # the mapped node, in its framework's current version
    relation: str  # read from the asked node's side: "A subset B" seen from B is "superset"
    note: str
    direction: str  # "outgoing": stored on the asked node; "incoming": stored on the other one


def crosswalk_map(urns: Iterable[str]) -> dict[str, list[CrosswalkLink]]:
    """{urn: links} for each asked node, both directions, in current versions only. Three queries at most.

    Mappings are stored on one side only; the incoming ones are found by reading every current node that has
    mappings (a few hundred rows at most).
    """
    urns = set(urns)
    if not urns:
        return {}
    current_ids = Framework.objects.values("current_id")
    mapped = list(
        Requirement.objects.filter(version_id__in=current_ids).exclude(mappings=[]).select_related("version__framework")
    )
    asked = requirements_by_urn(urns - {r.urn for r in mapped}) | {r.urn: r for r in mapped if r.urn in urns}
    targets = {m["target"] for urn in urns if urn in asked for m in asked[urn].mappings}
    resolved = {r.urn: r for r in mapped} | requirements_by_urn(targets - {r.urn for r in mapped})
    links: dict[str, list[CrosswalkLink]] = {urn: [] for urn in urns}
    for urn in urns:
        node = asked.get(urn)
        for mapping in node.mappings if node else []:
            target = resolved.get(mapping["target"])
            if target is not None:
                links[urn].append(CrosswalkLink(target, mapping["relation"], mapping.get("note", ""), "outgoing"))
    for source in mapped:
        for mapping in source.mappings:
            if mapping["target"] in links:
                relation = INVERSE_RELATION.get(mapping["relation"], mapping["relation"])
                links[mapping["target"]].append(CrosswalkLink(source, relation, mapping.get("note", ""), "incoming"))
    for found in links.values():
        found.sort(key=lambda link: (link.requirement.version.framework.short_name, link.requirement.position))
    return links


def crosswalk(urn: str) -> list[CrosswalkLink]:
    """The nodes mapped to `urn` in current versions, whichever side the mapping is stored on."""
    return crosswalk_map([urn])[urn]


@dataclass(frozen=True)
class VersionChanges:
    version: FrameworkVersion
    previous: FrameworkVersion | None
    added: list[Requirement]  # nodes of `version`
    removed: list[Requirement]  # nodes of `previous`
    changed: list[tuple[Requirement, list[str]]]  # nodes of `version`, with the fields that changed

    @property
    def is_first(self) -> bool:
        return self.previous is None


def versions_changes(versions: list[FrameworkVersion]) -> list[VersionChanges]:
    """What each of a framework's versions changed, its nodes resolved: two queries for any number of versions."""
    if not versions:
        return []
    framework_id = versions[0].framework_id
    previous_numbers = {v.changes.get("previous_version") for v in versions} - {None}
    previous = {
        v.version: v for v in FrameworkVersion.objects.filter(framework_id=framework_id, version__in=previous_numbers)
    }
    wanted_ids = {v.pk for v in versions} | {p.pk for p in previous.values()}
    nodes: dict[tuple[int, str], Requirement] = {
        (r.version_id, r.urn): r for r in Requirement.objects.filter(version_id__in=wanted_ids).order_by("position")
    }
    out = []
    for version in versions:
        changes = version.changes or {}
        before = previous.get(changes.get("previous_version"))
        out.append(
            VersionChanges(
                version=version,
                previous=before,
                added=[nodes[(version.pk, u)] for u in changes.get("added", []) if (version.pk, u) in nodes],
                removed=[
                    nodes[(before.pk, u)] for u in changes.get("removed", []) if before and (before.pk, u) in nodes
                ],
                changed=[
                    (nodes[(version.pk, c["urn"])], c["fields"])
                    for c in changes.get("changed", [])
                    if (version.pk, c["urn"]) in nodes
                ],
            )
        )
    return out


def version_changes(version: FrameworkVersion) -> VersionChanges:
    """What `version` changed against the version before it, with the nodes themselves."""
    return versions_changes([version])[0]


def requirements_search(
    version: FrameworkVersion,
    *,
    roles: Iterable[str] | None = None,
    risk_tiers: Iterable[str] | None = None,
    asset_types: Iterable[str] | None = None,
    search: str = "",
) -> QuerySet[Requirement]:
    """applicable_requirements, narrowed to nodes whose ref_id, title, description or typical evidence has `search`."""
    nodes = applicable_requirements(version, roles=roles, risk_tiers=risk_tiers, asset_types=asset_types)
    search = search.strip()
    if search:
        nodes = nodes.filter(
            Q(ref_id__icontains=search)
            | Q(title__icontains=search)
            | Q(description__icontains=search)
            | Q(typical_evidence__icontains=search)
            | Q(urn=search)
        )
    return nodes
