"""The arithmetic of each generator on hand-made data, to the exact Decimal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from apps.recommendations.models import Kind, Method, Recommendation

from .conftest import AS_OF, WINDOW, book, events, refresh, row, tokens_row

pytestmark = pytest.mark.django_db(transaction=False)
D = Decimal


def _only(kind: str) -> Recommendation:
    found = list(Recommendation.objects.filter(kind=kind))
    assert len(found) == 1, [r.title for r in found]
    return found[0]


def test_routing_counts_each_short_call_of_the_usage_events(catalog, settings_row):
    settings_row.routing_max_input_tokens = 500
    settings_row.save()
    events(4750, model="gpt-4o", input_tokens=400, agent="support-bot")  # 1.9 M input tokens in short prompts
    events(300, model="gpt-4o", input_tokens=600, output_tokens=200, agent="support-bot")  # long: stay on gpt-4o
    refresh()
    rec = _only(Kind.MODEL_ROUTING)
    # 1,900,000 × (2.50 − 0.15) / 1 M: the cheapest next tier is gpt-4o-mini (not gpt-4.1-mini)
    assert rec.estimated_monthly_saving == D("1900000") * (D("0.0000025") - D("0.00000015")) == D("4.465")
    assert rec.currency == "USD" and rec.model == "gpt-4o" and rec.parameters["target"] == "gpt-4o-mini"
    step = rec.steps[-1]
    assert step["formula"] == (
        "1.9 M input tokens/month on gpt-4o with prompts under 500 tokens × ($2.50 − $0.15) per 1 M "
        "(gpt-4o → gpt-4o-mini)"
    )
    assert step["value"] == "$4.47/month"
    assert rec.steps[0]["value"] == "4,750 calls"
    assert rec.measure == {
        "table": "events",
        "filters": {"provider": "openai", "agent": "support-bot", "currency": "USD"},
        "method": Method.PER_REQUEST,
        "currency": "USD",
        "label": "every call support-bot reports to openai (cost per request)",
    }


def test_routing_from_the_bill_uses_the_projects_average_prompt_and_prices_each_token_type(
    catalog, settings_row, source
):
    rows = []
    for day in WINDOW:
        rows.append(tokens_row(day, model="gpt-4o", uncached=300_000, cached=100_000, output=50_000, requests=1000))
        # 2,000 tokens a prompt on average: not short
        rows.append(tokens_row(day, model="gpt-4o", uncached=2_000_000, requests=1000, sub_account="proj_long"))
    book(source, rows)
    refresh()
    rec = _only(Kind.MODEL_ROUTING)
    expected = (
        D(9_000_000) * (D("0.0000025") - D("0.00000015"))
        + D(3_000_000) * (D("0.00000125") - D("0.000000075"))
        + D(1_500_000) * (D("0.00001") - D("0.0000006"))
    )
    assert expected == D("38.775")
    assert rec.estimated_monthly_saving == expected
    assert rec.account == "proj_a" and rec.steps[0]["value"] == "400 tokens (< 1,000)"
    assert [s["label"] for s in rec.steps] == [
        "Average prompt",
        "Uncached input",
        "Cache reads",
        "Output",
        "Estimated saving",
    ]
    assert rec.steps[-1]["formula"] == "$21.15 + $3.53 + $14.10"
    assert rec.measure["method"] == Method.PER_REQUEST
    assert rec.evidence[1]["ledger"]["filters"] == {
        "provider": "OpenAI",
        "model": "gpt-4o",
        "currency": "USD",
        "sub_account": "proj_a",
    }


def test_prompt_caching_counts_every_repeat_after_the_first_over_two_days_and_ignores_one_day_bursts(
    catalog, settings_row
):
    events(6, model="gpt-4o", input_tokens=2000, cached=500, prompt_hash="policy-faq", day=WINDOW[3])
    events(6, model="gpt-4o", input_tokens=2000, cached=500, prompt_hash="policy-faq", day=WINDOW[4], prefix="f")
    events(50, model="gpt-4o", input_tokens=9000, prompt_hash="loop", day=WINDOW[5], agent="looping-agent")
    refresh()
    rec = _only(Kind.PROMPT_CACHING)
    # 12 calls × 1,500 uncached tokens, less the first call's: 16,500 × (2.50 − 1.25) / 1 M
    assert rec.estimated_monthly_saving == D(16_500) * (D("0.0000025") - D("0.00000125")) == D("0.020625")
    assert rec.steps[1]["value"] == "16.5 k tokens/month"
    assert "looping-agent" not in rec.title


def test_low_cache_read_share_is_raised_to_the_target_share(catalog, settings_row, source):
    book(
        source,
        [
            tokens_row(
                day, model="claude-haiku-4-5", provider="Anthropic", uncached=300_000, cached=0 if i % 3 else 100_000
            )
            for i, day in enumerate(WINDOW)
        ],
    )
    refresh()
    rec = _only(Kind.PROMPT_CACHING)
    # 9 M uncached + 1 M cached: 10 %; 50 % of 10 M − 1 M = 4 M tokens × (1.00 − 0.10) / 1 M
    assert rec.estimated_monthly_saving == D(4_000_000) * (D("0.000001") - D("0.0000001")) == D("3.6")
    assert rec.steps[0]["value"] == "10.0 % (< 20 %)"
    assert rec.steps[1]["value"] == "4 M tokens/month"


def test_smaller_model_offers_the_open_weight_model_when_no_smaller_one_of_the_provider_is_usable(
    catalog, settings_row, source
):
    # 30,000 calls of 2,000 in / 300 out tokens: a high-volume simple task on gpt-4o-mini. gpt-4.1-nano retired
    # and gpt-5-nano retires within 90 days, so the open-weight model of the settings is the option.
    book(
        source,
        [tokens_row(day, model="gpt-4o-mini", uncached=2_000_000, output=300_000, requests=1000) for day in WINDOW],
    )
    refresh()
    rec = _only(Kind.SMALLER_MODEL)
    expected = D(60_000_000) * (D("0.00000015") - D("0.000000075")) + D(9_000_000) * (D("0.0000006") - D("0.0000003"))
    assert rec.estimated_monthly_saving == expected == D("7.2")
    assert rec.parameters == {"target": "groq/openai/gpt-oss-20b", "option": "open-weight model"}


def test_commitment_covers_the_daily_floor_of_time_priced_on_demand_compute(catalog, settings_row, source):
    ec2 = dict(
        provider_name="AWS",
        service_name="Amazon Elastic Compute Cloud",
        service_category="Compute",
        sub_account_id="111122223333",
        region_id="eu-west-1",
    )
    rows = []
    for i, day in enumerate(WINDOW):
        rows.append(row(day, str(100 + (i % 3) * 10), pricing_unit="Hrs", **ec2))
        rows.append(row(day, "50", pricing_unit="GB-Mo", **ec2))  # disks: not committed to
        rows.append(row(day, "70", pricing_unit="Hrs", commitment_discount_id="sp-1", **ec2))  # covered already
        if i != 7:  # not every day: not steady
            rows.append(row(day, "100", pricing_unit="Hrs", **{**ec2, "sub_account_id": "444455556666"}))
    book(source, rows)
    refresh()
    rec = _only(Kind.COMMITMENT)
    assert rec.estimated_monthly_saving == D(100) * 30 * D("0.30") == D(900)
    assert rec.account == "111122223333" and rec.currency == "USD"
    assert [s["value"] for s in rec.steps] == ["$100.00", "$3,000.00/month", "$900.00/month"]
    assert rec.measure["method"] == Method.PER_LIST_DOLLAR


def test_idle_endpoint_resources_cost_their_whole_month(catalog, settings_row, source):
    vertex = dict(provider_name="Google Cloud", service_name="Vertex AI", sub_account_id="proj", region_id="us-east1")
    idle = "//aiplatform.googleapis.com/projects/1/locations/us-east1/endpoints/fraud-score"
    busy = "//aiplatform.googleapis.com/projects/1/locations/us-east1/endpoints/busy"
    reported = "//aiplatform.googleapis.com/projects/1/locations/us-east1/endpoints/reported"
    rows = []
    for day in WINDOW:
        rows.append(row(day, "10.25", resource_id=idle, resource_name="fraud-score", **vertex))
        rows.append(row(day, "10", resource_id=busy, resource_name="busy", x_requests=40, **vertex))
        rows.append(row(day, "10", resource_id=reported, resource_name="reported", **vertex))
    book(source, rows)
    events(3, model="fraud-v2", input_tokens=10, provider="vertex_ai", endpoint="reported")
    refresh()
    rec = _only(Kind.IDLE_ENDPOINT)
    assert rec.scope_label == "fraud-score"
    assert rec.estimated_monthly_saving == D("10.25") * 30 == D("307.5")
    assert rec.measure == {
        "table": "ledger",
        "filters": {"resource_id": idle, "billing_currency": "USD"},
        "method": Method.PER_DAY,
        "currency": "USD",
        "label": "fraud-score: cost per day",
    }


def test_idle_inventory_endpoint_from_its_allocated_cost(catalog, settings_row, source):
    from apps.finops.allocation import allocation_rule_save
    from apps.inventory.services import asset_save

    endpoint = asset_save(kind="endpoint", name="Azure OpenAI westeurope (staging)")
    allocation_rule_save(name="Staging endpoint", match_field="resource", match_value="aoai-staging", asset=endpoint)
    book(source, [row(day, "4", resource_id="aoai-staging", service_name="Azure AI Services") for day in WINDOW])
    refresh()
    rec = _only(Kind.IDLE_ENDPOINT)
    assert rec.asset_id == endpoint.pk and rec.scope_kind == "endpoint"
    assert rec.estimated_monthly_saving == D(120)


def test_deprecated_models_in_use_and_registered_get_their_successor(catalog, settings_row, source):
    from apps.inventory.services import asset_save

    book(
        source,
        [
            tokens_row(
                day,
                model="gpt-4o-2024-08-06",
                uncached=1_000_000 // 3 if i else 1_000_000 // 3 + 1,
                output=1_000_000 // 30,
            )
            for i, day in enumerate(WINDOW)
        ],
    )
    registered = asset_save(kind="model", name="Sonnet (intake)", provider="anthropic", model_id="claude-sonnet-4-5")
    asset_save(kind="model", name="Haiku", provider="anthropic", model_id="claude-haiku-4-5")  # not retiring
    refresh()
    recs = {r.model: r for r in Recommendation.objects.filter(kind=Kind.DEPRECATED_MODEL)}
    assert set(recs) == {"gpt-4o-2024-08-06", "claude-sonnet-4-5"}
    gpt = recs["gpt-4o-2024-08-06"]
    uncached, output = 1_000_000 // 3 * 30 + 1, 1_000_000 // 30 * 30
    expected = D(uncached) * (D("0.0000025") - D("0.000002")) + D(output) * (D("0.00001") - D("0.000008"))
    assert gpt.estimated_monthly_saving == expected
    assert gpt.parameters == {"retires": "2027-01-14", "successor": "gpt-4.1"}
    assert gpt.title == "gpt-4o-2024-08-06 retires on 14 Jan 2027: move to gpt-4.1"
    assert gpt.steps[0]["formula"] == (
        "gpt-4o-2024-08-06 retires on 14 Jan 2027 (in 44 days), according to the model catalog"
    )
    sonnet = recs["claude-sonnet-4-5"]
    assert sonnet.asset_id == registered.pk and sonnet.estimated_monthly_saving == 0
    assert sonnet.parameters["successor"] == "claude-sonnet-4-6"
    assert sonnet.steps[-1]["formula"] == "no tokens on it in the last 30 days"


def test_a_successor_that_costs_more_saves_nothing_and_says_so(catalog, settings_row, source):
    book(source, [tokens_row(day, model="gpt-4o-mini-2024-07-18", uncached=1_000_000) for day in WINDOW])
    from django_tenants.utils import schema_context

    from apps.catalog.models import ModelPrice

    with schema_context("public"):
        ModelPrice.objects.create(
            key="gpt-4o-mini-2024-07-18",
            litellm_provider="openai",
            mode="chat",
            input_cost_per_token=D("0.00000015"),
            output_cost_per_token=D("0.0000006"),
            cache_read_input_token_cost=D("0.000000075"),
            deprecation_date=dt.date(2027, 1, 14),
            release=ModelPrice.objects.first().release,
        )
    refresh()
    rec = Recommendation.objects.get(kind=Kind.DEPRECATED_MODEL, model="gpt-4o-mini-2024-07-18")
    assert rec.parameters["successor"] == "gpt-4.1-mini" and rec.estimated_monthly_saving == 0
    # 30 M tokens × (0.40 − 0.15) / 1 M = $7.50 more a month
    assert rec.steps[-1]["formula"].startswith("the successor costs $7.50 more per month")


def test_findings_under_the_minimum_saving_are_not_listed_but_deprecations_always_are(catalog, source, in_alpha):
    from apps.recommendations.services import settings_save

    settings_save(min_monthly_saving=D(1000))
    book(source, [tokens_row(day, model="gpt-4o-2024-08-06", uncached=300_000, requests=1000) for day in WINDOW])
    refresh()
    assert list(Recommendation.objects.values_list("kind", flat=True)) == [Kind.DEPRECATED_MODEL]


def test_the_window_is_the_30_days_before_the_refresh_day(catalog, settings_row, source):
    inside = [tokens_row(day, model="gpt-4o", uncached=300_000, requests=1000) for day in WINDOW]
    outside = [tokens_row(AS_OF - dt.timedelta(days=31), model="gpt-4o", uncached=9_000_000, requests=1000)]
    book(source, inside + outside)
    refresh(as_of=AS_OF)
    rec = _only(Kind.MODEL_ROUTING)
    assert (rec.window_start, rec.window_end) == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert rec.estimated_monthly_saving == D(9_000_000) * (D("0.0000025") - D("0.00000015"))
