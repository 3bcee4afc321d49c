"""The value inputs page (/c/<slug>/reports/value/): the loaded hourly rate and a value driver per business unit,
which the monthly report's ROI section is computed from. Seeing it needs `view`; changing it `edit`. Writes go
through apps.reports.value_services (validated and audited)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.roles import Cap
from apps.core.forms import apply_validation_error
from apps.core.permissions import capability_required
from apps.unit_economics.models import BusinessUnit

from .models import ValueDriver
from .value_forms import ValueDriverForm, ValueSettingsForm
from .value_services import value_driver_delete, value_driver_save, value_settings_get, value_settings_save

CENT = Decimal("0.01")


def _driver_or_404(pk: int) -> ValueDriver:
    try:
        return ValueDriver.objects.select_related("unit").get(pk=pk)
    except ValueDriver.DoesNotExist as exc:
        raise Http404("No such value driver.") from exc


def _page(request, *, settings_form=None, driver_form=None, editing=None, deleting=None, status=200):
    settings = value_settings_get()
    can_edit = request.access.can(Cap.EDIT)
    if can_edit and settings_form is None:
        rate = settings.loaded_hourly_rate
        cents = rate.quantize(CENT)
        settings_form = ValueSettingsForm(
            initial={
                "loaded_hourly_rate": cents if cents == rate else rate.normalize(),
                "rate_basis": settings.rate_basis,
            }
        )
    if can_edit and driver_form is None and deleting is None:
        driver_form = ValueDriverForm(driver=editing)
    return render(
        request,
        "reports/value.html",
        {
            "settings": settings,
            "drivers": list(ValueDriver.objects.select_related("unit").order_by("unit__name")),
            "unit_count": BusinessUnit.objects.count(),
            "can_edit": can_edit,
            "settings_form": settings_form if can_edit else None,
            "driver_form": driver_form if can_edit else None,
            "editing": editing,
            "deleting": deleting,
        },
        status=status,
    )


@require_GET
@capability_required(Cap.VIEW)
def value_inputs(request):
    return _page(request)


@require_POST
@capability_required(Cap.EDIT)
def value_settings_update(request):
    form = ValueSettingsForm(request.POST)
    if not form.is_valid():
        return _page(request, settings_form=form, status=400)
    try:
        value_settings_save(**form.cleaned_data)
    except ValidationError as exc:
        apply_validation_error(form, exc)
        return _page(request, settings_form=form, status=400)
    messages.success(request, "Saved the loaded hourly rate.")
    return redirect("reports:value_inputs")


def _save_driver(request, driver: ValueDriver | None):
    form = ValueDriverForm(request.POST, driver=driver)
    if not form.is_valid():
        return _page(request, driver_form=form, editing=driver, status=400)
    try:
        saved = value_driver_save(driver=driver, **form.driver_fields())
    except ValidationError as exc:
        apply_validation_error(form, exc)
        return _page(request, driver_form=form, editing=driver, status=400)
    messages.success(request, f"Saved the value driver of “{saved.unit.name}”.")
    return redirect("reports:value_inputs")


@require_POST
@capability_required(Cap.EDIT)
def value_driver_new(request):
    return _save_driver(request, None)


@require_http_methods(["GET", "POST"])
@capability_required(Cap.EDIT)
def value_driver_edit(request, pk: int):
    driver = _driver_or_404(pk)
    if request.method == "POST":
        return _save_driver(request, driver)
    return _page(request, editing=driver)


@require_http_methods(["GET", "POST"])
@capability_required(Cap.EDIT)
def value_driver_remove(request, pk: int):
    driver = _driver_or_404(pk)
    if request.method == "POST":
        name = driver.unit.name
        value_driver_delete(driver=driver)
        messages.success(request, f"Deleted the value driver of “{name}”.")
        return redirect("reports:value_inputs")
    return _page(request, deleting=driver)
