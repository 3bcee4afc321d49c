"""Reads of the compliance register: applicability, requirement status, readiness and gaps, crosswalks.

Status of a requirement (computed, never stored):
- not applicable: the client said so (with a justification), or the requirement's hints (roles, risk tiers,
  asset types) do not meet the client's roles and the assets in scope;
- no control: no *active* control is mapped to it (planned ones are listed, they do not count yet);
- missing evidence: active controls are mapped, but none has valid evidence;
- met: an active control with valid evidence covers it fully; partial: only partial coverage is evidenced.
Evidence is valid when approved, effective (its date has come), not expired, and its stored file verified.

Readiness = (met + ½ partial) ÷ applicable assessable requirements × 100. Everything for any number of
frameworks is computed in a fixed number of queries (readiness_many).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.frameworks.models import Framework, FrameworkVersion, Requirement

from .models import (
    ClientFramework,
    Control,
    ControlMapping,
    Evidence,
    EvidenceRevision,
    ReadinessSnapshot,
    RequirementAssessment,
)

MET, PARTIAL, MISSING, NO_CONTROL, NOT_APPLICABLE, GROUP = (
    "met",
    "partial",
    "missing_evidence",
    "no_control",
    "not_applicable",
    "group",
)
STATUSES = [MET, PARTIAL, MISSING, NO_CONTROL, NOT_APPLICABLE]
STATUS_LABELS = {
    MET: "Met",
    PARTIAL: "Partial",
    MISSING: "Missing evidence",
    NO_CONTROL: "No control",
    NOT_APPLICABLE: "Not applicable",
    GROUP: "",
}
STATUS_CHIPS = {
    MET: "chip-ok",
    PARTIAL: "sev-medium",
    MISSING: "sev-high",
    NO_CONTROL: "sev-critical",
    NOT_APPLICABLE: "",
}
ASSESSABLE_STATUSES = (MET, PARTIAL, MISSING, NO_CONTROL)
EXPIRING_DAYS = 30
# Inventory risk tiers in the framework vocabulary (the EU AI Act calls Art 5 practices "unacceptable").
TIER_VOCABULARY = {"prohibited": ("prohibited", "unacceptable")}
CHANGE_FIELDS = (
    "title",
    "description",
    "parent_urn",
    "assessable",
    "roles",
    "risk_tiers",
    "asset_types",
    "evidence_types",
    "review_frequency",
    "applies_from",
)


def client_today() -> dt.date:
    """Today in the client's time zone: evidence dates are the client's calendar dates."""
    from apps.tenancy.selectors import current_client

    client = current_client()
    now = timezone.now()
    return now.astimezone(client.tz).date() if client is not None else now.date()


# --- library -----------------------------------------------------------------------------------------------------


def library_frameworks() -> QuerySet[Framework]:
    return Framework.objects.select_related("current").order_by("short_name")


def current_requirements() -> QuerySet[Requirement]:
    """Requirement rows of every framework's current version."""
    return Requirement.objects.filter(
        version_id__in=Framework.objects.exclude(current=None).values("current_id")
    ).select_related("version__framework")


def requirement_in_version(version_id: int, urn: str) -> Requirement | None:
    return Requirement.objects.filter(version_id=version_id, urn=urn).select_related("version__framework").first()


def requirement_for_mapping(urn: str) -> Requirement | None:
    """The node a mapping may point at: the current version's, else the newest version holding that URN."""
    found = current_requirements().filter(urn=urn).first()
    if found is None:
        found = (
            Requirement.objects.filter(urn=urn)
            .select_related("version__framework")
            .order_by("-version__version")
            .first()
        )
    return found


# --- client frameworks -------------------------------------------------------------------------------------------


def client_frameworks() -> QuerySet[ClientFramework]:
    return ClientFramework.objects.select_related("framework", "framework__current", "version").order_by(
        "framework__short_name"
    )


def client_framework_get(pk: int) -> ClientFramework | None:
    return client_frameworks().filter(pk=pk).first()


@dataclass(frozen=True)
class ScopeProfile:
    roles: frozenset
    risk_tiers: frozenset
    asset_types: frozenset
    unclassified: int = 0  # in-scope assets whose risk tier is not yet assessed


def profile_from(roles, assets: list[tuple[str, str]]) -> ScopeProfile:
    """assets: (kind, risk_tier) of each asset in scope."""
    tiers = set()
    for _kind, tier in assets:
        tiers.update(TIER_VOCABULARY.get(tier, (tier,)))
    return ScopeProfile(
        roles=frozenset(roles or []),
        risk_tiers=frozenset(tiers - {"unassessed"}),
        asset_types=frozenset(kind for kind, _tier in assets),
        unclassified=sum(1 for _kind, tier in assets if tier == "unassessed"),
    )


def _listed(values) -> str:
    return ", ".join(str(v).replace("_", " ") for v in values)


def applicability(requirement: Requirement, profile: ScopeProfile) -> tuple[bool, str]:
    """A requirement applies when each of its non-empty hints meets the client's roles and scope."""
    if requirement.roles and not profile.roles & set(requirement.roles):
        return False, f"Applies to {_listed(requirement.roles)}; the client is {_listed(profile.roles) or 'no role'}."
    if requirement.risk_tiers and not profile.risk_tiers & set(requirement.risk_tiers):
        return False, f"Applies to {_listed(requirement.risk_tiers)}-risk AI systems; none is in scope."
    if requirement.asset_types and not profile.asset_types & set(requirement.asset_types):
        return False, f"Concerns {_listed(requirement.asset_types)} assets; none is in scope."
    return True, ""


def applicable_requirements(requirements, profile: ScopeProfile) -> list:
    return [r for r in requirements if applicability(r, profile)[0]]


# --- evidence validity -------------------------------------------------------------------------------------------


@dataclass
class EvidenceState:
    evidence: Evidence
    problems: list[str]
    days_left: int | None  # until expires_on (0 = expires today), None without expiry

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def expiring(self) -> bool:
        return (
            self.valid
            and self.days_left is not None
            and self.days_left <= EXPIRING_DAYS
            and self.evidence.kind != Evidence.Kind.GENERATED  # renewed by Keel every day
        )


def evidence_state(evidence: Evidence, today: dt.date) -> EvidenceState:
    problems = []
    if evidence.status == Evidence.Status.DRAFT:
        problems.append("draft, not approved")
    elif evidence.status == Evidence.Status.REJECTED:
        problems.append("rejected")
    expired = evidence.status == Evidence.Status.EXPIRED or (evidence.expires_on and evidence.expires_on < today)
    if expired:
        problems.append(f"expired on {evidence.expires_on:%-d %b %Y}" if evidence.expires_on else "expired")
    revision = evidence.current_revision
    if revision is None:
        problems.append("nothing uploaded")
    else:
        if revision.effective_date > today:
            problems.append(f"effective only from {revision.effective_date:%-d %b %Y}")
        if revision.integrity == EvidenceRevision.Integrity.FAILED:
            problems.append("integrity check failed")
    days_left = (evidence.expires_on - today).days if evidence.expires_on else None
    return EvidenceState(evidence, problems, days_left)


def evidence_list(*, status: str = "", kind: str = "", expiring: bool = False, query: str = "", control=None):
    qs = Evidence.objects.select_related("current_revision").prefetch_related("controls").order_by("title", "pk")
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if expiring:
        today = client_today()
        qs = qs.filter(
            expires_on__isnull=False, expires_on__lte=today + dt.timedelta(days=EXPIRING_DAYS), expires_on__gte=today
        ).exclude(kind=Evidence.Kind.GENERATED)
    if query:
        qs = qs.filter(Q(title__icontains=query) | Q(description__icontains=query))
    if control is not None:
        qs = qs.filter(controls=control)
    return qs


def evidence_get(pk: int) -> Evidence | None:
    return (
        Evidence.objects.select_related("current_revision").prefetch_related("controls", "assets").filter(pk=pk).first()
    )


def revisions_of(evidence: Evidence) -> QuerySet[EvidenceRevision]:
    return evidence.revisions.order_by("-number")


# --- readiness ---------------------------------------------------------------------------------------------------


@dataclass
class ControlLink:
    control: Control
    coverage: str
    rationale: str
    evidence: list[EvidenceState]

    @property
    def active(self) -> bool:
        return self.control.status == Control.Status.ACTIVE

    @property
    def evidenced(self) -> bool:
        return self.active and any(e.valid for e in self.evidence)


@dataclass
class RequirementRow:
    requirement: Requirement
    status: str
    reason: str = ""
    assessment: RequirementAssessment | None = None
    links: list[ControlLink] = field(default_factory=list)
    children: list[RequirementRow] = field(default_factory=list)
    counts: dict = field(default_factory=dict)  # groups: their descendants' statuses

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def chip(self) -> str:
        return STATUS_CHIPS.get(self.status, "")

    @property
    def owner_email(self) -> str:
        return self.assessment.owner_email if self.assessment else ""

    @property
    def only_not_applicable(self) -> bool:
        """A heading with nothing applicable under it: shown closed in the tree."""
        return bool(self.counts) and set(self.counts) == {NOT_APPLICABLE}

    @property
    def manual_na(self) -> bool:
        return bool(self.assessment and self.assessment.not_applicable)


@dataclass
class ControlGap:
    control: Control
    problems: list[str]
    requirements: list[Requirement]


@dataclass
class Readiness:
    client_framework: ClientFramework
    profile: ScopeProfile
    rows: list[RequirementRow]  # every node, in the file's order
    roots: list[RequirementRow]
    counts: dict[str, int]
    score: Decimal | None
    no_control: list[RequirementRow]
    control_gaps: list[ControlGap]
    expiring: list[EvidenceState]

    @property
    def assessable(self) -> int:
        return sum(self.counts[s] for s in ASSESSABLE_STATUSES)

    @property
    def gap_count(self) -> int:
        return len(self.no_control) + len(self.control_gaps) + len(self.expiring)

    def row(self, urn: str) -> RequirementRow | None:
        return next((r for r in self.rows if r.requirement.urn == urn), None)

    @property
    def gauge(self) -> str:
        if self.score is None or self.score < 50:
            return "gauge-low"
        return "gauge-high" if self.score >= 80 else "gauge-mid"

    @property
    def chips(self) -> list[tuple[str, str, str, int]]:
        """(status, label, chip class, count) of the statuses present, for the count chips."""
        return [(s, STATUS_LABELS[s], STATUS_CHIPS[s], self.counts[s]) for s in STATUSES if self.counts[s]]


def score_of(counts: dict[str, int]) -> Decimal | None:
    assessable = sum(counts.get(s, 0) for s in ASSESSABLE_STATUSES)
    if not assessable:
        return None
    points = Decimal(counts.get(MET, 0)) + Decimal(counts.get(PARTIAL, 0)) / 2
    return (points * 100 / assessable).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _status(links: list[ControlLink]) -> tuple[str, str]:
    active = [link for link in links if link.active]
    if not active:
        planned = [link.control.code for link in links if link.control.status == Control.Status.PLANNED]
        return NO_CONTROL, (f"Planned, not active yet: {', '.join(planned)}." if planned else "No control mapped.")
    evidenced = [link for link in active if link.evidenced]
    if not evidenced:
        return MISSING, "Mapped controls have no valid evidence."
    if any(link.coverage == ControlMapping.Coverage.FULL for link in evidenced):
        return MET, ""
    return PARTIAL, "Only partial coverage is evidenced."


def readiness_many(client_frameworks_, *, today: dt.date | None = None) -> dict[int, Readiness]:
    """Readiness of each client framework given, in five queries whatever their size."""
    cfs = list(client_frameworks_)
    if not cfs:
        return {}
    today = today or client_today()
    by_version: dict[int, list[Requirement]] = defaultdict(list)
    for requirement in Requirement.objects.filter(version_id__in={cf.version_id for cf in cfs}).order_by("position"):
        by_version[requirement.version_id].append(requirement)
    assessments: dict[tuple[int, str], RequirementAssessment] = {
        (a.client_framework_id, a.urn): a for a in RequirementAssessment.objects.filter(client_framework__in=cfs)
    }
    scope: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for cf_id, kind, tier in ClientFramework.assets.through.objects.filter(
        clientframework_id__in=[c.pk for c in cfs]
    ).values_list("clientframework_id", "asset__kind", "asset__risk_tier"):
        scope[cf_id].append((kind, tier))
    mappings: dict[str, list[ControlMapping]] = defaultdict(list)
    for mapping in ControlMapping.objects.filter(framework_id__in={cf.framework_id for cf in cfs}).select_related(
        "control"
    ):
        mappings[mapping.urn].append(mapping)
    control_ids = {m.control_id for ms in mappings.values() for m in ms}
    evidence_of: dict[int, list[EvidenceState]] = defaultdict(list)
    states: dict[int, EvidenceState] = {}
    for link in Evidence.controls.through.objects.filter(control_id__in=control_ids).select_related(
        "evidence__current_revision"
    ):
        if link.evidence_id not in states:
            states[link.evidence_id] = evidence_state(link.evidence, today)
        evidence_of[link.control_id].append(states[link.evidence_id])
    return {
        cf.pk: _readiness(cf, by_version[cf.version_id], assessments, scope[cf.pk], mappings, evidence_of) for cf in cfs
    }


def readiness(cf: ClientFramework, *, today: dt.date | None = None) -> Readiness:
    return readiness_many([cf], today=today)[cf.pk]


def _readiness(cf, requirements, assessments, scope, mappings, evidence_of) -> Readiness:
    profile = profile_from(cf.roles, scope)
    rows: list[RequirementRow] = []
    by_urn: dict[str, RequirementRow] = {}
    for requirement in requirements:
        assessment = assessments.get((cf.pk, requirement.urn))
        links = [
            ControlLink(
                m.control, m.coverage, m.rationale, sorted(evidence_of[m.control_id], key=lambda s: s.evidence.title)
            )
            for m in sorted(mappings.get(requirement.urn, []), key=lambda m: m.control.code)
        ]
        if not requirement.assessable:
            row = RequirementRow(requirement, GROUP, assessment=assessment, links=links)
        else:
            applies, reason = applicability(requirement, profile)
            if assessment and assessment.not_applicable:
                row = RequirementRow(requirement, NOT_APPLICABLE, assessment.justification, assessment, links)
            elif not applies:
                row = RequirementRow(requirement, NOT_APPLICABLE, reason, assessment, links)
            else:
                status, why = _status(links)
                row = RequirementRow(requirement, status, why, assessment, links)
        rows.append(row)
        by_urn[requirement.urn] = row
    roots = []
    for row in rows:
        parent = by_urn.get(row.requirement.parent_urn)
        (parent.children if parent else roots).append(row)
    for root in roots:
        _roll_up(root)
    counts = {status: sum(1 for r in rows if r.status == status) for status in STATUSES}
    applicable = [r for r in rows if r.status in ASSESSABLE_STATUSES]
    no_control = [r for r in applicable if r.status == NO_CONTROL]
    control_gaps, expiring = _control_gaps(applicable)
    return Readiness(cf, profile, rows, roots, counts, score_of(counts), no_control, control_gaps, expiring)


def _roll_up(row: RequirementRow) -> dict:
    counts = defaultdict(int)
    if row.status != GROUP:
        counts[row.status] += 1
    for child in row.children:
        for status, n in _roll_up(child).items():
            counts[status] += n
    row.counts = dict(counts)
    return row.counts


def _control_gaps(applicable: list[RequirementRow]) -> tuple[list[ControlGap], list[EvidenceState]]:
    gaps: dict[int, ControlGap] = {}
    expiring: dict[int, EvidenceState] = {}
    for row in applicable:
        for link in row.links:
            if not link.active:
                continue
            problems = []
            if not link.evidence:
                problems.append("no evidence attached")
            for state in link.evidence:
                if state.problems:
                    problems.append(f"“{state.evidence.title}”: {', '.join(state.problems)}")
                elif state.expiring:
                    expiring[state.evidence.pk] = state
            if problems:
                gap = gaps.setdefault(link.control.pk, ControlGap(link.control, problems, []))
                gap.requirements.append(row.requirement)
    return sorted(gaps.values(), key=lambda g: g.control.code), sorted(
        expiring.values(), key=lambda s: (s.days_left, s.evidence.title)
    )


def filter_rows(result: Readiness, *, status: str = "", query: str = "") -> list[RequirementRow]:
    """The rows to show in the tree: matches, and the groups above them."""
    if not status and not query:
        return result.rows
    query = query.strip().lower()
    by_urn = {r.requirement.urn: r for r in result.rows}
    keep: set[str] = set()
    for row in result.rows:
        if row.status == GROUP:
            continue
        if status and row.status != status:
            continue
        text = f"{row.requirement.ref_id} {row.requirement.title} {row.requirement.description}".lower()
        if query and query not in text:
            continue
        urn = row.requirement.urn
        while urn and urn not in keep:
            keep.add(urn)
            parent = by_urn.get(urn)
            urn = parent.requirement.parent_urn if parent else ""
    return [r for r in result.rows if r.requirement.urn in keep]


def trend(cf_ids, *, days: int = 90) -> dict[int, list[ReadinessSnapshot]]:
    since = client_today() - dt.timedelta(days=days)
    out: dict[int, list[ReadinessSnapshot]] = defaultdict(list)
    for snap in ReadinessSnapshot.objects.filter(client_framework_id__in=list(cf_ids), day__gte=since).order_by("day"):
        out[snap.client_framework_id].append(snap)
    return out


# --- versions ----------------------------------------------------------------------------------------------------


@dataclass
class VersionDiff:
    old: FrameworkVersion
    new: FrameworkVersion
    added: list[Requirement]
    removed: list[Requirement]
    changed: list[tuple[Requirement, list[str]]]

    @property
    def summary(self) -> str:
        return f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed"


def upgrade_available(cf: ClientFramework) -> FrameworkVersion | None:
    current = cf.framework.current
    if current is not None and current.version > cf.version.version:
        return current
    return None


def version_diff(old: FrameworkVersion, new: FrameworkVersion) -> VersionDiff:
    """What adopting `new` changes for a client on `old`, from the requirement rows themselves (so it is right
    across several versions at once, not only against the one just before)."""
    before = {r.urn: r for r in Requirement.objects.filter(version=old).order_by("position")}
    after = {r.urn: r for r in Requirement.objects.filter(version=new).order_by("position")}
    added = [r for urn, r in after.items() if urn not in before]
    removed = [r for urn, r in before.items() if urn not in after]
    changed = []
    for urn, r in after.items():
        if urn in before:
            fields = [f for f in CHANGE_FIELDS if getattr(before[urn], f) != getattr(r, f)]
            if fields:
                changed.append((r, fields))
    return VersionDiff(old, new, added, removed, changed)


def orphaned_mappings(cf: ClientFramework) -> list[ControlMapping]:
    """Mappings to requirements of this framework that its adopted version no longer has."""
    urns = Requirement.objects.filter(version_id=cf.version_id).values("urn")
    return list(
        ControlMapping.objects.filter(framework_id=cf.framework_id)
        .exclude(urn__in=urns)
        .select_related("control")
        .order_by("urn", "control__code")
    )


# --- controls and crosswalk --------------------------------------------------------------------------------------


def controls_list(*, status: str = "", query: str = "") -> QuerySet[Control]:
    qs = Control.objects.prefetch_related("mappings").order_by("code")
    if status:
        qs = qs.filter(status=status)
    if query:
        qs = qs.filter(Q(code__icontains=query) | Q(name__icontains=query) | Q(description__icontains=query))
    return qs


def control_get(pk: int) -> Control | None:
    return Control.objects.filter(pk=pk).first()


def requirements_by_urn(urns, *, versions: dict[int, int] | None = None) -> dict[str, Requirement]:
    """urn -> Requirement: from the version each framework is adopted at (versions: framework id -> version id),
    else from its current version."""
    urns = set(urns)
    if not urns:
        return {}
    found: dict[str, Requirement] = {}
    adopted_ids = set((versions or {}).values())
    if adopted_ids:
        for r in Requirement.objects.filter(version_id__in=adopted_ids, urn__in=urns).select_related(
            "version__framework"
        ):
            found[r.urn] = r
    missing = urns - set(found)
    if missing:
        for r in current_requirements().filter(urn__in=missing):
            found.setdefault(r.urn, r)
    return found


def adopted_versions() -> dict[int, int]:
    return dict(ClientFramework.objects.values_list("framework_id", "version_id"))


@dataclass
class Equivalent:
    requirement: Requirement
    relation: str
    via: str  # the URN it is equivalent to


def library_equivalents(urns) -> dict[str, list[Equivalent]]:
    """For each URN, the requirements of other frameworks' current versions the library maps it to, in both
    directions (a mapping is written on one side only)."""
    urns = set(urns)
    if not urns:
        return {}
    pairs: list[tuple[str, str, str]] = []  # (urn, other urn, relation)
    for r in current_requirements().filter(urn__in=urns):
        for m in r.mappings or []:
            target = m.get("target")
            if target and target != r.urn:
                pairs.append((r.urn, target, m.get("relation", "")))
    reverse = Q()
    for urn in urns:
        reverse |= Q(mappings__contains=[{"target": urn}])
    for r in current_requirements().filter(reverse):
        for m in r.mappings or []:
            if m.get("target") in urns:
                pairs.append((m["target"], r.urn, _inverse(m.get("relation", ""))))
    targets = requirements_by_urn({other for _u, other, _rel in pairs}, versions=adopted_versions())
    out: dict[str, list[Equivalent]] = defaultdict(list)
    seen = set()
    for urn, other, relation in pairs:
        if other == urn or (urn, other) in seen or other not in targets:
            continue
        seen.add((urn, other))
        out[urn].append(Equivalent(targets[other], relation, urn))
    return dict(out)


def _inverse(relation: str) -> str:
    return {"subset": "superset", "superset": "subset"}.get(relation, relation)


@dataclass
class Suggestion:
    control: Control
    requirement: Requirement
    relation: str
    via: str

    @property
    def coverage(self) -> str:
        return ControlMapping.Coverage.FULL if self.relation == "equal" else ControlMapping.Coverage.PARTIAL


def suggestions_for(controls, *, enabled_framework_ids: set[int] | None = None) -> list[Suggestion]:
    """ "This control would also cover …": library equivalents of what each control is mapped to, in frameworks
    the client has enabled, that the control is not mapped to yet."""
    controls = list(controls)
    if enabled_framework_ids is None:
        enabled_framework_ids = set(ClientFramework.objects.values_list("framework_id", flat=True))
    mapped: dict[int, set[str]] = defaultdict(set)
    for control_id, urn in ControlMapping.objects.filter(control__in=controls).values_list("control_id", "urn"):
        mapped[control_id].add(urn)
    equivalents = library_equivalents({u for urns in mapped.values() for u in urns})
    out = []
    for control in controls:
        seen = set()
        for urn in sorted(mapped[control.pk]):
            for eq in equivalents.get(urn, []):
                target = eq.requirement
                if (
                    target.urn in mapped[control.pk]
                    or target.urn in seen
                    or target.version.framework_id not in enabled_framework_ids
                    or not target.assessable
                ):
                    continue
                seen.add(target.urn)
                out.append(Suggestion(control, target, eq.relation, urn))
    return out


@dataclass
class CrosswalkCell:
    mapping: ControlMapping
    requirement: Requirement | None  # None: the adopted version no longer has it (orphaned)


def crosswalk_matrix(controls) -> tuple[list[ClientFramework], list[tuple[Control, dict[int, list[CrosswalkCell]]]]]:
    """Controls × enabled frameworks: what each control satisfies in every framework the client works towards."""
    cfs = list(client_frameworks())
    controls = list(controls)
    mappings = list(ControlMapping.objects.filter(control__in=controls).order_by("urn"))
    versions = {cf.framework_id: cf.version_id for cf in cfs}
    by_urn = requirements_by_urn({m.urn for m in mappings}, versions=versions)
    per_control: dict[int, dict[int, list[CrosswalkCell]]] = defaultdict(lambda: defaultdict(list))
    for m in mappings:
        requirement = by_urn.get(m.urn)
        if (
            requirement is not None
            and m.framework_id in versions
            and requirement.version_id != versions[m.framework_id]
        ):
            requirement = None
        per_control[m.control_id][m.framework_id].append(CrosswalkCell(m, requirement))
    return cfs, [(c, dict(per_control[c.pk])) for c in controls]


def control_mappings(control: Control) -> list[CrosswalkCell]:
    versions = adopted_versions()
    mappings = list(control.mappings.order_by("urn"))
    by_urn = requirements_by_urn({m.urn for m in mappings}, versions=versions)
    return [CrosswalkCell(m, by_urn.get(m.urn)) for m in mappings]


def requirement_choices(cfs=None) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(framework short name, framework id, [(urn, "ref title")]) of every enabled framework's assessable
    requirements, for the "map to a requirement" pickers."""
    cfs = list(cfs if cfs is not None else client_frameworks())
    rows = Requirement.objects.filter(version_id__in=[cf.version_id for cf in cfs], assessable=True).order_by(
        "position"
    )
    per_version: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for r in rows.only("urn", "ref_id", "title", "version_id"):
        per_version[r.version_id].append((r.urn, f"{r.ref_id} {r.title}"[:140]))
    return [(cf.framework.short_name, cf.framework_id, per_version[cf.version_id]) for cf in cfs]


def generated_evidence() -> QuerySet[Evidence]:
    return Evidence.objects.filter(kind=Evidence.Kind.GENERATED).select_related("current_revision").order_by("title")
