"""Reads of the shared model price catalog; matching registered models to it by the catalog's own keys."""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from functools import reduce

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django_tenants.utils import schema_context

from .models import CatalogRelease, ModelPrice

# How people write a provider → LiteLLM's provider names (its `litellm_provider` values and key prefixes), tried
# in this order. Looked up in lower case with "-", "_" and spaces treated alike; a provider not listed is used as
# written, in lower case with spaces as "_" (openai, anthropic, azure, bedrock, vertex_ai, gemini, mistral,
# cohere, groq, deepseek, xai, databricks, together_ai, fireworks_ai, watsonx, …). docs/model-catalog.md lists it.
PROVIDER_ALIASES: dict[str, tuple[str, ...]] = {
    "aws": ("bedrock",),
    "aws bedrock": ("bedrock",),
    "amazon": ("bedrock",),
    "amazon bedrock": ("bedrock",),
    "azure openai": ("azure",),
    "azure openai service": ("azure",),
    "microsoft azure": ("azure",),
    "azure ai": ("azure_ai",),
    "azure ai foundry": ("azure_ai",),
    "google": ("vertex_ai", "gemini"),
    "google cloud": ("vertex_ai",),
    "gcp": ("vertex_ai",),
    "vertex": ("vertex_ai",),
    "vertex ai": ("vertex_ai",),
    "google vertex ai": ("vertex_ai",),
    "google ai studio": ("gemini",),
    "google gemini": ("gemini",),
    "mistral ai": ("mistral",),
    "mistralai": ("mistral",),
    "together": ("together_ai",),
    "together ai": ("together_ai",),
    "fireworks": ("fireworks_ai",),
    "fireworks ai": ("fireworks_ai",),
    "x.ai": ("xai",),
    "grok": ("xai",),
    "ibm": ("watsonx",),
    "ibm watsonx": ("watsonx",),
}
# `litellm_provider` values that belong to a provider besides its own name and "<name>-…"
# (vertex_ai-language-models, vertex_ai-anthropic_models, fireworks_ai-embedding-models).
PROVIDER_VARIANTS: dict[str, tuple[str, ...]] = {
    "bedrock": ("bedrock_converse", "bedrock_mantle"),
    "azure": ("azure_text",),
    "cohere": ("cohere_chat",),
    "openai": ("text-completion-openai",),
}


def provider_names(provider: str) -> tuple[str, ...]:
    """LiteLLM's provider names for a provider as a person wrote it: "AWS Bedrock" → ("bedrock",)."""
    written = " ".join((provider or "").lower().split())
    if not written:
        return ()
    return PROVIDER_ALIASES.get(re.sub(r"[\s_-]+", " ", written)) or (written.replace(" ", "_"),)


def _in_family(litellm_provider: str, names: Sequence[str]) -> bool:
    return any(
        litellm_provider == name
        or litellm_provider.startswith(f"{name}-")
        or litellm_provider in PROVIDER_VARIANTS.get(name, ())
        for name in names
    )


def provider_q(provider: str) -> Q:
    """Entries of a provider as a person wrote it (the same families as matching)."""
    names = provider_names(provider)
    if not names:
        return Q()
    return reduce(
        operator.or_,
        (
            Q(litellm_provider=name)
            | Q(litellm_provider__startswith=f"{name}-")
            | Q(litellm_provider__in=PROVIDER_VARIANTS.get(name, ()))
            for name in names
        ),
    )


def _candidate_keys(model_id: str, names: Sequence[str]) -> list[str]:
    return [model_id, *(f"{name}/{model_id}" for name in names)] if model_id else []


def _pick(model_id: str, names: Sequence[str], find: Callable[[str], Sequence[ModelPrice]]) -> ModelPrice | None:
    """The first match in order: the model id as a key under the same provider, "<provider>/<model id>", the
    model id as a key under any provider."""
    if not model_id:
        return None
    bare = find(model_id)
    for entry in bare:
        if _in_family(entry.litellm_provider, names):
            return entry
    for name in names:
        prefixed = find(f"{name}/{model_id}")
        if prefixed:
            return prefixed[0]
    return bare[0] if bare else None


def catalog_entries_for(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], ModelPrice]:
    """{(provider, model_id): entry} for the pairs that match, in at most two queries however many pairs.

    Each pair is matched as catalog_entry_for() does: exact keys first, then the same rules ignoring case.
    """
    wanted = [(pair, (pair[1] or "").strip(), provider_names(pair[0])) for pair in dict.fromkeys(pairs)]
    keys = {key for _, model_id, names in wanted for key in _candidate_keys(model_id, names)}
    if not keys:
        return {}
    found: dict[tuple[str, str], ModelPrice] = {}
    with schema_context("public"):
        exact: dict[str, list[ModelPrice]] = {}
        for entry in ModelPrice.objects.filter(key__in=keys):
            exact.setdefault(entry.key, []).append(entry)
        unmatched = []
        for pair, model_id, names in wanted:
            entry = _pick(model_id, names, lambda key: exact.get(key, ()))
            if entry is None:
                unmatched.append((pair, model_id, names))
            else:
                found[pair] = entry
        folded_keys = {key.lower() for _, model_id, names in unmatched for key in _candidate_keys(model_id, names)}
        if folded_keys:
            folded: dict[str, list[ModelPrice]] = {}
            rows = ModelPrice.objects.annotate(folded_key=Lower("key")).filter(folded_key__in=folded_keys)
            for entry in rows.order_by("key"):
                folded.setdefault(entry.folded_key, []).append(entry)
            for pair, model_id, names in unmatched:
                entry = _pick(model_id, names, lambda key: folded.get(key.lower(), ()))
                if entry is not None:
                    found[pair] = entry
    return found


def catalog_entry_for(*, provider: str, model_id: str) -> ModelPrice | None:
    """The catalog entry of a registered model, by the catalog's own keys, trying in order:
    1. key == model_id, with the entry's provider matching;
    2. key == "<provider>/<model_id>" (azure/gpt-4o, bedrock/…, gemini/…);
    3. key == model_id, whatever the entry's provider;
    4. the same three ignoring case.
    The provider may be written as people do ("AWS Bedrock", "Azure OpenAI", "Google"): see PROVIDER_ALIASES.
    """
    return catalog_entries_for([(provider, model_id)]).get((provider, model_id))


def catalog_entries_list(
    *, search: str = "", provider: str = "", mode: str = "", deprecated_before: dt.date | None = None
) -> QuerySet[ModelPrice]:
    """Catalog entries, by key, filtered. Evaluate it in the public schema (the MSP-level API is)."""
    entries = ModelPrice.objects.all()
    if search.strip():
        entries = entries.filter(key__icontains=search.strip())
    if provider.strip():
        entries = entries.filter(provider_q(provider))
    if mode.strip():
        entries = entries.filter(mode=mode.strip())
    if deprecated_before is not None:
        entries = entries.filter(deprecation_date__lt=deprecated_before)
    return entries.order_by("key")


def catalog_current_release() -> CatalogRelease | None:
    with schema_context("public"):
        return CatalogRelease.objects.filter(is_current=True).first()
