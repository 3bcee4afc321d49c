"""Writes for the inventory. Every change is audited in the client's chain."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.audit.services import audit_record, snapshot, snapshot_stored

from .models import Department

DEPARTMENT_FIELDS = ["name", "code", "cost_center", "owner_email", "description"]


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
    _check_unique(department)
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


def _check_unique(department: Department) -> None:
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
