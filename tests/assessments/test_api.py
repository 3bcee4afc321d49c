"""Assessments over the API (/c/<slug>/api/v1/): create, list, read, change; answers upserted by question ref;
the workflow actions; 409 on any write to a final assessment; comparisons; the PDF report; target profiles;
roadmap items; read keys cannot write; other clients' assessments are 404; lists that do not grow; and the
MSP-level template list and portfolio maturity. Expected figures are worked out in test_services.py's docstring
(t-small "complete" answers: overall 65.00)."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context
from pypdf import PdfReader

from apps.assessments.models import Answer, Assessment, RoadmapItem
from apps.assessments.services import answer_save, assessment_create, assessment_finalise
from tests.conftest import auth_header

pytestmark = pytest.mark.django_db

API = "/c/alpha/api/v1/"
PROBLEM = "application/problem+json"
DAY = dt.date(2026, 11, 2)
LINK = "https://wiki.alpha.test/key-rotation"
MFA, BILLING = "security.mfa_enforced", "finops.billing_freshness"


@pytest.fixture(autouse=True)
def throttle_clock(monkeypatch):
    import time

    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(lambda: time.time()))


@pytest.fixture
def sheet(in_alpha, small, questions, signals):
    """t-small in alpha, its questions by ref, and deterministic signals."""
    return small, questions(small), signals


def send(client, method, url, body, headers):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json", **headers)


def make(version, *, on=DAY, title="Q4 review", prefill=False) -> Assessment:
    return assessment_create(template_version=version, title=title, assessed_on=on, prefill=prefill)


def complete(assessment, qs, *, mfa="admins", keys="l4", fresh="daily", kill=None) -> Assessment:
    answer_save(assessment=assessment, question=qs["sec-mfa"], choice_key=mfa)
    answer_save(assessment=assessment, question=qs["sec-keys"], choice_key=keys, links=[{"url": LINK}])
    answer_save(assessment=assessment, question=qs["bill-fresh"], choice_key=fresh)
    answer_save(assessment=assessment, question=qs["agt-kill"], choice_key=kill or "", is_na=kill is None)
    assessment.refresh_from_db()
    return assessment


def is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["type"] == "about:blank"
    return body


# --- create, list, read, change ----------------------------------------------------------------------------------


def test_create_list_retrieve_and_patch(sheet, client, writer):
    _, _, signals = sheet
    signals[MFA], signals[BILLING] = 4, 5

    created = send(
        client,
        "post",
        f"{API}assessments/",
        {"template": "t-small", "title": "Q4 2026", "assessed_on": "2026-11-02", "assessors": ["am@msp.test"]},
        writer,
    )

    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["template"], data["template_version"], data["status"]) == ("t-small", 1, "draft")
    # Prefilled by default: sec-mfa admins (L3) → sec 50.00; bill-fresh live → bill 100.00; overall 70.00.
    assert data["overall_score"] == "70.00" and data["results"]["answered"] == 2
    assert data["assessors"] == ["am@msp.test"] and data["created_by"].startswith("API key ")
    assert data["target_levels"] == {"sec": 4, "bill": 5, "agt": 3} and data["previous"] is None
    pk = data["id"]

    listed = client.get(f"{API}assessments/", **writer).json()
    assert [a["id"] for a in listed["results"]] == [pk] and listed["next"] is None
    assert client.get(f"{API}assessments/?status=final", **writer).json()["results"] == []
    assert [a["id"] for a in client.get(f"{API}assessments/?status=draft", **writer).json()["results"]] == [pk]
    got = client.get(f"{API}assessments/{pk}/", **writer).json()
    assert got["results"] == data["results"] and got["title"] == "Q4 2026"

    patched = send(
        client,
        "patch",
        f"{API}assessments/{pk}/",
        {"title": "Q4 2026 review", "summary": "Billing is live; MFA for admins only.", "reviewer_email": "R@msp.test"},
        writer,
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["title"] == "Q4 2026 review" and patched.json()["reviewer_email"] == "r@msp.test"
    assert Assessment.objects.get(pk=pk).summary == "Billing is live; MFA for admins only."
    bad = send(client, "patch", f"{API}assessments/{pk}/", {"reviewer_email": "not-an-email"}, writer)
    assert "reviewer_email" in is_problem(bad, 400)["errors"]

    answers = client.get(f"{API}assessments/{pk}/answers/", **writer).json()
    by_ref = {a["question"]: a for a in answers}
    assert set(by_ref) == {"sec-mfa", "bill-fresh"}
    assert by_ref["sec-mfa"]["source"] == "signal" and by_ref["sec-mfa"]["signal_level"] == 4
    assert (
        by_ref["sec-mfa"]["signal_summary"] == f"{MFA} reads level 4." and by_ref["sec-mfa"]["choice_key"] == "admins"
    )

    unknown = send(
        client, "post", f"{API}assessments/", {"template": "nope", "title": "x", "assessed_on": "2026-11-02"}, writer
    )
    assert "template" in is_problem(unknown, 400)["errors"]
    missing = send(client, "post", f"{API}assessments/", {"template": "t-small"}, writer)
    assert set(is_problem(missing, 400)["errors"]) == {"title", "assessed_on"}


def test_create_without_prefill_and_from_the_previous_final(sheet, client, writer):
    version, qs, signals = sheet
    signals[MFA] = 5
    first = complete(make(version, on=dt.date(2026, 5, 4)), qs)
    assessment_finalise(assessment=first)

    body = {"template": "t-small", "title": "Q4", "assessed_on": "2026-11-02", "prefill": False, "copy_previous": True}
    data = send(client, "post", f"{API}assessments/", body, writer).json()

    assert data["previous"] == first.pk and data["overall_score"] == "65.00"  # the same answers, carried over
    assert not Answer.objects.filter(assessment_id=data["id"], source="signal").exists()


# --- answers -----------------------------------------------------------------------------------------------------


def test_put_an_answer_is_idempotent_and_validated(sheet, client, writer):
    version, qs, signals = sheet
    signals[MFA] = 3
    assessment = make(version, prefill=True)
    url = f"{API}assessments/{assessment.pk}/answers/"
    body = {"choice": "l4", "comment": "Rotated every quarter.", "links": [LINK]}

    first = send(client, "put", f"{url}sec-keys/", body, writer)
    second = send(client, "put", f"{url}sec-keys/", body, writer)

    assert first.status_code == second.status_code == 200, second.content
    keep = ("id", "question", "choice_key", "level", "not_applicable", "comment", "source", "links", "evidence")
    assert {k: first.json()[k] for k in keep} == {k: second.json()[k] for k in keep}
    assert {k: second.json()[k] for k in keep} == {
        "id": first.json()["id"],
        "question": "sec-keys",
        "choice_key": "l4",
        "level": 4,
        "not_applicable": False,
        "comment": "Rotated every quarter.",
        "source": "manual",
        "links": [{"url": LINK, "title": ""}],
        "evidence": [],
    }
    assert Answer.objects.filter(assessment=assessment, question=qs["sec-keys"]).count() == 1
    # sec: admins (Keel's 3, w2) and l4 (w1) → D = 0.58333 → 58.33; bill and agt not answered → overall 58.33
    assert client.get(f"{API}assessments/{assessment.pk}/", **writer).json()["overall_score"] == "58.33"

    refused = send(client, "put", f"{url}sec-mfa/", {"choice": "everyone"}, writer)
    assert "override_reason" in is_problem(refused, 400)["errors"]
    reason = {"choice": "everyone", "override_reason": "Passkeys for everyone since October."}
    overridden = send(client, "put", f"{url}sec-mfa/", reason, writer).json()
    assert (overridden["source"], overridden["signal_choice_key"], overridden["level"]) == ("overridden", "admins", 5)
    assert send(client, "put", f"{url}sec-mfa/", reason, writer).json()["id"] == overridden["id"]

    assert "choice_key" in is_problem(send(client, "put", f"{url}sec-keys/", {"choice": "l3"}, writer), 400)["errors"]
    na = send(client, "put", f"{url}sec-keys/", {"not_applicable": True}, writer)
    assert "is_na" in is_problem(na, 400)["errors"]
    assert send(client, "put", f"{url}agt-kill/", {"not_applicable": True}, writer).json()["not_applicable"] is True
    is_problem(send(client, "put", f"{url}no-such-question/", {"choice": "l1"}, writer), 404)
    bad_evidence = send(client, "put", f"{url}sec-keys/", {"choice": "l4", "evidence": [987654]}, writer)
    assert "evidence" in is_problem(bad_evidence, 400)["errors"]


# --- workflow and the final lock ---------------------------------------------------------------------------------


def test_prefill_submit_return_finalise(sheet, client, writer):
    version, qs, signals = sheet
    assessment = make(version)
    url = f"{API}assessments/{assessment.pk}/"

    signals[MFA], signals[BILLING] = 4, 5
    refreshed = send(client, "post", f"{url}prefill/", {}, writer)
    assert refreshed.status_code == 200 and refreshed.json()["overall_score"] == "70.00"

    refused = is_problem(send(client, "post", f"{url}submit/", {}, writer), 400)
    assert refused["errors"] == ["2 required question(s) are not answered: sec-keys, agt-kill."]
    send(client, "put", f"{url}answers/sec-keys/", {"choice": "l4", "links": [LINK]}, writer)
    send(client, "put", f"{url}answers/agt-kill/", {"not_applicable": True}, writer)

    submitted = send(client, "post", f"{url}submit/", {}, writer)
    assert submitted.status_code == 200 and submitted.json()["status"] == "in_review"
    assert send(client, "post", f"{url}return/", {}, writer).json()["status"] == "draft"
    final = send(client, "post", f"{url}finalise/", {}, writer)
    assert final.status_code == 200
    # sec 0.58333 (admins + l4), bill 1.0 (live): 100 · (35 + 40) / 100 = 75.00
    assert final.json()["status"] == "final" and final.json()["overall_score"] == "75.00"
    assert final.json()["finalised_at"] is not None


@pytest.fixture
def final(sheet):
    version, qs, _ = sheet
    assessment = complete(make(version), qs)
    assessment_finalise(assessment=assessment)
    return assessment


def final_writes(pk) -> list[tuple[str, str, dict]]:
    url = f"{API}assessments/{pk}/"
    return [
        ("patch", url, {"title": "Rewritten"}),
        ("put", f"{url}answers/sec-mfa/", {"choice": "everyone"}),
        ("put", f"{url}answers/bill-alloc/", {"choice": "l5"}),
        ("post", f"{url}prefill/", {}),
        ("post", f"{url}finalise/", {}),
    ]


def test_every_write_to_a_final_assessment_is_409(final, client, writer):
    before = Assessment.objects.get(pk=final.pk)
    answers = list(Answer.objects.filter(assessment=final).values_list("question_id", "choice_key", "answered_at"))
    for method, url, body in final_writes(final.pk):
        response = send(client, method, url, body, writer)
        problem = is_problem(response, 409)
        assert "final" in problem["detail"], (method, url)
    after = Assessment.objects.get(pk=final.pk)
    assert (after.title, after.results, after.overall_score) == (before.title, before.results, Decimal("65.00"))
    assert list(Answer.objects.filter(assessment=final).values_list("question_id", "choice_key", "answered_at")) == (
        answers
    )


def test_the_409_names_its_code(final, client, writer):
    problem = is_problem(send(client, "patch", f"{API}assessments/{final.pk}/", {"title": "x"}, writer), 409)
    assert problem["code"] == "assessment_final"


def test_submit_and_return_on_a_final_assessment_are_409(final, client, writer):
    for action in ("submit", "return"):
        is_problem(send(client, "post", f"{API}assessments/{final.pk}/{action}/", {}, writer), 409)


def test_compare_gives_deltas_per_dimension(sheet, client, reader):
    version, qs, _ = sheet
    older = complete(make(version, on=dt.date(2026, 5, 4), title="Spring"), qs)
    assessment_finalise(assessment=older)
    newer = complete(make(version, title="Autumn"), qs, mfa="everyone", keys="l5", fresh="live", kill="l3")
    # newer: sec D = 1 → 5.0 / 100.00; bill D = 1 → 5.0 / 100.00; agt D = 0.5 → 3.0 / 50.00
    #        overall = 100 · (60 + 40 + 20 · 0.5) / 120 = 91.67; older is 65.00 → +26.67

    for pk, other in ((newer.pk, older.pk), (older.pk, newer.pk)):  # always older → newer by date
        response = client.get(f"{API}assessments/{pk}/compare/{other}/", **reader)
        assert response.status_code == 200
        data = response.json()
        assert (data["older"], data["newer"], data["overall_delta"]) == (older.pk, newer.pk, "26.67")
        rows = {r["ref"]: r for r in data["dimensions"]}
        assert (rows["sec"]["before_level"], rows["sec"]["after_level"], rows["sec"]["delta_level"]) == (
            "3.3",
            "5.0",
            "1.7",
        )
        assert rows["sec"]["delta_score"] == "41.67"  # 58.33 → 100.00
        assert (rows["bill"]["delta_level"], rows["bill"]["delta_score"]) == ("1.0", "25.00")  # 75.00 → 100.00
        assert (rows["agt"]["before_level"], rows["agt"]["after_level"], rows["agt"]["delta_level"]) == (
            None,
            "3.0",
            None,
        )
    is_problem(client.get(f"{API}assessments/{newer.pk}/compare/{newer.pk + 999}/", **reader), 404)


def test_the_report_pdf(final, client, reader):
    response = client.get(f"{API}assessments/{final.pk}/report.pdf/", **reader)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="assessment-q4-review-2026-11-02.pdf"'
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Alpha Corp" in text and "65.00" in text


# --- target profiles and the roadmap -----------------------------------------------------------------------------


def test_target_profiles_read_and_save(sheet, client, writer, reader):
    version, qs, _ = sheet
    draft = make(version)
    answer_save(assessment=draft, question=qs["sec-mfa"], choice_key="admins")
    url = f"{API}target-profiles/t-small/"

    assert client.get(url, **reader).json() == {
        "template": "t-small",
        "name": "t-small targets",
        "levels": {"sec": 4, "bill": 5, "agt": 3},
    }
    saved = send(client, "put", url, {"name": "Stretch", "levels": {"sec": 5}}, writer)
    assert saved.status_code == 200, saved.content
    assert saved.json() == {"template": "t-small", "name": "Stretch", "levels": {"sec": 5, "bill": 5, "agt": 3}}
    rows = {r["ref"]: r for r in client.get(f"{API}assessments/{draft.pk}/", **reader).json()["results"]["dimensions"]}
    assert (rows["sec"]["target"], rows["sec"]["gap"]) == (5, "2.0")  # sec at level 3.0, the draft re-scored

    too_high = is_problem(send(client, "put", url, {"levels": {"sec": 6}}, writer), 400)
    assert "sec" in too_high["errors"]["levels"]
    unknown = is_problem(send(client, "put", url, {"levels": {"nope": 3}}, writer), 400)
    assert unknown["errors"] == {"levels.nope": ["Not a dimension of this template."]}
    assert client.get(url, **reader).json()["levels"]["sec"] == 5
    is_problem(client.get(f"{API}target-profiles/no-such-template/", **reader), 404)


def test_roadmap_items_generate_list_create_and_patch(sheet, client, writer):
    version, qs, _ = sheet
    assessment = complete(make(version), qs)

    generated = send(client, "post", f"{API}assessments/{assessment.pk}/roadmap/", {}, writer)
    assert generated.status_code == 201
    # sec gap 0.7 × 60 = 42.00, bill gap 1.0 × 40 = 40.00: both high; sec's next level is 4.
    assert [(i["dimension_ref"], i["priority_score"], i["priority"], i["title"]) for i in generated.json()] == [
        ("sec", "42.00", "high", "Reach level 4"),
        ("bill", "40.00", "high", "Reach level 5"),
    ]
    assert send(client, "post", f"{API}assessments/{assessment.pk}/roadmap/", {}, writer).json() == []

    created = send(
        client,
        "post",
        f"{API}roadmap-items/",
        {
            "template_key": "t-small",
            "dimension_ref": "agt",
            "title": "A kill switch on every agent",
            "priority": "low",
            "due_on": "2027-03-01",
            "owner_email": "ops@alpha.test",
        },
        writer,
    )
    assert created.status_code == 201, created.content
    item = created.json()
    assert (item["template"], item["dimension_name"], item["status"], item["assessment"]) == (
        "t-small",
        "Dimension agt",
        "proposed",
        None,
    )
    wrong = {"template_key": "t-small", "dimension_ref": "nope", "title": "x"}
    assert "dimension_ref" in is_problem(send(client, "post", f"{API}roadmap-items/", wrong, writer), 400)["errors"]

    open_items = client.get(f"{API}roadmap-items/?status=open", **writer).json()["results"]
    assert sorted(i["dimension_ref"] for i in open_items) == ["agt", "bill", "sec"]

    done = send(client, "patch", f"{API}roadmap-items/{item['id']}/", {"status": "done"}, writer)
    assert done.status_code == 200, done.content
    assert done.json()["completed_on"] == timezone.now().date().isoformat()
    still_open = client.get(f"{API}roadmap-items/?status=open", **writer).json()["results"]
    assert sorted(i["dimension_ref"] for i in still_open) == ["bill", "sec"]
    assert [i["id"] for i in client.get(f"{API}roadmap-items/?status=done", **writer).json()["results"]] == [item["id"]]
    assert len(client.get(f"{API}roadmap-items/", **writer).json()["results"]) == 3
    reopened = send(client, "patch", f"{API}roadmap-items/{item['id']}/", {"status": "planned"}, writer).json()
    assert reopened["completed_on"] is None
    is_problem(send(client, "patch", f"{API}roadmap-items/{item['id']}/", {"status": "someday"}, writer), 400)


# --- who may do what ---------------------------------------------------------------------------------------------


def test_a_read_key_reads_and_cannot_write(sheet, client, reader):
    version, qs, _ = sheet
    assessment = complete(make(version), qs)
    item = RoadmapItem.objects.create(
        template_id=version.template_id, dimension_ref="sec", dimension_name="S", title="x"
    )
    url = f"{API}assessments/{assessment.pk}/"
    for path in (
        "assessments/",
        f"assessments/{assessment.pk}/",
        f"assessments/{assessment.pk}/answers/",
        "assessment-templates/t-small/",
        "target-profiles/t-small/",
        "roadmap-items/",
    ):
        assert client.get(f"{API}{path}", **reader).status_code == 200, path
    writes = [
        ("post", f"{API}assessments/", {"template": "t-small", "title": "x", "assessed_on": "2026-11-02"}),
        ("patch", url, {"title": "x"}),
        ("put", f"{url}answers/sec-keys/", {"choice": "l5"}),
        ("post", f"{url}prefill/", {}),
        ("post", f"{url}submit/", {}),
        ("post", f"{url}finalise/", {}),
        ("post", f"{url}roadmap/", {}),
        ("put", f"{API}target-profiles/t-small/", {"levels": {"sec": 5}}),
        ("post", f"{API}roadmap-items/", {"template_key": "t-small", "dimension_ref": "sec", "title": "x"}),
        ("patch", f"{API}roadmap-items/{item.pk}/", {"status": "done"}),
    ]
    for method, path, body in writes:
        is_problem(send(client, method, path, body, reader), 403)
    assessment.refresh_from_db()
    assert assessment.status == "draft" and assessment.title == "Q4 review" and Assessment.objects.count() == 1
    assert RoadmapItem.objects.get().status == "proposed"


def test_another_clients_assessment_is_404(sheet, client, writer, beta):
    version, _, _ = sheet
    mine = make(version)
    with schema_context(beta.schema_name):
        theirs = make(version, title="Beta's own")
    assert not Assessment.objects.filter(pk=theirs.pk).exists()  # ids are per schema: make sure it is not ours
    for method, path, body in (
        ("get", f"assessments/{theirs.pk}/", None),
        ("get", f"assessments/{theirs.pk}/answers/", None),
        ("get", f"assessments/{mine.pk}/compare/{theirs.pk}/", None),
        ("get", f"assessments/{theirs.pk}/report.pdf/", None),
        ("patch", f"assessments/{theirs.pk}/", {"title": "x"}),
        ("put", f"assessments/{theirs.pk}/answers/sec-keys/", {"choice": "l4"}),
        ("post", f"assessments/{theirs.pk}/finalise/", {}),
    ):
        if body is None:
            response = client.get(f"{API}{path}", **writer)
        else:
            response = send(client, method, f"{API}{path}", body, writer)
        is_problem(response, 404)
    with schema_context(beta.schema_name):
        assert Assessment.objects.get(pk=theirs.pk).title == "Beta's own"


def test_the_list_does_not_grow_with_assessments(sheet, client, reader, django_assert_max_num_queries):
    version, qs, _ = sheet
    complete(make(version), qs)
    client.get(f"{API}assessments/", **reader)
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(f"{API}assessments/", **reader).json()["results"]) == 1
    for i in range(4):
        extra = complete(make(version, title=f"Extra {i}", on=DAY - dt.timedelta(days=30 * (i + 1))), qs)
        if i % 2:
            assessment_finalise(assessment=extra)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(client.get(f"{API}assessments/", **reader).json()["results"]) == 5


# --- MSP level ---------------------------------------------------------------------------------------------------


def test_msp_level_templates_and_portfolio_maturity(
    final, bundled, alpha, client, api_key_for, alpha_manager, login_as
):
    msp_key = auth_header(api_key_for(None)[1])

    templates = client.get("/api/v1/assessment-templates/", **msp_key)
    assert templates.status_code == 200, templates.content
    assert {t["key"] for t in templates.json()} >= {"ai-era-msp", "t-small"}
    detail = client.get("/api/v1/assessment-templates/ai-era-msp/", **msp_key).json()
    assert len(detail["dimensions"]) == 10 and len(detail["questions"]) == 40
    is_problem(client.get("/api/v1/assessment-templates/ai-era-msp/?version=9", **msp_key), 404)

    rows = client.get("/api/v1/portfolio/maturity/", **msp_key)
    assert rows.status_code == 200, rows.content
    by_client = {r["client"]: r for r in rows.json()}
    assert by_client["alpha"]["score"] == "65.00" and by_client["alpha"]["template"] == "t-small"
    assert by_client["alpha"]["assessed_on"] == "2026-11-02" and by_client["alpha"]["previous_score"] is None
    assert [d["ref"] for d in by_client["alpha"]["dimensions"]] == ["sec", "bill", "agt"]
    assert by_client["beta"]["score"] is None  # no final assessment
    assert list(by_client)[0] == "alpha"  # clients with a score first, lowest first

    staff = login_as(alpha_manager)  # an account manager assigned to alpha only
    assert {t["key"] for t in staff.get("/api/v1/assessment-templates/").json()} >= {"ai-era-msp"}
    assert [r["client"] for r in staff.get("/api/v1/portfolio/maturity/").json()] == ["alpha"]

    client_key = auth_header(api_key_for(alpha, ["read", "write"])[1])
    is_problem(client.get("/api/v1/portfolio/maturity/", **client_key), 404)  # a client key is not the MSP's
    is_problem(send(client, "post", "/api/v1/assessment-templates/", {}, msp_key), 403)
