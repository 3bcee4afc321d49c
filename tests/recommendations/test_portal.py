"""The portal: list (open first, by saving, totals), detail (arithmetic, evidence links), decisions for the edit
capability only, CSVs, chart, settings and proposals, another client's id → 404, constant queries."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.recommendations.models import RealisedSaving, Recommendation, Status

from .conftest import WINDOW, book, tokens_row

pytestmark = pytest.mark.django_db(transaction=False)
URL = "/c/alpha/finops/recommendations/"
D = Decimal
SEQ = iter(range(1, 10_000))


def make_rec(**values) -> Recommendation:
    n = next(SEQ)
    base = dict(
        fingerprint=f"{n:064d}",
        kind="model_routing",
        title=f"Route short prompts #{n}",
        summary="Short prompts are simple enough for the cheaper tier.",
        scope_kind="model",
        scope_label="gpt-4o",
        estimated_monthly_saving=D("10"),
        currency="USD",
        steps=[
            {
                "label": "Uncached input",
                "formula": "1.9 M input tokens/month × ($2.50 − $0.15) per 1 M",
                "value": "$4.47/month",
            },
        ],
        evidence=[
            {
                "label": "Calls in 30 days",
                "value": "4,750",
                "ledger": {"from": "2026-11-01", "to": "2026-11-30", "filters": {"model": "gpt-4o"}},
            }
        ],
        window_start=WINDOW[0],
        window_end=WINDOW[-1],
    )
    base.update(values)
    return Recommendation.objects.create(**base)


@pytest.fixture
def recs(in_alpha):
    return {
        "small_open": make_rec(estimated_monthly_saving=D("12.50")),
        "big_open": make_rec(estimated_monthly_saving=D("900")),
        "accepted": make_rec(estimated_monthly_saving=D("5000"), status=Status.ACCEPTED),
        "dismissed": make_rec(estimated_monthly_saving=D("7000"), status=Status.DISMISSED, dismiss_reason="No"),
        "implemented": make_rec(
            estimated_monthly_saving=D("300"),
            status=Status.IMPLEMENTED,
            implemented_on=dt.date(2026, 10, 1),
            baseline_start=dt.date(2026, 9, 1),
            baseline_end=dt.date(2026, 9, 30),
            baseline_cost=D(60),
            baseline_volume=D(30),
            baseline_unit_cost=D(2),
            baseline_currency="USD",
            measure={
                "table": "daily",
                "filters": {"x_model": "gpt-4o"},
                "method": "per_1m_tokens",
                "currency": "USD",
                "label": "gpt-4o calls",
            },
        ),
    }


def _realised(rec, month: dt.date, amount: str):
    return RealisedSaving.objects.create(
        recommendation=rec,
        month=month,
        first_day=month,
        last_day=month + dt.timedelta(days=27),
        amount=D(amount),
        currency="USD",
        method="per_1m_tokens",
        cost=D(1),
        volume=D(1),
        unit_cost=D(1),
        baseline_unit_cost=D(2),
    )


def test_the_list_shows_open_first_by_saving_with_totals(recs, login_as, alpha_manager):
    _realised(recs["implemented"], dt.date.today().replace(day=1), "15.50")
    page = login_as(alpha_manager).get(URL)
    assert page.status_code == 200
    body = page.content.decode()
    order = [r.pk for r in page.context["recs"]]
    assert order == [recs[k].pk for k in ("big_open", "small_open", "accepted", "implemented", "dismissed")]
    assert page.context["estimated"]["open"][0]["amount"] == D("912.50")
    assert '<div class="value money" data-total="open">$912.50</div>' in body
    assert '<div class="value money" data-total="realised">$15.50</div>' in body
    assert "Refresh now" in body and "Propose a routing change" in body
    assert 'data-plotly-figure="realised-figure"' in body
    figure = json.loads(body.split('<script type="application/json" id="realised-figure">')[1].split("</script>")[0])
    assert figure["data"][0]["customdata"][0] == URL + f"{recs['implemented'].pk}/"


def test_the_list_filters_by_status_and_kind(recs, login_as, alpha_manager):
    make_rec(kind="commitment", title="Commit to the floor", estimated_monthly_saving=D(1))
    client = login_as(alpha_manager)
    assert [r.pk for r in client.get(URL, {"status": "accepted"}).context["recs"]] == [recs["accepted"].pk]
    assert [r.title for r in client.get(URL, {"kind": "commitment"}).context["recs"]] == ["Commit to the floor"]


def test_list_queries_do_not_grow_with_the_number_of_recommendations(in_alpha, login_as, alpha_manager):
    client = login_as(alpha_manager)
    for _ in range(2):
        make_rec()
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    for _ in range(25):
        rec = make_rec(status=Status.IMPLEMENTED, implemented_on=dt.date(2026, 10, 1))
        _realised(rec, dt.date(2026, 10, 1), "1")
    with CaptureQueriesContext(connection) as many:
        assert client.get(URL).status_code == 200
    assert len(many) == len(few)


def test_the_detail_shows_the_arithmetic_the_evidence_link_and_the_realised_months(
    recs, login_as, alpha_manager, django_assert_max_num_queries
):
    rec = recs["implemented"]
    _realised(rec, dt.date(2026, 10, 1), "15.50")
    _realised(rec, dt.date(2026, 11, 1), "15.00")
    client = login_as(alpha_manager)
    with django_assert_max_num_queries(40):
        page = client.get(URL + f"{rec.pk}/")
    body = page.content.decode()
    assert "1.9 M input tokens/month × ($2.50 − $0.15) per 1 M" in body and "$4.47/month" in body
    assert "/c/alpha/finops/ledger/?from=2026-11-01&amp;to=2026-11-30&amp;model=gpt-4o" in body
    assert "$30.50 so far" in body and "$2.00 per 1 M tokens" in body
    assert 'data-month="2026-10"' in body and "$15.50" in body


def test_decisions_from_the_portal(recs, login_as, alpha_manager):
    client = login_as(alpha_manager)
    rec = recs["big_open"]
    page = client.post(URL + f"{rec.pk}/dismiss/", {"reason": ""}, follow=True)
    assert "Say why it is dismissed" in page.content.decode()
    assert Recommendation.objects.get(pk=rec.pk).status == Status.OPEN
    client.post(URL + f"{rec.pk}/accept/", {"note": "Sprint 49"})
    assert Recommendation.objects.get(pk=rec.pk).status == Status.ACCEPTED
    client.post(URL + f"{rec.pk}/dismiss/", {"reason": "Quality not good enough"})
    assert Recommendation.objects.get(pk=rec.pk).dismiss_reason == "Quality not good enough"
    client.post(URL + f"{rec.pk}/reopen/", {})
    page = client.post(URL + f"{rec.pk}/implement/", {"implemented_on": "2026-11-20"}, follow=True)
    stored = Recommendation.objects.get(pk=rec.pk)
    assert stored.status == Status.IMPLEMENTED and stored.implemented_on == dt.date(2026, 11, 20)
    assert "Marked implemented" in page.content.decode()


def test_executives_read_but_cannot_decide_or_refresh(recs, login_as, alpha_executive):
    client = login_as(alpha_executive)
    rec = recs["big_open"]
    page = client.get(URL + f"{rec.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Mark implemented" not in body and "Refresh now" not in client.get(URL).content.decode()
    assert page.context["history"] is None  # the audit trail is not theirs to read
    for action, data in (("accept", {}), ("dismiss", {"reason": "x"}), ("implement", {"implemented_on": "2026-11-2"})):
        assert client.post(URL + f"{rec.pk}/{action}/", data).status_code == 403
    assert client.post(URL + "refresh/").status_code == 403
    assert client.get(URL + "propose/").status_code == 403
    assert client.post(URL + "settings/", {"routing_max_input_tokens": 5}).status_code == 403
    assert Recommendation.objects.get(pk=rec.pk).status == Status.OPEN


def test_another_clients_recommendation_is_a_404(recs, login_as, beta_executive, alpha_executive):
    rec = recs["big_open"]
    assert login_as(beta_executive).get(f"/c/beta/finops/recommendations/{rec.pk}/").status_code == 404
    assert login_as(alpha_executive).get(f"/c/beta/finops/recommendations/{rec.pk}/").status_code == 404
    assert login_as(alpha_executive).get(URL + "999999/").status_code == 404


def test_the_csv_holds_the_list_as_shown(recs, login_as, alpha_executive):
    response = login_as(alpha_executive).get(URL + "export.csv", {"status": "open"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="alpha-recommendations-')
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["id"] for r in rows] == [str(recs["big_open"].pk), str(recs["small_open"].pk)]
    assert rows[0]["estimated_monthly_saving"] == "900.000000000000" and rows[0]["currency"] == "USD"


def test_the_realised_csv_holds_what_the_chart_shows(recs, login_as, alpha_executive):
    month = dt.date.today().replace(day=1)
    _realised(recs["implemented"], month, "15.50")
    response = login_as(alpha_executive).get(URL + "realised.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows == [
        {
            "month": f"{month:%Y-%m}",
            "recommendation_id": str(recs["implemented"].pk),
            "title": recs["implemented"].title,
            "first_day": str(month),
            "last_day": str(month + dt.timedelta(27)),
            "amount": "15.500000000000",
            "currency": "USD",
            "method": "per_1m_tokens",
            "cost": "1.000000000000",
            "volume": "1.000000000000",
            "unit_cost": "1.000000000000",
            "baseline_unit_cost": "2.000000000000",
        }
    ]


def test_refresh_now_runs_the_generators(catalog, settings_row, login_as, alpha_manager):
    from apps.finops.models import BillingSource

    day = dt.date.today() - dt.timedelta(days=3)
    source = BillingSource.objects.create(name="bill", kind="focus_upload")
    book(
        source,
        [tokens_row(day, model="gpt-4o", uncached=3_000_000, requests=10_000)],
        start=day,
        end=day + dt.timedelta(days=1),
    )
    page = login_as(alpha_manager).post(URL + "refresh/", follow=True)
    assert "Refreshed: 1 new" in page.content.decode()
    assert Recommendation.objects.filter(kind="model_routing", model="gpt-4o").exists()


def test_settings_page_saves_and_validates(in_alpha, login_as, alpha_manager):
    from apps.recommendations.services import settings_get

    client = login_as(alpha_manager)
    form = client.get(URL + "settings/").context["form"]
    data = {name: ("" if value is None else value) for name, value in form.initial.items() if name in form.fields}
    data.update(commitment_discount_percent="150")
    page = client.post(URL + "settings/", data)
    assert "A percentage between 0 and 100." in page.content.decode()
    data.update(commitment_discount_percent="22.5", routing_max_input_tokens="800")
    assert client.post(URL + "settings/", data).status_code == 302
    current = settings_get()
    assert current.commitment_discount_percent == D("22.5") and current.routing_max_input_tokens == 800


def test_a_routing_proposal_from_the_portal(catalog, settings_row, source, login_as, alpha_manager):
    book(
        source,
        [
            tokens_row(day, model="gpt-4o", uncached=5_000_000, requests=1000, sub_account="proj_b")
            for day in [dt.date.today() - dt.timedelta(days=d) for d in range(1, 5)]
        ],
        start=dt.date.today() - dt.timedelta(days=10),
        end=dt.date.today(),
    )
    client = login_as(alpha_manager)
    page = client.get(URL + "propose/")
    key, label = page.context["form"].fields["workload"].choices[1]
    assert "proj_b · gpt-4o" in label
    response = client.post(URL + "propose/", {"workload": key, "target": "gpt-4o-mini", "share_percent": "50"})
    rec = Recommendation.objects.get(origin="proposed")
    assert response.status_code == 302 and response["Location"] == URL + f"{rec.pk}/"
    # 20 M uncached tokens × 50 % × (2.50 − 0.15) / 1 M
    assert rec.estimated_monthly_saving == D(10_000_000) * (D("0.0000025") - D("0.00000015"))
    bad = client.post(URL + "propose/", {"workload": key, "target": "gpt-4o", "share_percent": "50"})
    assert "is not cheaper" in bad.content.decode()
