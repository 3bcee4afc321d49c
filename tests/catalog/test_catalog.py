"""The model price catalog: loading LiteLLM's real file exactly (Decimal), idempotency, refresh from a newer
file, bad files that change nothing, and matching registered models by the catalog's own keys."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.catalog.models import CatalogRelease, ModelPrice
from apps.catalog.selectors import catalog_entries_for, catalog_entry_for
from apps.catalog.services import BUNDLED_CATALOG, CatalogError, catalog_load, catalog_load_bundled

SHARED_SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "prices"


@pytest.fixture
def loaded(db):
    with schema_context("public"):
        return catalog_load_bundled(loaded_by="test")


def test_the_bundled_file_is_the_real_catalog():
    sample = SHARED_SAMPLE / BUNDLED_CATALOG.name
    if sample.exists():
        assert sample.read_bytes() == BUNDLED_CATALOG.read_bytes()
    assert (BUNDLED_CATALOG.parent / "SOURCES.md").read_text().count("MIT") >= 1


def test_loads_every_model_with_exact_prices(loaded):
    assert loaded.entries == 4552 and not loaded.unchanged
    with schema_context("public"):
        gpt4o = ModelPrice.objects.get(key="gpt-4o")
        assert gpt4o.input_cost_per_token == Decimal("0.0000025")
        assert gpt4o.output_cost_per_token == Decimal("0.00001")
        assert gpt4o.max_input_tokens == 128000 and gpt4o.litellm_provider == "openai"
        assert gpt4o.raw["input_cost_per_token"] == "0.0000025"  # never a float, even in the raw copy
        sonnet = ModelPrice.objects.get(key="claude-sonnet-4-5")
        assert sonnet.deprecation_date == dt.date(2026, 11, 30)
        assert not ModelPrice.objects.filter(key="sample_spec").exists()
        assert AuditEvent.objects.filter(action="catalog.load").exists()


def test_loading_the_same_file_again_changes_nothing(loaded):
    again = catalog_load_bundled()
    assert again.unchanged and again.entries == loaded.entries
    with schema_context("public"):
        assert CatalogRelease.objects.count() == 1 and ModelPrice.objects.count() == 4552


def test_a_newer_file_refreshes_prices_adds_and_removes(loaded, tmp_path):
    document = json.loads(BUNDLED_CATALOG.read_text())
    document["gpt-4o"]["input_cost_per_token"] = 2e-06
    del document["gpt-4o-mini"]
    document["acme-new-model"] = {"litellm_provider": "openai", "input_cost_per_token": 1e-07, "mode": "chat"}
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(document))
    result = catalog_load(path=newer, loaded_by="test")
    assert (result.added, result.removed) == (1, 1)
    with schema_context("public"):
        assert ModelPrice.objects.get(key="gpt-4o").input_cost_per_token == Decimal("0.000002")
        assert not ModelPrice.objects.filter(key="gpt-4o-mini").exists()
        assert CatalogRelease.objects.get(is_current=True).sha256 == result.sha256


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"{}", "no model entries"),
        ("\u00e9".encode("latin-1"), "not UTF-8"),
    ],
)
def test_bad_files_are_refused_and_keep_the_catalog(loaded, tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(CatalogError, match=message):
        catalog_load(path=bad)
    with schema_context("public"):
        assert ModelPrice.objects.count() == 4552


def test_garbage_fields_are_skipped_and_counted(db, tmp_path):
    odd = tmp_path / "odd.json"
    odd.write_text(
        json.dumps(
            {
                "ok-model": {"litellm_provider": "openai", "input_cost_per_token": 1e-06, "max_input_tokens": 1000},
                "odd-model": {
                    "litellm_provider": "openai",
                    "input_cost_per_token": "cheap",
                    "max_input_tokens": "lots",
                    "deprecation_date": "soon",
                },
                "not-an-entry": "text",
            }
        )
    )
    result = catalog_load(path=odd)
    assert result.entries == 2 and result.skipped_fields == 4
    with schema_context("public"):
        entry = ModelPrice.objects.get(key="odd-model")
        assert entry.input_cost_per_token is None and entry.deprecation_date is None


@pytest.mark.parametrize(
    ("provider", "model_id", "key"),
    [
        ("openai", "gpt-4o", "gpt-4o"),
        ("OpenAI", "gpt-4o-2024-08-06", "gpt-4o-2024-08-06"),
        ("azure", "gpt-4o", "azure/gpt-4o"),
        ("Azure OpenAI", "gpt-4o", "azure/gpt-4o"),
        ("anthropic", "claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("anthropic", "CLAUDE-SONNET-4-5", "claude-sonnet-4-5"),
        ("self-hosted", "acme-credit-score", None),
    ],
)
def test_matching_uses_the_catalogs_keys(loaded, provider, model_id, key):
    entry = catalog_entry_for(provider=provider, model_id=model_id)
    assert (entry.key if entry else None) == key


def test_batch_matching_takes_constant_queries(loaded, django_assert_max_num_queries):
    pairs = [("openai", "gpt-4o"), ("anthropic", "claude-haiku-4-5"), ("openai", "GPT-4O-MINI")] * 50
    pairs += [("self-hosted", f"model-{i}") for i in range(100)]
    with django_assert_max_num_queries(4):  # two lookups, plus switching to the public schema and back
        found = catalog_entries_for(pairs)
    assert found[("openai", "GPT-4O-MINI")].key == "gpt-4o-mini" and ("self-hosted", "model-3") not in found


def test_command_loads_and_reports(db, capsys):
    call_command("load_model_catalog")
    call_command("load_model_catalog")
    out = capsys.readouterr().out
    assert "Catalog loaded: 4552 models" in out and "Catalog unchanged" in out
