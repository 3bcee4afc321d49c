"""GET /api/v1/model-catalog/: MSP staff and MSP-level keys only; filters, cursor pages, keys with "/" "." ":",
prices as exact decimal strings, the OpenAPI description."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import yaml
from django_tenants.utils import schema_context

from apps.accounts.roles import Role, Scope
from apps.catalog.models import ModelPrice
from tests.conftest import auth_header, make_user

LIST = "/api/v1/model-catalog/"
PROBLEM = "application/problem+json"


@pytest.fixture
def staff(loaded, alpha, login_as):
    return login_as(make_user("catalog-eng@msp.test", role=Role.ENGINEER, client=alpha))


def _all_pages(http, url: str) -> list[dict]:
    rows = []
    while url:
        body = http.get(url).json()
        rows += body["results"]
        url = body["next"]
    return rows


def test_list_gives_prices_as_exact_decimal_strings(staff):
    response = staff.get(f"{LIST}?search=gpt-4o")
    assert response.status_code == 200
    rows = {row["key"]: row for row in response.json()["results"]}
    gpt4o = rows["gpt-4o"]
    assert gpt4o["input_cost_per_token"] == "0.0000025" and gpt4o["output_cost_per_token"] == "0.00001"
    assert gpt4o["cache_creation_input_token_cost"] is None
    assert (gpt4o["max_input_tokens"], gpt4o["litellm_provider"], gpt4o["mode"]) == (128000, "openai", "chat")
    assert "raw" not in gpt4o
    assert all("gpt-4o" in key for key in rows) and "azure/gpt-4o" in rows


def test_search_ignores_case_and_results_come_by_key(staff):
    keys = [row["key"] for row in staff.get(f"{LIST}?search=CLAUDE-SONNET-4-5&page_size=500").json()["results"]]
    assert "claude-sonnet-4-5" in keys and keys == sorted(keys)


def test_provider_filter_takes_providers_as_people_write_them(staff):
    rows = _all_pages(staff, f"{LIST}?provider=AWS%20Bedrock&page_size=500")
    providers = {row["litellm_provider"] for row in rows}
    assert providers == {"bedrock", "bedrock_converse", "bedrock_mantle"}
    with schema_context("public"):
        assert len(rows) == ModelPrice.objects.filter(litellm_provider__startswith="bedrock").count()
    vertex = _all_pages(staff, f"{LIST}?provider=vertex_ai&page_size=500")
    assert {row["litellm_provider"] for row in vertex} >= {"vertex_ai", "vertex_ai-language-models"}


def test_deprecated_before_lists_what_is_retiring(staff):
    rows = _all_pages(staff, f"{LIST}?deprecated_before=2026-12-01&provider=anthropic&page_size=100")
    assert rows and all(dt.date.fromisoformat(row["deprecation_date"]) < dt.date(2026, 12, 1) for row in rows)
    assert "claude-sonnet-4-5" in {row["key"] for row in rows}
    assert staff.get(f"{LIST}?deprecated_before=2000-01-01").json()["results"] == []


def test_a_bad_filter_value_is_a_problem(staff):
    response = staff.get(f"{LIST}?deprecated_before=next-week")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert "deprecated_before" in response.json()["errors"]


def test_cursor_pages_cover_the_filter_once(staff):
    rows = _all_pages(staff, f"{LIST}?provider=openai&page_size=40")
    keys = [row["key"] for row in rows]
    with schema_context("public"):
        expected = list(
            ModelPrice.objects.filter(litellm_provider__in=["openai", "text-completion-openai"])
            .order_by("key")
            .values_list("key", flat=True)
        )
    assert len(expected) > 40 and keys == expected
    first = staff.get(f"{LIST}?page_size=40").json()
    assert "cursor=" in first["next"] and first["previous"] is None


@pytest.mark.parametrize(
    "key",
    [
        "gpt-4o",
        "azure/gpt-4o",
        "ai21.jamba-1-5-large-v1:0",
        "bedrock/us-gov-west-1/anthropic.claude-sonnet-4-5-20250929-v1:0",
        "vertex_ai/claude-3-5-sonnet@20240620",
        "zai/glm-4.5v",  # ends like a format suffix (".5v") to DRF's router
    ],
)
def test_detail_by_catalog_key(staff, key):
    for url in (f"{LIST}{key}/", f"{LIST}{key}"):  # without the slash: redirected, as everywhere in the API
        response = staff.get(url, follow=True)
        assert response.status_code == 200, url
        assert response.json()["key"] == key


def test_detail_has_the_raw_entry_and_its_release(staff, loaded):
    body = staff.get(f"{LIST}databricks/databricks-claude-sonnet-4-1/").json()
    assert body["input_cost_per_token"] == "0.00000299999"
    assert body["raw"]["input_cost_per_token"] == "0.0000029999900000000002"  # the file's text, never a float
    assert body["release"]["sha256"] == loaded.sha256 and body["release"]["entry_count"] == 4552
    sonnet = staff.get(f"{LIST}claude-sonnet-4-5/").json()
    assert sonnet["deprecation_date"] == "2026-11-30"
    assert Decimal(sonnet["input_cost_per_token"]) == Decimal("0.000003")


def test_unknown_key_is_a_problem_404(staff):
    response = staff.get(f"{LIST}no-such-model/")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM


def test_msp_level_keys_read_it(loaded, client, api_key_for):
    _, secret = api_key_for(None)
    response = client.get(f"{LIST}gpt-4o/", **auth_header(secret))
    assert response.status_code == 200 and response.json()["key"] == "gpt-4o"


def test_client_keys_and_client_people_never_reach_it(loaded, alpha, client, api_key_for, login_as):
    _, secret = api_key_for(alpha, list(Scope.values))
    for url in (LIST, f"{LIST}gpt-4o/"):
        response = client.get(url, **auth_header(secret))
        assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    executive = login_as(make_user("catalog-exec@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha))
    assert executive.get(LIST).status_code == 404
    # Nor is it part of a client's own API.
    assert client.get("/c/alpha/api/v1/model-catalog/", **auth_header(secret)).status_code == 404


def test_signed_out_is_401(loaded, client):
    response = client.get(LIST)
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM


def test_it_is_read_only(loaded, msp_admin, login_as):
    admin = login_as(msp_admin)
    assert admin.post(LIST, {"key": "x"}, content_type="application/json").status_code == 405
    assert admin.delete(f"{LIST}gpt-4o/").status_code == 405
    with schema_context("public"):
        assert ModelPrice.objects.filter(key="gpt-4o").exists()


def test_list_queries_do_not_grow_with_page_size(staff, django_assert_max_num_queries):
    staff.get(f"{LIST}?page_size=5")
    with django_assert_max_num_queries(20) as small:
        staff.get(f"{LIST}?page_size=5")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(staff.get(f"{LIST}?page_size=500").json()["results"]) == 500


def test_openapi_describes_it_with_examples(client, db):
    document = yaml.safe_load(client.get("/api/schema/").content)
    listing, detail = document["paths"][LIST], document["paths"]["/api/v1/model-catalog/{key}/"]
    names = {p["name"] for p in listing["get"]["parameters"]}
    assert {"search", "provider", "mode", "deprecated_before", "cursor", "page_size"} <= names
    assert "examples" in str(listing["get"]["responses"]["200"]) and "examples" in str(detail["get"]["responses"])
    price = document["components"]["schemas"]["ModelPrice"]["properties"]["input_cost_per_token"]
    assert price["type"] == "string" and price["format"] == "decimal"
    assert set(listing) == {"get"} and set(detail) - {"parameters"} == {"get"}
