"""Deprecation watch: fill registered models' context window, deprecation date and list prices from the catalog."""

from __future__ import annotations

from django.apps import apps as django_apps
from django.utils import timezone

from .models import AIModel

CATALOG_FIELDS = [
    "catalog_key",
    "catalog_context_window",
    "catalog_deprecation_date",
    "catalog_input_cost_per_token",
    "catalog_output_cost_per_token",
    "catalog_checked_at",
]


def model_catalog_match(*, models: list[AIModel] | None = None) -> int:
    """Match models to the model price catalog by its own keys; returns how many matched.

    A model's own context window and deprecation date, when filled in, win over the catalog's
    (see AIModel.effective_*); the catalog columns always show what the catalog says.
    """
    if not django_apps.is_installed("apps.catalog"):
        return 0
    from apps.catalog.selectors import catalog_entries_for

    models = list(AIModel.objects.all()) if models is None else list(models)
    if not models:
        return 0
    entries = catalog_entries_for([(model.provider, model.model_id) for model in models])
    now = timezone.now()
    matched = 0
    for model in models:
        entry = entries.get((model.provider, model.model_id))
        model.catalog_key = entry.key if entry else ""
        model.catalog_context_window = entry.max_input_tokens if entry else None
        model.catalog_deprecation_date = entry.deprecation_date if entry else None
        model.catalog_input_cost_per_token = entry.input_cost_per_token if entry else None
        model.catalog_output_cost_per_token = entry.output_cost_per_token if entry else None
        model.catalog_checked_at = now
        matched += entry is not None
    AIModel.objects.bulk_update(models, CATALOG_FIELDS)
    return matched
