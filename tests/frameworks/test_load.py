"""Loading framework files: idempotent, a higher version adds a version with its changes and keeps the old one,
equal-with-other-content and lower versions are refused, a failed load changes nothing, every load is audited,
keel_setup's bundled load, and the load_frameworks command."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.frameworks.library import (
    FrameworkFileError,
    FrameworkVersionError,
    bundled_files,
    framework_load,
    frameworks_load_bundled,
)
from apps.frameworks.models import Framework, FrameworkVersion, Requirement

from .conftest import SMALL_V1, SMALL_V2


def _public(query):
    with schema_context("public"):
        return query()


def _load(path, **kwargs):
    with schema_context("public"):
        return framework_load(path, loaded_by="test", **kwargs)


def _events():
    return _public(lambda: list(AuditEvent.objects.filter(action="framework.load").order_by("seq")))


def _state():
    return _public(
        lambda: (
            list(FrameworkVersion.objects.order_by("pk").values_list("pk", "version", "sha256")),
            Requirement.objects.count(),
            list(Framework.objects.values_list("ref", "current_id")),
        )
    )


def test_a_first_load_stores_the_version_its_nodes_and_makes_it_current(small):
    version = small.version
    assert small.created and version.version == 1 and version.requirement_count == 4
    assert version.changes["previous_version"] is None and len(version.changes["added"]) == 4
    with schema_context("public"):
        framework = Framework.objects.get(ref="small")
        assert framework.current == version and framework.urn == "urn:keel:fw:small"
        assert (framework.short_name, framework.audience) == ("Small", "client")
        logs = Requirement.objects.get(version=version, urn="urn:keel:fw:small:1-2")
    assert (logs.parent_urn, logs.depth, logs.position) == ("urn:keel:fw:small:1", 2, 3)
    assert (logs.roles, logs.risk_tiers, logs.asset_types) == (["provider"], ["high"], ["agent", "endpoint"])
    assert (logs.review_frequency, str(logs.applies_from), logs.deadline_rules) == (
        "P6M",
        "2026-08-02",
        ["eu-ai-act-art73"],
    )
    assert version.metadata == {"application_dates": {"general": "2026-08-02"}}
    assert version.source == "tests/frameworks/data/small-v1.yaml" and version.loaded_by == "test"


def test_loading_the_same_content_twice_changes_nothing(small):
    before, events = _state(), len(_events())
    again = _load(SMALL_V1)
    assert again.unchanged and again.version.pk == small.version.pk
    assert _state() == before and len(_events()) == events


def test_a_reformatted_file_with_the_same_content_is_the_same_version(small, write_framework):
    text = "# a new comment\n" + SMALL_V1.read_text().replace("    title: Policy\n", "    title:   'Policy'\n")
    again = _load(write_framework(text))
    assert again.unchanged and again.version.pk == small.version.pk


def test_a_higher_version_records_what_changed_and_keeps_the_old_one(small):
    v2 = _load(SMALL_V2)
    assert v2.created and v2.version.version == 2
    changes = v2.version.changes
    assert changes["previous_version"] == 1
    assert changes["added"] == ["urn:keel:fw:small:3"]
    assert changes["removed"] == ["urn:keel:fw:small:2"]
    assert changes["changed"] == [{"urn": "urn:keel:fw:small:1-2", "fields": ["title", "review_frequency"]}]
    with schema_context("public"):
        assert Framework.objects.get(ref="small").current == v2.version
        v1 = FrameworkVersion.objects.get(framework__ref="small", version=1)
        assert v1.pk == small.version.pk and v1.requirements.count() == 4  # v1 and its rows stay
        assert v1.requirements.get(urn="urn:keel:fw:small:1-2").title == "Logs"
        assert v2.version.requirements.get(urn="urn:keel:fw:small:1-2").title == "Event logs"
    event = _events()[-1]
    assert event.object_type == "frameworks.frameworkversion" and event.object_id == str(v2.version.pk)
    assert event.after | {"sha256": "-"} == {
        "ref": "small",
        "version": 2,
        "previous_version": 1,
        "source": "tests/frameworks/data/small-v2.yaml",
        "sha256": "-",
        "requirements": 4,
        "added": 1,
        "removed": 1,
        "changed": 1,
    }


def test_a_lower_version_is_refused(small, write_framework):
    _load(SMALL_V2)
    before = _state()
    with pytest.raises(FrameworkVersionError, match="version 1 of small is lower than the loaded version 2"):
        _load(SMALL_V1)
    assert _state() == before


def test_an_equal_version_with_other_content_is_refused(small, write_framework):
    before = _state()
    edited = write_framework(replace={"title: Policy": "title: A different policy"})
    with pytest.raises(FrameworkVersionError, match="already loaded with other content; raise the version to 2"):
        _load(edited)
    assert _state() == before


def test_an_invalid_file_changes_nothing(small, write_framework):
    before = _state()
    broken = write_framework(
        replace={"version: 1": "version: 3", 'parent: "1"\n    title: Logs': 'parent: "9"\n    title: Logs'}
    )
    with pytest.raises(FrameworkFileError) as caught:
        _load(broken)
    assert [str(p) for p in caught.value.problems] == ["framework.yaml: requirements[2].parent: no node '9'"]
    assert _state() == before


def test_a_failure_while_storing_rolls_back_everything(small, monkeypatch):
    import apps.frameworks.library as library

    before = _state()

    def boom(**kwargs):
        raise RuntimeError("audit chain unavailable")

    monkeypatch.setattr(library, "audit_record", boom)
    with pytest.raises(RuntimeError):
        _load(SMALL_V2)
    assert _state() == before  # no v2, no rows, current still v1


def test_the_bundled_load_is_idempotent_and_keeps_a_newer_hand_loaded_version(db, write_framework):
    first = _public(lambda: frameworks_load_bundled(loaded_by="keel_setup"))
    assert len(first) == len(bundled_files()) and all(r.created for r in first)
    before, events = _state(), len(_events())
    second = _public(lambda: frameworks_load_bundled())
    assert all(r.unchanged for r in second) and _state() == before and len(_events()) == events
    pipeda = next(p for p in bundled_files() if p.name == "pipeda.yaml")
    newer = write_framework(pipeda.read_text().replace("version: 1", "version: 2", 1), name="pipeda.yaml")
    assert _load(newer).version.version == 2
    third = {r.framework.ref: r for r in _public(lambda: frameworks_load_bundled())}
    assert third["pipeda"].skipped and third["pipeda"].version.version == 2  # not an error for keel_setup


def test_the_command_loads_and_reports(db, capsys):
    call_command("load_frameworks", str(SMALL_V1))
    assert "small-v1.yaml: loaded small v1 (4 nodes; first version)" in capsys.readouterr().out
    call_command("load_frameworks", str(SMALL_V2))
    assert "loaded small v2 (4 nodes; 1 added, 1 removed, 1 changed against v1)" in capsys.readouterr().out
    call_command("load_frameworks", str(SMALL_V2))
    assert "small-v2.yaml: unchanged" in capsys.readouterr().out
    with pytest.raises(CommandError) as caught:
        call_command("load_frameworks", str(SMALL_V1))
    assert caught.value.returncode == 1 and "lower than the loaded version 2" in capsys.readouterr().err
    assert _events()[-1].source == "command"


def test_check_validates_without_loading_and_fails_with_status_1(db, write_framework, capsys):
    call_command("load_frameworks", "--check", str(SMALL_V1))
    assert "small-v1.yaml: valid - small v1, 4 nodes" in capsys.readouterr().out
    assert not _public(lambda: Framework.objects.filter(ref="small").exists())
    bad = write_framework(replace={"review_frequency: P6M": "review_frequency: 6 months"})
    with pytest.raises(CommandError) as caught:
        call_command("load_frameworks", "--check", str(bad))
    assert caught.value.returncode == 1
    assert (
        "framework.yaml: requirements[2].review_frequency: '6 months' is not an ISO 8601 duration"
        in capsys.readouterr().err
    )
    with pytest.raises(CommandError, match="No such file"):
        call_command("load_frameworks", "--check", "/nonexistent.yaml")
