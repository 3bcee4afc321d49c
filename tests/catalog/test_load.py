"""Loading the catalog: LiteLLM's real file exactly (Decimal, never float), idempotency, refresh from a newer file,
bad files that change nothing, unusable fields skipped and counted, the load command."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.catalog.models import CatalogRelease, ModelPrice
from apps.catalog.selectors import catalog_current_release
from apps.catalog.services import BUNDLED_CATALOG, CatalogError, catalog_load, catalog_load_bundled

SHARED_COPY = Path(__file__).resolve().parents[3] / "shared" / "data" / "prices" / BUNDLED_CATALOG.name
REAL_ENTRIES = 4552  # 4,553 keys, less `sample_spec` (the catalog's description of its own fields)


def _public(query):
    with schema_context("public"):
        return query()


def _load_events():
    return _public(lambda: list(AuditEvent.objects.filter(action="catalog.load").order_by("seq")))


# --- the bundled file -------------------------------------------------------------------------------------------


def test_the_bundled_file_is_litellms_unmodified_with_its_licence():
    if SHARED_COPY.exists():
        assert SHARED_COPY.read_bytes() == BUNDLED_CATALOG.read_bytes()
    sources = (BUNDLED_CATALOG.parent / "SOURCES.md").read_text()
    for needed in ("BerriAI/litellm", "1.109.1", "MIT", "Copyright (c) 2023 Berri AI", "Permission is hereby granted"):
        assert needed in sources


def test_loads_every_model_with_exact_prices(loaded):
    assert not loaded.unchanged
    assert (loaded.entries, loaded.added, loaded.changed, loaded.removed) == (REAL_ENTRIES, REAL_ENTRIES, 0, 0)
    assert loaded.sha256 == hashlib.sha256(BUNDLED_CATALOG.read_bytes()).hexdigest()
    with schema_context("public"):
        assert ModelPrice.objects.count() == REAL_ENTRIES
        assert not ModelPrice.objects.filter(key="sample_spec").exists()
        gpt4o = ModelPrice.objects.get(key="gpt-4o")
        assert gpt4o.input_cost_per_token == Decimal("0.0000025")
        assert gpt4o.output_cost_per_token == Decimal("0.00001")
        assert gpt4o.cache_read_input_token_cost == Decimal("0.00000125")
        assert gpt4o.cache_creation_input_token_cost is None
        assert (gpt4o.max_input_tokens, gpt4o.max_output_tokens) == (128000, 16384)
        assert (gpt4o.litellm_provider, gpt4o.mode) == ("openai", "chat")
        assert gpt4o.source.startswith("https://")
        assert gpt4o.raw["input_cost_per_token"] == "0.0000025"  # never a float, even in the raw copy
        assert gpt4o.raw["supports_vision"] is True
        sonnet = ModelPrice.objects.get(key="claude-sonnet-4-5")
        assert sonnet.deprecation_date == dt.date(2026, 11, 30)
        jamba = ModelPrice.objects.get(key="ai21.jamba-1-5-large-v1:0")
        assert (jamba.litellm_provider, jamba.deprecation_date) == ("bedrock", dt.date(2026, 11, 26))
        release = CatalogRelease.objects.get()
        assert release.is_current and release.entry_count == REAL_ENTRIES and release.loaded_by == "test"
        assert release.source == BUNDLED_CATALOG.name and release.sha256 == loaded.sha256
        assert ModelPrice.objects.filter(release=release).count() == REAL_ENTRIES


def test_float_noise_in_the_file_is_rounded_to_the_column_and_kept_exact_in_raw(loaded):
    # The file writes 0.0000029999900000000002 (a float printed in full); the column holds 12 places.
    assert loaded.rounded_prices == 55
    with schema_context("public"):
        entry = ModelPrice.objects.get(key="databricks/databricks-claude-sonnet-4-1")
    assert entry.input_cost_per_token == Decimal("0.000002999990")
    assert entry.raw["input_cost_per_token"] == "0.0000029999900000000002"


def test_one_audit_event_per_load_with_counts(loaded):
    [event] = _load_events()
    assert event.object_type == "catalog.catalogrelease"
    assert event.after["entries"] == REAL_ENTRIES and event.after["added"] == REAL_ENTRIES
    assert event.after["sha256"] == loaded.sha256 and event.after["removed"] == 0


def test_the_first_load_is_set_based(db, django_assert_max_num_queries):
    # 4,552 rows in 5 INSERT … ON CONFLICT, each query after a SET search_path: ~50, not thousands.
    with django_assert_max_num_queries(60), schema_context("public"):
        catalog_load_bundled(loaded_by="test")


# --- idempotency and refresh ----------------------------------------------------------------------------------


def test_loading_the_same_file_again_changes_nothing(loaded, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # the sha256 matches the current release: one look-up
        again = catalog_load_bundled(loaded_by="test")
    assert again.unchanged and again.sha256 == loaded.sha256
    assert (again.entries, again.skipped_fields) == (loaded.entries, loaded.skipped_fields)
    with schema_context("public"):
        assert CatalogRelease.objects.count() == 1 and ModelPrice.objects.count() == REAL_ENTRIES
    assert len(_load_events()) == 1


def test_a_newer_file_refreshes_prices_adds_and_removes(loaded, catalog_document, write_catalog):
    catalog_document["gpt-4o"]["input_cost_per_token"] = Decimal("0.000002")
    catalog_document["claude-sonnet-4-5"]["deprecation_date"] = "2027-01-31"
    del catalog_document["gpt-4o-mini"]
    catalog_document["acme-new-model"] = {"litellm_provider": "openai", "input_cost_per_token": Decimal("1e-7")}
    result = catalog_load(path=write_catalog(catalog_document, "newer.json"), loaded_by="ops@msp.test")
    assert not result.unchanged
    assert (result.entries, result.added, result.changed, result.removed) == (REAL_ENTRIES, 1, 2, 1)
    assert result.added_keys == ("acme-new-model",) and result.removed_keys == ("gpt-4o-mini",)
    assert result.changed_keys == ("claude-sonnet-4-5", "gpt-4o")
    with schema_context("public"):
        old, new = CatalogRelease.objects.get(sha256=loaded.sha256), CatalogRelease.objects.get(is_current=True)
        assert not old.is_current and new.sha256 == result.sha256 and new.loaded_by == "ops@msp.test"
        gpt4o = ModelPrice.objects.get(key="gpt-4o")
        assert gpt4o.input_cost_per_token == Decimal("0.000002") and gpt4o.release == new
        assert ModelPrice.objects.get(key="claude-sonnet-4-5").deprecation_date == dt.date(2027, 1, 31)
        assert ModelPrice.objects.get(key="acme-new-model").input_cost_per_token == Decimal("0.0000001")
        assert not ModelPrice.objects.filter(key="gpt-4o-mini").exists()
        # Untouched entries keep the release they last changed in.
        assert ModelPrice.objects.get(key="claude-haiku-4-5").release == old
        assert ModelPrice.objects.count() == REAL_ENTRIES
    assert [e.after["changed"] for e in _load_events()] == [0, 2]


def test_going_back_to_an_earlier_file_makes_its_release_current_again(loaded, catalog_document, write_catalog):
    del catalog_document["gpt-4o-mini"]
    catalog_load(path=write_catalog(catalog_document), loaded_by="test")
    back = catalog_load_bundled(loaded_by="test")
    assert not back.unchanged and (back.added, back.removed, back.changed) == (1, 0, 0)
    assert catalog_current_release().sha256 == loaded.sha256
    with schema_context("public"):
        assert CatalogRelease.objects.count() == 2 and CatalogRelease.objects.filter(is_current=True).count() == 1
        assert ModelPrice.objects.count() == REAL_ENTRIES


# --- bad files ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"gpt-4o": {"input_cost_per_token": 0.0000025,}}', r"not valid JSON: .* \(line 1, column \d+\)"),
        (b"[1, 2]", "JSON object of model keys .* not a list"),
        (b'"gpt-4o"', "not text"),
        (b"{}", "no model entries"),
        (b'{"sample_spec": {"mode": "one of chat, embedding"}}', "no model entries"),
        ("{\u00e9}".encode("latin-1"), "not UTF-8"),
        (b"", "not valid JSON"),
    ],
)
def test_bad_files_are_refused_and_keep_the_catalog(loaded, write_catalog, tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(CatalogError, match=message):
        catalog_load(path=bad, loaded_by="test")
    with schema_context("public"):
        assert ModelPrice.objects.count() == REAL_ENTRIES
        assert ModelPrice.objects.get(key="gpt-4o").input_cost_per_token == Decimal("0.0000025")
    assert catalog_current_release().sha256 == loaded.sha256
    assert len(_load_events()) == 1


def test_a_missing_file_says_so(db, tmp_path):
    with pytest.raises(CatalogError, match="Cannot read the catalog file .*nowhere.json"):
        catalog_load(path=tmp_path / "nowhere.json", loaded_by="test")


def test_unusable_fields_and_entries_are_skipped_and_counted(db, write_catalog):
    text = """{
        "ok-model": {"litellm_provider": "openai", "input_cost_per_token": 1e-06, "max_input_tokens": 1000,
                     "output_cost_per_token": "0.000002", "deprecation_date": "2027-01-31"},
        "odd-model": {
            "litellm_provider": 42,
            "mode": ["chat"],
            "input_cost_per_token": "cheap",
            "output_cost_per_token": -1,
            "cache_read_input_token_cost": 1e9,
            "cache_creation_input_token_cost": NaN,
            "max_input_tokens": "lots",
            "max_output_tokens": 1.5,
            "deprecation_date": "soon",
            "source": "OpenAI will publish pricing later"
        },
        "not-an-entry": "text",
        "a-list": [1, 2],
        "   ": {"litellm_provider": "openai"},
        "sample_spec": {"max_input_tokens": "max input tokens, if the provider specifies it"}
    }"""
    result = catalog_load(path=write_catalog(text), loaded_by="test")
    assert (result.entries, result.skipped_entries, result.skipped_fields) == (2, 3, 10)
    with schema_context("public"):
        ok = ModelPrice.objects.get(key="ok-model")
        assert ok.input_cost_per_token == Decimal("0.000001") and ok.output_cost_per_token == Decimal("0.000002")
        assert ok.max_input_tokens == 1000 and ok.deprecation_date == dt.date(2027, 1, 31)
        odd = ModelPrice.objects.get(key="odd-model")
        assert (odd.litellm_provider, odd.mode, odd.source) == ("", "", "")
        assert [getattr(odd, f) for f in ("input_cost_per_token", "output_cost_per_token")] == [None, None]
        assert odd.cache_read_input_token_cost is None and odd.cache_creation_input_token_cost is None
        assert (odd.max_input_tokens, odd.max_output_tokens, odd.deprecation_date) == (None, None, None)
        # The raw entry keeps what the file said, NaN included, as text.
        assert odd.raw["input_cost_per_token"] == "cheap" and odd.raw["cache_creation_input_token_cost"] == "NaN"
        assert odd.raw["max_output_tokens"] == "1.5" and odd.raw["litellm_provider"] == 42


# --- the command ----------------------------------------------------------------------------------------------


def test_command_loads_then_reports_unchanged(db, capsys):
    call_command("load_model_catalog")
    call_command("load_model_catalog")
    out = capsys.readouterr().out
    assert f"Catalog loaded: {REAL_ENTRIES} models ({REAL_ENTRIES} new, 0 changed, 0 removed)." in out
    assert "Catalog unchanged" in out and "Rounded: 55 prices" in out
    event = _load_events()[0]
    assert event.source == "command"


def test_command_refresh_names_what_changed(loaded, catalog_document, write_catalog, capsys):
    catalog_document["gpt-4o"]["output_cost_per_token"] = Decimal("0.000009")
    del catalog_document["gpt-4o-mini"]
    call_command("load_model_catalog", str(write_catalog(catalog_document)))
    out = capsys.readouterr().out
    assert "(0 new, 1 changed, 1 removed)" in out
    assert "Changed: gpt-4o\n" in out and "Removed: gpt-4o-mini\n" in out


def test_command_refuses_a_bad_file_with_the_reason(loaded, write_catalog):
    with pytest.raises(CommandError, match="not a list"):
        call_command("load_model_catalog", str(write_catalog("[]")))
