"""Match registered models to the catalog using the catalog's own keys."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models.functions import Lower
from django_tenants.utils import schema_context

from .models import CatalogRelease, ModelPrice

# How people write providers → LiteLLM's provider names (its `litellm_provider` and key prefixes).
PROVIDER_ALIASES = {
    "aws": "bedrock",
    "aws bedrock": "bedrock",
    "amazon bedrock": "bedrock",
    "azure openai": "azure",
    "azure ai": "azure_ai",
    "google": "vertex_ai",
    "google vertex": "vertex_ai",
    "vertex": "vertex_ai",
    "vertex ai": "vertex_ai",
    "google ai studio": "gemini",
    "mistral ai": "mistral",
    "together": "together_ai",
    "cohere": "cohere_chat",
}


def normalise_provider(provider: str) -> str:
    provider = (provider or "").strip().lower()
    return PROVIDER_ALIASES.get(provider, provider.replace(" ", "_"))


def _candidates(provider: str, model_id: str) -> list[str]:
    model_id = (model_id or "").strip()
    provider = normalise_provider(provider)
    keys = [f"{provider}/{model_id}", model_id] if provider else [model_id]
    return [key for key in keys if key]


def catalog_entries_for(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], ModelPrice]:
    """{(provider, model_id): entry} for the pairs that match, in two queries whatever the number of pairs.

    Order of preference: the model id under the same provider, "<provider>/<model id>", the model id under any
    provider, then the same ignoring case.
    """
    pairs = list(dict.fromkeys(pairs))
    wanted = {key for provider, model_id in pairs for key in _candidates(provider, model_id)}
    if not wanted:
        return {}
    with schema_context("public"):
        exact = {entry.key: entry for entry in ModelPrice.objects.filter(key__in=wanted)}
        missing = {key.lower() for key in wanted if key not in exact}
        folded = {}
        if missing:
            for entry in ModelPrice.objects.annotate(k=Lower("key")).filter(k__in=missing):
                folded.setdefault(entry.key.lower(), entry)
    found = {}
    for provider, model_id in pairs:
        normal = normalise_provider(provider)
        keys = _candidates(provider, model_id)
        same_provider = exact.get(model_id.strip())
        if same_provider is not None and same_provider.litellm_provider == normal:
            found[(provider, model_id)] = same_provider
            continue
        for key in keys:
            if key in exact:
                found[(provider, model_id)] = exact[key]
                break
        else:
            for key in keys:
                if key.lower() in folded:
                    found[(provider, model_id)] = folded[key.lower()]
                    break
    return found


def catalog_entry_for(*, provider: str, model_id: str) -> ModelPrice | None:
    return catalog_entries_for([(provider, model_id)]).get((provider, model_id))


def catalog_current_release() -> CatalogRelease | None:
    with schema_context("public"):
        return CatalogRelease.objects.filter(is_current=True).first()
