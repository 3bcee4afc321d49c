"""Assessment template files (format keel-maturity/1, docs/assessment-format.md): validate, load, copy, revise.

A document is checked against schema.json, then for what a schema cannot say: refs used twice, choice keys used
twice, a question whose choices do not spread over levels, target levels for dimensions that do not exist,
signal keys Keel does not know, weights that are all zero. Every problem names its file and path.

Loading is idempotent (same content: nothing changes). A higher version of a key becomes current; the versions
before it stay, so every assessment keeps the version it was made with. An equal version with other content, or
a lower one, is refused. Copying makes a new key at version 1; revising in the portal writes the next version.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

import rfc8785
import yaml
from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import schema_context
from jsonschema import Draft202012Validator

from apps.audit.services import audit_record
from apps.core.datafiles import Problem, load_yaml_text, problem_sort_key, read_document, schema_problems

from .models import Dimension, Question, Template, TemplateVersion

FORMAT = "keel-maturity/1"
HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "data"
SCHEMA_PATH = HERE / "schema.json"
MAX_FILE_BYTES = 2 * 1024 * 1024
DIMENSION_FIELDS = ("name", "description", "weight", "legacy", "modern", "descriptors", "recommendations")
QUESTION_FIELDS = (
    "dimension",
    "text",
    "help",
    "weight",
    "required",
    "allow_na",
    "evidence",
    "hard_question",
    "signal",
    "choices",
)


class TemplateLoadError(Exception):
    """A template was not loaded; nothing stored changed."""


class TemplateFileError(TemplateLoadError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems) or "invalid template file")


class TemplateVersionError(TemplateLoadError):
    """Valid, but its version cannot replace the loaded one (equal with other content, or lower)."""


@dataclass
class ParsedTemplate:
    key: str
    version: int
    name: str
    document: dict
    sha256: str
    source: str
    dimensions: list[dict] = field(default_factory=list)  # normalised rows (Decimal weights, stripped text)
    questions: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class LoadResult:
    template: Template
    version: TemplateVersion
    created: bool
    skipped: str = ""


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def known_signals() -> set[str]:
    from apps.assessments.signals import SIGNALS  # the tenant app owns the signals; they are plain functions

    return set(SIGNALS)


def _decimal(value) -> Decimal:
    return Decimal(str(value))


def content_sha256(document: dict) -> str:
    """Of the content (RFC 8785 canonical JSON), so comments and layout do not make a new version."""
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


def parse_template_document(document, *, file: str, source: str = "") -> ParsedTemplate:
    problems = schema_problems(_validator(), document, file)
    if problems:
        raise TemplateFileError(problems)
    signals = known_signals()
    dimensions, questions = [], []
    seen_dimensions: dict[str, int] = {}
    seen_questions: dict[str, str] = {}
    for d, raw in enumerate(document["dimensions"]):
        where = f"dimensions[{d}]"
        if raw["ref"] in seen_dimensions:
            problems.append(
                Problem(
                    file,
                    f"{where}.ref",
                    f"{raw['ref']!r} is used twice (also dimensions[{seen_dimensions[raw['ref']]}])",
                )
            )
        seen_dimensions.setdefault(raw["ref"], d)
        dimensions.append(
            {
                "ref": raw["ref"],
                "name": raw["name"].strip(),
                "description": raw.get("description", "").strip(),
                "weight": _decimal(raw["weight"]),
                "position": d + 1,
                "legacy": raw.get("legacy", "").strip(),
                "modern": raw.get("modern", "").strip(),
                "descriptors": {k: v.strip() for k, v in raw["descriptors"].items()},
                "recommendations": raw.get("recommendations", {}),
            }
        )
        for q, question in enumerate(raw["questions"]):
            qwhere = f"{where}.questions[{q}]"
            if question["ref"] in seen_questions:
                problems.append(
                    Problem(
                        file,
                        f"{qwhere}.ref",
                        f"{question['ref']!r} is used twice (also {seen_questions[question['ref']]})",
                    )
                )
            seen_questions.setdefault(question["ref"], qwhere)
            keys = [c["key"] for c in question["choices"]]
            for c, key in enumerate(keys):
                if key in keys[:c]:
                    problems.append(Problem(file, f"{qwhere}.choices[{c}].key", f"{key!r} is used twice"))
            if len({c["level"] for c in question["choices"]}) < 2:
                problems.append(
                    Problem(
                        file,
                        f"{qwhere}.choices",
                        "every choice has the same level: the question cannot tell levels apart",
                    )
                )
            signal = question.get("signal", "")
            if signal and signal not in signals:
                problems.append(
                    Problem(
                        file,
                        f"{qwhere}.signal",
                        f"{signal!r} is not a signal Keel knows ({', '.join(sorted(signals))})",
                    )
                )
            questions.append(
                {
                    "dimension": raw["ref"],
                    "ref": question["ref"],
                    "text": question["text"].strip(),
                    "help": question.get("help", "").strip(),
                    "weight": _decimal(question.get("weight", 1)),
                    "required": question.get("required", True),
                    "allow_na": question.get("allow_na", False),
                    "evidence": question.get("evidence", "none"),
                    "hard_question": question.get("hard_question"),
                    "signal": signal,
                    "choices": [
                        {
                            "key": c["key"],
                            "label": c["label"].strip(),
                            "level": c["level"],
                            "red_flag": bool(c.get("red_flag")),
                        }
                        for c in question["choices"]
                    ],
                }
            )
    hard = [q["hard_question"] for q in questions if q["hard_question"]]
    for number in sorted({n for n in hard if hard.count(n) > 1}):
        problems.append(Problem(file, "dimensions", f"hard question {number} is asked by more than one question"))
    if sum(d["weight"] for d in dimensions) <= 0:
        problems.append(Problem(file, "dimensions", "every dimension weighs 0: nothing can be scored"))
    for ref in (document.get("target_profile") or {}).get("levels", {}):
        if ref not in seen_dimensions:
            problems.append(Problem(file, f"target_profile.levels.{ref}", "is not a dimension of this template"))
    if [item["level"] for item in document["levels"]] != [1, 2, 3, 4, 5]:
        problems.append(Problem(file, "levels", "must list levels 1, 2, 3, 4 and 5 in that order"))
    if problems:
        raise TemplateFileError(sorted(problems, key=lambda p: problem_sort_key(p.path)))
    return ParsedTemplate(
        key=document["key"],
        version=document["version"],
        name=document["name"].strip(),
        document=document,
        sha256=content_sha256(document),
        source=source or file,
        dimensions=dimensions,
        questions=questions,
    )


def _display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(settings.BASE_DIR))
    except ValueError:
        return str(path)


def parse_template_file(path) -> ParsedTemplate:
    path = Path(path)
    document, problems = read_document(path, max_bytes=MAX_FILE_BYTES)
    if problems:
        raise TemplateFileError(problems)
    return parse_template_document(document, file=path.name, source=_display_name(path))


def parse_template_text(text: str, *, file: str) -> ParsedTemplate:
    """An uploaded file's text (the portal and API check its size before reading it)."""
    document, problems = load_yaml_text(text, file)
    if problems:
        raise TemplateFileError(problems)
    return parse_template_document(document, file=file, source=f"upload: {file}")


def document_yaml(version: TemplateVersion) -> str:
    """The version as a file to download, edit and upload as the next version."""
    header = (
        f"# {version.name}, version {version.version} ({FORMAT}), exported from Keel.\n"
        "# Raise `version` before uploading an edited copy; the format is in docs/assessment-format.md.\n"
    )
    return header + yaml.safe_dump(version.document, sort_keys=False, allow_unicode=True, width=110)


# --- storing -----------------------------------------------------------------------------------------------------


def _comparable(rows: list[dict], fields: tuple[str, ...]) -> dict[str, dict]:
    return {row["ref"]: {name: _plain(row.get(name)) for name in fields} for row in rows}


def _plain(value):
    return format(value.normalize(), "f") if isinstance(value, Decimal) else value  # 10.000 and 10 are equal


def _changes(before: TemplateVersion | None, parsed: ParsedTemplate) -> dict:
    if before is None:
        return {"previous_version": None}
    old_dims = _comparable(list(before.dimensions.values(*("ref", *DIMENSION_FIELDS))), DIMENSION_FIELDS)
    old_questions = [
        {**row, "dimension": row.pop("dimension__ref")}
        for row in before.questions.values("ref", "dimension__ref", *QUESTION_FIELDS[1:])
    ]
    old_qs = _comparable(old_questions, QUESTION_FIELDS)
    new_dims = _comparable(parsed.dimensions, DIMENSION_FIELDS)
    new_qs = _comparable(parsed.questions, QUESTION_FIELDS)

    def diff(old: dict, new: dict) -> dict:
        return {
            "added": [ref for ref in new if ref not in old],
            "removed": [ref for ref in old if ref not in new],
            "changed": [
                {"ref": ref, "fields": [name for name in new[ref] if new[ref][name] != old[ref][name]]}
                for ref in new
                if ref in old and new[ref] != old[ref]
            ],
        }

    return {
        "previous_version": before.version,
        "dimensions": diff(old_dims, new_dims),
        "questions": diff(old_qs, new_qs),
    }


def template_store(
    parsed: ParsedTemplate,
    *,
    loaded_by: str = "",
    origin: str = Template.Origin.BUNDLED,
    copied_from=None,
    skip_older=False,
) -> LoadResult:
    """Store a parsed template in the public schema, in one transaction (see the module docstring)."""
    with schema_context("public"), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('keel:assessment-template-load'))")
        template = Template.objects.select_related("current").filter(key=parsed.key).first()
        current = template.current if template else None
        if current is not None:
            if parsed.version == current.version:
                if parsed.sha256 == current.sha256:
                    return LoadResult(template, current, False)
                raise TemplateVersionError(
                    f"version {parsed.version} of {parsed.key} is already loaded with other content; "
                    f"raise the version to {current.version + 1}."
                )
            if parsed.version < current.version:
                if skip_older:
                    return LoadResult(template, current, False, skipped=f"version {current.version} is loaded already")
                raise TemplateVersionError(
                    f"version {parsed.version} of {parsed.key} is lower than the loaded version {current.version}; "
                    "versions only go up."
                )
        if template is None:
            template = Template.objects.create(
                key=parsed.key, name=parsed.name, origin=origin, copied_from=copied_from, created_by=loaded_by[:254]
            )
        version = TemplateVersion.objects.create(
            template=template,
            version=parsed.version,
            name=parsed.name,
            description=parsed.document.get("description", "").strip(),
            source=parsed.document.get("source", "").strip(),
            licence=parsed.document.get("licence", "").strip(),
            levels=parsed.document["levels"],
            target_profile=parsed.document.get("target_profile") or {},
            document=parsed.document,
            sha256=parsed.sha256,
            changes=_changes(current, parsed),
            loaded_from=parsed.source[:300],
            loaded_by=loaded_by[:254],
            question_count=len(parsed.questions),
        )
        dimensions = Dimension.objects.bulk_create(
            Dimension(version=version, **{k: v for k, v in row.items()}) for row in parsed.dimensions
        )
        by_ref = {d.ref: d for d in dimensions}
        Question.objects.bulk_create(
            Question(version=version, position=i + 1, **{**row, "dimension": by_ref[row["dimension"]]})
            for i, row in enumerate(parsed.questions)
        )
        template.name = parsed.name
        template.current = version
        template.save(update_fields=["name", "current"])
        audit_record(
            action="assessment_template.load",
            target=version,
            after={
                "key": parsed.key,
                "version": parsed.version,
                "origin": template.origin,
                "source": parsed.source,
                "sha256": parsed.sha256,
                "dimensions": len(parsed.dimensions),
                "questions": len(parsed.questions),
                "changes": version.changes,
            },
        )
        return LoadResult(template, version, True)


def bundled_files() -> list[Path]:
    return sorted(DATA_DIR.glob("*.yaml"))


def templates_load_bundled(*, loaded_by: str = "keel_setup") -> list[LoadResult]:
    """Every file in apps/assessment_templates/data/ (keel_setup; idempotent)."""
    return [template_store(parse_template_file(path), loaded_by=loaded_by, skip_older=True) for path in bundled_files()]


def template_upload_store(parsed: ParsedTemplate, *, by: str) -> LoadResult:
    """An MSP's uploaded file: a new template, or the next version of one of its own (never of a bundled one)."""
    existing = Template.objects.filter(key=parsed.key).first()
    if existing is not None and existing.origin == Template.Origin.BUNDLED:
        raise TemplateVersionError(
            f"{parsed.key!r} is a template that ships with Keel; give your file another key to load it as your own."
        )
    return template_store(parsed, loaded_by=by, origin=existing.origin if existing else Template.Origin.UPLOAD)


def template_copy(version: TemplateVersion, *, key: str, name: str, by: str) -> LoadResult:
    """A new template (version 1) with this version's content under a new key, for the MSP to adapt."""
    if Template.objects.filter(key=key).exists():
        raise TemplateVersionError(f"A template with the key {key!r} exists already.")
    document = {**version.document, "key": key, "name": name, "version": 1}
    document["source"] = f"Copied from {version.template.key} version {version.version}"
    parsed = parse_template_document(document, file=f"{key}.yaml", source=document["source"])
    return template_store(parsed, loaded_by=by, origin=Template.Origin.COPY, copied_from=version)


def template_revise(template: Template, document: dict, *, by: str, source: str) -> LoadResult:
    """The next version of `template` from an edited document (portal edits, uploads); its key cannot change."""
    if template.origin == Template.Origin.BUNDLED:
        raise TemplateVersionError(
            f"{template.name} ships with Keel and changes only with Keel's releases: copy it to adapt it."
        )
    current = template.current
    document = {**document, "key": template.key, "version": current.version + 1}
    parsed = parse_template_document(document, file=f"{template.key}.yaml", source=source)
    if parsed.sha256 == content_sha256({**current.document, "version": current.version + 1}):
        raise TemplateVersionError("Nothing changed: no new version was made.")
    return template_store(parsed, loaded_by=by, origin=template.origin)
