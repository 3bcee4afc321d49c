"""Every real FOCUS file in the shared data imports; the ledger's totals equal an independent sum."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.finops.ledger import sum_file_independently
from apps.finops.models import CostRecord
from apps.finops.services import focus_upload_commit

from .conftest import shared_file

FOCUS_FILES = [
    "focus_sample.csv",
    "virtual_currency_pricing_model_a1.csv",
    "virtual_currency_pricing_model_a2.csv",
    "commitment_discount_purchase_scenario_1.csv",
    "commitment_discount_usage_scenario_1.csv",
]


def _ledger_totals(run) -> dict[str, dict[str, Decimal]]:
    totals: dict[str, dict[str, Decimal]] = {}
    for record in CostRecord.objects.filter(run=run):
        bucket = totals.setdefault(record.billing_currency, {"billed_cost": Decimal(0), "effective_cost": Decimal(0)})
        bucket["billed_cost"] += record.billed_cost
        bucket["effective_cost"] += record.effective_cost
    return totals


@pytest.mark.parametrize("name", FOCUS_FILES)
def test_shared_focus_files_import_with_exact_totals(upload_source, name):
    path = shared_file(name)
    # The spec's own examples leave out BillingCurrency, ProviderName and ServiceName: the uploader supplies them.
    defaults = {"billing_currency": "USD", "provider_name": "Example Cloud", "service_name": "Example Service"}
    run = focus_upload_commit(path=path, filename=name, defaults=defaults)
    assert run.status == "succeeded", run.error
    expected = sum_file_independently(path, currency="USD")
    assert _ledger_totals(run) == expected
    assert {c: Decimal(v["effective_cost"]) for c, v in run.totals.items()} == {
        c: v["effective_cost"] for c, v in expected.items()
    }


def test_explorer_totals_match_the_ledger(upload_source):
    import datetime as dt

    from apps.finops.selectors import ExplorerQuery, cost_explorer, ledger_totals

    focus_upload_commit(path=shared_file("focus_sample.csv"), filename="focus_sample.csv")
    result = cost_explorer(ExplorerQuery(start=dt.date(2024, 1, 1), end=dt.date(2025, 1, 1), group_by="tag:team"))
    assert result.totals == {c: v["effective_cost"] for c, v in ledger_totals().items()}
    by_service = cost_explorer(ExplorerQuery(start=dt.date(2024, 1, 1), end=dt.date(2025, 1, 1)))
    assert by_service.totals == result.totals and by_service.row_count == 1000


def test_shared_copies_are_unchanged():
    from .conftest import SAMPLE_DATA, SHARED_FOCUS_DATA

    if not SHARED_FOCUS_DATA.exists():
        pytest.skip("the design folder's sample data is not beside this checkout")
    for copy in SAMPLE_DATA.glob("*.csv"):
        assert copy.read_bytes() == (SHARED_FOCUS_DATA / copy.name).read_bytes(), copy.name
