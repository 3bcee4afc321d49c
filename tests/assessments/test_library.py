"""The template library (apps.assessment_templates.library): the bundled file loads once and only once, versions
only go up and record what changed, invalid documents give problems with their paths, copies and portal revisions
make new versions, and a downloaded file loads back to the same content."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from apps.assessment_templates.library import (
    TemplateFileError,
    TemplateVersionError,
    content_sha256,
    document_yaml,
    parse_template_document,
    parse_template_file,
    parse_template_text,
    template_copy,
    template_revise,
    template_store,
    template_upload_store,
    templates_load_bundled,
)
from apps.assessment_templates.models import Dimension, Question, Template, TemplateVersion
from apps.audit.models import AuditEvent

from .conftest import BUNDLED, bundled_document, dimension, question, store, template_doc

pytestmark = pytest.mark.django_db


@pytest.fixture
def public(db):
    with schema_context("public"):
        yield


def counts() -> tuple[int, int, int, int]:
    return (
        Template.objects.count(),
        TemplateVersion.objects.count(),
        Dimension.objects.count(),
        Question.objects.count(),
    )


def problems_of(document, file="bad.yaml") -> list[tuple[str, str]]:
    with pytest.raises(TemplateFileError) as caught:
        parse_template_document(document, file=file)
    for problem in caught.value.problems:
        assert problem.file == file
    return [(p.path, p.message) for p in caught.value.problems]


# --- the bundled file --------------------------------------------------------------------------------------------


def test_the_bundled_file_loads_and_a_second_load_changes_nothing(public):
    before = counts()
    [result] = templates_load_bundled(loaded_by="test")

    assert result.created
    template = Template.objects.get(key="ai-era-msp")
    version = template.current
    assert template.origin == Template.Origin.BUNDLED and template.name == "AI-era capability matrix"
    assert (version.version, version.question_count, version.changes) == (1, 40, {"previous_version": None})
    assert version.loaded_from == "apps/assessment_templates/data/ai-era-msp.yaml" and version.loaded_by == "test"
    assert [lv["name"] for lv in version.levels] == ["Legacy", "Emerging", "Defined", "Managed", "AI-era standard"]
    assert version.target_profile["levels"]["billing-review"] == 5
    dims = list(version.dimensions.all())
    assert len(dims) == 10 and [d.position for d in dims] == list(range(1, 11))
    assert sum(d.weight for d in dims) == Decimal(100)
    security = version.dimensions.get(ref="security")
    assert security.weight == Decimal(14) and security.recommendation(4)["effort"] in {"small", "medium", "large"}
    assert version.questions.count() == 40 and version.questions.filter(dimension=security).count() == 4
    mfa = version.questions.get(ref="sec-phishing-resistant-mfa")
    assert mfa.weight == Decimal(2) and mfa.evidence == "required" and mfa.hard_question == 5
    assert counts() == (before[0] + 1, before[1] + 1, before[2] + 10, before[3] + 40)
    loads = AuditEvent.objects.filter(action="assessment_template.load", object_id=str(version.pk))
    assert loads.count() == 1 and loads.get().after["questions"] == 40

    seq = AuditEvent.objects.order_by("-seq").first().seq
    [again] = templates_load_bundled(loaded_by="someone else")

    assert not again.created and again.version == version
    assert counts() == (before[0] + 1, before[1] + 1, before[2] + 10, before[3] + 40)
    assert not AuditEvent.objects.filter(seq__gt=seq).exists()
    assert TemplateVersion.objects.get(pk=version.pk).loaded_by == "test"


def test_comments_and_layout_are_not_content(public, tmp_path):
    [first] = templates_load_bundled(loaded_by="test")
    text = "# a new comment on top\n" + BUNDLED.read_text(encoding="utf-8").replace(
        "\nversion: 1\n", "\nversion:   1\n"
    )
    parsed = parse_template_text(text, file="ai-era-msp.yaml")
    assert parsed.sha256 == first.version.sha256
    result = template_store(parsed, loaded_by="test")
    assert not result.created and result.version == first.version


# --- versions -----------------------------------------------------------------------------------------------------


def bundled_v2() -> dict:
    document = bundled_document()
    document["version"] = 2
    security = next(d for d in document["dimensions"] if d["ref"] == "security")
    security["weight"] = 20
    security["questions"].append(
        {
            "ref": "sec-security-awareness",
            "text": "How often do staff take security awareness training?",
            "choices": [
                {"key": "never", "level": 1, "label": "Never"},
                {"key": "yearly", "level": 3, "label": "Yearly"},
                {"key": "quarterly", "level": 5, "label": "Quarterly, with phishing drills"},
            ],
        }
    )
    return document


def test_a_higher_version_becomes_current_records_changes_and_keeps_the_old_version(public):
    [v1] = templates_load_bundled(loaded_by="test")
    old_questions = set(v1.version.questions.values_list("pk", flat=True))
    before = counts()

    result = template_store(parse_template_document(bundled_v2(), file="ai-era-msp.yaml"), loaded_by="release")

    assert result.created
    template = Template.objects.get(key="ai-era-msp")
    assert template.current == result.version and result.version.version == 2
    assert result.version.question_count == 41
    assert result.version.changes == {
        "previous_version": 1,
        "dimensions": {"added": [], "removed": [], "changed": [{"ref": "security", "fields": ["weight"]}]},
        "questions": {"added": ["sec-security-awareness"], "removed": [], "changed": []},
    }
    # Version 1 and its rows stay as they were: assessments made with it keep it.
    assert counts() == (before[0], before[1] + 1, before[2] + 10, before[3] + 41)
    old = TemplateVersion.objects.get(template=template, version=1)
    assert old.dimensions.get(ref="security").weight == Decimal(14) and old.question_count == 40
    assert set(old.questions.values_list("pk", flat=True)) == old_questions
    assert result.version.dimensions.get(ref="security").weight == Decimal(20)
    assert list(template.versions.values_list("version", flat=True)) == [2, 1]
    # The bundled loader now skips the older file instead of failing.
    [skipped] = templates_load_bundled(loaded_by="test")
    assert not skipped.created and skipped.skipped == "version 2 is loaded already" and skipped.version.version == 2


def test_the_same_version_with_other_content_is_refused(public):
    templates_load_bundled(loaded_by="test")
    before = counts()
    document = bundled_document()
    document["dimensions"][0]["questions"][0]["choices"][0]["label"] = "Reworded label"
    with pytest.raises(TemplateVersionError, match="version 1 of ai-era-msp is already loaded with other content"):
        template_store(parse_template_document(document, file="x.yaml"), loaded_by="test")
    assert counts() == before


def test_a_lower_version_is_refused(public):
    templates_load_bundled(loaded_by="test")
    template_store(parse_template_document(bundled_v2(), file="x.yaml"), loaded_by="test")
    before = counts()
    with pytest.raises(TemplateVersionError, match="lower than the loaded version 2"):
        template_store(parse_template_file(BUNDLED), loaded_by="test")
    assert counts() == before
    assert Template.objects.get(key="ai-era-msp").current.version == 2


# --- validation ---------------------------------------------------------------------------------------------------


def two_dimensions() -> dict:
    return template_doc(
        dimensions=[
            dimension("d1", 10, [question("d1-q1"), question("d1-q2")]),
            dimension("d2", 10, [question("d2-q1")]),
        ]
    )


def _dup_question(doc):
    doc["dimensions"][1]["questions"][0]["ref"] = "d1-q2"


def _dup_dimension(doc):
    doc["dimensions"][1]["ref"] = "d1"


def _dup_choice(doc):
    doc["dimensions"][0]["questions"][1]["choices"][2]["key"] = "l1"


def _unknown_signal(doc):
    doc["dimensions"][1]["questions"][0]["signal"] = "finops.crystal_ball"


def _missing_target(doc):
    doc["target_profile"] = {"name": "T", "levels": {"d1": 3, "nope": 4}}


def _zero_weights(doc):
    for d in doc["dimensions"]:
        d["weight"] = 0


def _same_levels(doc):
    for choice in doc["dimensions"][0]["questions"][1]["choices"]:
        choice["level"] = 3


def _missing_name(doc):
    del doc["name"]


def _missing_question_text(doc):
    del doc["dimensions"][1]["questions"][0]["text"]


def _level_6(doc):
    doc["dimensions"][0]["questions"][0]["choices"][2]["level"] = 6


def _unknown_key(doc):
    doc["dimensions"][0]["colour"] = "blue"


def _hard_twice(doc):
    doc["dimensions"][0]["questions"][0]["hard_question"] = 3
    doc["dimensions"][1]["questions"][0]["hard_question"] = 3


def _levels_out_of_order(doc):
    doc["levels"][0]["level"], doc["levels"][1]["level"] = 2, 1


def _bad_weight(doc):
    doc["dimensions"][1]["weight"] = -1


def _bad_format(doc):
    doc["format"] = "keel-maturity/2"


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (_dup_question, "dimensions[1].questions[0].ref", "'d1-q2' is used twice (also dimensions[0].questions[1])"),
        (_dup_dimension, "dimensions[1].ref", "'d1' is used twice (also dimensions[0])"),
        (_dup_choice, "dimensions[0].questions[1].choices[2].key", "'l1' is used twice"),
        (_unknown_signal, "dimensions[1].questions[0].signal", "'finops.crystal_ball' is not a signal Keel knows"),
        (_missing_target, "target_profile.levels.nope", "is not a dimension of this template"),
        (_zero_weights, "dimensions", "every dimension weighs 0: nothing can be scored"),
        (_same_levels, "dimensions[0].questions[1].choices", "every choice has the same level"),
        (_missing_name, "name", "missing"),
        (_missing_question_text, "dimensions[1].questions[0].text", "missing"),
        (_level_6, "dimensions[0].questions[0].choices[2].level", "6 must be a level from 1 to 5"),
        (_unknown_key, "dimensions[0].colour", "unknown key"),
        (_hard_twice, "dimensions", "hard question 3 is asked by more than one question"),
        (_levels_out_of_order, "levels", "must list levels 1, 2, 3, 4 and 5 in that order"),
        (_bad_weight, "dimensions[1].weight", "-1 must be a number from 0 to 1000"),
        (_bad_format, "format", "'keel-maturity/2' must be keel-maturity/1"),
    ],
)
def test_invalid_documents_give_problems_with_their_paths(db, change, path, message):
    document = two_dimensions()
    parse_template_document(copy.deepcopy(document), file="good.yaml")  # valid before the change
    change(document)

    problems = problems_of(document)

    assert any(p == path and message in m for p, m in problems), problems


def test_problems_read_as_file_path_message_lines(db):
    document = two_dimensions()
    _dup_question(document)
    _unknown_signal(document)
    with pytest.raises(TemplateFileError) as caught:
        parse_template_document(document, file="acme.yaml")
    lines = str(caught.value).splitlines()
    assert "acme.yaml: dimensions[1].questions[0].ref: 'd1-q2' is used twice (also dimensions[0].questions[1])" in lines
    assert any(line.startswith("acme.yaml: dimensions[1].questions[0].signal: ") for line in lines)


def test_text_that_is_not_yaml_or_repeats_a_key_is_a_problem_of_the_file(db):
    with pytest.raises(TemplateFileError) as caught:
        parse_template_text("format: keel-maturity/1\nkey: [unclosed\n", file="broken.yaml")
    [problem] = caught.value.problems
    assert problem.file == "broken.yaml" and problem.path == "" and "is not valid YAML" in problem.message
    with pytest.raises(TemplateFileError) as caught:
        parse_template_text("key: a\nkey: b\n", file="twice.yaml")
    assert "the key 'key' is written twice" in str(caught.value)


# --- copy, revise, upload, download ---------------------------------------------------------------------------------


def test_a_copy_is_a_new_key_at_version_1_with_origin_copy(public, bundled):
    result = template_copy(bundled.current, key="acme-ai-era", name="ACME AI era", by="am@msp.test")

    copy_ = Template.objects.select_related("current").get(key="acme-ai-era")
    assert result.created and result.template == copy_
    assert (copy_.origin, copy_.copied_from, copy_.name) == (Template.Origin.COPY, bundled.current, "ACME AI era")
    version = copy_.current
    assert version.version == 1 and version.question_count == 40 and version.loaded_by == "am@msp.test"
    assert version.source == "Copied from ai-era-msp version 1"
    assert version.document["key"] == "acme-ai-era" and version.document["version"] == 1
    assert version.dimensions.count() == 10
    # The copy has its own rows; the bundled template is untouched.
    assert not set(version.questions.values_list("pk", flat=True)) & set(
        bundled.current.questions.values_list("pk", flat=True)
    )
    assert Template.objects.get(key="ai-era-msp").current == bundled.current
    with pytest.raises(TemplateVersionError, match="exists already"):
        template_copy(bundled.current, key="acme-ai-era", name="Again", by="am@msp.test")


def test_revise_makes_the_next_version_and_nothing_changed_is_refused(public, bundled):
    template = template_copy(bundled.current, key="acme-ai-era", name="ACME AI era", by="am@msp.test").template
    document = copy.deepcopy(template.current.document)
    document["dimensions"][1]["weight"] = 20
    document["key"] = "tries-another-key"  # the key cannot change

    result = template_revise(template, document, by="am@msp.test", source="portal edit")

    assert result.created and result.version.version == 2 and result.template.key == "acme-ai-era"
    assert Template.objects.get(key="acme-ai-era").current.version == 2
    assert not Template.objects.filter(key="tries-another-key").exists()
    assert result.version.changes["dimensions"]["changed"] == [{"ref": "security", "fields": ["weight"]}]
    assert result.version.loaded_from == "portal edit"

    template.refresh_from_db()
    before = counts()
    with pytest.raises(TemplateVersionError, match="Nothing changed"):
        template_revise(template, copy.deepcopy(template.current.document), by="am@msp.test", source="portal edit")
    assert counts() == before


def test_the_bundled_template_is_not_revised_in_place(public, bundled):
    document = copy.deepcopy(bundled.current.document)
    document["dimensions"][0]["weight"] = 9
    with pytest.raises(TemplateVersionError, match="copy it to adapt it"):
        template_revise(bundled, document, by="am@msp.test", source="portal edit")
    assert bundled.versions.count() == 1


def test_uploads_make_new_templates_or_next_versions_but_never_of_a_bundled_key(public, bundled):
    first = template_upload_store(parse_template_text(_yaml(template_doc("acme-own")), file="a.yaml"), by="am")
    assert first.created and first.template.origin == Template.Origin.UPLOAD
    second = template_upload_store(
        parse_template_text(_yaml(template_doc("acme-own", version=2, description="Now described.")), file="b.yaml"),
        by="am",
    )
    assert second.created and second.version.version == 2 and second.template.origin == Template.Origin.UPLOAD
    with pytest.raises(TemplateVersionError, match="ships with Keel"):
        template_upload_store(parse_template_document(bundled_v2(), file="ai-era-msp.yaml"), by="am")


def _yaml(document: dict) -> str:
    import yaml

    return yaml.safe_dump(document, sort_keys=False)


def test_document_yaml_round_trips_to_the_same_content(public, bundled):
    text = document_yaml(bundled.current)

    assert text.startswith("# AI-era capability matrix, version 1 (keel-maturity/1), exported from Keel.\n")
    parsed = parse_template_text(text, file="ai-era-msp-v1.yaml")
    assert parsed.sha256 == bundled.current.sha256 == content_sha256(bundled.current.document)
    assert (parsed.key, parsed.version, len(parsed.questions)) == ("ai-era-msp", 1, 40)


def test_document_yaml_round_trips_decimal_weights_and_texts_with_colons(public):
    document = template_doc(
        "t-decimals",
        description="Line one: with a colon, and a comma.\nLine two — unicode.",
        dimensions=[dimension("d1", 7.5, [question("d1-q1", weight=0.25), question("d1-q2", weight=2)])],
        targets={"d1": 4},
    )
    version = store(document)
    with schema_context("public"):
        parsed = parse_template_text(document_yaml(version), file="t.yaml")
    assert parsed.sha256 == version.sha256
    assert parsed.dimensions[0]["weight"] == Decimal("7.5") and parsed.questions[0]["weight"] == Decimal("0.25")
