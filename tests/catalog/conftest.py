from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from apps.catalog.services import BUNDLED_CATALOG, catalog_load_bundled

_NUMBER = re.compile(r'"@number:([^"]+)"')


def dumps_exact(document) -> str:
    """JSON text with Decimals written as the numbers they are (json.dumps would need floats)."""

    def mark(value):
        if isinstance(value, Decimal):
            return f"@number:{value}"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    return _NUMBER.sub(r"\1", json.dumps(mark(document)))


@pytest.fixture
def loaded(db):
    """The real catalog (LiteLLM 1.109.1, 4,552 entries) loaded into the public schema."""
    with schema_context("public"):
        return catalog_load_bundled(loaded_by="test")


@pytest.fixture
def catalog_document() -> dict:
    """The bundled file as a dict with Decimal numbers, for writing modified copies with write_catalog."""
    return json.loads(BUNDLED_CATALOG.read_text(), parse_float=Decimal)


@pytest.fixture
def write_catalog(tmp_path):
    """write_catalog(dict or text) -> a path in tmp_path holding it as JSON."""

    def write(document, name: str = "catalog.json") -> Path:
        path = tmp_path / name
        path.write_text(document if isinstance(document, str) else dumps_exact(document))
        return path

    return write
