"""Matching registered models (provider + model id, as people type them) to the catalog by its own keys."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.catalog.selectors import catalog_current_release, catalog_entries_for, catalog_entry_for, provider_names


@pytest.mark.parametrize(
    ("written", "names"),
    [
        ("openai", ("openai",)),
        ("  OpenAI ", ("openai",)),
        ("AWS Bedrock", ("bedrock",)),
        ("aws", ("bedrock",)),
        ("Azure OpenAI", ("azure",)),
        ("azure-openai", ("azure",)),
        ("Google", ("vertex_ai", "gemini")),
        ("Vertex AI", ("vertex_ai",)),
        ("vertex_ai", ("vertex_ai",)),
        ("Google AI Studio", ("gemini",)),
        ("Mistral AI", ("mistral",)),
        ("Together AI", ("together_ai",)),
        ("self hosted", ("self_hosted",)),
        ("", ()),
    ],
)
def test_providers_as_people_write_them(written, names):
    assert provider_names(written) == names


@pytest.mark.parametrize(
    ("provider", "model_id", "key"),
    [
        # 1. the model id is a key of the same provider
        ("openai", "gpt-4o", "gpt-4o"),
        ("OpenAI", "gpt-4o-2024-08-06", "gpt-4o-2024-08-06"),
        ("anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("deepseek", "deepseek-chat", "deepseek-chat"),  # preferred to deepseek/deepseek-chat
        ("vertex_ai", "gemini-2.5-pro", "gemini-2.5-pro"),  # litellm_provider vertex_ai-language-models
        ("Google", "gemini-2.5-pro", "gemini-2.5-pro"),
        ("AWS Bedrock", "ai21.jamba-1-5-large-v1:0", "ai21.jamba-1-5-large-v1:0"),
        ("aws", "amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0"),  # litellm_provider bedrock_converse
        ("cohere", "command-r-08-2024", "command-r-08-2024"),  # litellm_provider cohere_chat
        # 2. "<provider>/<model id>"
        ("azure", "gpt-4o", "azure/gpt-4o"),
        ("Azure OpenAI", "gpt-4o", "azure/gpt-4o"),
        ("Google AI Studio", "gemini-2.5-pro", "gemini/gemini-2.5-pro"),
        ("gemini", "gemini-2.5-pro", "gemini/gemini-2.5-pro"),
        ("Vertex AI", "claude-3-5-sonnet@20240620", "vertex_ai/claude-3-5-sonnet@20240620"),
        ("Mistral AI", "mistral-large-latest", "mistral/mistral-large-latest"),
        ("cohere", "embed-v4.0", "cohere/embed-v4.0"),
        ("azure ai foundry", "claude-sonnet-4-5", "azure_ai/claude-sonnet-4-5"),
        (
            "bedrock",
            "us-gov-west-1/anthropic.claude-sonnet-4-5-20250929-v1:0",
            "bedrock/us-gov-west-1/anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        # 3. the model id under any provider
        ("azure", "claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("", "gpt-4o", "gpt-4o"),
        ("openai", "azure/gpt-4o", "azure/gpt-4o"),
        # 4. the same, ignoring case
        ("anthropic", "CLAUDE-SONNET-4-5", "claude-sonnet-4-5"),
        ("AZURE", "GPT-4O", "azure/gpt-4o"),
        ("openai", " GPT-4o-Mini ", "gpt-4o-mini"),
        # no match
        ("self-hosted", "acme-credit-score", None),
        ("openai", "", None),
    ],
)
def test_matching_uses_the_catalogs_keys(loaded, provider, model_id, key):
    entry = catalog_entry_for(provider=provider, model_id=model_id)
    assert (entry.key if entry else None) == key


def test_a_matched_bedrock_model_brings_its_deprecation_date_and_prices(loaded):
    entry = catalog_entry_for(provider="AWS Bedrock", model_id="ai21.jamba-1-5-large-v1:0")
    assert entry.deprecation_date == dt.date(2026, 11, 26)
    assert entry.input_cost_per_token is not None and entry.max_input_tokens


def test_nothing_matches_an_empty_catalog(db):
    assert catalog_entry_for(provider="openai", model_id="gpt-4o") is None
    assert catalog_current_release() is None


def test_current_release(loaded):
    release = catalog_current_release()
    assert release.sha256 == loaded.sha256 and release.entry_count == 4552


def _queries(pairs) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        found = catalog_entries_for(pairs)
    return len(captured.captured_queries), found


def test_batch_matching_takes_constant_queries(loaded, django_assert_max_num_queries):
    pairs = [("openai", "gpt-4o"), ("anthropic", "claude-haiku-4-5"), ("openai", "GPT-4O-MINI")] * 50
    pairs += [("self-hosted", f"model-{i}") for i in range(300)]
    pairs += [("AWS Bedrock", "ai21.jamba-1-5-large-v1:0"), ("azure", "gpt-4o"), ("Google", "gemini-2.5-pro")]
    with django_assert_max_num_queries(4):  # exact keys, then keys ignoring case; plus the schema switch and back
        found = catalog_entries_for(pairs)
    few, _ = _queries(pairs[:4])
    many, _ = _queries(pairs)
    assert few == many
    assert found[("openai", "GPT-4O-MINI")].key == "gpt-4o-mini" and ("self-hosted", "model-3") not in found
    assert found[("azure", "gpt-4o")].key == "azure/gpt-4o"
    # The batch answers exactly as one-by-one matching does.
    for pair in dict.fromkeys(pairs[-6:]):
        single = catalog_entry_for(provider=pair[0], model_id=pair[1])
        assert found.get(pair) == single


def test_batch_matching_with_nothing_to_match_asks_nothing(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert catalog_entries_for([]) == {}
        assert catalog_entries_for([("openai", ""), ("", "  ")]) == {}
