"""Runaway fixtures: usage events stored through the real ingest service at chosen moments, inventory agents,
and a local kill-switch stand-in (a requests adapter: nothing leaves the process)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest
import requests
from requests.adapters import BaseAdapter

from apps.finops.usage import MAX_EVENTS, usage_events_ingest

DAY = dt.date(2026, 11, 20)
LOOP_START = dt.datetime(2026, 11, 20, 13, 12, tzinfo=dt.UTC)
KILL_URL = "https://agents.alpha.example/underwriter-7/kill"


def at(day: dt.date, hour: int, minute: int, second: float = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC) + dt.timedelta(seconds=second)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Events:
    """Builds events with unique request ids and stores them through usage_events_ingest."""

    def __init__(self):
        self.count = 0

    def make(self, moment: dt.datetime, *, agent="underwriter-7", cost="0.08", **fields) -> dict:
        self.count += 1
        event = {
            "timestamp": stamp(moment),
            "request_id": f"req-{self.count:07d}",
            "provider": "openai",
            "model": "gpt-4o-2024-08-06",
            "input_tokens": 20_000,
            "output_tokens": 2_000,
            "agent": agent,
            "api_key_id": f"key_{agent}",
            "prompt_hash": hashlib.sha256(f"unique-{self.count}".encode()).hexdigest(),
            **fields,
        }
        if cost is not None:
            event["cost"] = cost
        return event

    def per_minute(self, start: dt.datetime, minutes: int, per_minute: int, **fields) -> list[dict]:
        """`per_minute` events spread evenly over each of `minutes` minutes from `start`."""
        return [
            self.make(start + dt.timedelta(minutes=m, seconds=60 * n / per_minute), **fields)
            for m in range(minutes)
            for n in range(per_minute)
        ]

    def history(self, *, hour: int, days: int = 7, before: dt.date = DAY, per_minute: int = 2, **fields) -> list:
        """The same hour of each of the `days` days before `before`: the baseline the scan compares with."""
        events = []
        for back in range(1, days + 1):
            events += self.per_minute(at(before - dt.timedelta(days=back), hour, 0), 60, per_minute, **fields)
        return events


def ingest(events: list[dict]) -> int:
    accepted = 0
    for i in range(0, len(events), MAX_EVENTS):
        result = usage_events_ingest(events=events[i : i + MAX_EVENTS], now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
        assert not result.rejected, result.errors[:3]
        accepted += result.accepted
    return accepted


@pytest.fixture
def events():
    return Events()


@pytest.fixture
def agent(in_alpha):
    from apps.inventory.models import Agent, AssetKind

    return Agent.objects.create(
        kind=AssetKind.AGENT, name="underwriter-7", lifecycle="production", kill_switch_url=KILL_URL
    )


class KillSwitchStandIn(BaseAdapter):
    """Answers kill-switch calls locally and keeps every request it was sent."""

    def __init__(self, status: int = 200, text: str = '{"status": "stopped"}', error: Exception | None = None):
        super().__init__()
        self.status, self.text, self.error = status, text, error
        self.requests: list[requests.PreparedRequest] = []
        self.timeouts: list = []

    def send(self, request, timeout=None, **kwargs):
        self.requests.append(request)
        self.timeouts.append(timeout)
        if self.error is not None:
            raise self.error
        response = requests.Response()
        response.status_code = self.status
        response._content = self.text.encode()
        response.request = request
        response.url = request.url
        return response

    def close(self):
        pass

    @property
    def payloads(self) -> list[dict]:
        return [json.loads(r.body) for r in self.requests]


def stand_in_session(adapter: KillSwitchStandIn) -> requests.Session:
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@pytest.fixture
def kill_switch():
    """(adapter, session): pass the session to the scan; the adapter holds what was sent."""
    adapter = KillSwitchStandIn()
    return adapter, stand_in_session(adapter)


def minutes(start: dt.datetime, count: int):
    return [start + dt.timedelta(minutes=m) for m in range(count)]


def money(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))
