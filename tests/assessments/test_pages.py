"""Portal pages of assessments (/c/<slug>/assessments/) and the MSP's template library and portfolio maturity
(/assessments/): list, new, the question sheet with Keel's prefilled answers, answers and overrides where the
assessor sees them, finalise, compare, targets, roadmap, the report; what a client executive may do; copying,
adapting, uploading and downloading templates; query counts that do not grow. Figures as in test_services.py
(t-small "complete" answers: overall 65.00)."""

from __future__ import annotations

import datetime as dt
import io
from html.parser import HTMLParser

import pytest
import yaml
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context
from pypdf import PdfReader

from apps.accounts.roles import Role
from apps.assessment_templates.models import Question, Template
from apps.assessments.models import Answer, Assessment, RoadmapItem, TargetProfile
from apps.assessments.services import answer_save, assessment_create, assessment_finalise, roadmap_generate
from tests.conftest import make_user

from .conftest import bundled_document, dimension, question, template_doc

pytestmark = pytest.mark.django_db

BASE = "/c/alpha/assessments/"
LIBRARY = "/assessments/templates/"
DAY = dt.date(2026, 11, 2)
LINK = {"url": "https://wiki.alpha.test/key-rotation", "title": ""}
MFA, BILLING = "security.mfa_enforced", "finops.billing_freshness"


@pytest.fixture
def sheet(in_alpha, small, questions, signals):
    return small, questions(small), signals


@pytest.fixture
def manager(alpha_manager, login_as):
    return login_as(alpha_manager)


def make(version, *, on=DAY, title="Q4 review", prefill=False) -> Assessment:
    return assessment_create(template_version=version, title=title, assessed_on=on, prefill=prefill)


def complete(assessment, qs, *, mfa="admins", keys="l4", fresh="daily", kill=None) -> Assessment:
    answer_save(assessment=assessment, question=qs["sec-mfa"], choice_key=mfa)
    answer_save(assessment=assessment, question=qs["sec-keys"], choice_key=keys, links=[LINK])
    answer_save(assessment=assessment, question=qs["bill-fresh"], choice_key=fresh)
    answer_save(assessment=assessment, question=qs["agt-kill"], choice_key=kill or "", is_na=kill is None)
    assessment.refresh_from_db()
    return assessment


def messages_of(response) -> list[str]:
    """The messages waiting after this response, oldest first (a redirect not followed leaves earlier ones)."""
    return [str(m) for m in get_messages(response.wsgi_request)]


def last_message(response) -> str:
    return messages_of(response)[-1]


def article(body: str, ref: str) -> str:
    """The HTML of one question on the sheet."""
    start = body.index(f'id="q-{ref}"')
    end = body.find("<article", start)
    return body[start : end if end != -1 else len(body)]


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


# --- client workspace pages --------------------------------------------------------------------------------------


def test_list_and_new_assessment(sheet, manager):
    version, _, signals = sheet
    signals[MFA], signals[BILLING] = 4, 5
    empty = manager.get(BASE)
    assert empty.status_code == 200 and "No assessment yet." in empty.content.decode()
    assert manager.get(f"{BASE}new/").status_code == 200

    response = manager.post(
        f"{BASE}new/",
        {
            "template_version": version.pk,
            "title": "Q4 2026 review",
            "assessed_on": "2026-11-02",
            "assessors": "am@msp.test, cto@alpha.test",
            "prefill": "on",
        },
    )

    assessment = Assessment.objects.get(title="Q4 2026 review")
    assert response.status_code == 302 and response["Location"] == f"{BASE}{assessment.pk}/"
    assert assessment.assessors == ["am@msp.test", "cto@alpha.test"] and assessment.created_by == "am@msp.test"
    assert Answer.objects.filter(assessment=assessment, source="signal").count() == 2
    assert (
        last_message(response)
        == "Assessment started: 2 of 5 questions already answered from Keel's data and the last assessment."
    )
    listed = manager.get(BASE).content.decode()
    assert "Q4 2026 review" in listed and "70.00" in listed and "2 / 5" in listed  # prefilled: 70.00

    refused = manager.post(f"{BASE}new/", {"template_version": version.pk, "title": "", "assessed_on": "2026-11-02"})
    assert refused.status_code == 200 and Assessment.objects.count() == 1


def test_the_sheet_shows_prefilled_answers_and_saves_an_answer(sheet, manager):
    version, qs, signals = sheet
    signals[MFA], signals[BILLING] = 4, 5
    assessment = make(version, prefill=True)

    page = manager.get(f"{BASE}{assessment.pk}/")

    assert page.status_code == 200
    body = page.content.decode()
    mfa = article(body, "sec-mfa")
    assert "Prefilled by Keel" in mfa and f"{MFA} reads level 4." in mfa and f"Source of {MFA}" in mfa
    assert 'href="/c/alpha/finops/sources/"' in mfa  # the reading's source, in the client's workspace
    assert 'value="admins" checked' in mfa and 'name="override_reason"' in mfa
    assert "Prefilled by Keel" not in article(body, "sec-keys")
    assert body.count("Save answer") == 5 and body.count('class="answer-form"') == 5
    assert 'value="__na__"' in article(body, "agt-kill") and 'value="__na__"' not in article(body, "sec-keys")
    assert 'data-score="overall">70.00' in body

    saved = manager.post(
        f"{BASE}{assessment.pk}/answers/{qs['sec-keys'].pk}/",
        {"choice": "l4", "comment": "Rotated every quarter.", "link": "https://wiki.alpha.test/keys"},
    )

    assert saved.status_code == 302 and saved["Location"] == f"{BASE}{assessment.pk}/#q-sec-keys"
    answer = Answer.objects.get(assessment=assessment, question=qs["sec-keys"])
    assert (answer.choice_key, answer.comment, answer.source) == ("l4", "Rotated every quarter.", "manual")
    assert answer.links == [{"url": "https://wiki.alpha.test/keys", "title": ""}]
    assessment.refresh_from_db()
    assert assessment.overall_score is not None and str(assessment.overall_score) == "75.00"
    na = manager.post(f"{BASE}{assessment.pk}/answers/{qs['agt-kill'].pk}/", {"choice": "__na__"})
    assert na.status_code == 302 and Answer.objects.get(assessment=assessment, question=qs["agt-kill"]).is_na


def test_an_override_without_a_reason_is_shown_next_to_the_question(sheet, manager):
    version, qs, signals = sheet
    signals[MFA] = 3
    assessment = make(version, prefill=True)
    url = f"{BASE}{assessment.pk}/answers/{qs['sec-mfa'].pk}/"

    refused = manager.post(url, {"choice": "everyone", "comment": "They said so."})

    assert refused.status_code == 400
    body = refused.content.decode()
    mfa = article(body, "sec-mfa")
    assert 'class="error answer-error"' in mfa
    assert "Keel prefilled this answer from its own data; say why you choose another answer." in mfa
    assert 'value="everyone" checked' in mfa and "They said so." in mfa  # what the assessor entered
    assert "answer-error" not in article(body, "sec-keys")
    assert Answer.objects.get(assessment=assessment, question=qs["sec-mfa"]).choice_key == "admins"

    accepted = manager.post(url, {"choice": "everyone", "override_reason": "Passkeys for everyone since October."})
    assert accepted.status_code == 302
    page = manager.get(f"{BASE}{assessment.pk}/").content.decode()
    mfa = article(page, "sec-mfa")
    assert "Keel suggested “Practice at level 3”; overridden" in mfa
    assert "Reason: Passkeys for everyone since October." in mfa

    wrong = manager.post(f"{BASE}{assessment.pk}/answers/{qs['sec-keys'].pk}/", {"choice": "__na__"})
    assert wrong.status_code == 400 and "cannot be marked not applicable" in article(wrong.content.decode(), "sec-keys")


def test_finalise_from_the_page_then_nothing_is_editable(sheet, manager):
    version, qs, _ = sheet
    assessment = make(version)
    refused = manager.post(f"{BASE}{assessment.pk}/finalise/")
    assert refused.status_code == 302 and "4 required question(s) are not answered" in last_message(refused)
    complete(assessment, qs)

    done = manager.post(f"{BASE}{assessment.pk}/finalise/")

    assert done.status_code == 302 and done["Location"] == f"{BASE}{assessment.pk}/"
    assert last_message(done) == "Assessment is final: its scores are frozen."
    assessment.refresh_from_db()
    assert assessment.status == "final" and assessment.finalised_by == "am@msp.test"
    body = manager.get(f"{BASE}{assessment.pk}/").content.decode()
    assert "Save answer" not in body and 'class="answer-form"' not in body
    assert "Refresh from Keel data" not in body and ">Finalise</button>" not in body
    assert "Practice at level 4" in article(body, "sec-keys")  # the answer, read-only
    again = manager.post(f"{BASE}{assessment.pk}/answers/{qs['sec-keys'].pk}/", {"choice": "l5"})
    assert again.status_code == 400 and "This assessment is final" in again.content.decode()
    assert Answer.objects.get(assessment=assessment, question=qs["sec-keys"]).choice_key == "l4"
    edit = manager.get(f"{BASE}{assessment.pk}/edit/")
    assert edit.status_code == 302 and last_message(edit) == "A final assessment can no longer change."


@pytest.fixture
def two(sheet):
    """A final spring assessment (65.00) and an autumn draft answered higher (91.67)."""
    version, qs, _ = sheet
    older = complete(make(version, on=dt.date(2026, 5, 4), title="Spring"), qs)
    assessment_finalise(assessment=older)
    newer = complete(make(version, title="Autumn"), qs, mfa="everyone", keys="l5", fresh="live", kill="l3")
    return older, newer


def test_compare_two_assessments(two, manager):
    older, newer = two

    page = manager.get(f"{BASE}compare/?a={newer.pk}&b={older.pk}")  # in either order: older → newer by date

    assert page.status_code == 200
    result = page.context["result"]
    assert (result["older"].pk, result["newer"].pk, str(result["overall_delta"])) == (older.pk, newer.pk, "26.67")
    rows = {r["ref"]: r for r in result["rows"]}
    assert (rows["sec"]["delta_level"], rows["bill"]["delta_level"], rows["agt"]["delta_level"]) == ("1.7", "1.0", None)
    body = page.content.decode()
    assert "65.00 → <strong>91.67</strong> (+26.67)" in body
    sec = body[body.index('data-dimension="sec"') : body.index('data-dimension="bill"')]
    assert "3.3" in sec and "5.0" in sec and "+1.7" in sec and "+41.67" in sec
    missing = manager.get(f"{BASE}compare/?a={older.pk}&b={newer.pk + 999}")
    assert "One of the chosen assessments does not exist here" in missing.content.decode()


def test_target_profile_page_saves(sheet, manager):
    version, qs, _ = sheet
    draft = make(version)
    answer_save(assessment=draft, question=qs["sec-mfa"], choice_key="admins")
    page = manager.get(f"{BASE}targets/t-small/")
    assert page.status_code == 200
    assert 'name="level-sec"' in page.content.decode() and "Save target profile" in page.content.decode()

    saved = manager.post(
        f"{BASE}targets/t-small/", {"name": "Stretch", "level-sec": "5", "level-bill": "5", "level-agt": "2"}
    )

    assert saved.status_code == 302 and saved["Location"] == BASE
    profile = TargetProfile.objects.get()
    assert (profile.name, profile.levels) == ("Stretch", {"sec": 5, "bill": 5, "agt": 2})
    draft.refresh_from_db()
    assert draft.target_levels["sec"] == 5  # the draft re-scored
    refused = manager.post(f"{BASE}targets/t-small/", {"level-sec": "6", "level-bill": "5", "level-agt": "2"})
    assert refused.status_code == 200 and "A target level is 1 to 5." in refused.content.decode()
    assert TargetProfile.objects.get().levels["sec"] == 5
    assert manager.get(f"{BASE}targets/no-such-template/").status_code == 404


def test_roadmap_page_and_item_edit(sheet, manager):
    version, qs, _ = sheet
    assessment = complete(make(version), qs)

    generated = manager.post(f"{BASE}{assessment.pk}/roadmap/")

    assert generated.status_code == 302 and generated["Location"] == f"{BASE}roadmap/"
    assert last_message(generated) == "2 roadmap item(s) added from the gaps."
    page = manager.get(f"{BASE}roadmap/")
    assert page.status_code == 200
    assert [i.dimension_ref for i in page.context["items"]] == ["sec", "bill"]  # 42.00 before 40.00
    assert "Reach level 4" in page.content.decode() and "Reach level 5" in page.content.decode()
    item = RoadmapItem.objects.get(dimension_ref="sec")
    assert manager.get(f"{BASE}roadmap/{item.pk}/").status_code == 200

    edited = manager.post(
        f"{BASE}roadmap/{item.pk}/",
        {
            "title": "Rotate keys automatically",
            "detail": "Vault rotation for every service key.",
            "priority": "medium",
            "effort": "large",
            "owner_email": "ops@alpha.test",
            "due_on": "2027-02-01",
            "status": "in_progress",
            "status_note": "Vault is installed.",
        },
    )

    assert edited.status_code == 302 and edited["Location"] == f"{BASE}roadmap/"
    item.refresh_from_db()
    assert (item.title, item.priority, item.effort, item.status, item.owner_email) == (
        "Rotate keys automatically",
        "medium",
        "large",
        "in_progress",
        "ops@alpha.test",
    )
    assert item.due_on == dt.date(2027, 2, 1) and item.completed_on is None
    assert [i.pk for i in manager.get(f"{BASE}roadmap/?status=in_progress").context["items"]] == [item.pk]
    again = manager.post(f"{BASE}{assessment.pk}/roadmap/")
    assert last_message(again) == "No new roadmap items: every gap already has open work."


def test_the_report_page_and_pdf(two, manager):
    older, _ = two
    html = manager.get(f"{BASE}{older.pk}/report/")
    assert html.status_code == 200
    body = html.content.decode()
    assert "65.00" in body and "Alpha Corp" in body and "Spring" in body

    pdf = manager.get(f"{BASE}{older.pk}/report.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == 'attachment; filename="assessment-spring-2026-05-04.pdf"'
    text = pdf_text(pdf.content)
    assert "Alpha Corp" in text and "65.00" in text


def test_a_client_executive_reads_but_cannot_change(two, sheet, alpha_executive, login_as):
    older, newer = two
    _, qs, _ = sheet
    item = roadmap_generate(assessment=older)[0]
    executive = login_as(alpha_executive)
    for url in (
        BASE,
        f"{BASE}{newer.pk}/",
        f"{BASE}{older.pk}/",
        f"{BASE}compare/?a={older.pk}&b={newer.pk}",
        f"{BASE}targets/t-small/",
        f"{BASE}roadmap/",
        f"{BASE}{older.pk}/report/",
    ):
        assert executive.get(url).status_code == 200, url
    sheet_page = executive.get(f"{BASE}{newer.pk}/").content.decode()
    assert "Save answer" not in sheet_page and "Finalise" not in sheet_page and "New assessment" not in sheet_page
    assert 'name="level-sec"' in executive.get(f"{BASE}targets/t-small/").content.decode()
    assert "Save target profile" not in executive.get(f"{BASE}targets/t-small/").content.decode()

    for method, url, data in (
        ("get", f"{BASE}new/", {}),
        ("post", f"{BASE}new/", {"title": "Mine", "assessed_on": "2026-11-02"}),
        ("post", f"{BASE}{newer.pk}/answers/{qs['bill-alloc'].pk}/", {"choice": "l5"}),
        ("post", f"{BASE}{newer.pk}/prefill/", {}),
        ("post", f"{BASE}{newer.pk}/submit/", {}),
        ("post", f"{BASE}{newer.pk}/finalise/", {}),
        ("post", f"{BASE}{newer.pk}/edit/", {"title": "Mine", "assessed_on": "2026-11-02"}),
        ("post", f"{BASE}{newer.pk}/roadmap/", {}),
        ("post", f"{BASE}targets/t-small/", {"level-sec": "1", "level-bill": "1", "level-agt": "1"}),
        ("get", f"{BASE}roadmap/{item.pk}/", {}),
        ("post", f"{BASE}roadmap/{item.pk}/", {"title": "Mine", "priority": "low", "effort": "small"}),
    ):
        response = getattr(executive, method)(url, data)
        assert response.status_code in (403, 404), (method, url, response.status_code)
    newer.refresh_from_db()
    assert newer.status == "draft" and Assessment.objects.count() == 2
    assert not Answer.objects.filter(assessment=newer, question=qs["bill-alloc"]).exists()
    assert not TargetProfile.objects.exists() and RoadmapItem.objects.get(pk=item.pk).title == item.title


# --- query counts ------------------------------------------------------------------------------------------------


def test_the_list_page_does_not_grow_with_assessments(sheet, manager, django_assert_max_num_queries):
    version, qs, _ = sheet
    for month in (1, 2):  # two finals: the page shows the latest against the one before
        assessment_finalise(assessment=complete(make(version, on=dt.date(2026, month, 5), title=f"M{month}"), qs))
    manager.get(BASE)
    with CaptureQueriesContext(connection) as two:
        assert manager.get(BASE).status_code == 200
    assert len(two.captured_queries) <= 40
    for month in range(3, 6):
        extra = complete(make(version, on=dt.date(2026, month, 5), title=f"M{month}"), qs)
        if month % 2:
            assessment_finalise(assessment=extra)
    with django_assert_max_num_queries(len(two.captured_queries)):
        page = manager.get(BASE)
    assert len(page.context["assessments"]) == 5


def test_the_sheet_does_not_grow_with_answered_questions(in_alpha, bundled, signals, manager):
    from apps.compliance.services import evidence_create

    version = bundled.current
    assessment = make(version)
    questions = list(Question.objects.filter(version=version).order_by("position"))
    evidence = [
        evidence_create(title=f"Runbook {i}", url=f"https://wiki.alpha.test/{i}", effective_date=DAY) for i in range(3)
    ]

    def answer(rows):
        for n, q in enumerate(rows):
            answer_save(
                assessment=assessment,
                question=q,
                choice_key=q.choices[-1]["key"],
                comment=f"Answer {n}",
                links=[{"url": f"https://wiki.alpha.test/q/{q.ref}"}],
                evidence=evidence[: n % 3 + 1],
            )

    answer(questions[:2])
    url = f"{BASE}{assessment.pk}/"
    manager.get(url)
    with CaptureQueriesContext(connection) as few:
        assert manager.get(url).status_code == 200
    assert len(few.captured_queries) <= 40
    answer(questions[2:32])
    with CaptureQueriesContext(connection) as many:
        page = manager.get(url)
    assert page.context["assessment"].results["answered"] == 32
    assert len(many.captured_queries) <= len(few.captured_queries)


# --- the MSP's pages: portfolio maturity and the template library --------------------------------------------------


def test_portfolio_maturity_lists_alpha_with_its_score(two, manager):
    response = manager.get("/assessments/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Alpha Corp" in body and "<strong>65.00</strong>" in body
    assert "Dimension sec" in body and "Beta Corp" not in body  # the account manager is assigned to alpha only
    [row] = [c for c in response.context["clients"] if c.slug == "alpha"]
    assert [cell["level"] if cell else None for cell in row.cells] == ["3.3", "4.0", None]


@pytest.fixture
def engineer(alpha, login_as):
    return login_as(make_user("eng@msp.test", role=Role.ENGINEER, client=alpha))


def test_library_pages_and_copy_needs_manage_library(bundled, small, manager, engineer):
    listed = manager.get(LIBRARY)
    assert listed.status_code == 200
    assert "AI-era capability matrix" in listed.content.decode() and "Upload a template file" in listed.content.decode()
    detail = manager.get(f"{LIBRARY}ai-era-msp/")
    assert detail.status_code == 200 and "Copy to adapt" in detail.content.decode()
    assert "Upload a template file" not in engineer.get(LIBRARY).content.decode()
    assert "Copy to adapt" not in engineer.get(f"{LIBRARY}ai-era-msp/").content.decode()

    assert engineer.post(f"{LIBRARY}ai-era-msp/copy/", {"name": "Eng copy", "key": "eng-copy"}).status_code == 403
    assert not Template.objects.filter(key="eng-copy").exists()

    copied = manager.post(f"{LIBRARY}ai-era-msp/copy/", {"name": "Acme matrix", "key": "acme-matrix"})

    assert copied.status_code == 302 and copied["Location"] == f"{LIBRARY}acme-matrix/edit/"
    copy = Template.objects.select_related("current").get(key="acme-matrix")
    assert (copy.origin, copy.current.version, copy.name) == ("copy", 1, "Acme matrix")
    assert copy.current.source == "Copied from ai-era-msp version 1"
    again = manager.post(f"{LIBRARY}ai-era-msp/copy/", {"name": "Acme matrix", "key": "acme-matrix"})
    assert again.status_code == 302 and "exists already" in last_message(again)
    assert manager.get(f"{LIBRARY}no-such-key/").status_code == 404


def test_editing_a_copy_makes_version_2_and_the_bundled_one_is_not_edited(bundled, manager, engineer):
    manager.post(f"{LIBRARY}ai-era-msp/copy/", {"name": "Acme matrix", "key": "acme-matrix"})
    assert manager.get(f"{LIBRARY}acme-matrix/edit/").status_code == 200
    assert engineer.get(f"{LIBRARY}acme-matrix/edit/").status_code == 403

    saved = manager.post(
        f"{LIBRARY}acme-matrix/edit/",
        {"name": "Acme matrix", "d1-weight": "20", "d1-target": "5", "d1-q0-text": "Is MFA phishing-resistant?"},
    )

    assert saved.status_code == 302 and saved["Location"] == f"{LIBRARY}acme-matrix/"
    assert last_message(saved) == "Saved as version 2."
    template = Template.objects.select_related("current").get(key="acme-matrix")
    version = template.current
    assert version.version == 2 and template.versions.count() == 2
    security = version.dimensions.get(ref="security")
    assert security.weight == 20 and version.target_profile["levels"]["security"] == 5
    assert version.questions.filter(dimension=security).order_by("position")[0].text == "Is MFA phishing-resistant?"
    assert {c["ref"] for c in version.changes["dimensions"]["changed"]} == {"security"}

    for method in ("get", "post"):
        refused = getattr(manager, method)(f"{LIBRARY}ai-era-msp/edit/", {"d0-weight": "1"} if method == "post" else {})
        assert refused.status_code == 302 and refused["Location"] == f"{LIBRARY}ai-era-msp/"
        assert last_message(refused) == "AI-era capability matrix ships with Keel: copy it to adapt it."
    assert bundled.versions.count() == 1


class FormValues(HTMLParser):
    """What a browser submits for the first POST form without an action: inputs, selects, textareas."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._inside = self._done = False
        self._select = self._textarea = None
        self._first_option = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and not self._done and a.get("method") == "post" and "action" not in a:
            self._inside = True
        if not self._inside:
            return
        if tag == "input" and a.get("name") and a.get("type", "text") not in ("submit", "file"):
            if a.get("type") not in ("radio", "checkbox") or "checked" in a:
                self.values[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select, self._first_option = a["name"], None
        elif tag == "option" and self._select:
            self._first_option = self._first_option or a.get("value")
            if "selected" in a:
                self.values[self._select] = a.get("value")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            self.values.setdefault(self._select, self._first_option)
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self._inside:
            self._inside, self._done = False, True

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def test_saving_the_adapt_form_unchanged_makes_no_new_version(bundled, manager):
    manager.post(f"{LIBRARY}ai-era-msp/copy/", {"name": "Acme matrix", "key": "acme-matrix"})
    form = FormValues()
    form.feed(manager.get(f"{LIBRARY}acme-matrix/edit/").content.decode())
    assert form.values["name"] == "Acme matrix" and "d9-q3-weight" in form.values

    response = manager.post(f"{LIBRARY}acme-matrix/edit/", form.values)

    assert Template.objects.get(key="acme-matrix").versions.count() == 1
    assert response.status_code == 200 and "Nothing changed" in response.content.decode()


def upload(http, name: str, body: bytes):
    return http.post(f"{LIBRARY}upload/", {"file": SimpleUploadedFile(name, body, content_type="application/yaml")})


def test_uploading_template_files(bundled, manager, engineer):
    good = template_doc(
        "acme-own", dimensions=[dimension("ops", 10, [question("ops-q1", 1, 3, 5), question("ops-q2", 1, 5)])]
    )
    loaded = upload(manager, "acme-own.yaml", yaml.safe_dump(good, sort_keys=False).encode())
    assert loaded.status_code == 302 and loaded["Location"] == f"{LIBRARY}acme-own/"
    assert last_message(loaded) == "Loaded Template acme-own version 1."
    template = Template.objects.select_related("current").get(key="acme-own")
    assert (template.origin, template.current.question_count) == ("upload", 2)
    same = upload(manager, "acme-own.yaml", yaml.safe_dump(good, sort_keys=False).encode())
    assert last_message(same) == "Template acme-own version 1 is already loaded: nothing changed."

    bad = template_doc("acme-bad", dimensions=[dimension("ops", -1, [question("ops-q1")])])
    refused = upload(manager, "acme-bad.yaml", yaml.safe_dump(bad).encode())
    assert refused.status_code == 302 and refused["Location"] == LIBRARY
    assert any(m.startswith("acme-bad.yaml: dimensions[0].weight: ") for m in messages_of(refused)), messages_of(
        refused
    )
    assert not Template.objects.filter(key="acme-bad").exists()

    latin = upload(manager, "latin.yaml", "name: Sécurité\n".encode("latin-1"))
    assert last_message(latin) == "latin.yaml: is not UTF-8 text."

    ours = bundled_document()
    ours["version"] = 2
    ours["name"] = "Our AI-era matrix"
    refused = upload(manager, "ai-era-msp.yaml", yaml.safe_dump(ours, sort_keys=False, allow_unicode=True).encode())
    assert refused.status_code == 302 and "ships with Keel" in last_message(refused)
    assert bundled.versions.count() == 1 and Template.objects.get(key="ai-era-msp").name == "AI-era capability matrix"

    assert upload(engineer, "acme-two.yaml", yaml.safe_dump(template_doc("acme-two")).encode()).status_code == 403
    assert not Template.objects.filter(key="acme-two").exists()
    assert last_message(manager.post(f"{LIBRARY}upload/")) == "Choose a template file (YAML) to upload."


def test_download_returns_yaml_that_parses_to_the_same_document(bundled, manager):
    response = manager.get(f"{LIBRARY}ai-era-msp/download/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="ai-era-msp-v1.yaml"'
    text = response.content.decode()
    assert text.startswith("# AI-era capability matrix, version 1 (keel-maturity/1), exported from Keel.")
    document = yaml.safe_load(text)
    assert document == bundled.current.document
    assert (document["key"], len(document["dimensions"])) == ("ai-era-msp", 10)
    with schema_context("public"):
        from apps.assessment_templates.library import parse_template_text

        assert parse_template_text(text, file="ai-era-msp-v1.yaml").sha256 == bundled.current.sha256
