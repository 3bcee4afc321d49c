"""keel_setup loads the bundled library once (it runs on every `make run`); loading again changes nothing."""

from __future__ import annotations

from django_tenants.utils import schema_context

from apps.frameworks.library import bundled_files, frameworks_load_bundled
from apps.frameworks.models import FrameworkVersion


def test_bundled_library_loads_once(db):
    with schema_context("public"):
        first = frameworks_load_bundled(loaded_by="keel_setup")
        assert len(first) == len(bundled_files()) and all(r.created for r in first)
        again = frameworks_load_bundled(loaded_by="keel_setup")
        assert all(r.unchanged for r in again)
        assert FrameworkVersion.objects.count() == len(bundled_files())
