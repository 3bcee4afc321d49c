"""Incident fixtures: a clock frozen on Wednesday 2 Dec 2026, 10:00 UTC (alpha is in Europe/Paris, UTC+1), and a
helper that records an incident through the real service."""

from __future__ import annotations

import datetime as dt

import pytest
from freezegun import freeze_time

NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with freeze_time(NOW, tick=False) as frozen:
        yield frozen


def make_incident(**fields):
    from apps.incidents.services import incident_save

    values = {
        "title": "Assistant gave a wrong answer",
        "kind": "hallucination_harm",
        "detected_at": NOW - dt.timedelta(hours=2),
        "aware_at": NOW - dt.timedelta(hours=1),
    } | fields
    return incident_save(**values)


def obligation(incident, regime: str, report: str):
    from apps.incidents.models import Obligation

    return Obligation.objects.get(incident=incident, regime=regime, report=report)


@pytest.fixture
def incident_factory(in_alpha, clock):
    return make_incident
