"""The inventory section over assets saved, retired and checked through apps.inventory's services (so the
audit history and the guardrail findings are the real ones) and shadow AI items decided through
apps.shadow_ai's services, under a moving clock; October 2026 in alpha (Europe/Paris).

Assets: Claims triage (agent, 10 Sep; a money-moving tool on 3 Oct: critical finding; spend cap set on
20 Oct: that finding resolved), Scorer (model, 10 Sep), Old endpoint (endpoint, retired 15 Sep), September bot
(agent, 30 Sep 23:30 Paris; retired 1 Nov 00:30 Paris), CRM link (integration, retired 12 Oct), New model
(5 Oct), KB (pipeline with personal data and no residency, 31 Oct 23:30 Paris), November bot (1 Nov 00:30).
Shadow AI: S1 open (Sep), S2 open, S3 mapped 10 Oct, S4 dismissed 12 Oct, S5 registered as a model 14 Oct,
S7 found in Sep and dismissed 3 Nov, S8 found 31 Oct 23:00 Paris, S9 in USD, S6 found 1 Nov 00:30 Paris.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from django.db.models import Q, Sum
from freezegun import freeze_time

from apps.core.context import acting_as
from apps.inventory.models import Asset, GuardrailFinding
from apps.inventory.services import agent_tool_save, asset_save, assets_retire
from apps.reports.sections import inventory as section
from apps.shadow_ai.models import ShadowItem
from apps.shadow_ai.services import item_dismiss, item_map, item_register

from .posture_factories import (
    MONTH_ENDS,
    MONTH_STARTS,
    assert_highlights,
    data_queries,
    figures,
    make_period,
    render_both,
    roundtrip,
)

pytestmark = pytest.mark.django_db
UTC = dt.UTC
MINUTES_30 = dt.timedelta(minutes=30)


def shadow_item(label, *, kind="api_key", origin="usage", cost="0", currency="EUR") -> ShadowItem:
    from django.utils import timezone

    now = timezone.now()
    return ShadowItem.objects.create(
        fingerprint=hashlib.sha256(label.encode()).hexdigest(),
        origin=origin,
        identity_kind=kind,
        identity_value=label,
        label=label,
        first_seen_at=now - dt.timedelta(days=3),
        last_seen_at=now,
        seen_at=now,
        currency=currency,
        cost_30d=Decimal(cost),
        cost_month=Decimal(cost),
        suggested_kind="agent",
        rule_candidates=[{"field": "tag", "key": "agent", "value": label, "label": f"agent = {label}"}],
    )


@pytest.fixture
def world(in_alpha):
    with acting_as(user_email="eng@msp.test"), freeze_time("2026-09-10 10:00:00") as clock:
        triage = asset_save(kind="agent", name="Claims triage")
        scorer = asset_save(kind="model", name="Scorer", provider="openai", model_id="gpt-4o")
        old = asset_save(kind="endpoint", name="Old endpoint")
        crm = asset_save(kind="integration", name="CRM link")
        clock.move_to("2026-09-15 10:00:00")
        assets_retire(assets=[old])
        clock.move_to("2026-09-20 10:00:00")
        s1 = shadow_item("S1", cost="100")
        clock.move_to("2026-09-25 10:00:00")
        s7 = shadow_item("S7", cost="5")
        clock.move_to(MONTH_STARTS - MINUTES_30)  # 30 Sep 23:30 in Paris
        september_bot = asset_save(kind="agent", name="September bot")

        clock.move_to("2026-10-02 10:00:00")
        shadow_item("S2", cost="250.50")
        clock.move_to("2026-10-03 10:00:00")
        agent_tool_save(agent=triage, name="Pay", powers=["move_money"])
        clock.move_to("2026-10-05 10:00:00")
        asset_save(kind="model", name="New model", provider="anthropic", model_id="claude")
        s3 = shadow_item("S3", kind="agent")
        s4 = shadow_item("S4", kind="resource", origin="ledger", cost="12")
        s5 = shadow_item("S5")
        clock.move_to("2026-10-10 10:00:00")
        item_map(item=s3, asset=scorer)
        clock.move_to("2026-10-12 10:00:00")
        assets_retire(assets=[crm])
        item_dismiss(item=s4, reason="A sandbox account for a one-day trial.")
        clock.move_to("2026-10-14 10:00:00")
        item_register(
            item=s5, kind="model", fields={"name": "Registered model", "provider": "openai", "model_id": "o3"}
        )
        clock.move_to("2026-10-15 10:00:00")
        shadow_item("S9", cost="40", currency="USD")
        clock.move_to("2026-10-20 10:00:00")
        asset_save(kind="agent", asset=Asset.objects.get(pk=triage.pk).detail, spend_cap=Decimal("50.00"))
        clock.move_to(MONTH_ENDS - dt.timedelta(hours=1))  # 31 Oct 23:00 in Paris
        shadow_item("S8", kind="resource", origin="ledger")
        clock.move_to(MONTH_ENDS - MINUTES_30)  # 31 Oct 23:30 in Paris
        asset_save(kind="pipeline", name="KB", personal_data=True)

        clock.move_to(MONTH_ENDS + MINUTES_30)  # 1 Nov 00:30 in Paris
        asset_save(kind="agent", name="November bot")
        assets_retire(assets=[september_bot])
        shadow_item("S6", cost="10")
        clock.move_to("2026-11-03 10:00:00")
        item_dismiss(item=s7, reason="A developer's own experiment, now stopped.")
        yield {"triage": triage, "scorer": scorer, "s1": s1}


def test_assets_by_type_at_the_month_end(world):
    data = section.build(make_period())
    kinds = {row["kind"]: row for row in data["by_kind"]}
    # In use: Claims triage, September bot (retired only in November), Scorer, New model, Registered model, KB.
    assert (kinds["agent"]["in_use"], kinds["model"]["in_use"], kinds["pipeline"]["in_use"]) == (2, 3, 1)
    assert (kinds["endpoint"]["in_use"], kinds["integration"]["in_use"]) == (0, 0)
    assert data["assets_in_use"] == 6
    assert [a["name"] for a in data["assets_created"]] == ["New model", "Registered model", "KB"]
    assert data["assets_created"][-1]["created_on"] == "2026-10-31"
    assert data["assets_created_count"] == 3 and kinds["model"]["created"] == 2
    assert data["assets_retired"] == [{"name": "CRM link", "kind_label": "Integration", "retired_on": "2026-10-12"}]
    assert data["assets_retired_count"] == kinds["integration"]["retired"] == 1
    # The same against the tables: registered in October (Paris).
    assert Asset.objects.filter(created_at__gte=MONTH_STARTS, created_at__lt=MONTH_ENDS).count() == 3

    november = section.build(make_period(dt.date(2026, 11, 1)))
    assert [a["name"] for a in november["assets_retired"]] == ["September bot"]
    assert november["assets_in_use"] == 6  # November bot in, September bot out
    september = section.build(make_period(dt.date(2026, 9, 1)))
    assert september["assets_in_use"] == 4 and september["assets_retired"][0]["name"] == "Old endpoint"


def test_guardrail_findings_open_at_the_month_end_reconcile(world):
    data = section.build(make_period())
    open_then = GuardrailFinding.objects.filter(first_seen_at__lt=MONTH_ENDS).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gte=MONTH_ENDS)
    )
    assert data["findings_open_count"] == open_then.count() == 5
    assert data["findings_open_critical"] == open_then.filter(severity="critical").count() == 1
    assert data["findings_open_by_severity"] == {"critical": 1, "high": 4, "medium": 0, "low": 0}
    assert (
        data["findings_open_top"][0]["severity"] == "critical"
        and data["findings_open_top"][0]["asset"] == "Claims triage"
    )
    assert data["findings_new_count"] == 2  # the money-moving tool and KB; September bot's are September's
    assert data["findings_resolved_count"] == 1  # the spend cap; September bot's were resolved in November
    assert len(data["findings_open_top"]) == 5


def test_shadow_ai_found_resolved_and_open(world):
    data = section.build(make_period())
    assert data["shadow_found_count"] == 6  # S2, S3, S4, S5, S8, S9
    assert {row["kind"]: row["count"] for row in data["shadow_found_by_kind"]} == {
        "api_key": 3,
        "agent": 1,
        "resource": 2,
    }
    assert {row["origin"]: row["count"] for row in data["shadow_found_by_origin"]} == {"usage": 4, "ledger": 2}
    assert data["shadow_found"][0]["label"] == "S2" and data["shadow_found"][0]["cost_30d"] == "250.50"
    assert data["shadow_resolved_count"] == 3
    assert data["shadow_resolved_by_outcome"] == {"registered": 1, "mapped": 1, "dismissed": 1}
    assert data["shadow_open_count"] == 5  # S1, S2, S7 (dismissed in November), S8, S9
    open_eur = ShadowItem.objects.filter(status="open", currency="EUR").aggregate(total=Sum("cost_30d"))["total"]
    assert data["shadow_open_spend_30d"] == str(open_eur.quantize(Decimal("0.01"))) == "360.50"
    assert {t["currency"]: t["cost_30d"] for t in data["shadow_open_spend"]} == {"EUR": "360.50", "USD": "40.00"}


def test_an_empty_month_is_a_valid_section(in_alpha):
    data = roundtrip(section.build(make_period()))
    assert data["assets_in_use"] == data["findings_open_count"] == data["shadow_found_count"] == 0
    assert data["shadow_open_spend"] == [] and data["shadow_open_spend_30d"] == "0.00"
    assert section.highlights(data, make_period()) == []
    pdf, web = render_both(section.KEY, data, make_period())
    assert pdf.count('class="report-empty"') == 3 and web.count('class="report-empty"') == 3


def test_json_and_a_fixed_number_of_queries(world):
    data, queries = data_queries(section.build, make_period())
    roundtrip(data)
    assert len(queries) <= 6, queries


def test_highlight_rules(world):
    period = make_period()
    data = section.build(period)
    items = assert_highlights(section.KEY, data, section.highlights(data, period))
    assert figures(items) == [
        "inventory.findings_open_critical",
        "inventory.shadow_found_count",
        "inventory.shadow_open_spend_30d",
    ]
    assert [i["tone"] for i in items] == ["bad", "neutral", "bad"]
    assert "360.50 EUR" in items[2]["text"]

    calmer = {**data, "findings_open_critical": 0, "shadow_found_count": 0, "shadow_open_spend_30d": "0.00"}
    items = assert_highlights(section.KEY, calmer, section.highlights(calmer, period))
    assert figures(items) == ["inventory.findings_open_count", "inventory.assets_created_count"]

    quiet = {**calmer, "findings_open_count": 0, "assets_created_count": 1}
    [item] = assert_highlights(section.KEY, quiet, section.highlights(quiet, period))
    assert item["text"] == "1 new AI asset was registered in the inventory this month."


def test_the_template_shows_the_figures(world):
    period = make_period()
    data = section.build(period)
    pdf, web = render_both(section.KEY, data, period)
    for html in (pdf, web):
        assert "CRM link" in html and "KB" in html and "250.50 EUR" in html and "360.50 EUR" in html
        assert "1 registered as new assets, 1 mapped to existing assets, 1 dismissed" in html
        assert '<th scope="col"' in html and '<th scope="row">' in html
    assert 'href="/c/alpha/finops/shadow-ai/"' in web and "<a " not in pdf


def test_the_shadow_ai_sentence_writes_thousands_separators():
    items = section.highlights({"currency": "USD", "shadow_open_spend_30d": "2803.02"}, make_period())
    (sentence,) = [i["text"] for i in items if i["figure"] == "inventory.shadow_open_spend_30d"]
    assert "2,803.02 USD" in sentence
