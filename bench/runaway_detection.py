"""How fast Keel catches an agent loop burning $22.60 a minute (the seed's $65,000 in 48 hours), and what it
costs before the alert, replayed through the usage-events API among ordinary traffic.

    .venv/bin/python bench/runaway_detection.py            # 7 days of history, then 3 hours minute by minute
    .venv/bin/python bench/runaway_detection.py --keep     # keep the benchmark database

Runs against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/keel_runaway_bench) with
config.settings.base, in a database it creates and drops (a name containing "bench" is recreated, any other
existing database is refused). It sets up the public schema and the model catalog (keel_setup), one client with an
ingest-scoped API key, and the looping agent in the inventory with a kill-switch URL and auto-stop on; the
kill-switch is a local stand-in (no network).

Traffic: five agents on four models with business-hours peaks and random minute-to-minute counts, priced by the
catalog at ingestion. Seven days of it are POSTed first (the baselines), then a simulated clock runs from 12:00 to
15:00 UTC of the eighth day: each minute, that minute's events are POSTed to /usage-events (as a gateway flushing
its buffer) and then runaway_scan(now=<end of the minute>) runs, as beat does every minute. At 13:07:20
recon-agent starts re-sending the same 84,400-token gpt-4o prompt 100 times a minute ($0.226 each); it stops once
Keel's kill-switch call reached it. Four more loops of agents outside the inventory start at other seconds past
the minute, to show how the delay depends on where the loop starts relative to the scan.

Figures (simulated seconds, from the loop's first call to the scan that raised the alert; dollars are the loop's
own calls before that scan):
    figure detection_delay_seconds <s> s
    figure dollars_burned_before_alert <usd> USD
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/keel_runaway_bench"
os.environ["DATABASE_URL"] = os.environ.get("DATABASE_URL") or DEFAULT_URL
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
os.environ.setdefault("KEEL_LOG_LEVEL", "WARNING")
os.environ["CELERY_BROKER_URL"] = "memory://"  # the ingest hook's scan requests go nowhere: the bench scans itself
os.environ["KEEL_CELERY_EAGER"] = "0"
os.environ.setdefault("KEEL_API_KEY_RATE", "100000/min")
if not os.environ.get("KEEL_ENCRYPTION_KEYS"):  # the signing secret is stored encrypted; the database is thrown away
    from cryptography.fernet import Fernet

    os.environ["KEEL_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()

from benchdb import database_name, drop_database, prepare_database  # noqa: E402

SLUG = "runaway-bench"
DAY = dt.date(2026, 11, 10)  # the simulated "today"; history is the 7 days before
LIVE_START, LIVE_MINUTES = dt.time(12, 0), 180
LOOP_AGENT = "recon-agent"
LOOP_START = dt.datetime.combine(DAY, dt.time(13, 7, 20), dt.UTC)
LOOP_PER_MINUTE, LOOP_INPUT, LOOP_OUTPUT = 100, 84_400, 1_500  # gpt-4o: $0.211 + $0.015 = $0.226 a call
STOP_LAG = dt.timedelta(seconds=5)  # the agent winds down this long after the kill-switch call
KILL_URL = "https://agents.bench.example/recon-agent/kill"
# Loops of agents outside the inventory, starting 0, 20, 40 and 59 s past a minute: (agent, first call, minutes)
PHASE_LOOPS = [
    (f"batch-loop-{second:02d}", dt.datetime.combine(DAY, dt.time(14, 5 + 10 * i, second), dt.UTC), 6)
    for i, second in enumerate((0, 20, 40, 59))
]
# agent → (model, calls a minute at the peak, input tokens, output tokens, cached tokens)
AGENTS = {
    "claims-triage": ("gpt-4o-mini-2024-07-18", 12, 3_000, 400, 1_000),
    "kyc-checker": ("claude-sonnet-4-5", 3, 6_000, 800, 0),
    "support-bot": ("gpt-4o-mini-2024-07-18", 20, 1_200, 250, 0),
    "underwriter": ("gpt-4o-2024-08-06", 2, 30_000, 2_000, 12_000),
    LOOP_AGENT: ("gpt-4o-2024-08-06", 1.5, 20_000, 1_500, 8_000),
}
PROVIDERS = {"gpt": "openai", "cla": "anthropic"}


def diurnal(moment: dt.datetime) -> float:
    """Office hours 07–18 UTC at full load, a trickle at night and a little less on the weekend."""
    factor = 1.0 if 7 <= moment.hour < 18 else 0.15
    return factor * (0.5 if moment.weekday() >= 5 else 1.0)


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Traffic:
    def __init__(self, seed: int = 20261110):
        self.rng = random.Random(seed)
        self.n = 0

    def _event(self, moment, agent, model, inp, out, cached, *, prefix="req", prompt=None) -> dict:
        self.n += 1
        return {
            "timestamp": stamp(moment),
            "request_id": f"{prefix}-{self.n:08d}",
            "provider": PROVIDERS[model[:3]],
            "model": model,
            "input_tokens": inp,
            "output_tokens": out,
            "cached_tokens": cached,
            "agent": agent,
            "api_key_id": f"key_{agent}",
            "department": "operations",
            "prompt_hash": prompt or hashlib.sha256(f"{agent}/{self.n}".encode()).hexdigest(),
        }

    def _poisson(self, mean: float) -> int:
        """Calls in one minute (Knuth's method: fine for the small means of one agent's minute)."""
        limit, count, product = pow(2.718281828459045, -mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    def normal_minute(self, start: dt.datetime) -> list[dict]:
        events = []
        for agent, (model, peak, inp, out, cached) in AGENTS.items():
            for _ in range(self._poisson(peak * diurnal(start))):
                scale = self.rng.uniform(0.6, 1.4)
                moment = start + dt.timedelta(seconds=self.rng.uniform(0, 59.999))
                events.append(
                    self._event(moment, agent, model, int(inp * scale), int(out * scale), int(cached * scale))
                )
        return events

    def loop_minute(self, start: dt.datetime, agent: str, began: dt.datetime, until: dt.datetime) -> list[dict]:
        """The loop's calls in [start, start + 1 min): one every 0.6 s from `began`, until `until`."""
        step_ms = 60_000 // LOOP_PER_MINUTE
        offset_ms = int((start - began).total_seconds() * 1000)
        k = max(0, -(-offset_ms // step_ms))  # the first call at or after `start`
        end = min(start + dt.timedelta(minutes=1), until)
        prompt = hashlib.sha256(f"{agent}/the-same-memo".encode()).hexdigest()
        events = []
        while (moment := began + dt.timedelta(milliseconds=k * step_ms)) < end:
            events.append(
                self._event(
                    moment,
                    agent,
                    "gpt-4o-2024-08-06",
                    LOOP_INPUT,
                    LOOP_OUTPUT,
                    0,
                    prefix=f"loop-{agent}",
                    prompt=prompt,
                )
            )
            k += 1
        return events


def post(http, secret: str, events: list[dict]) -> None:
    for i in range(0, len(events), 5000):
        body = json.dumps({"events": events[i : i + 5000]})
        response = http.post(
            f"/c/{SLUG}/api/v1/usage-events",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Api-Key {secret}",
        )
        result = response.json()
        if response.status_code != 200 or result["rejected"] or result["unpriced"]:
            sys.exit(f"ingest failed: {response.status_code} {str(result)[:400]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args()
    prepare_database()
    try:
        import django

        django.setup()
        import requests
        from django.core.management import call_command
        from django.db.models import Sum
        from django.test import Client as HttpClient
        from django_tenants.utils import schema_context
        from requests.adapters import BaseAdapter

        from apps.accounts.services import api_key_create
        from apps.alerts.models import Alert
        from apps.finops.models import UsageEvent
        from apps.inventory.models import Agent, AssetKind
        from apps.runaway.models import KillSwitchCall, RunawayIncident
        from apps.runaway.services import runaway_scan, runaway_settings_save
        from apps.tenancy.services import client_create

        class StandIn(BaseAdapter):
            """The agent's kill-switch, answered here: records when Keel called it."""

            def __init__(self):
                super().__init__()
                self.calls: list[float] = []

            def send(self, request, **kwargs):
                self.calls.append(time.perf_counter())
                response = requests.Response()
                response.status_code, response._content = 200, b'{"status":"stopped"}'
                response.request, response.url = request, request.url
                return response

            def close(self):
                pass

        started = time.perf_counter()
        call_command("keel_setup", verbosity=0)
        client = client_create(slug=SLUG, name="Runaway Bench")
        secret = api_key_create(name="bench gateway", client=client, scopes=["ingest"], created_by=None).secret
        http = HttpClient(raise_request_exception=True)
        stand_in = StandIn()
        session = requests.Session()
        session.mount("https://", stand_in)
        traffic = Traffic()
        with schema_context(client.schema_name):
            Agent.objects.create(
                kind=AssetKind.AGENT, name=LOOP_AGENT, lifecycle="production", kill_switch_url=KILL_URL
            )
            runaway_settings_save(auto_stop=True)
        print(f"setup (schema, catalog, client, key, agent): {time.perf_counter() - started:.1f} s", flush=True)

        started = time.perf_counter()
        history = []
        first = dt.datetime.combine(DAY - dt.timedelta(days=7), dt.time(), dt.UTC)
        for minute in range(7 * 1440):
            history.extend(traffic.normal_minute(first + dt.timedelta(minutes=minute)))
        post(http, secret, history)
        print(
            f"history: {len(history):,} events over 7 days POSTed in {time.perf_counter() - started:.1f} s", flush=True
        )

        stopped_at: dt.datetime | None = None
        detected: dict[str, dt.datetime] = {}
        scan_ms, sent = [], 0
        live = dt.datetime.combine(DAY, LIVE_START, dt.UTC)
        with schema_context(client.schema_name):
            for minute in range(LIVE_MINUTES):
                start = live + dt.timedelta(minutes=minute)
                events = traffic.normal_minute(start)
                until = (stopped_at + STOP_LAG) if stopped_at else start + dt.timedelta(minutes=2)
                events += traffic.loop_minute(start, LOOP_AGENT, LOOP_START, until)
                for agent, began, minutes in PHASE_LOOPS:
                    events += traffic.loop_minute(start, agent, began, began + dt.timedelta(minutes=minutes))
                events.sort(key=lambda e: e["timestamp"])
                post(http, secret, events)
                sent += len(events)
                now = start + dt.timedelta(minutes=1)
                t0 = time.perf_counter()
                result = runaway_scan(now=now, session=session)
                scan_ms.append((time.perf_counter() - t0) * 1000)
                for pk in result.opened:
                    incident = RunawayIncident.objects.get(pk=pk)
                    detected.setdefault(incident.scope_key, now)
                if stopped_at is None and KillSwitchCall.objects.filter(outcome="stopped").exists():
                    stopped_at = KillSwitchCall.objects.get().called_at

            incidents = {i.scope_key: i for i in RunawayIncident.objects.all()}
            loops = {LOOP_AGENT: LOOP_START, **{agent: began for agent, began, _m in PHASE_LOOPS}}
            false_alarms = sorted(key for key in incidents if key not in loops)
            missing = sorted(key for key in loops if key not in incidents)
            if missing:
                sys.exit(f"loops not detected: {missing}")
            main_incident = incidents[LOOP_AGENT]
            delay = (main_incident.detected_at - LOOP_START).total_seconds()

            def loop_cost(agent, before):
                return UsageEvent.objects.filter(
                    request_id__startswith=f"loop-{agent}-", occurred_at__lt=before
                ).aggregate(total=Sum("cost"))["total"] or Decimal(0)

            burned_before_alert = loop_cost(LOOP_AGENT, main_incident.detected_at)
            burned_total = loop_cost(LOOP_AGENT, live + dt.timedelta(minutes=LIVE_MINUTES))
            alert = Alert.objects.get(pk=main_incident.alert_id)
            call = KillSwitchCall.objects.get(incident=main_incident)
            print(
                f"live: {LIVE_MINUTES} simulated minutes, {sent:,} events POSTed, a scan after each minute "
                f"(scan median {statistics.median(scan_ms):.1f} ms, slowest {max(scan_ms):.1f} ms)"
            )
            print(
                f"{LOOP_AGENT}: loop began {LOOP_START:%H:%M:%S}, alert at {main_incident.detected_at:%H:%M:%S} "
                f"({alert.get_severity_display()}, '{alert.subject}')"
            )
            print(
                f"  incident at detection: started {main_incident.started_at:%H:%M}, signals "
                f"{', '.join(sorted(main_incident.signals))}"
            )
            print(
                f"  kill-switch {call.outcome} at {call.called_at:%H:%M:%S} (signed: {call.signed}); the loop "
                f"cost {burned_total:.2f} USD in all, {main_incident.burned:.2f} USD burned by the agent since "
                f"its start; status {main_incident.status}"
            )
            for agent, began, _m in PHASE_LOOPS:
                found = incidents[agent]
                print(
                    f"  loop of {agent} starting {began.second:2d} s past the minute: caught after "
                    f"{(found.detected_at - began).total_seconds():.0f} s, "
                    f"{loop_cost(agent, found.detected_at):.2f} USD before the alert"
                )
            print(f"false alarms on the ordinary agents, keys and models: {len(false_alarms)} {false_alarms or ''}")
        print(f"figure detection_delay_seconds {delay:.0f} s")
        print(f"figure dollars_burned_before_alert {burned_before_alert:.2f} USD")
    finally:
        if args.keep:
            print(f"Kept the benchmark database {database_name()}")
        else:
            drop_database()


if __name__ == "__main__":
    main()
