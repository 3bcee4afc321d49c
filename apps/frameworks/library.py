"""Framework files (format keel-framework/1, docs/framework-format.md): validate, parse and load them.

A file is checked against apps/frameworks/schema.json (JSON Schema 2020-12), then for what a schema cannot say:
duplicate URNs, parents that do not exist, cycles, roles and tiers the framework does not declare, dates that
are not days, mapping targets no framework has. Every problem is reported with its file and path, e.g.
`nis2.yaml: requirements[12].parent: no node 'Art 22'`.

Loading is idempotent (same content: nothing changes). A higher version adds a FrameworkVersion with its own
Requirement rows and becomes current; the versions before it stay, so what clients recorded against them still
reads. An equal version with other content, or a lower one, is refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import rfc8785
from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import schema_context
from jsonschema import Draft202012Validator

from apps.audit.services import audit_record
from apps.core.datafiles import Problem, problem_sort_key, schema_problems
from apps.core.datafiles import read_document as read_core_document

from .models import Framework, FrameworkVersion, Requirement

FORMAT = "keel-framework/1"
HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "data"
SCHEMA_PATH = HERE / "schema.json"
MAX_FILE_BYTES = 5 * 1024 * 1024
# Compared between versions to list a node as changed. Position is not: inserting a node moves every later one.
COMPARED_FIELDS = (
    "ref_id",
    "title",
    "description",
    "parent_urn",
    "assessable",
    "roles",
    "risk_tiers",
    "asset_types",
    "evidence_types",
    "typical_evidence",
    "review_frequency",
    "applies_from",
    "deadline_rules",
    "mappings",
)


# --- results and errors ------------------------------------------------------------------------------------------


class FrameworkLoadError(Exception):
    """A framework file was not loaded; nothing stored changed."""


class FrameworkFileError(FrameworkLoadError):
    """The file is not a valid framework file: `problems` lists every error (and the warnings found with them)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if not p.warning]
        super().__init__("\n".join(str(p) for p in errors) or "invalid framework file")


class FrameworkVersionError(FrameworkLoadError):
    """The file is valid but its version cannot replace the loaded one (equal with other content, or lower)."""


@dataclass
class ParsedNode:
    urn: str
    ref_id: str
    title: str
    description: str
    parent_urn: str
    depth: int
    position: int
    assessable: bool
    roles: list[str]
    risk_tiers: list[str]
    asset_types: list[str]
    evidence_types: list[str]
    typical_evidence: str
    review_frequency: str
    applies_from: dt.date | None
    deadline_rules: list[str]
    mappings: list[dict]

    def compared(self) -> dict:
        return {name: getattr(self, name) for name in COMPARED_FIELDS}


@dataclass
class ParsedFramework:
    ref: str
    urn: str
    version: int
    name: str
    short_name: str
    provider: str
    publication: str
    source_url: str
    licence: str
    audience: str
    roles: list[str]
    risk_tiers: list[str]
    metadata: dict
    nodes: list[ParsedNode]
    source: str  # the file, relative to the project when it is inside it
    sha256: str  # of the content (canonical JSON), so comments and layout do not make a new version
    warnings: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class LoadResult:
    framework: Framework
    version: FrameworkVersion
    created: bool  # False: this exact content was already the current version, nothing was written
    changes: dict
    warnings: tuple[Problem, ...] = ()
    skipped: str = ""  # why a bundled file was not loaded (a newer version is loaded already)

    @property
    def unchanged(self) -> bool:
        return not self.created


# --- reading -----------------------------------------------------------------------------------------------------


def node_slug(ref_id: str) -> str:
    """The URN part of a node from its ref_id: `Art 5(1)(a)` → art-5-1-a, `GOVERN 1.6` → govern-1-6."""
    return re.sub(r"[^a-z0-9]+", "-", ref_id.lower()).strip("-")


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(settings.BASE_DIR))
    except ValueError:
        return str(path)


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _schema_problems(document, file: str) -> list[Problem]:
    return schema_problems(_validator(), document, file)


def read_document(path: Path) -> tuple[object, list[Problem]]:
    return read_core_document(path, max_bytes=MAX_FILE_BYTES)


# --- parsing -----------------------------------------------------------------------------------------------------


def parse_framework_file(path, *, known_urns: set[str] | None = None) -> ParsedFramework:
    """Validate a framework file and return its content; FrameworkFileError lists every problem.

    Mapping targets are looked up in `known_urns` (default: the current versions in the database and the bundled
    files); a target nobody has is a warning, so a file can be loaded before its partner.
    """
    path = Path(path)
    file = path.name
    document, problems = read_document(path)
    if problems:
        raise FrameworkFileError(problems)
    problems = _schema_problems(document, file)
    schema_failed = bool(problems)
    try:
        parsed = _build(document, file=file, source=_display_name(path), problems=problems)
        if known_urns is None:
            known_urns = set() if schema_failed else known_node_urns()
        _check_targets(document, parsed, known_urns, file, problems)
    except (AttributeError, KeyError, TypeError, ValueError):
        # The structural checks assume the shapes the schema guarantees; with the shapes wrong, the schema's
        # problems are what there is to report.
        if not schema_failed:
            raise
        raise FrameworkFileError(sorted(problems, key=lambda p: problem_sort_key(p.path))) from None
    if problems:
        # Stable: a node's problems keep the order they were found.
        problems.sort(key=lambda p: problem_sort_key(p.path))
        raise FrameworkFileError([*problems, *([] if schema_failed else parsed.warnings)])
    return parsed


def _check_targets(document: dict, parsed: ParsedFramework, known_urns: set[str], file: str, problems: list) -> None:
    """A target in this framework must be one of its nodes; a target elsewhere nobody has is only a warning."""
    own = {node.urn for node in parsed.nodes}
    for i, raw in enumerate(document["requirements"]):
        for j, mapping in enumerate(raw.get("mappings", [])):
            target, where = mapping["target"], f"requirements[{i}].mappings[{j}].target"
            if target.startswith(parsed.urn + ":"):
                if target not in own:
                    problems.append(Problem(file, where, f"no node {target!r} in this file"))
            elif target not in known_urns:
                parsed.warnings.append(
                    Problem(file, where, f"no loaded or bundled framework has {target!r}", warning=True)
                )


def _build(document: dict, *, file: str, source: str, problems: list[Problem]) -> ParsedFramework:
    ref, urn = document["ref"], document["urn"]
    if urn != f"urn:keel:fw:{ref}":
        problems.append(Problem(file, "urn", f"must be urn:keel:fw:{ref} (from ref)"))
    roles, tiers = document["roles"], document.get("risk_tiers", [])
    raw_nodes = document["requirements"]

    # URNs first, so parents can be resolved whatever the order.
    by_ref_id: dict[str, int] = {}
    by_urn: dict[str, int] = {}
    urns: list[str] = []
    for i, raw in enumerate(raw_nodes):
        ref_id = raw["ref_id"].strip()
        node_urn = raw.get("urn") or f"{urn}:{node_slug(ref_id)}"
        where = f"requirements[{i}].{'urn' if 'urn' in raw else 'ref_id'}"
        if not node_urn.startswith(f"{urn}:"):
            problems.append(Problem(file, where, f"{node_urn!r} must start with {urn}:"))
        if node_urn == f"{urn}:":
            problems.append(Problem(file, where, f"{ref_id!r} gives no URN: write one"))
        if ref_id in by_ref_id:
            first = by_ref_id[ref_id]
            message = f"duplicate ref_id {ref_id!r} (also requirements[{first}])"
            problems.append(Problem(file, f"requirements[{i}].ref_id", message))
        else:
            by_ref_id[ref_id] = i
            if node_urn in by_urn:
                first = by_urn[node_urn]
                problems.append(Problem(file, where, f"duplicate urn {node_urn!r} (also requirements[{first}])"))
            else:
                by_urn[node_urn] = i
        urns.append(node_urn)

    parents: list[int | None] = []
    for i, raw in enumerate(raw_nodes):
        parent = raw.get("parent")
        if parent is None:
            parents.append(None)
        elif parent.strip() not in by_ref_id:
            problems.append(Problem(file, f"requirements[{i}].parent", f"no node {parent!r}"))
            parents.append(None)
        elif by_ref_id[parent.strip()] == i:
            problems.append(Problem(file, f"requirements[{i}].parent", "a node cannot be its own parent"))
            parents.append(None)
        else:
            parents.append(by_ref_id[parent.strip()])

    depths = _depths(parents, raw_nodes, file, problems)

    nodes = []
    for i, raw in enumerate(raw_nodes):
        where = f"requirements[{i}]"
        applies = raw.get("applies", {})
        for key, declared, label in (("roles", roles, "roles"), ("risk_tiers", tiers, "risk_tiers")):
            for k, value in enumerate(applies.get(key, [])):
                if value not in declared:
                    problems.append(
                        Problem(file, f"{where}.applies.{key}[{k}]", f"{value!r} is not one of the framework's {label}")
                    )
        seen_targets = set()
        for j, mapping in enumerate(raw.get("mappings", [])):
            if mapping["target"] in seen_targets:
                problems.append(Problem(file, f"{where}.mappings[{j}].target", f"{mapping['target']!r} mapped twice"))
            if mapping["target"] == urns[i]:
                problems.append(Problem(file, f"{where}.mappings[{j}].target", "a node cannot map to itself"))
            seen_targets.add(mapping["target"])
        applies_from = None
        if "applies_from" in raw:
            with contextlib.suppress(ValueError):  # reported by the schema's format check
                applies_from = dt.date.fromisoformat(raw["applies_from"])
        nodes.append(
            ParsedNode(
                urn=urns[i],
                ref_id=raw["ref_id"].strip(),
                title=raw["title"].strip(),
                description=raw.get("description", "").strip(),
                parent_urn=urns[parents[i]] if parents[i] is not None else "",
                depth=depths[i],
                position=i + 1,
                assessable=raw.get("assessable", True),
                roles=list(applies.get("roles", [])),
                risk_tiers=list(applies.get("risk_tiers", [])),
                asset_types=list(applies.get("asset_types", [])),
                evidence_types=list(raw.get("evidence_types", [])),
                typical_evidence=raw.get("typical_evidence", "").strip(),
                review_frequency=raw.get("review_frequency", ""),
                applies_from=applies_from,
                deadline_rules=list(raw.get("deadline_rules", [])),
                mappings=[
                    {"target": m["target"], "relation": m["relation"], **({"note": m["note"]} if m.get("note") else {})}
                    for m in raw.get("mappings", [])
                ],
            )
        )
    parsed = ParsedFramework(
        ref=ref,
        urn=urn,
        version=document["version"],
        name=document["name"].strip(),
        short_name=document["short_name"].strip(),
        provider=document.get("provider", "").strip(),
        publication=document.get("publication", "").strip(),
        source_url=document.get("source_url", ""),
        licence=document["licence"].strip(),
        audience=document["audience"],
        roles=list(roles),
        risk_tiers=list(tiers),
        metadata=document.get("metadata", {}),
        nodes=nodes,
        source=source[:300],
        sha256="",
    )
    parsed.sha256 = content_sha256(parsed)
    return parsed


def _depths(parents: list[int | None], raw_nodes: list[dict], file: str, problems: list[Problem]) -> list[int]:
    """Depth of each node (1 at the top); a cycle is reported once, on its first node in file order."""
    depths: list[int | None] = [None] * len(parents)
    in_cycle: set[int] = set()
    for start in range(len(parents)):
        chain, i = [], start
        while i is not None and depths[i] is None and i not in chain and i not in in_cycle:
            chain.append(i)
            i = parents[i]
        if i is not None and i in chain:  # walked back into this chain: a cycle
            cycle = chain[chain.index(i) :]
            in_cycle.update(cycle)
            names = " → ".join(raw_nodes[k]["ref_id"] for k in [*cycle, cycle[0]])
            problems.append(Problem(file, f"requirements[{min(cycle)}].parent", f"cycle: {names}"))
            for k in chain:
                depths[k] = 1
            continue
        base = 0 if i is None or i in in_cycle else depths[i]
        for k in reversed(chain):
            base += 1
            depths[k] = base
    return [d or 1 for d in depths]


def content_sha256(parsed: ParsedFramework) -> str:
    """The hash of what a version holds (RFC 8785 canonical JSON), independent of the file's layout."""
    content = {
        "ref": parsed.ref,
        "version": parsed.version,
        "name": parsed.name,
        "short_name": parsed.short_name,
        "provider": parsed.provider,
        "publication": parsed.publication,
        "source_url": parsed.source_url,
        "licence": parsed.licence,
        "audience": parsed.audience,
        "roles": parsed.roles,
        "risk_tiers": parsed.risk_tiers,
        "metadata": parsed.metadata,
        "nodes": [
            {
                **node.compared(),
                "urn": node.urn,
                "applies_from": str(node.applies_from or ""),
                "position": node.position,
            }
            for node in parsed.nodes
        ],
    }
    return hashlib.sha256(rfc8785.dumps(json.loads(json.dumps(content, default=str)))).hexdigest()


def bundled_files() -> list[Path]:
    return sorted(DATA_DIR.glob("*.yaml"))


def node_urns_of(paths) -> set[str]:
    """Node URNs of some files, read leniently (only to know which mapping targets exist)."""
    urns = set()
    for path in paths:
        document, problems = read_document(Path(path))
        if problems or not isinstance(document, dict):
            continue
        base = document.get("urn", "")
        for raw in document.get("requirements") or []:
            if isinstance(raw, dict) and isinstance(raw.get("ref_id"), str):
                urns.add(raw.get("urn") or f"{base}:{node_slug(raw['ref_id'])}")
    return urns


def known_node_urns() -> set[str]:
    """Node URNs of the current versions in the database and of the bundled files: valid mapping targets."""
    with schema_context("public"):
        stored = set(
            Requirement.objects.filter(version_id__in=Framework.objects.values("current_id")).values_list(
                "urn", flat=True
            )
        )
    return stored | node_urns_of(bundled_files())


# --- loading -----------------------------------------------------------------------------------------------------


def _stored(requirement: Requirement) -> dict:
    return {name: getattr(requirement, name) for name in COMPARED_FIELDS}


def diff_nodes(before: dict[str, dict], after: dict[str, dict]) -> dict:
    """{added, removed, changed: [{urn, fields}]} between two {urn: compared fields} maps, in `after`'s order."""
    changed = []
    for urn, fields in after.items():
        if urn in before:
            differing = [name for name in COMPARED_FIELDS if fields[name] != before[urn][name]]
            if differing:
                changed.append({"urn": urn, "fields": differing})
    return {
        "added": [urn for urn in after if urn not in before],
        "removed": [urn for urn in before if urn not in after],
        "changed": changed,
    }


def framework_load(path, *, loaded_by: str = "", skip_older: bool = False, known_urns=None) -> LoadResult:
    """Load a framework file into the public schema, in one transaction.

    Same content as the current version: nothing changes. A higher version: a new FrameworkVersion with its
    Requirement rows, `changes` against the current one, and it becomes current. An equal version with other
    content, or a lower version, raises FrameworkVersionError (with skip_older, a lower version is skipped: a
    newer file was loaded by hand). An invalid file raises FrameworkFileError.
    """
    parsed = parse_framework_file(path, known_urns=known_urns)
    with schema_context("public"), transaction.atomic():
        with connection.cursor() as cur:
            # One load at a time: keel_setup and load_frameworks may run together.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('keel:framework-load'))")
        framework = Framework.objects.select_related("current").filter(ref=parsed.ref).first()
        current = framework.current if framework else None
        if current is not None:
            if parsed.version == current.version:
                if parsed.sha256 == current.sha256:
                    return LoadResult(framework, current, False, current.changes, tuple(parsed.warnings))
                raise FrameworkVersionError(
                    f"{Path(path).name}: version {parsed.version} of {parsed.ref} is already loaded with other "
                    f"content; raise the version to {current.version + 1} to load this file."
                )
            if parsed.version < current.version:
                if skip_older:
                    return LoadResult(
                        framework,
                        current,
                        False,
                        current.changes,
                        tuple(parsed.warnings),
                        skipped=f"version {current.version} is loaded, newer than the file's {parsed.version}",
                    )
                raise FrameworkVersionError(
                    f"{Path(path).name}: version {parsed.version} of {parsed.ref} is lower than the loaded "
                    f"version {current.version}; versions only go up."
                )
        if FrameworkVersion.objects.filter(framework=framework, version=parsed.version).exists():
            # Only possible if `current` was cleared by hand: never overwrite a stored version.
            raise FrameworkVersionError(f"version {parsed.version} of {parsed.ref} is stored already.")
        return _store(parsed, framework, current, loaded_by=loaded_by)


def _store(parsed: ParsedFramework, framework: Framework | None, current, *, loaded_by: str) -> LoadResult:
    if framework is None:
        framework = Framework(ref=parsed.ref, urn=parsed.urn)
    framework.name = parsed.name
    framework.short_name = parsed.short_name
    framework.provider = parsed.provider
    framework.audience = parsed.audience
    framework.save()

    before = {}
    if current is not None:
        before = {r.urn: _stored(r) for r in current.requirements.all()}
    changes = {
        **diff_nodes(before, {node.urn: node.compared() for node in parsed.nodes}),
        "previous_version": current.version if current else None,
    }
    version = FrameworkVersion.objects.create(
        framework=framework,
        version=parsed.version,
        name=parsed.name,
        publication=parsed.publication,
        source_url=parsed.source_url,
        licence=parsed.licence,
        roles=parsed.roles,
        risk_tiers=parsed.risk_tiers,
        metadata=parsed.metadata,
        source=parsed.source,
        sha256=parsed.sha256,
        requirement_count=len(parsed.nodes),
        changes=changes,
        loaded_by=loaded_by[:254],
    )
    Requirement.objects.bulk_create(
        [
            Requirement(
                version=version,
                urn=node.urn,
                ref_id=node.ref_id,
                title=node.title,
                description=node.description,
                parent_urn=node.parent_urn,
                depth=node.depth,
                position=node.position,
                assessable=node.assessable,
                roles=node.roles,
                risk_tiers=node.risk_tiers,
                asset_types=node.asset_types,
                evidence_types=node.evidence_types,
                typical_evidence=node.typical_evidence,
                review_frequency=node.review_frequency,
                applies_from=node.applies_from,
                deadline_rules=node.deadline_rules,
                mappings=node.mappings,
            )
            for node in parsed.nodes
        ],
        batch_size=500,
    )
    framework.current = version
    framework.save(update_fields=["current"])
    # One event per load with counts: the nodes themselves are in the version's rows.
    audit_record(
        action="framework.load",
        target=version,
        after={
            "ref": parsed.ref,
            "version": parsed.version,
            "previous_version": changes["previous_version"],
            "source": parsed.source,
            "sha256": parsed.sha256,
            "requirements": len(parsed.nodes),
            "added": len(changes["added"]),
            "removed": len(changes["removed"]),
            "changed": len(changes["changed"]),
        },
    )
    return LoadResult(framework, version, True, changes, tuple(parsed.warnings))


def frameworks_load_bundled(*, loaded_by: str = "keel_setup") -> list[LoadResult]:
    """Every file in apps/frameworks/data/ (keel_setup; idempotent). A newer version loaded by hand is kept."""
    known = known_node_urns()
    return [framework_load(path, loaded_by=loaded_by, skip_older=True, known_urns=known) for path in bundled_files()]
