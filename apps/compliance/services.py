"""Writes of the compliance register, each audited in the client's chain, and the daily evidence check.

Approval (four-eyes is the default expectation, not a lock): approving needs the `edit` capability, which only
MSP staff hold. An approver may approve a revision they uploaded themselves; that is recorded as a
self-approval on the evidence, in the audit event and on the evidence page, so an auditor can see which proofs
nobody else looked at. Generated evidence is approved by Keel itself ("Keel (generated)"): its content is
Keel's own record, and it is regenerated daily.

Expiry: evidence is valid through its `expires_on` date. The daily check warns 30 and 7 days ahead (one alert
each per evidence and expiry date, `evidence_expiring`), then marks it expired (`evidence_expired`). Generated
evidence is renewed by every generation run and only alerts if it lapses (the generator stopped).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.alerts.services import alert_raise, alert_resolve_condition
from apps.audit.services import audit_record
from apps.core.context import actor_label
from apps.frameworks.models import Framework, FrameworkVersion

from . import files
from .models import (
    ClientFramework,
    Control,
    ControlMapping,
    Evidence,
    EvidenceNotice,
    EvidenceRevision,
    ReadinessSnapshot,
    RequirementAssessment,
)
from .selectors import (
    client_frameworks,
    client_today,
    orphaned_mappings,
    readiness_many,
    requirement_for_mapping,
    requirement_in_version,
)

logger = logging.getLogger(__name__)

KEEL_APPROVER = "Keel (generated)"
FREQUENCY_MONTHS = {"P1M": 1, "P3M": 3, "P6M": 6, "P1Y": 12}
UNSET = object()


class EvidenceIntegrityError(Exception):
    """The stored file no longer matches the SHA-256 recorded when it was stored."""


def _clean_email(value: str, field: str, errors: dict) -> str:
    value = (value or "").strip().lower()
    if value:
        try:
            validate_email(value)
        except ValidationError:
            errors[field] = "Enter an email address."
    return value


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


# --- frameworks ----------------------------------------------------------------------------------------------


def _cf_state(cf: ClientFramework) -> dict:
    return {
        "framework": cf.framework.ref,
        "version": cf.version.version,
        "roles": list(cf.roles),
        "assets": sorted(cf.assets.values_list("pk", flat=True)) if cf.pk else [],
        "owner_email": cf.owner_email,
    }


def _clean_roles(version: FrameworkVersion, roles) -> list[str]:
    roles = sorted({str(r).strip() for r in (roles or []) if str(r).strip()})
    offered = list(version.roles or [])
    if not offered:
        return []
    unknown = [r for r in roles if r not in offered]
    if unknown:
        raise ValidationError(
            {"roles": f"{', '.join(unknown)}: not a role of {version}. Choose from {', '.join(offered)}."}
        )
    if not roles:
        if len(offered) == 1:
            return offered
        raise ValidationError({"roles": f"Choose the client's role(s) under {version.framework.short_name}."})
    return roles


def framework_enable(
    *, framework: Framework, version: FrameworkVersion | None = None, roles=(), assets=(), owner_email: str = ""
) -> ClientFramework:
    """Start working towards a framework from the library, at its current version unless told otherwise."""
    errors: dict[str, str] = {}
    version = version or framework.current
    if version is None:
        raise ValidationError({"framework": f"{framework.short_name} has no loaded version yet."})
    if version.framework_id != framework.pk:
        raise ValidationError({"version": f"{version} is not a version of {framework.short_name}."})
    if ClientFramework.objects.filter(framework=framework).exists():
        raise ValidationError({"framework": f"{framework.short_name} is already enabled for this client."})
    owner_email = _clean_email(owner_email, "owner_email", errors)
    _raise(errors)
    roles = _clean_roles(version, roles)
    now = timezone.now()
    with transaction.atomic():
        cf = ClientFramework.objects.create(
            framework=framework,
            version=version,
            roles=roles,
            owner_email=owner_email,
            enabled_at=now,
            enabled_by=actor_label(),
            adopted_at=now,
        )
        cf.assets.set(list(assets or []))
        audit_record(action="compliance.framework_enable", target=cf, after=_cf_state(cf))
    readiness_snapshots_take()
    return cf


def client_framework_update(
    *, client_framework: ClientFramework, roles, assets, owner_email: str = ""
) -> ClientFramework:
    cf = client_framework
    errors: dict[str, str] = {}
    owner_email = _clean_email(owner_email, "owner_email", errors)
    _raise(errors)
    roles = _clean_roles(cf.version, roles)
    with transaction.atomic():
        before = _cf_state(cf)
        cf.roles, cf.owner_email = roles, owner_email
        cf.save(update_fields=["roles", "owner_email"])
        cf.assets.set(list(assets or []))
        audit_record(action="compliance.framework_update", target=cf, before=before, after=_cf_state(cf))
    readiness_snapshots_take()
    return cf


def client_framework_adopt(*, client_framework: ClientFramework, version: FrameworkVersion) -> list[ControlMapping]:
    """Move to a newer library version. Mappings and assessments are by URN, so they carry over; mappings to
    requirements the new version removed are returned (and listed on the framework page) as orphaned."""
    cf = client_framework
    if version.framework_id != cf.framework_id:
        raise ValidationError({"version": f"{version} is not a version of {cf.framework.short_name}."})
    if version.version <= cf.version.version:
        raise ValidationError({"version": f"The client is already on v{cf.version.version}; choose a newer version."})
    roles = [r for r in cf.roles if r in (version.roles or [])] if version.roles else []
    with transaction.atomic():
        before = _cf_state(cf)
        cf.version, cf.adopted_at = version, timezone.now()
        cf.roles = roles or _clean_roles(version, [])
        cf.save(update_fields=["version", "adopted_at", "roles"])
        orphans = orphaned_mappings(cf)
        after = {**_cf_state(cf), "orphaned_mappings": [f"{m.control.code} → {m.urn}" for m in orphans]}
        audit_record(action="compliance.framework_adopt", target=cf, before=before, after=after)
    readiness_snapshots_take()
    return orphans


def client_framework_disable(*, client_framework: ClientFramework) -> None:
    """Stop tracking a framework. Controls and their mappings stay (they may serve other frameworks)."""
    with transaction.atomic():
        audit_record(action="compliance.framework_disable", target=client_framework, before=_cf_state(client_framework))
        client_framework.delete()


def requirement_assess(
    *, client_framework: ClientFramework, urn: str, not_applicable: bool, justification: str = "", owner_email: str = ""
) -> RequirementAssessment:
    """Record the client's decision on one requirement: not applicable (a justification is required) and owner."""
    requirement = requirement_in_version(client_framework.version_id, urn)
    if requirement is None:
        raise ValidationError({"urn": f"{urn} is not a requirement of {client_framework}."})
    errors: dict[str, str] = {}
    justification = (justification or "").strip()
    if not_applicable and len(justification) < 10:
        errors["justification"] = "Say why it does not apply (at least a sentence): auditors read this."
    owner_email = _clean_email(owner_email, "owner_email", errors)
    _raise(errors)
    with transaction.atomic():
        assessment = RequirementAssessment.objects.filter(client_framework=client_framework, urn=urn).first()
        before = None
        if assessment is None:
            assessment = RequirementAssessment(client_framework=client_framework, urn=urn)
        else:
            before = {k: getattr(assessment, k) for k in ("not_applicable", "justification", "owner_email")}
        assessment.not_applicable = bool(not_applicable)
        assessment.justification = justification if not_applicable else ""
        assessment.owner_email = owner_email
        assessment.updated_by = actor_label()
        assessment.save()
        after = {k: getattr(assessment, k) for k in ("not_applicable", "justification", "owner_email")}
        audit_record(
            action="compliance.requirement_assess",
            target=assessment,
            object_repr=f"{client_framework.framework.short_name} {requirement.ref_id}",
            before=before,
            after={**after, "urn": urn},
        )
    readiness_snapshots_take()
    return assessment


# --- controls ------------------------------------------------------------------------------------------------

CONTROL_FIELDS = [
    "code",
    "name",
    "description",
    "owner_email",
    "status",
    "review_frequency",
    "last_reviewed_on",
    "next_review_on",
]


def _control_state(control: Control) -> dict:
    return {f: getattr(control, f) for f in CONTROL_FIELDS}


def control_save(
    *,
    control: Control | None = None,
    code: str,
    name: str,
    description: str = "",
    owner_email: str = "",
    status: str = Control.Status.PLANNED,
    review_frequency: str = Control.Frequency.YEARLY,
    next_review_on: dt.date | None = None,
) -> Control:
    errors: dict[str, str] = {}
    code = (code or "").strip().upper()
    name = (name or "").strip()
    if not code:
        errors["code"] = "Give the control a short code, e.g. AI-LOG-01."
    elif len(code) > 40:
        errors["code"] = "At most 40 characters."
    elif Control.objects.filter(code__iexact=code).exclude(pk=getattr(control, "pk", None)).exists():
        errors["code"] = f"Another control already has the code {code}."
    if not name:
        errors["name"] = "Name the control."
    if status not in Control.Status.values:
        errors["status"] = f"Choose one of: {', '.join(Control.Status.values)}."
    if review_frequency not in Control.Frequency.values:
        errors["review_frequency"] = f"Choose one of: {', '.join(Control.Frequency.values)}."
    owner_email = _clean_email(owner_email, "owner_email", errors)
    _raise(errors)
    creating = control is None
    with transaction.atomic():
        before = None if creating else _control_state(Control.objects.get(pk=control.pk))
        control = control or Control()
        control.code, control.name, control.description = code, name, (description or "").strip()
        control.owner_email, control.status, control.review_frequency = owner_email, status, review_frequency
        if next_review_on is None and status == Control.Status.ACTIVE and not control.next_review_on:
            next_review_on = add_months(client_today(), FREQUENCY_MONTHS[review_frequency])
        if next_review_on is not None:
            control.next_review_on = next_review_on
        control.save()
        audit_record(
            action="compliance.control_create" if creating else "compliance.control_update",
            target=control,
            before=before,
            after=_control_state(control),
        )
    readiness_snapshots_take()
    return control


def control_review(*, control: Control, note: str = "") -> Control:
    """Record that the control was reviewed today; the next review follows from its frequency."""
    today = client_today()
    with transaction.atomic():
        before = _control_state(control)
        control.last_reviewed_on = today
        control.next_review_on = add_months(today, FREQUENCY_MONTHS[control.review_frequency])
        control.save(update_fields=["last_reviewed_on", "next_review_on", "updated_at"])
        audit_record(
            action="compliance.control_review",
            target=control,
            before=before,
            after={**_control_state(control), "note": (note or "").strip()},
        )
    alert_resolve_condition(dedup_key=f"control:{control.pk}:review", note=f"Reviewed by {actor_label()}.")
    return control


def mapping_add(
    *, control: Control, urn: str, coverage: str = ControlMapping.Coverage.FULL, rationale: str = ""
) -> ControlMapping:
    """Map a control to a requirement (by URN; the requirement must exist in the library and be assessable)."""
    urn = (urn or "").strip()
    requirement = requirement_for_mapping(urn)
    if requirement is None:
        raise ValidationError({"urn": f"No requirement {urn or '(empty)'} in the framework library."})
    if not requirement.assessable:
        raise ValidationError({"urn": f"{requirement.ref_id} is a heading, not a requirement; map its requirements."})
    if coverage not in ControlMapping.Coverage.values:
        raise ValidationError({"coverage": "Coverage is full or partial."})
    if ControlMapping.objects.filter(control=control, urn=urn).exists():
        raise ValidationError({"urn": f"{control.code} is already mapped to {requirement.ref_id}."})
    with transaction.atomic():
        mapping = ControlMapping.objects.create(
            control=control,
            urn=urn,
            framework_id=requirement.version.framework_id,
            coverage=coverage,
            rationale=(rationale or "").strip(),
            created_by=actor_label(),
        )
        audit_record(
            action="compliance.mapping_add",
            target=mapping,
            after={"control": control.code, "urn": urn, "coverage": coverage, "rationale": mapping.rationale},
        )
    readiness_snapshots_take()
    return mapping


def mapping_update(*, mapping: ControlMapping, coverage: str, rationale: str = "") -> ControlMapping:
    if coverage not in ControlMapping.Coverage.values:
        raise ValidationError({"coverage": "Coverage is full or partial."})
    with transaction.atomic():
        before = {"coverage": mapping.coverage, "rationale": mapping.rationale}
        mapping.coverage, mapping.rationale = coverage, (rationale or "").strip()
        mapping.save(update_fields=["coverage", "rationale"])
        audit_record(
            action="compliance.mapping_update",
            target=mapping,
            before=before,
            after={"coverage": mapping.coverage, "rationale": mapping.rationale},
        )
    readiness_snapshots_take()
    return mapping


def mapping_remove(*, mapping: ControlMapping) -> None:
    with transaction.atomic():
        audit_record(
            action="compliance.mapping_remove",
            target=mapping,
            before={"control": mapping.control.code, "urn": mapping.urn, "coverage": mapping.coverage},
        )
        mapping.delete()
    readiness_snapshots_take()


# --- evidence ------------------------------------------------------------------------------------------------

EVIDENCE_FIELDS = ["title", "description", "kind", "owner_email", "status", "expires_on", "approved_by"]


def _evidence_state(evidence: Evidence) -> dict:
    data = {f: getattr(evidence, f) for f in EVIDENCE_FIELDS}
    if evidence.pk:
        data["controls"] = sorted(evidence.controls.values_list("code", flat=True))
        data["assets"] = sorted(evidence.assets.values_list("pk", flat=True))
    return data


def _revision_state(revision: EvidenceRevision) -> dict:
    return {
        "number": revision.number,
        "display_name": revision.display_name,
        "url": revision.url,
        "size": revision.size,
        "sha256": revision.sha256,
        "file_type": revision.file_type,
        "effective_date": revision.effective_date,
        "generated": revision.generated,
    }


def _clean_meta(title: str, effective_date, expires_on, errors: dict) -> str:
    title = (title or "").strip()
    if not title:
        errors["title"] = "Give the evidence a title, e.g. “AI use policy 2026”."
    if effective_date is None:
        errors["effective_date"] = "Give the date the evidence proves (e.g. the date of the test or the policy)."
    elif effective_date > client_today() + dt.timedelta(days=366):
        errors["effective_date"] = "That effective date is more than a year ahead."
    if expires_on is not None and effective_date is not None and expires_on < effective_date:
        errors["expires_on"] = "It cannot expire before the date it proves."
    return title


def _clean_url(url: str, errors: dict) -> str:
    url = (url or "").strip()
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        errors["url"] = "Enter the link (https://…) to the evidence."
    return url


def evidence_create(
    *,
    title: str,
    effective_date: dt.date | None,
    file=None,
    url: str = "",
    description: str = "",
    expires_on: dt.date | None = None,
    controls=(),
    assets=(),
    owner_email: str = "",
    note: str = "",
    approve: bool = False,
) -> Evidence:
    """New evidence: an uploaded file (checked, stored, hashed) or a link. It starts as a draft unless the
    uploader approves it at once (recorded as a self-approval)."""
    errors: dict[str, str] = {}
    title = _clean_meta(title, effective_date, expires_on, errors)
    owner_email = _clean_email(owner_email, "owner_email", errors)
    checked = None
    if file is not None:
        try:
            checked = files.check_upload(file)
        except ValidationError as exc:
            errors["file"] = exc.messages[0]
    elif url:
        url = _clean_url(url, errors)
    else:
        errors["file"] = "Choose a file to upload (or give a link)."
    _raise(errors)
    with transaction.atomic():
        evidence = Evidence.objects.create(
            title=title,
            description=(description or "").strip(),
            kind=Evidence.Kind.UPLOAD if file is not None else Evidence.Kind.LINK,
            owner_email=owner_email,
            expires_on=expires_on,
            created_by=actor_label(),
        )
        evidence.controls.set(list(controls or []))
        evidence.assets.set(list(assets or []))
        revision = _new_revision(
            evidence, file=file, checked=checked, url=url, effective_date=effective_date, note=note
        )
        audit_record(
            action="compliance.evidence_create",
            target=evidence,
            after={**_evidence_state(evidence), "revision": _revision_state(revision)},
        )
        if approve:
            evidence_approve(evidence=evidence, note="Approved on upload.", refresh=False)
    readiness_snapshots_take()
    return evidence


def _new_revision(evidence, *, file=None, checked=None, url="", effective_date, note="", generated=False, content=None):
    """Store the next revision: the file under the client's prefix (hash computed while storing) or the link."""
    number = (evidence.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
    revision = EvidenceRevision(
        evidence=evidence,
        number=number,
        effective_date=effective_date,
        note=(note or "").strip(),
        uploaded_at=timezone.now(),
        uploaded_by=KEEL_APPROVER if generated else actor_label(),
        generated=generated,
    )
    if file is not None:
        name, size, sha256 = files.store(
            file, evidence_id=evidence.pk, number=number, display_name=checked.display_name
        )
        revision.file_name, revision.size, revision.sha256 = name, size, sha256
        revision.display_name, revision.file_type, revision.content_type = (
            checked.display_name,
            checked.file_type,
            checked.content_type,
        )
        revision.integrity, revision.integrity_checked_at = EvidenceRevision.Integrity.OK, timezone.now()
    else:
        revision.url = url
        revision.integrity = EvidenceRevision.Integrity.NOT_APPLICABLE
    revision.save()
    evidence.current_revision = revision
    evidence.save(update_fields=["current_revision", "updated_at"])
    return revision


def evidence_add_revision(
    *,
    evidence: Evidence,
    effective_date: dt.date | None,
    file=None,
    url: str = "",
    note: str = "",
    expires_on=UNSET,
    approve: bool = False,
) -> EvidenceRevision:
    """A new version of the proof. The previous revisions stay as they are; the evidence returns to draft."""
    if evidence.kind == Evidence.Kind.GENERATED:
        raise ValidationError("Keel generates this evidence itself; it gets a new revision when its content changes.")
    errors: dict[str, str] = {}
    new_expiry = evidence.expires_on if expires_on is UNSET else expires_on
    _clean_meta(evidence.title, effective_date, new_expiry, errors)
    checked = None
    if evidence.kind == Evidence.Kind.UPLOAD:
        if file is None:
            errors["file"] = "Choose the new file."
        else:
            try:
                checked = files.check_upload(file)
            except ValidationError as exc:
                errors["file"] = exc.messages[0]
    else:
        url = _clean_url(url, errors)
    _raise(errors)
    with transaction.atomic():
        evidence = Evidence.objects.select_for_update().get(pk=evidence.pk)
        before = _evidence_state(evidence)
        old_expiry = evidence.expires_on
        revision = _new_revision(
            evidence,
            file=file if evidence.kind == Evidence.Kind.UPLOAD else None,
            checked=checked,
            url=url,
            effective_date=effective_date,
            note=note,
        )
        evidence.expires_on = new_expiry
        _back_to_draft(evidence)
        evidence.save()
        audit_record(
            action="compliance.evidence_revision",
            target=evidence,
            before=before,
            after={**_evidence_state(evidence), "revision": _revision_state(revision)},
        )
        if old_expiry != evidence.expires_on:
            _resolve_expiry_alerts(evidence, old_expiry, "A new revision with a new expiry date was uploaded.")
        if approve:
            evidence_approve(evidence=evidence, note="Approved on upload.", refresh=False)
    readiness_snapshots_take()
    return revision


def _back_to_draft(evidence: Evidence) -> None:
    evidence.status = Evidence.Status.DRAFT
    evidence.approved_by, evidence.approved_at, evidence.approved_revision = "", None, None
    evidence.self_approved = False
    evidence.rejection_reason, evidence.rejected_by, evidence.rejected_at = "", "", None


def evidence_update(
    *,
    evidence: Evidence,
    title: str,
    description: str = "",
    expires_on: dt.date | None = None,
    controls=(),
    assets=(),
    owner_email: str = "",
) -> Evidence:
    """Change what the evidence says about itself. A new expiry date on approved or expired evidence needs a
    new approval (someone must confirm the proof still holds that long)."""
    errors: dict[str, str] = {}
    effective = evidence.current_revision.effective_date if evidence.current_revision else None
    title = _clean_meta(title, effective or client_today(), expires_on, errors)
    owner_email = _clean_email(owner_email, "owner_email", errors)
    _raise(errors)
    with transaction.atomic():
        before = _evidence_state(evidence)
        old_expiry = evidence.expires_on
        evidence.title, evidence.description, evidence.owner_email = title, (description or "").strip(), owner_email
        if expires_on != old_expiry and evidence.kind != Evidence.Kind.GENERATED:
            evidence.expires_on = expires_on
            if evidence.status in (Evidence.Status.APPROVED, Evidence.Status.EXPIRED):
                _back_to_draft(evidence)
        evidence.save()
        evidence.controls.set(list(controls or []))
        evidence.assets.set(list(assets or []))
        audit_record(
            action="compliance.evidence_update", target=evidence, before=before, after=_evidence_state(evidence)
        )
        if old_expiry != evidence.expires_on:
            _resolve_expiry_alerts(evidence, old_expiry, "The expiry date was changed.")
    readiness_snapshots_take()
    return evidence


def evidence_approve(*, evidence: Evidence, note: str = "", refresh: bool = True) -> Evidence:
    """Approve the current revision. Only a draft can be approved; its file must verify and not be expired."""
    revision = evidence.current_revision
    if evidence.status != Evidence.Status.DRAFT:
        raise ValidationError(
            f"Only a draft can be approved; this evidence is {evidence.get_status_display().lower()}."
        )
    if revision is None:
        raise ValidationError("There is nothing to approve yet: upload a file or give a link.")
    if revision.is_file and not revision_verify(revision=revision):
        raise ValidationError("The stored file failed its integrity check; upload it again before approving.")
    if evidence.expires_on and evidence.expires_on < client_today():
        raise ValidationError(f"It expired on {evidence.expires_on:%-d %b %Y}; set a new expiry date first.")
    approver = actor_label()
    self_approved = approver == revision.uploaded_by
    with transaction.atomic():
        before = _evidence_state(evidence)
        evidence.status = Evidence.Status.APPROVED
        evidence.approved_by, evidence.approved_at = approver, timezone.now()
        evidence.approved_revision, evidence.self_approved = revision.number, self_approved
        evidence.save()
        audit_record(
            action="compliance.evidence_approve",
            target=evidence,
            before=before,
            after={
                **_evidence_state(evidence),
                "revision": revision.number,
                "sha256": revision.sha256,
                "self_approved": self_approved,
                "note": (note or "").strip(),
            },
        )
    if refresh:
        readiness_snapshots_take()
    return evidence


def evidence_reject(*, evidence: Evidence, reason: str) -> Evidence:
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ValidationError({"reason": "Say what is wrong with it, so the owner can fix it."})
    if evidence.status not in (Evidence.Status.DRAFT, Evidence.Status.APPROVED):
        raise ValidationError(f"This evidence is {evidence.get_status_display().lower()}; it cannot be rejected.")
    if evidence.kind == Evidence.Kind.GENERATED:
        raise ValidationError("Generated evidence is Keel's own record; detach it from the control instead.")
    with transaction.atomic():
        before = _evidence_state(evidence)
        evidence.status = Evidence.Status.REJECTED
        evidence.rejection_reason, evidence.rejected_by, evidence.rejected_at = reason, actor_label(), timezone.now()
        evidence.approved_by, evidence.approved_at, evidence.approved_revision = "", None, None
        evidence.self_approved = False
        evidence.save()
        audit_record(
            action="compliance.evidence_reject",
            target=evidence,
            before=before,
            after={**_evidence_state(evidence), "reason": reason},
        )
    readiness_snapshots_take()
    return evidence


# --- integrity -----------------------------------------------------------------------------------------------


def revision_verify(*, revision: EvidenceRevision) -> bool:
    """Re-read the stored file and compare its SHA-256 and size with the recorded ones. A mismatch (or a missing
    file) marks the revision "integrity failed", is audited and raises an alert: somebody changed the file."""
    if not revision.is_file:
        return True
    digest, size = files.stored_sha256(revision.file_name)
    now = timezone.now()
    if digest == revision.sha256 and size == revision.size:
        if revision.integrity != EvidenceRevision.Integrity.OK:
            revision.integrity_message = f"Matched its recorded SHA-256 again on {now:%Y-%m-%d %H:%M} UTC."
        revision.integrity, revision.integrity_checked_at = EvidenceRevision.Integrity.OK, now
        revision.save(update_fields=["integrity", "integrity_checked_at", "integrity_message"])
        return True
    message = (
        "The stored file is missing."
        if digest is None
        else f"The stored file's SHA-256 is {digest} ({size:,} bytes); {revision.sha256} ({revision.size:,} bytes) "
        "was recorded when it was stored."
    )
    first_failure = revision.integrity != EvidenceRevision.Integrity.FAILED
    with transaction.atomic():
        revision.integrity, revision.integrity_checked_at, revision.integrity_message = (
            EvidenceRevision.Integrity.FAILED,
            now,
            message,
        )
        revision.save(update_fields=["integrity", "integrity_checked_at", "integrity_message"])
        if first_failure:
            audit_record(
                action="compliance.evidence_integrity_failed",
                target=revision.evidence,
                after={"revision": revision.number, "recorded_sha256": revision.sha256, "found_sha256": digest or ""},
            )
        evidence = revision.evidence
        alert_raise(
            kind="evidence_integrity",
            severity="high",
            subject=f"Evidence “{evidence.title}” revision {revision.number} failed its integrity check",
            body=f"{message}\nThe evidence no longer counts towards readiness. Restore the original file from a "
            "backup, or find out who changed it (the audit trail records every upload).",
            dedup_key=f"evidence:{evidence.pk}:integrity:{revision.number}",
            link=f"/compliance/evidence/{evidence.pk}/",
            data={
                "evidence_id": evidence.pk,
                "revision": revision.number,
                "recorded": revision.sha256,
                "found": digest,
            },
        )
    logger.warning("evidence %s r%s integrity failed: %s", revision.evidence_id, revision.number, message)
    return False


def revision_open(*, revision: EvidenceRevision):
    """The stored file, opened for reading, after its SHA-256 was verified; EvidenceIntegrityError otherwise."""
    from django.core.files.storage import default_storage

    if not revision_verify(revision=revision):
        raise EvidenceIntegrityError(revision.integrity_message)
    return default_storage.open(revision.file_name, "rb")


# --- the daily check -----------------------------------------------------------------------------------------

NOTICE_SEVERITY = {
    EvidenceNotice.Kind.EXPIRING_30: "low",
    EvidenceNotice.Kind.EXPIRING_7: "medium",
    EvidenceNotice.Kind.EXPIRED: "high",
}


def _notice_key(evidence_id: int, kind: str, expires_on: dt.date) -> str:
    return f"evidence:{evidence_id}:{kind}:{expires_on.isoformat()}"


def _resolve_expiry_alerts(evidence: Evidence, expires_on: dt.date | None, note: str) -> None:
    if expires_on is None:
        return
    for kind in EvidenceNotice.Kind.values:
        alert_resolve_condition(dedup_key=_notice_key(evidence.pk, kind, expires_on), note=note)


def _notify(evidence: Evidence, kind: str, today: dt.date) -> bool:
    """Raise the notice's alert unless it already fired for this expiry date; True when it was raised now."""
    with transaction.atomic():
        notice, created = EvidenceNotice.objects.get_or_create(
            evidence=evidence, kind=kind, expires_on=evidence.expires_on, defaults={"fired_at": timezone.now()}
        )
        if not created:
            return False
        days = (evidence.expires_on - today).days
        controls = ", ".join(evidence.controls.values_list("code", flat=True)) or "no control"
        if kind == EvidenceNotice.Kind.EXPIRED:
            subject = f"Evidence “{evidence.title}” expired on {evidence.expires_on:%-d %b %Y}"
            body = f"It no longer counts towards readiness of {controls}. Upload a current revision."
            alert_kind = "evidence_expired"
        else:
            subject = f"Evidence “{evidence.title}” expires in {days} day{'s' if days != 1 else ''}"
            body = f"Valid through {evidence.expires_on:%-d %b %Y}; it proves {controls}. Upload a current revision."
            alert_kind = "evidence_expiring"
        notice.alert = alert_raise(
            kind=alert_kind,
            severity=NOTICE_SEVERITY[kind],
            subject=subject,
            body=body,
            dedup_key=_notice_key(evidence.pk, kind, evidence.expires_on),
            link=f"/compliance/evidence/{evidence.pk}/",
            data={"evidence_id": evidence.pk, "expires_on": evidence.expires_on.isoformat(), "notice": kind},
        )
        notice.save(update_fields=["alert"])
        if evidence.owner_email and not notice.alert.owner_email:
            from apps.alerts.services import alert_assign

            alert_assign(alert=notice.alert, owner_email=evidence.owner_email)
    return True


def evidence_check(*, today: dt.date | None = None, verify_files: bool = True) -> dict:
    """Daily: expiry warnings (30 and 7 days ahead, once each), marking expired evidence, re-verifying every
    stored file's SHA-256, and control reviews that fell due."""
    today = today or client_today()
    result = {"warned": 0, "expired": 0, "verified": 0, "integrity_failed": 0, "reviews_due": 0}
    for evidence in (
        Evidence.objects.exclude(expires_on=None).exclude(status=Evidence.Status.REJECTED).prefetch_related("controls")
    ):
        days = (evidence.expires_on - today).days
        if days < 0:
            was_valid = evidence.status == Evidence.Status.APPROVED
            if evidence.status != Evidence.Status.EXPIRED:
                with transaction.atomic():
                    before = _evidence_state(evidence)
                    evidence.status = Evidence.Status.EXPIRED
                    evidence.save(update_fields=["status", "updated_at"])
                    audit_record(
                        action="compliance.evidence_expire",
                        target=evidence,
                        before=before,
                        after=_evidence_state(evidence),
                    )
                result["expired"] += 1
            if was_valid:
                _notify(evidence, EvidenceNotice.Kind.EXPIRED, today)
        elif evidence.status == Evidence.Status.APPROVED and evidence.kind != Evidence.Kind.GENERATED:
            kind = (
                EvidenceNotice.Kind.EXPIRING_7 if days <= 7 else EvidenceNotice.Kind.EXPIRING_30 if days <= 30 else None
            )
            if kind and _notify(evidence, kind, today):
                result["warned"] += 1
    if verify_files:
        for revision in EvidenceRevision.objects.exclude(file_name="").select_related("evidence"):
            result["verified"] += 1
            if not revision_verify(revision=revision):
                result["integrity_failed"] += 1
    for control in Control.objects.filter(status=Control.Status.ACTIVE, next_review_on__lt=today):
        result["reviews_due"] += 1
        alert_raise(
            kind="control_review_due",
            severity="low",
            subject=f"Control {control.code} was due for review on {control.next_review_on:%-d %b %Y}",
            body=f"“{control.name}” is reviewed {control.get_review_frequency_display().lower()}. "
            "Review it and record the review on the control's page.",
            dedup_key=f"control:{control.pk}:review",
            link=f"/compliance/controls/{control.pk}/",
            data={"control_id": control.pk, "next_review_on": control.next_review_on.isoformat()},
        )
    readiness_snapshots_take(today=today)
    return result


# --- readiness snapshots -------------------------------------------------------------------------------------


def readiness_snapshots_take(*, today: dt.date | None = None) -> int:
    """Today's readiness of every enabled framework (the trend's point; refreshed after each change). Derived
    data, so not audited: the changes that move it are."""
    today = today or client_today()
    cfs = list(client_frameworks())
    now = timezone.now()
    for cf_id, result in readiness_many(cfs, today=today).items():
        ReadinessSnapshot.objects.update_or_create(
            client_framework_id=cf_id,
            day=today,
            defaults={
                "version_number": result.client_framework.version.version,
                "score": result.score,
                "counts": result.counts,
                "gaps": result.gap_count,
                "taken_at": now,
            },
        )
    return len(cfs)
