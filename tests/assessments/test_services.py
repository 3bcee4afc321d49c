"""The assessment workflow (apps.assessments.services): create with and without prefill, re-prefill that never
replaces an assessor's answer, overrides that need a reason, N/A and unknown choices, submit and finalise with
their preconditions, the frozen final assessment, target profiles, the roadmap from gaps, the public-schema
maturity rollup, evidence uploads and the audit trail. Signals are deterministic (the `signals` fixture).

Figures on t-small (see conftest): n = (level − 1) / 4, D = Σ w·n / Σ w, overall = 100 · Σ W·D / Σ W.
"complete" answers: sec-mfa admins (L3, w2), sec-keys l4 (w1), bill-fresh daily (L4), agt-kill N/A:
    sec  D = (2·0.5 + 1·0.75) / 3 = 0.58333 → score 58.33, level 3.3, gap 4 − 3.3 = 0.7, priority 60 × 0.7 = 42.00
    bill D = 0.75 (bill-alloc unanswered, left out) → 75.00, level 4.0, gap 1.0, priority 40 × 1.0 = 40.00
    agt  N/A only → not assessed
    overall = 100 · (60 · 0.58333 + 40 · 0.75) / 100 = 35 + 30 = 65.00
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.assessment_templates.models import Question
from apps.assessments.models import Answer, Assessment, RoadmapItem, TargetProfile
from apps.assessments.services import (
    AssessmentLocked,
    answer_attach_upload,
    answer_save,
    assessment_create,
    assessment_finalise,
    assessment_prefill,
    assessment_return,
    assessment_submit,
    assessment_update,
    roadmap_generate,
    roadmap_item_save,
    target_profile_save,
)
from apps.audit.models import AuditEvent
from apps.compliance.models import Evidence
from apps.portfolio.models import ClientMaturity
from tests.compliance.conftest import PDF, media, pdf_file  # noqa: F401 — media is a fixture

from .conftest import (
    MANAGER_EMAIL,
    audit_actions,
    audit_seq,
    dimension,
    question,
    recommendations,
    small_doc,
    store,
    template_doc,
)

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 2)
LINK = {"url": "https://wiki.alpha.test/key-rotation", "title": "Key rotation runbook"}
MFA, BILLING, KILL = "security.mfa_enforced", "finops.billing_freshness", "agents.kill_switches"


@pytest.fixture
def setup(in_alpha, small, questions, signals, as_manager):
    """Alpha's schema, t-small, its questions by ref and the signal readings (all None until set)."""
    return small, questions(small), signals


def create(version, *, prefill=False, on=DAY, title="Q4 review", **kwargs) -> Assessment:
    return assessment_create(template_version=version, title=title, assessed_on=on, prefill=prefill, **kwargs)


def answers_of(assessment) -> dict[str, Answer]:
    return {a.question.ref: a for a in Answer.objects.filter(assessment=assessment).select_related("question")}


def complete(assessment, qs, *, mfa="admins", keys="l4", fresh="daily", kill=None):
    """Answer every required question (sec-keys with its required link); agt-kill N/A unless `kill`."""
    answer_save(assessment=assessment, question=qs["sec-mfa"], choice_key=mfa)
    answer_save(assessment=assessment, question=qs["sec-keys"], choice_key=keys, links=[LINK])
    answer_save(assessment=assessment, question=qs["bill-fresh"], choice_key=fresh)
    answer_save(assessment=assessment, question=qs["agt-kill"], choice_key=kill or "", is_na=kill is None)
    assessment.refresh_from_db()
    return assessment


def errors_of(caught) -> dict:
    return caught.value.message_dict


# --- create and prefill --------------------------------------------------------------------------------------


def test_create_with_prefill_fills_signal_questions_and_records_the_reading(setup):
    version, qs, signals = setup
    signals[MFA], signals[BILLING] = 4, 5  # agents.kill_switches reads None: no basis
    now = timezone.now().replace(microsecond=0)

    assessment = create(version, prefill=True, now=now, assessors=["AM@msp.test", "am@msp.test", ""])

    by_ref = answers_of(assessment)
    assert set(by_ref) == {"sec-mfa", "bill-fresh"}  # agt-kill left unanswered, nothing else is a signal
    mfa = by_ref["sec-mfa"]
    # Signal 4 on choices at levels 1, 3, 5: the highest not above 4 is "admins" (level 3).
    assert (mfa.choice_key, mfa.level, mfa.is_na, mfa.source) == ("admins", 3, False, Answer.Source.SIGNAL)
    assert (mfa.signal_key, mfa.signal_level, mfa.signal_choice_key) == (MFA, 4, "admins")
    assert mfa.signal_summary == f"{MFA} reads level 4."
    assert (mfa.signal_source, mfa.signal_url) == (f"Source of {MFA}", "finops/sources/")
    assert mfa.signal_observed == {"level": 4, "key": MFA}
    assert mfa.signal_read_at == now and mfa.answered_by == "Keel" and mfa.override_reason == ""
    bill = by_ref["bill-fresh"]
    assert (bill.choice_key, bill.level, bill.source, bill.signal_level) == ("live", 5, "signal", 5)
    assert signals.calls == 3  # one read per signal key

    # sec: only sec-mfa, D = 0.5 → 50.00, level 3.0; bill: only bill-fresh, D = 1 → 100.00.
    # overall = 100 · (60 · 0.5 + 40 · 1) / 100 = 70.00
    assert assessment.overall_score == Decimal("70.00")
    results = assessment.results
    assert (results["answered"], results["questions"], results["required_missing"]) == (2, 5, 2)
    rows = {r["ref"]: r for r in results["dimensions"]}
    assert (rows["sec"]["score"], rows["sec"]["level"], rows["bill"]["score"]) == ("50.00", "3.0", "100.00")
    assert rows["agt"]["level"] is None
    assert assessment.assessors == ["am@msp.test"] and assessment.created_by == MANAGER_EMAIL
    assert assessment.target_levels == {"sec": 4, "bill": 5, "agt": 3}  # the template's default profile
    assert assessment.status == Assessment.Status.DRAFT and assessment.previous is None


def test_create_without_prefill_reads_no_signal_and_answers_nothing(setup):
    version, _, signals = setup
    signals[MFA], signals[BILLING], signals[KILL] = 4, 5, 5

    assessment = create(version, prefill=False)

    assert not Answer.objects.filter(assessment=assessment).exists()
    assert signals.calls == 0
    assert assessment.overall_score is None and assessment.results["answered"] == 0
    assert assessment.results["required_missing"] == 4  # bill-alloc is optional


def test_create_refuses_a_missing_title_and_bad_assessors(setup):
    version, _, _ = setup
    with pytest.raises(ValidationError) as caught:
        assessment_create(template_version=version, title="  ", assessed_on=DAY, assessors=["not-an-email"])
    assert set(errors_of(caught)) == {"title", "assessors"}
    assert not Assessment.objects.exists()


def test_a_signal_that_fails_leaves_its_question_unanswered(setup, monkeypatch):
    version, _, signals = setup
    signals[BILLING] = 5
    from apps.assessments import services

    fake = services.read_signal  # the fixture's deterministic reader

    def flaky(key, *, now=None):
        if key == MFA:
            raise RuntimeError("the MFA reader broke")
        return fake(key, now=now)

    monkeypatch.setattr("apps.assessments.services.read_signal", flaky)
    assessment = create(version, prefill=True)
    assert set(answers_of(assessment)) == {"bill-fresh"}


def test_reprefill_keeps_a_manual_answer_but_updates_its_recorded_reading(setup):
    version, qs, signals = setup
    assessment = create(version)
    answer_save(assessment=assessment, question=qs["sec-mfa"], choice_key="none", comment="Nobody uses MFA.")

    signals[MFA] = 3
    assert assessment_prefill(assessment) == {"prefilled": 0, "kept": 1, "no_data": 2}
    mfa = Answer.objects.get(assessment=assessment, question=qs["sec-mfa"])
    assert (mfa.choice_key, mfa.level, mfa.source, mfa.comment) == ("none", 1, "manual", "Nobody uses MFA.")
    assert (mfa.signal_level, mfa.signal_choice_key, mfa.answered_by) == (3, "admins", MANAGER_EMAIL)

    signals[MFA] = 5
    assessment_prefill(assessment)
    mfa.refresh_from_db()
    assert (mfa.choice_key, mfa.source) == ("none", "manual")  # still the assessor's answer
    assert (mfa.signal_level, mfa.signal_choice_key, mfa.signal_summary) == (5, "everyone", f"{MFA} reads level 5.")
    assert Answer.objects.filter(assessment=assessment).count() == 1
    assessment.refresh_from_db()
    assert assessment.overall_score == Decimal("0.00")  # sec at level 1 only: the kept answer is what scores


def test_a_carried_over_answer_not_touched_since_is_replaced_by_a_fresh_reading(setup):
    version, qs, signals = setup
    first = complete(create(version, on=dt.date(2026, 5, 4)), qs, mfa="none")
    answer_save(assessment=first, question=qs["bill-alloc"], choice_key="l2")
    assessment_finalise(assessment=first)

    second = create(version, on=DAY, copy_answers_from=first)
    assert second.previous == first
    carried = answers_of(second)
    assert {ref: a.choice_key or "n/a" for ref, a in carried.items()} == {
        "sec-mfa": "none",
        "sec-keys": "l4",
        "bill-fresh": "daily",
        "bill-alloc": "l2",
        "agt-kill": "n/a",
    }
    assert carried["sec-keys"].links == [LINK] and all(a.source == "manual" for a in carried.values())
    # The assessor confirms bill-fresh in this assessment: from now on it is their answer.
    answer_save(assessment=second, question=qs["bill-fresh"], choice_key="daily")

    signals[MFA], signals[BILLING] = 5, 5
    assert assessment_prefill(second) == {"prefilled": 1, "kept": 1, "no_data": 1}

    after = answers_of(second)
    assert (after["sec-mfa"].choice_key, after["sec-mfa"].source) == ("everyone", "signal")  # replaced
    assert (after["bill-fresh"].choice_key, after["bill-fresh"].source) == ("daily", "manual")  # touched: kept
    assert after["bill-fresh"].signal_choice_key == "live"  # with Keel's reading next to it
    assert (after["sec-keys"].choice_key, after["bill-alloc"].choice_key) == ("l4", "l2")
    # The first assessment is untouched.
    assert Answer.objects.get(assessment=first, question=qs["sec-mfa"]).choice_key == "none"


def test_changing_a_prefilled_answer_is_an_override_with_a_reason(setup):
    version, qs, signals = setup
    signals[MFA] = 3
    assessment = create(version, prefill=True)

    with pytest.raises(ValidationError) as caught:
        answer_save(assessment=assessment, question=qs["sec-mfa"], choice_key="everyone")
    assert "override_reason" in errors_of(caught)
    stored = Answer.objects.get(assessment=assessment, question=qs["sec-mfa"])
    assert (stored.choice_key, stored.source) == ("admins", "signal")  # nothing changed

    overridden = answer_save(
        assessment=assessment,
        question=qs["sec-mfa"],
        choice_key="everyone",
        override_reason="  Passkeys were rolled out to everyone last week.  ",
    )
    assert (overridden.choice_key, overridden.level, overridden.source) == ("everyone", 5, "overridden")
    assert overridden.override_reason == "Passkeys were rolled out to everyone last week."
    assert (overridden.signal_level, overridden.signal_choice_key) == (3, "admins")  # Keel's reading stays
    assessment.refresh_from_db()
    assert assessment.overall_score == Decimal("100.00")  # sec-mfa at level 5 is the only scored answer

    back = answer_save(assessment=assessment, question=qs["sec-mfa"], choice_key="admins")
    assert (back.source, back.override_reason, back.level) == ("signal", "", 3)
    assert Answer.objects.filter(assessment=assessment, question=qs["sec-mfa"]).count() == 1


def test_not_applicable_only_where_allowed_and_unknown_choices_refused(setup):
    version, qs, _ = setup
    assessment = create(version)

    with pytest.raises(ValidationError) as caught:
        answer_save(assessment=assessment, question=qs["sec-keys"], is_na=True)
    assert "is_na" in errors_of(caught)
    with pytest.raises(ValidationError) as caught:
        answer_save(assessment=assessment, question=qs["sec-keys"], choice_key="l3")  # levels 1, 2, 4, 5 only
    assert "choice_key" in errors_of(caught)
    with pytest.raises(ValidationError) as caught:
        answer_save(assessment=assessment, question=qs["agt-kill"], choice_key="l3", is_na=True)
    assert "choice_key" in errors_of(caught)
    assert not Answer.objects.filter(assessment=assessment).exists()

    na = answer_save(assessment=assessment, question=qs["agt-kill"], is_na=True)
    assert (na.is_na, na.level, na.choice_key, na.answered) == (True, None, "", True)
    assessment.refresh_from_db()
    assert assessment.results["answered"] == 1 and assessment.overall_score is None  # N/A leaves the score


def test_a_question_of_another_version_is_refused(setup):
    version, _, _ = setup
    other = store(small_doc(version=2))
    assessment = create(version)
    with pytest.raises(ValidationError) as caught:
        answer_save(
            assessment=assessment, question=Question.objects.get(version=other, ref="sec-keys"), choice_key="l4"
        )
    assert "question" in errors_of(caught)


# --- submit, return, finalise ------------------------------------------------------------------------------------


def test_submit_and_finalise_need_required_answers_and_required_evidence(setup):
    version, qs, signals = setup
    signals[MFA], signals[BILLING] = 4, 5
    seq = audit_seq()
    assessment = create(version, prefill=True)

    missing = ["2 required question(s) are not answered: sec-keys, agt-kill."]
    for action in (assessment_submit, assessment_finalise):
        with pytest.raises(ValidationError) as caught:
            action(assessment=assessment)
        assert caught.value.messages == missing

    answer_save(assessment=assessment, question=qs["sec-keys"], choice_key="l4")
    answer_save(assessment=assessment, question=qs["agt-kill"], is_na=True)
    no_evidence = ["1 answer(s) need evidence (a file or a link): sec-keys."]
    for action in (assessment_submit, assessment_finalise):
        with pytest.raises(ValidationError) as caught:
            action(assessment=assessment)
        assert caught.value.messages == no_evidence
    assessment.refresh_from_db()
    assert assessment.status == "draft"

    answer_save(assessment=assessment, question=qs["sec-keys"], choice_key="l4", links=[LINK])
    assessment_submit(assessment=assessment)
    assessment.refresh_from_db()
    assert assessment.status == "in_review" and assessment.submitted_by == MANAGER_EMAIL
    with pytest.raises(ValidationError):
        assessment_submit(assessment=assessment)  # only a draft is submitted
    assessment_return(assessment=assessment, note="Check the key rotation evidence.")
    assert Assessment.objects.get(pk=assessment.pk).status == "draft"
    with pytest.raises(ValidationError):
        assessment_return(assessment=assessment)  # only one in review goes back
    assessment_submit(assessment=assessment)
    assessment_finalise(assessment=assessment)

    assessment.refresh_from_db()
    assert assessment.status == "final" and assessment.finalised_at is not None
    assert assessment.finalised_by == assessment.reviewer_email == MANAGER_EMAIL
    # sec: sec-mfa admins (signal 4 → level 3, w2) and sec-keys l4 (w1) → D = 0.58333; bill: live → 1.0
    # overall = 100 · (60 · 0.58333 + 40 · 1) / 100 = 35 + 40 = 75.00
    assert assessment.overall_score == Decimal("75.00")

    actions = audit_actions(seq)
    assert actions[:2] == ["assessment.create", "assessment.prefill"]
    assert actions.count("assessment.answer") == 3
    assert [a for a in actions if a in ("assessment.submit", "assessment.return", "assessment.finalise")] == [
        "assessment.submit",
        "assessment.return",
        "assessment.submit",
        "assessment.finalise",
    ]
    final = AuditEvent.objects.get(action="assessment.finalise", object_id=str(assessment.pk))
    assert final.actor_email == MANAGER_EMAIL and final.after["overall_score"] == "75.00"
    assert final.before["status"] == "in_review" and final.after["status"] == "final"
    answered = AuditEvent.objects.filter(action="assessment.answer", seq__gt=seq).order_by("seq").last()
    assert answered.after["question"] == "sec-keys" and answered.after["links"] == 1


def test_a_prefilled_answer_needs_no_evidence_but_an_assessor_answer_does(setup):
    """evidence: required applies to the assessor's answers; Keel's own reading is its evidence."""
    document = template_doc(
        "t-evidence",
        dimensions=[
            dimension("d1", 10, [question("d1-q1", 1, 3, 5, signal="finops.billing_freshness", evidence="required")])
        ],
    )
    version = store(document)
    _, _, signals = setup
    signals[BILLING] = 5
    assessment = create(version, prefill=True)
    only = Question.objects.get(version=version, ref="d1-q1")
    answer_save(assessment=assessment, question=only, choice_key="l3", override_reason="Two feeds lag by a week.")
    with pytest.raises(ValidationError) as caught:
        assessment_finalise(assessment=assessment)
    assert caught.value.messages == ["1 answer(s) need evidence (a file or a link): d1-q1."]

    answer_save(assessment=assessment, question=only, choice_key="l5")  # back to Keel's answer
    assessment_finalise(assessment=assessment)
    assert Assessment.objects.get(pk=assessment.pk).status == "final"


def test_a_final_assessment_refuses_every_write_and_keeps_its_figures(setup, media):  # noqa: F811
    version, qs, signals = setup
    final = complete(create(version, on=dt.date(2026, 10, 1)), qs)
    assessment_finalise(assessment=final)
    draft = create(version)
    answer_save(assessment=draft, question=qs["sec-mfa"], choice_key="admins")
    final.refresh_from_db()
    frozen = (copy.deepcopy(final.results), final.overall_score, dict(final.target_levels), final.computed_at)
    assert final.overall_score == Decimal("65.00")  # worked out in the module docstring
    answers_before = {ref: (a.choice_key, a.source, a.signal_level) for ref, a in answers_of(final).items()}

    signals[MFA] = 5
    with pytest.raises(AssessmentLocked):
        answer_save(assessment=final, question=qs["sec-mfa"], choice_key="everyone")
    with pytest.raises(AssessmentLocked):
        answer_save(assessment=final, question=qs["bill-alloc"], choice_key="l5")
    with pytest.raises(AssessmentLocked):
        assessment_prefill(final)
    with pytest.raises(AssessmentLocked):
        assessment_update(assessment=final, title="Rewritten history")
    with pytest.raises(AssessmentLocked):
        assessment_finalise(assessment=final)
    keys = Answer.objects.get(assessment=final, question=qs["sec-keys"])
    with pytest.raises(AssessmentLocked):
        answer_attach_upload(answer=keys, file=pdf_file())
    assert not Evidence.objects.exists()

    # A new target profile re-scores drafts only.
    target_profile_save(template=version.template, levels={"sec": 5, "bill": 3})
    final.refresh_from_db()
    assert (final.results, final.overall_score, final.target_levels, final.computed_at) == frozen
    assert final.title == "Q4 review" and final.status == "final"
    assert {ref: (a.choice_key, a.source, a.signal_level) for ref, a in answers_of(final).items()} == answers_before
    draft.refresh_from_db()
    assert draft.target_levels == {"sec": 5, "bill": 3, "agt": 3}
    sec = next(r for r in draft.results["dimensions"] if r["ref"] == "sec")
    # draft sec: admins only → D = 0.5 → level 3.0; target 5 → gap 2.0, priority 60 × 2 = 120.00
    assert (sec["target"], sec["gap"], sec["priority"]) == (5, "2.0", "120.00")


# --- target profiles ---------------------------------------------------------------------------------------------


def test_target_profile_save_validates_levels_and_dimensions(setup):
    version, _, _ = setup
    template = version.template
    with pytest.raises(ValidationError) as caught:
        target_profile_save(template=template, levels={"sec": 6, "nope": 3, "bill": "high", "agt": 2})
    assert errors_of(caught) == {
        "levels.sec": ["A target level is 1 to 5."],
        "levels.nope": ["Not a dimension of this template."],
        "levels.bill": ["A target level is 1 to 5."],
    }
    assert not TargetProfile.objects.exists()  # nothing saved, not even the valid agt

    seq = audit_seq()
    profile = target_profile_save(template=template, levels={"sec": "5"})
    assert profile.levels == {"sec": 5} and profile.name == "t-small targets"  # the template profile's name
    assert profile.updated_by == MANAGER_EMAIL
    profile = target_profile_save(template=template, levels={"agt": 1}, name="Stretch")
    assert profile.levels == {"sec": 5, "agt": 1} and profile.name == "Stretch"
    assert TargetProfile.objects.count() == 1
    assert audit_actions(seq) == ["assessment.target_save", "assessment.target_save"]
    # New assessments start from the client's profile.
    assert create(version).target_levels == {"sec": 5, "bill": 5, "agt": 1}


# --- roadmap -----------------------------------------------------------------------------------------------------


def road_doc() -> dict:
    """Five one-question dimensions (levels 1..5), so each level is the chosen level exactly."""
    return template_doc(
        "t-road",
        targets={"heavy": 4, "edge": 4, "mid": 4, "light": 3, "done": 3},
        dimensions=[
            dimension("heavy", 25, [question("heavy-q", 1, 2, 3, 4, 5)], recommendations=recommendations(2, 3, 4, 5)),
            dimension("edge", 20, [question("edge-q", 1, 2, 3, 4, 5)], recommendations=recommendations(4)),
            dimension("mid", 10, [question("mid-q", 1, 2, 3, 4, 5)], recommendations=recommendations(3, 4)),
            dimension("light", 4, [question("light-q", 1, 2, 3, 4, 5)]),  # no recommendations: the descriptor
            dimension("done", 10, [question("done-q", 1, 2, 3, 4, 5)], recommendations=recommendations(4)),
        ],
    )


@pytest.fixture
def road(in_alpha, questions, as_manager):
    """A t-road assessment answered heavy 2, edge 3, mid 3, light 1, done 4:
    heavy L2.0 gap 2 × 25 = 50.00 (high)   edge L3.0 gap 1 × 20 = 20.00 (high, the boundary)
    mid   L3.0 gap 1 × 10 = 10.00 (medium, the boundary)   light L1.0 gap 2 × 4 = 8.00 (low)   done at target."""
    version = store(road_doc())
    qs = questions(version)
    assessment = create(version, title="Roadmap review")
    for ref, level in (("heavy", 2), ("edge", 3), ("mid", 3), ("light", 1), ("done", 4)):
        answer_save(assessment=assessment, question=qs[f"{ref}-q"], choice_key=f"l{level}")
    assessment.refresh_from_db()
    return assessment


def test_roadmap_from_gaps_one_item_per_gap_by_weight_times_gap(road):
    assert road.results["gaps"] == ["heavy", "edge", "mid", "light"]
    seq = audit_seq()

    items = roadmap_generate(assessment=road)

    got = [
        (i.dimension_ref, i.priority_score, i.priority, i.from_level, i.target_level, i.title, i.effort, i.due_on)
        for i in items
    ]
    assert got == [
        # next level = min(target, int(level) + 1); the title is the template's recommendation for it
        ("heavy", Decimal("50.00"), "high", Decimal("2.0"), 4, "Reach level 3", "small", DAY + dt.timedelta(90)),
        ("edge", Decimal("20.00"), "high", Decimal("3.0"), 4, "Reach level 4", "small", DAY + dt.timedelta(90)),
        ("mid", Decimal("10.00"), "medium", Decimal("3.0"), 4, "Reach level 4", "small", DAY + dt.timedelta(180)),
        ("light", Decimal("8.00"), "low", Decimal("1.0"), 3, "Raise Dimension light to level 2", "medium",
         DAY + dt.timedelta(270)),
    ]  # fmt: skip
    assert items[0].detail == "Do what level 3 takes." and items[3].detail == "light practice at level 2."
    assert all(i.status == "proposed" and i.assessment_id == road.pk and i.created_by == MANAGER_EMAIL for i in items)
    assert items[0].dimension_name == "Dimension heavy"
    assert [i.dimension_ref for i in RoadmapItem.objects.all()] == ["heavy", "edge", "mid", "light"]
    assert audit_actions(seq) == ["assessment.roadmap_create"] * 4

    assert roadmap_generate(assessment=road) == []  # every gap has open work
    assert RoadmapItem.objects.count() == 4

    # A gap whose item is finished gets new work on the next run; the others still have theirs.
    light = RoadmapItem.objects.get(dimension_ref="light")
    roadmap_item_save(item=light, status="done")
    [again] = roadmap_generate(assessment=road)
    assert again.dimension_ref == "light" and RoadmapItem.objects.count() == 5


def test_roadmap_item_status_done_records_completion_and_reopening_clears_it(road):
    [item, *_] = roadmap_generate(assessment=road)
    today = timezone.now().date()

    seq = audit_seq()
    roadmap_item_save(item=item, status="in_progress", owner_email=" Owner@Alpha.test ", status_note="Started")
    item.refresh_from_db()
    assert (item.status, item.owner_email, item.completed_on) == ("in_progress", "owner@alpha.test", None)
    roadmap_item_save(item=item, status="done")
    item.refresh_from_db()
    assert item.completed_on == today
    roadmap_item_save(item=item, status="planned")
    item.refresh_from_db()
    assert (item.status, item.completed_on) == ("planned", None)
    assert audit_actions(seq) == ["assessment.roadmap_update"] * 3
    event = AuditEvent.objects.filter(action="assessment.roadmap_update").order_by("seq")[1]
    assert (event.before["status"], event.after["status"]) == ("in_progress", "done")

    with pytest.raises(ValidationError) as caught:
        roadmap_item_save(item=item, status="someday", priority="urgent", title=" ")
    assert set(errors_of(caught)) == {"status", "priority", "title"}


# --- the public-schema maturity rollup -------------------------------------------------------------------------


def test_finalising_writes_the_portfolio_maturity_row(setup, alpha):
    version, qs, _ = setup
    today = timezone.now().date()
    spring, autumn = today - dt.timedelta(days=200), today - dt.timedelta(days=5)
    first = complete(create(version, on=spring, title="Spring"), qs, mfa="none")
    assert not ClientMaturity.objects.filter(client=alpha).exists()  # no final assessment yet
    assessment_finalise(assessment=first)

    # sec: none (L1, w2) and l4 (w1) → D = 0.75 / 3 = 0.25 → level 2.0; bill: daily → D 0.75 → level 4.0
    # overall = 100 · (60 · 0.25 + 40 · 0.75) / 100 = 15 + 30 = 45.00
    row = ClientMaturity.objects.get(client=alpha)
    assert (row.score, row.previous_score, row.assessment_id) == (Decimal("45.00"), None, first.pk)
    assert (row.template_key, row.template_name, row.assessed_on) == ("t-small", "Template t-small", first.assessed_on)
    assert row.dimensions == [
        {"ref": "sec", "name": "Dimension sec", "level": "2.0", "target": 4},
        {"ref": "bill", "name": "Dimension bill", "level": "4.0", "target": 5},
        {"ref": "agt", "name": "Dimension agt", "level": None, "target": 3},
    ]
    # Hard questions: sec-keys (#1) at level 4 is satisfied; sec-mfa (#5) "none" is a red flag.
    assert (row.hard_questions_satisfied, row.hard_questions_total, row.red_flags) == (1, 2, 1)
    assert (row.roadmap_open, row.roadmap_done) == (0, 0)

    # Roadmap for sec (gap 2.0 × 60 = 120) and bill (gap 1.0 × 40 = 40), both high: due 90 days after the
    # assessment, so 110 days ago. The rollup counts them.
    items = roadmap_generate(assessment=first)
    assert [(i.dimension_ref, i.priority, i.due_on) for i in items] == [
        ("sec", "high", spring + dt.timedelta(days=90)),
        ("bill", "high", spring + dt.timedelta(days=90)),
    ]
    row.refresh_from_db()
    assert (row.roadmap_open, row.roadmap_overdue, row.roadmap_done) == (2, 2, 0)
    roadmap_item_save(item=items[1], status="done")
    row.refresh_from_db()
    assert (row.roadmap_open, row.roadmap_overdue, row.roadmap_done) == (1, 1, 1)

    second = create(version, on=autumn, title="Autumn")
    complete(second, qs, mfa="everyone", keys="l5", fresh="live", kill="l3")
    assessment_finalise(assessment=second)
    # sec D = 1, bill D = 1, agt D = 0.5: overall = 100 · (60 + 40 + 20 · 0.5) / 120 = 91.666… → 91.67
    row.refresh_from_db()
    assert (row.score, row.previous_score, row.previous_assessed_on) == (
        Decimal("91.67"),
        Decimal("45.00"),
        spring,
    )
    assert row.assessment_id == second.pk and row.delta == Decimal("46.67")
    assert (row.hard_questions_satisfied, row.red_flags) == (2, 0)


# --- evidence --------------------------------------------------------------------------------------------------


def test_an_uploaded_file_becomes_register_evidence_linked_to_the_answer(setup, media):  # noqa: F811
    version, qs, _ = setup
    assessment = create(version)
    complete(assessment, qs)
    keys = answer_save(assessment=assessment, question=qs["sec-keys"], choice_key="l4", links=[])
    with pytest.raises(ValidationError):
        assessment_submit(assessment=assessment)  # the link was removed: evidence missing again
    seq = audit_seq()

    evidence = answer_attach_upload(answer=keys, file=pdf_file("rotation.pdf"))

    assert list(keys.evidence.all()) == [evidence]
    revision = evidence.current_revision
    assert revision.sha256 == hashlib.sha256(PDF).hexdigest() and revision.size == len(PDF)
    assert revision.display_name == "rotation.pdf" and revision.file_type == "pdf"
    assert (media / revision.file_name).read_bytes() == PDF
    assert evidence.status == Evidence.Status.DRAFT and evidence.kind == Evidence.Kind.UPLOAD
    assert evidence.title == "Assessment: Question sec-keys?"
    assert revision.effective_date == DAY  # the day the assessment describes
    assert "assessment.evidence_attach" in audit_actions(seq)
    event = AuditEvent.objects.get(action="assessment.evidence_attach", seq__gt=seq)
    assert event.after == {"question": "sec-keys", "evidence": evidence.pk, "title": evidence.title}

    with pytest.raises(ValidationError) as caught:
        answer_attach_upload(answer=keys, file=SimpleUploadedFile("scan.pdf", b"MZ\x90\x00" + b"\x00" * 64))
    assert "is a Windows executable, not a .pdf file" in " ".join(caught.value.messages)
    assert Evidence.objects.count() == 1 and keys.evidence.count() == 1

    assessment_submit(assessment=assessment)  # the file is the required evidence
    assert Assessment.objects.get(pk=assessment.pk).status == "in_review"


def test_resaving_an_assessors_answer_that_keel_reads_differently_needs_no_reason(setup):
    version, qs, signals = setup
    assessment = create(version)
    answer_save(assessment=assessment, question=qs["sec-mfa"], choice_key="none")
    signals[MFA] = 5
    assessment_prefill(assessment)  # kept, with Keel's reading (level 5) recorded next to it

    answer = answer_save(assessment=assessment, question=qs["sec-mfa"], choice_key="none", comment="Checked again.")
    assert (answer.source, answer.override_reason, answer.signal_level) == ("manual", "", 5)
