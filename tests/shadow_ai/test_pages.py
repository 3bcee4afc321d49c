"""The portal: the queue with its totals and filters, the history, an item's evidence and its three decisions
(edit capability only), the prefilled register form, other clients' items 404, and queries that do not grow."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.finops.models import AllocationRule
from apps.inventory.models import Agent
from apps.shadow_ai.models import ShadowItem, Status
from apps.shadow_ai.services import item_dismiss, shadow_scan

from .conftest import bedrock, book, events, ingest, item_for, project

pytestmark = pytest.mark.django_db(transaction=False)

URL = "/c/alpha/finops/shadow-ai/"
NOV_1, NOV_19 = dt.date(2026, 11, 1), dt.date(2026, 11, 19)
SONNET = "arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet-4-5-v1:0"


@pytest.fixture
def queue(org, cloud, openai):
    book(cloud, lambda day: [bedrock(day, "10.00")], NOV_1, NOV_19)
    book(openai, lambda day: [project(day, "4.00")], NOV_1, NOV_19)
    ingest(events("rogue-bot", day=NOV_19))
    shadow_scan()
    return org


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_queue_lists_open_items_by_spend_with_totals(queue, login_as, alpha_manager):
    page = login_as(alpha_manager).get(URL)
    assert page.status_code == 200
    text = _text(page)
    labels = [item_for(SONNET).label, "OpenAI API · proj_shadow", "rogue-bot"]
    positions = [text.index(label) for label in labels]
    assert positions == sorted(positions)  # 190.00, 76.00, 1.50
    assert '<div class="value" data-total="open">3</div>' in text
    assert "267.50 <small>USD</small>" in text  # 190.00 + 76.00 + 1.50 in the last 30 days
    assert "bills 266.00 · usage events 1.50" in text


def test_filters_and_history(queue, login_as, alpha_manager):
    client = login_as(alpha_manager)
    item_dismiss(item=item_for("rogue-bot"), reason="A developer's laptop")
    text = _text(client.get(URL, {"kind": "resource"}))
    assert "anthropic.claude-sonnet" in text and "proj_shadow" not in text
    text = _text(client.get(URL, {"origin": "usage"}))
    assert "No item matches these filters." in text
    history = _text(client.get(f"{URL}history/"))
    assert "rogue-bot" in history and "A developer&#x27;s laptop" in history and "proj_shadow" not in history


def test_the_item_page_shows_evidence_and_the_three_decisions(queue, login_as, alpha_manager):
    item = item_for("proj_shadow")
    text = _text(login_as(alpha_manager).get(f"{URL}{item.pk}/"))
    assert "76.00 <small>USD</small>" in text and "gpt-4o-mini" in text
    assert "/c/alpha/finops/ledger/?from=2026-10-17&amp;to=2026-11-20" in text and "sub_account=proj_shadow" in text
    assert "Register as model" in text and "Map and add the rule" in text and ">Dismiss</button>" in text
    assert "Sub-account (subscription / project) is proj_shadow" in text


def test_executives_read_but_cannot_decide(queue, login_as, alpha_executive):
    client = login_as(alpha_executive)
    item = item_for("proj_shadow")
    text = _text(client.get(f"{URL}{item.pk}/"))
    assert "Map and add the rule" not in text and "Register as" not in text
    assert client.post(f"{URL}{item.pk}/dismiss/", {"reason": "no"}).status_code == 403
    assert client.get(f"{URL}{item.pk}/register/").status_code == 403
    item.refresh_from_db()
    assert item.status == Status.OPEN


def test_dismiss_in_the_portal_requires_a_reason(queue, login_as, alpha_manager):
    client = login_as(alpha_manager)
    item = item_for("rogue-bot")
    page = client.post(f"{URL}{item.pk}/dismiss/", {"reason": ""})
    assert page.status_code == 200 and "Say why it is dismissed" in page.content.decode()
    item.refresh_from_db()
    assert item.status == Status.OPEN
    done = client.post(f"{URL}{item.pk}/dismiss/", {"reason": "Load test"})
    assert done.status_code == 302
    item.refresh_from_db()
    assert item.status == Status.DISMISSED and item.decided_by == alpha_manager.email
    assert AuditEvent.objects.get(action="shadow_ai.dismiss").actor_email == alpha_manager.email


def test_register_form_is_prefilled_and_creates_asset_and_rule(queue, login_as, alpha_manager):
    client = login_as(alpha_manager)
    item = item_for("rogue-bot")
    form = _text(client.get(f"{URL}{item.pk}/register/"))
    assert 'name="name" value="rogue-bot"' in form and "Agent (usage events) is rogue-bot" in form
    response = client.post(
        f"{URL}{item.pk}/register/",
        {
            "kind": "agent",
            "name": "rogue-bot",
            "lifecycle": "pilot",
            "risk_tier": "unassessed",
            "data_classification": "internal",
            "autonomy_level": "suggest",
            "spend_cap_currency": "USD",
            "spend_cap_period": "day",
            "department": queue["claims"].pk,
            "rule-match": "agent",
        },
    )
    assert response.status_code == 302, _text(response)[:2000]
    item.refresh_from_db()
    agent = Agent.objects.get(name="rogue-bot")
    assert item.status == Status.REGISTERED and item.asset_id == agent.pk and agent.department == queue["claims"]
    assert AllocationRule.objects.get(pk=item.rule_id).match_field == "agent"
    assert item.decided_by == alpha_manager.email


def test_register_as_another_kind_rebuilds_the_prefill(queue, login_as, alpha_manager):
    item = item_for(SONNET)
    text = _text(login_as(alpha_manager).get(f"{URL}{item.pk}/register/", {"kind": "endpoint"}))
    assert "Register as a new endpoint" in text and 'value="eu-central-1"' in text


def test_map_in_the_portal(queue, login_as, alpha_manager):
    client = login_as(alpha_manager)
    item = item_for("proj_shadow")
    bad = client.post(f"{URL}{item.pk}/map/", {"match": "sub_account"})
    assert bad.status_code == 200 and "Choose the asset this spend belongs to." in bad.content.decode()
    done = client.post(f"{URL}{item.pk}/map/", {"asset": queue["helper"].pk, "match": "sub_account"})
    assert done.status_code == 302
    item.refresh_from_db()
    assert item.status == Status.MAPPED and item.asset_id == queue["helper"].pk
    detail = _text(client.get(f"{URL}{item.pk}/"))
    assert "Mapped to an existing asset" in detail and "Sonnet helper" in detail


def test_scan_now_and_settings(queue, login_as, alpha_manager):
    client = login_as(alpha_manager)
    assert client.post(f"{URL}scan/").status_code == 302
    response = client.post(
        f"{URL}settings/", {"alert_threshold": "250.00", "reopen_factor": "3", "reopen_min_increase": "50"}
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="shadow_ai.settings").exists()
    csv = client.get(f"{URL}queue.csv").content.decode().splitlines()
    assert csv[0].startswith("id,status,origin") and len(csv) == 4


def test_other_clients_items_are_404(queue, login_as, beta_executive, beta):
    item = item_for("proj_shadow")
    client = login_as(beta_executive)
    with schema_context(beta.schema_name):
        assert not ShadowItem.objects.filter(pk=item.pk).exists()
    assert client.get(f"/c/beta/finops/shadow-ai/{item.pk}/").status_code == 404
    assert client.get(f"{URL}{item.pk}/").status_code == 404  # alpha's page is not beta's user's


def test_queue_queries_do_not_grow_with_items(org, cloud, login_as, alpha_manager, django_assert_max_num_queries):
    client = login_as(alpha_manager)
    book(cloud, lambda day: [bedrock(day, "10.00", resource_id="r-0")], NOV_1, NOV_19)
    shadow_scan()
    client.get(URL)
    with django_assert_max_num_queries(40) as one:
        client.get(URL)
    book(cloud, lambda day: [bedrock(day, "10.00", resource_id=f"r-{i}", tags={}) for i in range(12)], NOV_1, NOV_19)
    shadow_scan()
    assert ShadowItem.objects.count() == 12
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get(URL)
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get(f"{URL}history/", {"status": "all"})
