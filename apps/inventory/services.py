"""Writes for the inventory. Every change is audited in the client's chain and re-checks the guardrails."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from apps.audit.services import audit_record, snapshot, snapshot_stored

from .models import (
    KIND_MODEL,
    RELATION_TARGET_KIND,
    Agent,
    AgentTool,
    Asset,
    AssetKind,
    AssetRelation,
    Department,
    Lifecycle,
    Power,
    Prompt,
    PromptVersion,
    RiskTier,
)

DEPARTMENT_FIELDS = ["name", "code", "cost_center", "owner_email", "description"]

COMMON_FIELDS = [
    "name",
    "owner_email",
    "department",
    "purpose",
    "lifecycle",
    "risk_tier",
    "annex_iii_area",
    "risk_rationale",
    "data_classification",
    "personal_data",
    "residency_region",
    "cost_tags",
]
KIND_FIELDS = {
    AssetKind.MODEL: [
        "provider",
        "model_id",
        "model_version",
        "hosting",
        "open_weight",
        "licence",
        "region",
        "context_window",
        "deprecation_date",
        "task",
        "intended_use",
        "limitations",
        "evaluation_results",
        "training_data_summary",
    ],
    AssetKind.AGENT: ["autonomy_level", "spend_cap", "spend_cap_currency", "spend_cap_period", "approval_required_for"]
    + ["kill_switch_url"],
    AssetKind.PROMPT: [],
    AssetKind.PIPELINE: [
        "sources",
        "vector_store",
        "embedding_model",
        "refresh_schedule",
        "last_refreshed_at",
        "per_document_access_control",
    ],
    AssetKind.ENDPOINT: ["environment", "url", "model", "region"],
    AssetKind.INTEGRATION: ["system_kind", "system_name", "direction", "health_status", "health_checked_at"],
}
TOOL_FIELDS = ["name", "description", "integration", "powers", "max_amount_per_action", "max_calls_per_hour"] + [
    "limit_note"
]
AUDIT_OBJECT_TYPE = "inventory.asset"  # one history per asset, whatever its kind
TAG_KEY = re.compile(r"^[A-Za-z0-9_.:/@+=-]{1,64}$")


def fields_for_kind(kind: str) -> list[str]:
    return COMMON_FIELDS + KIND_FIELDS[kind]


# --- departments ---------------------------------------------------------------------------------------------


def department_save(*, department: Department | None = None, **fields) -> Department:
    """Create a department, or change one; names and codes are unique within the client."""
    unknown = set(fields) - set(DEPARTMENT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown department fields: {', '.join(sorted(unknown))}.")
    before = snapshot_stored(department, DEPARTMENT_FIELDS)
    department = department or Department()
    for key, value in fields.items():
        setattr(department, key, value.strip() if isinstance(value, str) else value)
    department.full_clean(validate_constraints=False)
    _check_department_unique(department)
    try:
        with transaction.atomic():
            department.save()
            audit_record(
                action="department.update" if before else "department.create",
                target=department,
                before=before,
                after=snapshot(department, DEPARTMENT_FIELDS),
            )
    except IntegrityError as exc:  # a concurrent save took the name or code
        raise ValidationError("A department with this name or code already exists.") from exc
    return department


def _check_department_unique(department: Department) -> None:
    others = Department.objects.exclude(pk=department.pk)
    errors = {}
    if others.filter(name__iexact=department.name).exists():
        errors["name"] = "A department with this name already exists."
    if others.filter(code=department.code).exists():
        errors["code"] = "A department with this code already exists."
    if errors:
        raise ValidationError(errors)


def department_delete(*, department: Department) -> None:
    with transaction.atomic():
        audit_record(action="department.delete", target=department, before=snapshot(department, DEPARTMENT_FIELDS))
        department.delete()


# --- assets --------------------------------------------------------------------------------------------------


def owner_choices() -> dict[str, str]:
    """People who may own this client's assets: its members, the MSP's admins and department owners."""
    from apps.accounts.selectors import people_for_client
    from apps.tenancy.selectors import current_client

    client = current_client()
    people = people_for_client(client=client) if client is not None else {}
    for email in Department.objects.exclude(owner_email="").values_list("owner_email", flat=True):
        people.setdefault(email.lower(), email)
    return people


def validate_owner(email: str, known: dict[str, str] | None = None) -> str:
    email = (email or "").strip().lower()
    if not email:
        return ""
    known = owner_choices() if known is None else known
    if email not in {e.lower() for e in known}:
        raise ValidationError(
            {"owner_email": f"{email} is not a member of this client, an MSP admin or a department owner."}
        )
    return email


def clean_cost_tags(value) -> dict[str, str]:
    """Tags as {"key": "value"}; accepts "key=value; key2=value2" text as typed in a form or a CSV cell."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        pairs = {}
        for part in re.split(r"[;\n]", value):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise ValidationError({"cost_tags": f"Write each tag as key=value (got “{part}”)."})
            key, _, tag_value = part.partition("=")
            pairs[key.strip()] = tag_value.strip()
        value = pairs
    if not isinstance(value, dict):
        raise ValidationError({"cost_tags": "Cost tags must be key=value pairs."})
    for key, tag_value in value.items():
        if not isinstance(key, str) or not TAG_KEY.match(key):
            raise ValidationError({"cost_tags": f"Tag key “{key}” must be 1–64 letters, digits or _.:/@+=-"})
        if not isinstance(tag_value, str | int) or len(str(tag_value)) > 256:
            raise ValidationError({"cost_tags": f"Tag “{key}” needs a text value of at most 256 characters."})
    return {key: str(tag_value) for key, tag_value in value.items()}


def _clean_json_list(field: str, value, required_keys: tuple[str, ...]) -> list[dict]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValidationError({field: "Expected a list of entries."})
    for item in value:
        missing = [key for key in required_keys if not str(item.get(key, "")).strip()]
        if missing:
            raise ValidationError({field: f"Each entry needs {', '.join(missing)}."})
    return value


def prepare_asset(kind: str, asset: Asset | None, fields: dict, *, known_owners: dict | None = None) -> Asset:
    """Apply and validate fields on an (unsaved) asset of `kind`. Shared by forms, the API and CSV import."""
    allowed = set(fields_for_kind(kind))
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"Unknown fields for a {AssetKind(kind).label.lower()}: {', '.join(sorted(unknown))}.")
    asset = asset or KIND_MODEL[kind](kind=kind)
    for key, value in fields.items():
        setattr(asset, key, value.strip() if isinstance(value, str) else value)
    errors: dict[str, list[str]] = {}
    # Each check adds its message; the person sees every problem at once, not one per attempt.
    checks = []
    if "owner_email" in fields:
        checks.append(("owner_email", lambda: validate_owner(asset.owner_email, known_owners)))
    if "cost_tags" in fields:
        checks.append(("cost_tags", lambda: clean_cost_tags(fields["cost_tags"])))
    if kind == AssetKind.MODEL and "evaluation_results" in fields:
        checks.append(
            (
                "evaluation_results",
                lambda: _clean_json_list("evaluation_results", asset.evaluation_results, ("metric",)),
            )
        )
    if kind == AssetKind.PIPELINE and "sources" in fields:
        checks.append(("sources", lambda: _clean_json_list("sources", asset.sources, ("name",))))
    for field, check in checks:
        try:
            setattr(asset, field, check())
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if kind == AssetKind.AGENT:
        asset.spend_cap_currency = (asset.spend_cap_currency or "USD").upper()
        asset.approval_required_for = sorted(set(asset.approval_required_for or []))
    if asset.risk_tier != RiskTier.HIGH:
        asset.annex_iii_area = ""
    if asset.risk_tier == RiskTier.HIGH and not asset.annex_iii_area:
        errors["annex_iii_area"] = "A high-risk asset needs its Annex III area (which use case makes it high risk)."
    try:
        asset.full_clean(validate_constraints=False, validate_unique=False, exclude=list(errors))
    except ValidationError as exc:
        errors = {**exc.message_dict, **errors}
    if errors:
        raise ValidationError(errors)
    return asset


def _check_asset_unique(asset: Asset) -> None:
    if Asset.objects.filter(kind=asset.kind, name__iexact=asset.name).exclude(pk=asset.pk).exists():
        label = AssetKind(asset.kind).label.lower()
        raise ValidationError({"name": f"A {label} named “{asset.name}” is already registered."})


def asset_snapshot(asset: Asset) -> dict:
    return snapshot(asset, fields_for_kind(asset.kind))


def asset_save(*, kind: str, asset: Asset | None = None, **fields) -> Asset:
    """Register an asset of `kind`, or change one. Audited; guardrails re-checked in the same transaction."""
    if kind not in KIND_MODEL:
        raise ValidationError({"kind": f"Unknown asset kind {kind!r}."})
    if asset is not None and asset.kind != kind:
        raise ValidationError({"kind": "An asset's kind cannot change; register a new asset instead."})
    before = snapshot_stored(asset, fields_for_kind(kind))
    asset = prepare_asset(kind, asset, fields)
    _check_asset_unique(asset)
    try:
        with transaction.atomic():
            asset.save()
            if kind == AssetKind.MODEL:
                from .deprecation import model_catalog_match

                model_catalog_match(models=[asset])
            audit_record(
                action=f"{kind}.update" if before else f"{kind}.create",
                target=asset,
                object_type=AUDIT_OBJECT_TYPE,
                before=before,
                after=asset_snapshot(asset),
            )
            _refresh_guardrails([asset.pk])
    except IntegrityError as exc:  # a concurrent save took the name
        raise ValidationError({"name": "An asset of this kind with this name already exists."}) from exc
    return asset


def asset_delete(*, asset: Asset) -> None:
    """Remove a registration made in error. Retire assets that existed instead: their history stays useful."""
    from apps.alerts.services import alert_resolve_condition

    with transaction.atomic():
        for finding in asset.findings.filter(status="open"):
            alert_resolve_condition(dedup_key=finding.dedup_key, note=f"{asset.name} was removed from the inventory.")
        audit_record(
            action=f"{asset.kind}.delete", target=asset, object_type=AUDIT_OBJECT_TYPE, before=asset_snapshot(asset)
        )
        asset.delete()


def assets_retire(*, assets: Iterable[Asset]) -> int:
    """Bulk action: mark assets retired (their findings close; retired assets are not checked)."""
    changed = 0
    with transaction.atomic():
        for asset in assets:
            if asset.lifecycle == Lifecycle.RETIRED:
                continue
            before = {"lifecycle": asset.lifecycle}
            Asset.objects.filter(pk=asset.pk).update(lifecycle=Lifecycle.RETIRED)
            audit_record(
                action=f"{asset.kind}.retire",
                target=asset,
                object_type=AUDIT_OBJECT_TYPE,
                before=before,
                after={"lifecycle": Lifecycle.RETIRED},
            )
            changed += 1
        _refresh_guardrails([asset.pk for asset in assets])
    return changed


def assets_assign_owner(*, assets: Iterable[Asset], owner_email: str) -> int:
    owner_email = validate_owner(owner_email)
    if not owner_email:
        raise ValidationError({"owner_email": "Choose the new owner."})
    changed = 0
    with transaction.atomic():
        for asset in assets:
            if asset.owner_email == owner_email:
                continue
            Asset.objects.filter(pk=asset.pk).update(owner_email=owner_email)
            audit_record(
                action=f"{asset.kind}.assign_owner",
                target=asset,
                object_type=AUDIT_OBJECT_TYPE,
                before={"owner_email": asset.owner_email},
                after={"owner_email": owner_email},
            )
            changed += 1
    return changed


def _refresh_guardrails(asset_ids: list[int]) -> None:
    from .guardrails import guardrails_evaluate

    guardrails_evaluate(asset_ids=asset_ids)


# --- agent tools ---------------------------------------------------------------------------------------------


def agent_tool_save(*, agent: Agent, tool: AgentTool | None = None, **fields) -> AgentTool:
    unknown = set(fields) - set(TOOL_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown tool fields: {', '.join(sorted(unknown))}.")
    before = snapshot_stored(tool, TOOL_FIELDS)
    tool = tool or AgentTool(agent=agent)
    for key, value in fields.items():
        setattr(tool, key, value.strip() if isinstance(value, str) else value)
    tool.powers = sorted(set(tool.powers or []), key=list(Power.values).index)
    errors = {}
    if not tool.powers:
        errors["powers"] = "Say what the tool lets the agent do (at least “read data”)."
    try:
        tool.full_clean(validate_constraints=False, validate_unique=False)
    except ValidationError as exc:
        errors = {**exc.message_dict, **errors}
    if agent.tools.filter(name__iexact=tool.name).exclude(pk=tool.pk).exists():
        errors["name"] = f"{agent.name} already has a tool named “{tool.name}”."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        tool.save()
        audit_record(
            action="agent.tool_update" if before else "agent.tool_add",
            target=agent,
            object_type=AUDIT_OBJECT_TYPE,
            before=before,
            after=snapshot(tool, TOOL_FIELDS),
        )
        _refresh_guardrails([agent.pk])
    return tool


def agent_tool_delete(*, tool: AgentTool) -> None:
    agent = tool.agent
    with transaction.atomic():
        audit_record(
            action="agent.tool_remove", target=agent, object_type=AUDIT_OBJECT_TYPE, before=snapshot(tool, TOOL_FIELDS)
        )
        tool.delete()
        _refresh_guardrails([agent.pk])


# --- prompt versions -----------------------------------------------------------------------------------------


def prompt_version_add(*, prompt: Prompt, template: str, change_note: str, author_email: str) -> PromptVersion:
    """Prompts are never edited in place: each change is a new numbered version with its author and reason."""
    template = template.strip("\n")
    errors = {}
    if not template.strip():
        errors["template"] = "The template is empty."
    if not change_note.strip():
        errors["change_note"] = "Say what changed and why."
    if not author_email.strip():
        errors["author_email"] = "Who wrote this version?"
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        Prompt.objects.select_for_update().filter(pk=prompt.pk).first()  # serialise numbering
        number = (prompt.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = PromptVersion.objects.create(
            prompt=prompt,
            number=number,
            template=template,
            template_sha256=hashlib.sha256(template.encode()).hexdigest(),
            author_email=author_email.strip().lower(),
            change_note=change_note.strip(),
        )
        audit_record(
            action="prompt.version_add",
            target=prompt,
            object_type=AUDIT_OBJECT_TYPE,
            after={
                "version": number,
                "template_sha256": version.template_sha256,
                "author_email": version.author_email,
                "change_note": version.change_note,
            },
        )
    return version


# --- relations -----------------------------------------------------------------------------------------------


def relation_save(
    *,
    source: Asset,
    kind: str,
    target: Asset,
    prompt_version: PromptVersion | None = None,
    note: str = "",
    relation: AssetRelation | None = None,
) -> AssetRelation:
    """Link two assets ("agent A uses model M"). The relation kind fixes what the target must be."""
    errors = {}
    expected = RELATION_TARGET_KIND.get(kind)
    if source.pk == target.pk:
        errors["target"] = "An asset cannot depend on itself."
    elif expected and target.kind != expected:
        errors["target"] = f"“{kind.replace('_', ' ')}” needs a {AssetKind(expected).label.lower()} as its target."
    if prompt_version is not None and (kind != "uses_prompt" or prompt_version.prompt_id != target.pk):
        errors["prompt_version"] = "The prompt version must belong to the prompt being used."
    if kind not in dict(AssetRelation._meta.get_field("kind").choices):
        errors["kind"] = f"Unknown relation {kind!r}."
    duplicate = AssetRelation.objects.filter(source=source, kind=kind, target=target)
    if relation is not None:
        duplicate = duplicate.exclude(pk=relation.pk)
    if not errors and duplicate.exists():
        errors["target"] = f"{source.name} already {kind.replace('_', ' ')} {target.name}."
    if errors:
        raise ValidationError(errors)
    before = snapshot_stored(relation, ["kind", "target", "prompt_version", "note"])
    relation = relation or AssetRelation(source=source)
    relation.kind, relation.target, relation.prompt_version, relation.note = kind, target, prompt_version, note.strip()
    with transaction.atomic():
        relation.save()
        audit_record(
            action="relation.update" if before else "relation.add",
            target=source,
            object_type=AUDIT_OBJECT_TYPE,
            before=before,
            after={
                "kind": kind,
                "target": target.pk,
                "target_name": target.name,
                "prompt_version": prompt_version.number if prompt_version else None,
                "note": relation.note,
            },
        )
        _refresh_guardrails([source.pk, target.pk])
    return relation


def relation_delete(*, relation: AssetRelation) -> None:
    with transaction.atomic():
        audit_record(
            action="relation.remove",
            target=relation.source,
            object_type=AUDIT_OBJECT_TYPE,
            before={"kind": relation.kind, "target": relation.target_id, "target_name": relation.target.name},
        )
        ids = [relation.source_id, relation.target_id]
        relation.delete()
        _refresh_guardrails(ids)
