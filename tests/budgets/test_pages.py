"""Budget pages: the list and the detail with its burn-down chart (drill-down URLs, CSV), the form, who may
change budgets, other clients' budgets 404, and query counts that do not grow with the number of budgets."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from django_tenants.utils import schema_context

from apps.alerts.models import Alert
from apps.audit.models import AuditEvent
from apps.budgets.models import Budget

from .conftest import make_budget

URL = "/c/alpha/finops/budgets/"


def test_the_list_shows_each_budget_and_its_month(ledger, login_as, alpha_manager):
    make_budget(amount="3000")
    make_budget(name="Claims", scope="department", department=ledger["claims"], amount="1000")
    page = login_as(alpha_manager).get(URL)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Whole client" in body and "Department: Claims" in body
    assert "1,885.00 EUR" in body and "62.8 %" in body  # spent, % used
    assert "2,985.00 EUR" in body  # forecast
    assert "Over budget" in body  # claims: 1,315 of 1,000
    assert "95.00 USD not counted" in body
    states = {s.budget.name: s.state for s in page.context["statuses"]}
    assert states == {"Whole client": "watch", "Claims": "over"}


def test_list_queries_do_not_grow_with_budgets(ledger, login_as, alpha_manager, django_assert_max_num_queries):
    client = login_as(alpha_manager)
    make_budget(name="One")
    client.get(URL)
    with django_assert_max_num_queries(30) as one:
        client.get(URL)
    for name in ("Two", "Three", "Four", "Five"):
        make_budget(name=name, scope="provider", provider_name="OpenAI")
    make_budget(name="Six", scope="asset", asset=ledger["triage"])
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get(URL)


def test_the_detail_draws_the_burn_down_with_drill_down_points(ledger, login_as, alpha_manager):
    budget = make_budget(name="Claims", scope="department", department=ledger["claims"], amount="2000")
    page = login_as(alpha_manager).get(f"{URL}{budget.pk}/")
    assert page.status_code == 200
    figure = json.loads(str(page.context["figure"]))
    traces = {trace["name"]: trace for trace in figure["data"]}
    actual = traces["Spent (month to date)"]
    assert len(actual["x"]) == 19 and actual["x"][0] == "2026-11-01"
    assert actual["y"][-1] == 1315.0
    url = actual["customdata"][9][0]
    assert url.startswith("/c/alpha/finops/ledger/?")
    assert "from=2026-11-10&to=2026-11-10" in url and f"department={ledger['claims'].pk}" in url
    assert "currency=EUR" in url
    assert traces["Forecast"]["x"][-1] == "2026-11-30"
    assert "Forecast range (80 %)" in traces
    assert traces["Budget 2,000.00 EUR"]["y"] == [2000.0, 2000.0]
    assert [a["text"] for a in figure["layout"]["annotations"]] == ["50 %", "80 %"]
    body = page.content.decode()
    assert "High confidence — based on 8 weeks of history" in body
    assert 'data-plotly-figure="budget-figure"' in body and "<noscript>" in body
    assert "Daily figures" in body


def test_the_csv_has_the_series_the_chart_shows(ledger, login_as, alpha_manager):
    budget = make_budget(amount="3000")
    response = login_as(alpha_manager).get(f"{URL}{budget.pk}/series.csv?month=2026-11")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 30
    assert rows[9] == {
        "day": "2026-11-10",
        "spend": "85.00",
        "spent_to_date": "985.00",
        "expected": "",
        "forecast_to_date": "",
        "forecast_low_80": "",
        "forecast_high_80": "",
        "budget": "3000.00",
        "currency": "EUR",
    }
    assert rows[-1]["forecast_to_date"] == "2985.00" and rows[-1]["spend"] == ""
    assert Decimal(rows[-1]["forecast_low_80"]) <= Decimal("2985.00") <= Decimal(rows[-1]["forecast_high_80"])


def test_a_past_month_is_final_and_the_month_picker_refuses_nonsense(ledger, login_as, alpha_manager):
    budget = make_budget(amount="3000")
    client = login_as(alpha_manager)
    october = client.get(f"{URL}{budget.pk}/?month=2026-10")
    assert october.context["status"].closed
    assert october.context["status"].actual == Decimal("3100")  # 31 days × 100
    assert "The month is over" in october.content.decode()
    wrong = client.get(f"{URL}{budget.pk}/?month=November")
    assert wrong.status_code == 200 and "is not a month" in wrong.content.decode()
    future = client.get(f"{URL}?month=2027-03")
    assert future.context["month"].isoformat() == "2026-11-01"


def test_a_manager_creates_edits_and_deletes_a_budget(ledger, login_as, alpha_manager):
    client = login_as(alpha_manager)
    response = client.post(
        f"{URL}new/",
        {
            "name": "OpenAI",
            "scope": "provider",
            "provider_name": "OpenAI",
            "amount": "1200",
            "currency": "EUR",
            "thresholds": "50, 90, 100",
            "alert_on": "both",
            "owner_email": "Owner@Alpha.test",
            "overrides": "2026-12 = 1500",
            "active": "on",
        },
    )
    budget = Budget.objects.get(name="OpenAI")
    assert response.status_code == 302 and response["Location"].endswith(f"/budgets/{budget.pk}/")
    assert budget.thresholds == [50, 90, 100] and budget.owner_email == "owner@alpha.test"
    assert [(o.month.isoformat(), o.amount) for o in budget.overrides.all()] == [("2026-12-01", Decimal("1500.00"))]
    alert = Alert.objects.get(kind="budget")  # evaluated at once: 1,315 of 1,200
    assert alert.subject == "Budget “OpenAI” reached 100 % in November 2026"
    assert alert.owner_email == "owner@alpha.test"

    edit = client.get(f"{URL}{budget.pk}/edit/")
    assert edit.context["form"].initial["thresholds"] == "50, 90, 100"
    client.post(
        f"{URL}{budget.pk}/edit/",
        {
            "name": "OpenAI API",
            "scope": "provider",
            "provider_name": "OpenAI",
            "amount": "5000",
            "currency": "EUR",
            "thresholds": "50, 100",
            "alert_on": "actual",
            "overrides": "",
            "active": "on",
        },
    )
    budget.refresh_from_db()
    assert (budget.name, budget.amount, budget.thresholds) == ("OpenAI API", Decimal("5000.00"), [50, 100])
    assert not budget.overrides.exists()

    assert client.post(f"{URL}{budget.pk}/delete/").status_code == 302
    assert not Budget.objects.exists()
    actions = set(AuditEvent.objects.filter(object_type="budgets.budget").values_list("action", flat=True))
    assert actions == {"budget.create", "budget.update", "budget.delete"}


def test_form_errors_are_shown_next_to_the_fields(ledger, login_as, alpha_manager):
    response = login_as(alpha_manager).post(
        f"{URL}new/",
        {
            "name": "X",
            "scope": "department",
            "amount": "100",
            "currency": "EUR",
            "thresholds": "50, lots",
            "alert_on": "both",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "department" in form.errors and "thresholds" in form.errors
    assert not Budget.objects.exists()


def test_executives_read_budgets_but_cannot_change_them(ledger, login_as, alpha_executive):
    budget = make_budget(amount="3000")
    client = login_as(alpha_executive)
    page = client.get(URL)
    assert page.status_code == 200 and "Add a budget" not in page.content.decode()
    detail = client.get(f"{URL}{budget.pk}/")
    assert detail.status_code == 200 and ">Edit<" not in detail.content.decode()
    assert client.get(f"{URL}new/").status_code == 403
    assert client.post(f"{URL}new/", {"name": "Mine", "amount": "10", "scope": "client"}).status_code == 403
    assert client.post(f"{URL}{budget.pk}/delete/").status_code == 403
    assert client.post(f"{URL}{budget.pk}/evaluate/").status_code == 403
    assert Budget.objects.count() == 1


def test_another_clients_budget_is_not_found(ledger, beta, login_as, alpha_manager):
    with schema_context(beta.schema_name):
        from apps.budgets.services import budget_save

        theirs = budget_save(name="Beta budget", amount="10")
    client = login_as(alpha_manager)
    for suffix in ("", "edit/", "series.csv", "delete/"):
        assert client.get(f"{URL}{theirs.pk}/{suffix}").status_code == 404
    assert client.post(f"{URL}{theirs.pk}/evaluate/").status_code == 404


def test_check_now_evaluates_one_budget(ledger, login_as, alpha_manager):
    budget = make_budget(amount="3000")  # saved by the service only: never checked yet
    response = login_as(alpha_manager).post(f"{URL}{budget.pk}/evaluate/", {"month": "2026-11"}, follow=True)
    assert response.redirect_chain[-1][0].endswith(f"/budgets/{budget.pk}/?month=2026-11")
    assert "2 new alerts raised" in response.content.decode()
