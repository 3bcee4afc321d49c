"""Deprecation watch: registered models take the catalog's context window, deprecation date and list prices;
a date typed on the model wins; the catalog's date drives the guardrail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context
from freezegun import freeze_time

from apps.catalog.services import catalog_load_bundled
from apps.inventory.deprecation import model_catalog_match
from apps.inventory.guardrails import guardrails_evaluate
from apps.inventory.models import AIModel, GuardrailFinding
from apps.inventory.services import asset_save


@pytest.fixture
def catalog(db):
    with schema_context("public"):
        catalog_load_bundled(loaded_by="test")


def test_registered_model_is_filled_from_the_catalog(catalog, in_alpha):
    model = asset_save(kind="model", name="Sonnet", provider="anthropic", model_id="claude-sonnet-4-5")
    model.refresh_from_db()
    assert model.catalog_key == "claude-sonnet-4-5"
    assert model.catalog_context_window == 200000 and model.effective_context_window == 200000
    assert model.catalog_deprecation_date == dt.date(2026, 11, 30)
    assert model.catalog_input_cost_per_token == Decimal("0.000003")
    assert model.catalog_checked_at is not None


def test_own_date_wins_and_unknown_models_say_so(catalog, in_alpha):
    model = asset_save(
        kind="model",
        name="Pinned",
        provider="openai",
        model_id="gpt-4o-2024-08-06",
        deprecation_date=dt.date(2026, 12, 31),
    )
    assert model.catalog_deprecation_date == dt.date(2027, 1, 14)
    assert model.effective_deprecation_date == dt.date(2026, 12, 31)
    private = asset_save(kind="model", name="Private", provider="self-hosted", model_id="maple-triage")
    assert private.catalog_key == "" and private.catalog_checked_at is not None


def test_catalog_dates_drive_the_deprecation_rules(catalog, in_alpha):
    with freeze_time("2026-11-23"):
        model = asset_save(kind="model", name="Sonnet", provider="anthropic", model_id="claude-sonnet-4-5")
        assert GuardrailFinding.objects.get(asset_id=model.pk, status="open").rule == "model-deprecation-soon"
    with freeze_time("2026-12-01"):
        guardrails_evaluate()
    finding = GuardrailFinding.objects.get(asset_id=model.pk, status="open")
    assert finding.rule == "model-past-deprecation" and "2026-11-30" in finding.explanation


def test_rematch_in_batches_with_constant_queries(catalog, in_alpha, django_assert_max_num_queries):
    for i in range(20):
        asset_save(kind="model", name=f"M{i}", provider="openai", model_id="gpt-4o" if i % 2 else f"custom-{i}")
    with django_assert_max_num_queries(8):
        assert model_catalog_match() == 10
    assert AIModel.objects.filter(catalog_key="gpt-4o").count() == 10
