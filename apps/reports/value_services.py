"""Writes of the ROI inputs (ValueSettings and ValueDriver): the client's loaded hourly rate, and per business unit
the minutes one unit takes without and with AI and its error rates. Every write is audited with its before and
after, in the same transaction; the portal page and the API both write through here."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.audit.services import audit_record, snapshot, snapshot_stored
from apps.core.context import current_actor

from .models import ValueDriver, ValueSettings

SETTINGS_FIELDS = ["loaded_hourly_rate", "rate_basis"]
DRIVER_FIELDS = [
    "unit",
    "baseline_minutes",
    "assisted_minutes",
    "baseline_error_rate",
    "current_error_rate",
    "basis",
    "note",
]
ASSISTED_TOO_HIGH = (
    "Minutes with AI cannot be more than minutes without AI: a value driver records time saved. "
    "If AI makes this unit slower, leave it out of the value inputs."
)
ERRORS_PAIRED = "Give both error rates (before AI and now), or neither."
UNIT_TAKEN = "This business unit already has a value driver: edit that one instead."
RATE_NEGATIVE = "The hourly rate cannot be negative."


def _as_stored(instance, names) -> None:
    """Decimals with the column's own places, so the audit's "after" reads as the row reads back."""
    for name in names:
        value = getattr(instance, name)
        if isinstance(value, Decimal):
            places = instance._meta.get_field(name).decimal_places
            setattr(instance, name, value.quantize(Decimal(1).scaleb(-places)))


def _actor_label() -> str:
    actor = current_actor()
    return actor.user_email or (f"API key {actor.api_key_prefix}" if actor.api_key_prefix else "Keel")


def value_settings_get() -> ValueSettings:
    """The client's settings row, or an unsaved one with the defaults (reads never create it)."""
    return ValueSettings.objects.order_by("pk").first() or ValueSettings()


def _decimal(value, name: str, errors: dict) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors[name] = "Enter a number."
        return None


def value_settings_save(*, loaded_hourly_rate, rate_basis: str = "") -> ValueSettings:
    """Set the loaded hourly rate (salary plus overheads of one hour, reporting currency) and where it comes from."""
    errors: dict[str, str] = {}
    rate = _decimal(loaded_hourly_rate, "loaded_hourly_rate", errors)
    if rate is None and "loaded_hourly_rate" not in errors:
        errors["loaded_hourly_rate"] = "Enter the loaded hourly rate (0 when it is not known yet)."
    elif rate is not None and rate < 0:
        errors["loaded_hourly_rate"] = RATE_NEGATIVE
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        current = ValueSettings.objects.select_for_update().order_by("pk").first()
        before = snapshot(current, SETTINGS_FIELDS)
        current = current or ValueSettings()
        current.loaded_hourly_rate = rate
        current.rate_basis = (rate_basis or "").strip()
        current.updated_by = _actor_label()[:254]
        current.full_clean()
        _as_stored(current, ["loaded_hourly_rate"])
        current.save()
        audit_record(
            action="value_settings.update" if before else "value_settings.create",
            target=current,
            before=before,
            after=snapshot(current, SETTINGS_FIELDS),
        )
    return current


def _check(driver: ValueDriver) -> None:
    errors: dict[str, str] = {}
    baseline, assisted = driver.baseline_minutes, driver.assisted_minutes
    if baseline is not None and assisted is not None and assisted > baseline:
        errors["assisted_minutes"] = ASSISTED_TOO_HIGH
    if (driver.baseline_error_rate is None) != (driver.current_error_rate is None):
        errors["current_error_rate" if driver.current_error_rate is None else "baseline_error_rate"] = ERRORS_PAIRED
    if driver.unit_id and ValueDriver.objects.exclude(pk=driver.pk).filter(unit_id=driver.unit_id).exists():
        errors["unit"] = UNIT_TAKEN
    if errors:
        raise ValidationError(errors)


def value_driver_save(*, driver: ValueDriver | None = None, **fields) -> ValueDriver:
    """Create or change a business unit's value driver (the unit, minutes, error rates, basis, note)."""
    unknown = set(fields) - set(DRIVER_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown value driver fields: {', '.join(sorted(unknown))}.")
    before = snapshot_stored(driver, DRIVER_FIELDS)
    driver = driver or ValueDriver()
    errors: dict[str, str] = {}
    for name, value in fields.items():
        if name in ("baseline_minutes", "assisted_minutes", "baseline_error_rate", "current_error_rate"):
            value = _decimal(value, name, errors)
        elif isinstance(value, str):
            value = value.strip()
        setattr(driver, name, value)
    if errors:
        raise ValidationError(errors)
    driver.updated_by = _actor_label()[:254]
    try:
        driver.full_clean(validate_unique=False)  # the unit's uniqueness: _check, with a plainer message
    except ValidationError as exc:
        problems = exc.message_dict
        try:
            _check(driver)
        except ValidationError as more:
            for name, messages in more.message_dict.items():
                problems.setdefault(name, messages)
        raise ValidationError(problems) from exc
    _check(driver)
    _as_stored(driver, ["baseline_minutes", "assisted_minutes", "baseline_error_rate", "current_error_rate"])
    try:
        with transaction.atomic():
            driver.save()
            audit_record(
                action="value_driver.update" if before else "value_driver.create",
                target=driver,
                before=before,
                after=snapshot(driver, DRIVER_FIELDS),
            )
    except IntegrityError as exc:  # a concurrent save took the unit
        raise ValidationError({"unit": UNIT_TAKEN}) from exc
    return driver


def value_driver_delete(*, driver: ValueDriver) -> None:
    with transaction.atomic():
        audit_record(action="value_driver.delete", target=driver, before=snapshot(driver, DRIVER_FIELDS))
        driver.delete()
