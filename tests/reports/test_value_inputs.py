"""The value inputs page (/c/<slug>/reports/value/) and API (value-settings/current, value-drivers): who may see
and change them, every write audited with before and after, and the refusals — minutes with AI above minutes
without AI, a lone error rate, a second driver for a unit, a negative rate — in plain words."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.reports.models import ValueDriver, ValueSettings
from apps.reports.value_services import (
    ASSISTED_TOO_HIGH,
    ERRORS_PAIRED,
    UNIT_TAKEN,
    value_driver_save,
    value_settings_save,
)

PAGE = "/c/alpha/reports/value/"
API = "/c/alpha/api/v1/"


@pytest.fixture(autouse=True)
def throttle_clock(monkeypatch):
    import time

    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(lambda: time.time()))


@pytest.fixture
def units(alpha):
    from apps.unit_economics.services import business_unit_save

    with schema_context(alpha.schema_name):
        return {
            "claims": business_unit_save(
                name="Claim processed", code="claims", unit_label="claim", scope_kind="client"
            ),
            "tickets": business_unit_save(
                name="Ticket resolved", code="tickets", unit_label="ticket", scope_kind="client"
            ),
        }


def driver_post(unit, **fields) -> dict:
    return {
        "unit": unit.pk,
        "baseline_minutes": "18",
        "assisted_minutes": "7.5",
        "baseline_error_rate": "",
        "current_error_rate": "",
        "basis": "measured",
        "note": "Timed on 200 claims.",
        **fields,
    }


def events(alpha, action: str) -> list[AuditEvent]:
    with schema_context(alpha.schema_name):
        return list(AuditEvent.objects.filter(action=action).order_by("seq"))


# --- the page ---------------------------------------------------------------------------------------------


def test_the_manager_sets_the_rate_audited(alpha, units, alpha_manager, login_as):
    http = login_as(alpha_manager)
    page = http.get(PAGE)
    assert page.status_code == 200 and 'action="/c/alpha/reports/value/settings/"' in page.content.decode()
    saved = http.post(f"{PAGE}settings/", {"loaded_hourly_rate": "68.50", "rate_basis": "HR average, 2026"})
    assert saved.status_code == 302 and saved["Location"].endswith(PAGE)
    with schema_context(alpha.schema_name):
        settings = ValueSettings.objects.get()
        assert settings.loaded_hourly_rate == Decimal("68.5") and settings.updated_by == "am@msp.test"
    (created,) = events(alpha, "value_settings.create")
    assert created.after == {"loaded_hourly_rate": "68.500000", "rate_basis": "HR average, 2026"}
    assert created.actor_email == "am@msp.test"
    http.post(f"{PAGE}settings/", {"loaded_hourly_rate": "70", "rate_basis": "HR average, 2026"})
    (updated,) = events(alpha, "value_settings.update")
    assert updated.before["loaded_hourly_rate"] == "68.500000" and updated.after["loaded_hourly_rate"] == "70.000000"
    assert 'value="70.00"' in http.get(PAGE).content.decode()


def test_a_negative_rate_is_refused(alpha, units, alpha_manager, login_as):
    refused = login_as(alpha_manager).post(f"{PAGE}settings/", {"loaded_hourly_rate": "-1"})
    assert refused.status_code == 400
    with schema_context(alpha.schema_name):
        assert not ValueSettings.objects.exists()


def test_drivers_are_added_edited_and_deleted_audited(alpha, units, alpha_manager, login_as):
    http = login_as(alpha_manager)
    added = http.post(f"{PAGE}new/", driver_post(units["claims"], baseline_error_rate="4.2", current_error_rate="2.1"))
    assert added.status_code == 302
    with schema_context(alpha.schema_name):
        driver = ValueDriver.objects.get()
        assert driver.unit == units["claims"] and driver.assisted_minutes == Decimal("7.5")
        assert driver.updated_by == "am@msp.test"
    (created,) = events(alpha, "value_driver.create")
    assert created.after["baseline_minutes"] == "18.00" and created.after["unit"] == units["claims"].pk
    page = http.get(PAGE).content.decode()
    assert "Claim processed" in page and f"/c/alpha/reports/value/{driver.pk}/edit/" in page

    assert http.get(f"{PAGE}{driver.pk}/edit/").status_code == 200
    edited = http.post(
        f"{PAGE}{driver.pk}/edit/", driver_post(units["claims"], assisted_minutes="6", basis="estimated")
    )
    assert edited.status_code == 302
    (updated,) = events(alpha, "value_driver.update")
    assert updated.before["assisted_minutes"] == "7.50" and updated.after["assisted_minutes"] == "6.00"
    assert updated.after["basis"] == "estimated"

    confirm = http.get(f"{PAGE}{driver.pk}/delete/")
    assert confirm.status_code == 200 and "Delete the value driver" in confirm.content.decode()
    assert http.post(f"{PAGE}{driver.pk}/delete/").status_code == 302
    (deleted,) = events(alpha, "value_driver.delete")
    assert deleted.before["baseline_minutes"] == "18.00"
    with schema_context(alpha.schema_name):
        assert not ValueDriver.objects.exists()


def test_assisted_above_baseline_is_refused_with_a_clear_message(alpha, units, alpha_manager, login_as):
    refused = login_as(alpha_manager).post(f"{PAGE}new/", driver_post(units["claims"], assisted_minutes="25"))
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "Minutes with AI cannot be more than minutes without AI" in html
    with schema_context(alpha.schema_name):
        assert not ValueDriver.objects.exists()
    assert events(alpha, "value_driver.create") == []


def test_a_lone_error_rate_and_a_second_driver_are_refused(alpha, units, alpha_manager, login_as):
    http = login_as(alpha_manager)
    lone = http.post(f"{PAGE}new/", driver_post(units["claims"], baseline_error_rate="4"))
    assert lone.status_code == 400 and "Give both error rates" in lone.content.decode()
    assert http.post(f"{PAGE}new/", driver_post(units["claims"])).status_code == 302
    again = http.post(f"{PAGE}new/", driver_post(units["claims"]))
    assert again.status_code == 400  # the unit is no longer offered
    with schema_context(alpha.schema_name):
        assert ValueDriver.objects.count() == 1


def test_executives_see_but_change_nothing(alpha, units, alpha_executive, login_as):
    with schema_context(alpha.schema_name):
        value_settings_save(loaded_hourly_rate="55", rate_basis="Payroll")
        driver = value_driver_save(
            unit=units["claims"], baseline_minutes="18", assisted_minutes="7.5", basis="measured"
        )
    http = login_as(alpha_executive)
    page = http.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Claim processed" in html and "55.00" in html and "<form" not in html.split("<main", 1)[-1]
    assert http.post(f"{PAGE}settings/", {"loaded_hourly_rate": "1"}).status_code == 403
    assert http.post(f"{PAGE}new/", driver_post(units["tickets"])).status_code == 403
    assert http.get(f"{PAGE}{driver.pk}/edit/").status_code == 403
    assert http.post(f"{PAGE}{driver.pk}/delete/").status_code == 403
    with schema_context(alpha.schema_name):
        assert ValueDriver.objects.count() == 1 and ValueSettings.objects.get().loaded_hourly_rate == Decimal("55")


def test_someone_without_view_gets_403(alpha, user_factory, login_as):
    import datetime as dt

    from django.utils import timezone

    from apps.accounts.roles import Role

    auditor = user_factory(
        "auditor@alpha.test", role=Role.AUDITOR, client=alpha, expires_at=timezone.now() + dt.timedelta(days=30)
    )
    assert login_as(auditor).get(PAGE).status_code == 403


def test_another_clients_driver_is_404(alpha, beta, units, alpha_manager, login_as):
    from apps.unit_economics.services import business_unit_save

    with schema_context(beta.schema_name):
        unit = business_unit_save(name="Beta claims", code="claims", unit_label="claim", scope_kind="client")
        other = value_driver_save(unit=unit, baseline_minutes="10", assisted_minutes="5", basis="estimated")
    with schema_context(alpha.schema_name):
        assert not ValueDriver.objects.filter(pk=other.pk).exists()
    assert login_as(alpha_manager).get(f"{PAGE}{other.pk}/edit/").status_code == 404


# --- the services -------------------------------------------------------------------------------------------


def test_services_refuse_the_same_things(in_alpha, units):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as too_slow:
        value_driver_save(unit=units["claims"], baseline_minutes="5", assisted_minutes="6", basis="measured")
    assert too_slow.value.message_dict == {"assisted_minutes": [ASSISTED_TOO_HIGH]}
    with pytest.raises(ValidationError) as lone:
        value_driver_save(
            unit=units["claims"], baseline_minutes="5", assisted_minutes="4", current_error_rate="3", basis="measured"
        )
    assert lone.value.message_dict == {"baseline_error_rate": [ERRORS_PAIRED]}
    value_driver_save(unit=units["claims"], baseline_minutes="5", assisted_minutes="4", basis="measured")
    with pytest.raises(ValidationError) as taken:
        value_driver_save(unit=units["claims"], baseline_minutes="5", assisted_minutes="4", basis="measured")
    assert taken.value.message_dict == {"unit": [UNIT_TAKEN]}
    with pytest.raises(ValidationError):
        value_driver_save(unit=units["tickets"], baseline_minutes="5", assisted_minutes="4", basis="guessed")


# --- the API ----------------------------------------------------------------------------------------------


def call(client, method: str, url: str, headers: dict, body=None):
    if body is None:
        return getattr(client, method)(url, **headers)
    return getattr(client, method)(url, json.dumps(body), content_type="application/json", **headers)


def test_api_settings(alpha, client, writer, reader):
    empty = call(client, "get", f"{API}value-settings/current/", reader)
    assert empty.status_code == 200 and empty.json()["loaded_hourly_rate"] == "0.000000"
    put = call(
        client, "put", f"{API}value-settings/current/", writer, {"loaded_hourly_rate": "68.5", "rate_basis": "HR"}
    )
    assert put.status_code == 200, put.content
    assert put.json()["loaded_hourly_rate"] == "68.500000" and put.json()["rate_basis"] == "HR"
    patched = call(client, "patch", f"{API}value-settings/current/", writer, {"rate_basis": "Payroll 2026"})
    assert patched.json() | {"updated_at": None} == {
        "loaded_hourly_rate": "68.500000",
        "rate_basis": "Payroll 2026",
        "updated_at": None,
        "updated_by": patched.json()["updated_by"],
    }
    assert patched.json()["updated_by"].startswith("API key ")
    assert len(events(alpha, "value_settings.create")) == 1 and len(events(alpha, "value_settings.update")) == 1
    refused = call(client, "put", f"{API}value-settings/current/", writer, {"loaded_hourly_rate": "-3"})
    assert refused.status_code == 400
    assert call(client, "put", f"{API}value-settings/current/", reader, {"loaded_hourly_rate": "1"}).status_code == 403


def test_api_drivers(alpha, units, client, writer, reader):
    body = {"unit": units["claims"].pk, "baseline_minutes": "18", "assisted_minutes": "7.5", "basis": "measured"}
    created = call(client, "post", f"{API}value-drivers/", writer, body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["baseline_minutes"] == "18.00" and data["assisted_minutes"] == "7.50"
    assert data["unit_code"] == "claims" and data["baseline_error_rate"] is None
    pk = data["id"]
    listed = call(client, "get", f"{API}value-drivers/", reader)
    assert listed.status_code == 200 and [d["id"] for d in listed.json()["results"]] == [pk]
    patched = call(
        client,
        "patch",
        f"{API}value-drivers/{pk}/",
        writer,
        {"baseline_error_rate": "4.2", "current_error_rate": "2.1"},
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["current_error_rate"] == "2.100" and patched.json()["baseline_minutes"] == "18.00"
    (updated,) = events(alpha, "value_driver.update")
    assert updated.before["baseline_error_rate"] is None and updated.after["baseline_error_rate"] == "4.200"

    too_slow = call(client, "patch", f"{API}value-drivers/{pk}/", writer, {"assisted_minutes": "20"})
    assert too_slow.status_code == 400
    assert too_slow.json()["errors"]["assisted_minutes"] == [ASSISTED_TOO_HIGH]
    twice = call(client, "post", f"{API}value-drivers/", writer, body)
    assert twice.status_code == 400 and twice.json()["errors"]["unit"] == [UNIT_TAKEN]
    assert (
        call(client, "post", f"{API}value-drivers/", reader, {**body, "unit": units["tickets"].pk}).status_code == 403
    )

    assert call(client, "delete", f"{API}value-drivers/{pk}/", writer).status_code == 204
    assert len(events(alpha, "value_driver.delete")) == 1
    with schema_context(alpha.schema_name):
        assert not ValueDriver.objects.exists()


def test_api_schema_has_the_value_routes(client, msp_admin, login_as):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = [p for p in schema["paths"] if "value-" in p]
    assert any(p.endswith("/value-drivers/") for p in paths) and any("value-settings/current" in p for p in paths)
