"""Assessment fixtures: the bundled ai-era-msp template loaded into the public schema, a builder for small
keel-maturity/1 documents (so arithmetic can be worked out by hand), deterministic platform signals and an
acting account manager.

The small template `t-small` (stored by the `small` fixture):
    sec   weight 60, target 4   sec-mfa   w2  signal security.mfa_enforced   levels 1*,3,5   hard 5   evidence rec.
                                sec-keys  w1                                 levels 1*,2,4,5 hard 1   evidence req.
    bill  weight 40, target 5   bill-fresh w1 signal finops.billing_freshness levels 1,4,5
                                bill-alloc w1 optional                       levels 1..5
    agt   weight 20, target 3   agt-kill  w1  signal agents.kill_switches    levels 1,3,5    N/A allowed
(* = red flag.) Recommendations exist for sec 3..5 and bill 2..5; agt has none (the descriptor is used).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from django_tenants.utils import schema_context

from apps.core.context import acting_as

DATA = Path(__file__).resolve().parents[2] / "apps" / "assessment_templates" / "data"
BUNDLED = DATA / "ai-era-msp.yaml"
LEVELS = [
    {"level": 1, "name": "Legacy"},
    {"level": 2, "name": "Emerging"},
    {"level": 3, "name": "Defined"},
    {"level": 4, "name": "Managed"},
    {"level": 5, "name": "AI-era standard"},
]
MANAGER_EMAIL = "am@msp.test"


def choices(*levels, red=(), keys=None) -> list[dict]:
    """Choices at these levels, keyed l1, l3 … (or `keys`), red flags on the levels in `red`."""
    keys = keys or [f"l{level}" for level in levels]
    return [
        {
            "key": key,
            "level": level,
            "label": f"Practice at level {level}",
            **({"red_flag": True} if level in red else {}),
        }
        for key, level in zip(keys, levels, strict=True)
    ]


def question(ref, *levels, weight=None, **extra) -> dict:
    q = {"ref": ref, "text": f"Question {ref}?", "choices": choices(*(levels or (1, 3, 5)))}
    if weight is not None:
        q["weight"] = weight
    q.update(extra)
    return q


def recommendations(*levels) -> dict:
    return {
        str(level): {"title": f"Reach level {level}", "detail": f"Do what level {level} takes.", "effort": "small"}
        for level in levels
    }


def dimension(ref, weight, questions, **extra) -> dict:
    return {
        "ref": ref,
        "name": f"Dimension {ref}",
        "weight": weight,
        "descriptors": {str(level): f"{ref} practice at level {level}." for level in range(1, 6)},
        "questions": questions,
        **extra,
    }


def template_doc(key="t-doc", *, version=1, dimensions=None, targets=None, **top) -> dict:
    """A valid keel-maturity/1 document; `dimensions` defaults to one dimension with one question."""
    doc = {
        "format": "keel-maturity/1",
        "key": key,
        "version": version,
        "name": f"Template {key}",
        "levels": copy.deepcopy(LEVELS),
        "dimensions": dimensions if dimensions is not None else [dimension("d1", 10, [question("d1-q1")])],
        **top,
    }
    if targets is not None:
        doc["target_profile"] = {"name": f"{key} targets", "levels": targets}
    return doc


def small_doc(version=1) -> dict:
    return template_doc(
        "t-small",
        version=version,
        targets={"sec": 4, "bill": 5, "agt": 3},
        dimensions=[
            dimension(
                "sec",
                60,
                [
                    question(
                        "sec-mfa",
                        weight=2,
                        signal="security.mfa_enforced",
                        evidence="recommended",
                        hard_question=5,
                        choices=choices(1, 3, 5, red=(1,), keys=["none", "admins", "everyone"]),
                    ),
                    question(
                        "sec-keys",
                        weight=1,
                        evidence="required",
                        hard_question=1,
                        choices=choices(1, 2, 4, 5, red=(1,)),
                    ),
                ],
                recommendations=recommendations(3, 4, 5),
            ),
            dimension(
                "bill",
                40,
                [
                    question(
                        "bill-fresh",
                        signal="finops.billing_freshness",
                        choices=choices(1, 4, 5, keys=["invoice", "daily", "live"]),
                    ),
                    question("bill-alloc", required=False, choices=choices(1, 2, 3, 4, 5)),
                ],
                recommendations=recommendations(2, 3, 4, 5),
            ),
            dimension(
                "agt",
                20,
                [question("agt-kill", signal="agents.kill_switches", allow_na=True, choices=choices(1, 3, 5))],
            ),
        ],
    )


def store(document: dict, **kwargs):
    """Parse and store a document in the public schema; the stored TemplateVersion."""
    from apps.assessment_templates.library import parse_template_document, template_store

    with schema_context("public"):
        parsed = parse_template_document(document, file=f"{document['key']}.yaml")
        return template_store(parsed, loaded_by="test", **kwargs).version


def bundled_document() -> dict:
    return yaml.safe_load(BUNDLED.read_text(encoding="utf-8"))


@pytest.fixture
def bundled(db):
    """The bundled template(s), loaded as keel_setup does; the ai-era-msp Template."""
    from apps.assessment_templates.library import templates_load_bundled
    from apps.assessment_templates.models import Template

    with schema_context("public"):
        templates_load_bundled(loaded_by="test")
        return Template.objects.select_related("current").get(key="ai-era-msp")


@pytest.fixture
def small(db):
    """The t-small template's version 1 (see the module docstring)."""
    return store(small_doc())


@pytest.fixture
def questions():
    """questions(version) -> {ref: Question}."""

    def by_ref(version):
        from apps.assessment_templates.models import Question

        return {q.ref: q for q in Question.objects.filter(version=version)}

    return by_ref


@pytest.fixture
def signals(monkeypatch):
    """Deterministic platform signals: set `signals[key] = level` (or a SignalReading); unset keys read None.
    `signals.calls` counts reads."""
    from apps.assessments.signals import SignalReading

    class Readings(dict):
        calls = 0

    readings = Readings()

    def fake(key, *, now=None):
        readings.calls += 1
        value = readings.get(key)
        if value is None or isinstance(value, SignalReading):
            return value
        return SignalReading(
            key,
            value,
            f"{key} reads level {value}.",
            f"Source of {key}",
            "finops/sources/",
            {"level": value, "key": key},
        )

    monkeypatch.setattr("apps.assessments.services.read_signal", fake)
    return readings


@pytest.fixture
def as_manager():
    """Act as the account manager (what actor_label() names in created_by, answered_by …)."""
    with acting_as(user_email=MANAGER_EMAIL, source="portal"):
        yield MANAGER_EMAIL


def audit_actions(since_seq: int = 0) -> list[str]:
    """The actions recorded in the current schema's audit chain after `since_seq`, oldest first."""
    from apps.audit.models import AuditEvent

    return list(AuditEvent.objects.filter(seq__gt=since_seq).order_by("seq").values_list("action", flat=True))


def audit_seq() -> int:
    from apps.audit.models import AuditEvent

    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
