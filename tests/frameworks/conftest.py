"""Framework library fixtures: the bundled library loaded into the public schema, a small test framework in
tests/frameworks/data/ and a writer for variants of it, MSP staff signed in."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.frameworks.library import framework_load, frameworks_load_bundled
from tests.conftest import make_user

DATA = Path(__file__).resolve().parent / "data"
SMALL_V1 = DATA / "small-v1.yaml"
SMALL_V2 = DATA / "small-v2.yaml"


@pytest.fixture
def library(db):
    """Every bundled framework file, loaded as keel_setup does."""
    with schema_context("public"):
        return {result.framework.ref: result for result in frameworks_load_bundled(loaded_by="test")}


@pytest.fixture
def small(db):
    with schema_context("public"):
        return framework_load(SMALL_V1, loaded_by="test")


@pytest.fixture
def write_framework(tmp_path):
    """write_framework(text, name) -> a path holding it; text defaults to small-v1 with replacements applied."""

    def write(text: str | None = None, name: str = "framework.yaml", replace: dict | None = None) -> Path:
        text = SMALL_V1.read_text() if text is None else text
        for old, new in (replace or {}).items():
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def staff(alpha, login_as):
    """An engineer (MSP staff, CONSOLE) signed in."""
    return login_as(make_user("fw-eng@msp.test", role=Role.ENGINEER, client=alpha))


@pytest.fixture
def selects():
    """with selects() as q: ...; q.count - SELECTs run (django-tenants' SET search_path is not a query of ours)."""

    class Counter(CaptureQueriesContext):
        @property
        def count(self) -> int:
            return sum(1 for q in self.captured_queries if q["sql"].lstrip().upper().startswith("SELECT"))

    return lambda: Counter(connection)
