"""Assessment arithmetic, as plain functions of the template and the answers (docs/assessment-format.md).

Per question n = (level − 1) / 4; per dimension D = Σ w·n / Σ w over answered, not-N/A questions; overall
100 · Σ W·D / Σ W over dimensions with at least one answer; dimension level L = 1 + 4·D; gap = target − L when
positive, ordered by W × gap. Unanswered questions are left out (and counted as coverage), never scored as 0:
an assessment half done says what it knows, not that the client is bad at the rest. Decimals throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

FOUR = Decimal(4)
HUNDRED = Decimal(100)
SCORE_PLACES = Decimal("0.01")
LEVEL_PLACES = Decimal("0.1")


@dataclass(frozen=True)
class QuestionView:
    id: int
    ref: str
    dimension_ref: str
    weight: Decimal
    required: bool
    hard_question: int | None
    choices: list[dict]


@dataclass(frozen=True)
class DimensionView:
    ref: str
    name: str
    weight: Decimal


@dataclass(frozen=True)
class AnswerView:
    question_id: int
    level: int | None
    is_na: bool
    choice_key: str = ""


def _round(value: Decimal, places: Decimal) -> Decimal:
    return value.quantize(places, rounding=ROUND_HALF_UP)


def score(
    dimensions: list[DimensionView],
    questions: list[QuestionView],
    answers: dict[int, AnswerView],
    targets: dict[str, int],
) -> dict:
    """The `results` stored on an assessment: overall score, per-dimension scores and gaps, hard questions."""
    by_dimension: dict[str, list[QuestionView]] = {}
    for question in questions:
        by_dimension.setdefault(question.dimension_ref, []).append(question)

    rows, weighted, weight_sum = [], Decimal(0), Decimal(0)
    answered_total = required_missing = 0
    for dimension in dimensions:
        numerator = denominator = Decimal(0)
        answered = na = 0
        asked = by_dimension.get(dimension.ref, [])
        for question in asked:
            answer = answers.get(question.id)
            if answer is None or (not answer.is_na and answer.level is None):
                required_missing += question.required
                continue
            answered += 1
            if answer.is_na:
                na += 1
                continue
            numerator += question.weight * (Decimal(answer.level) - 1) / FOUR
            denominator += question.weight
        answered_total += answered
        target = targets.get(dimension.ref)
        row = {
            "ref": dimension.ref,
            "name": dimension.name,
            "weight": str(dimension.weight),
            "questions": len(asked),
            "answered": answered,
            "not_applicable": na,
            "score": None,
            "level": None,
            "target": target,
            "gap": None,
            "priority": None,
        }
        if denominator > 0:
            ratio = numerator / denominator
            level = 1 + FOUR * ratio
            row["score"] = str(_round(HUNDRED * ratio, SCORE_PLACES))
            row["level"] = str(_round(level, LEVEL_PLACES))
            if target is not None:
                gap = max(Decimal(0), Decimal(target) - _round(level, LEVEL_PLACES))
                row["gap"] = str(gap)
                row["priority"] = str(_round(gap * dimension.weight, SCORE_PLACES))
            weighted += dimension.weight * ratio
            weight_sum += dimension.weight
        rows.append(row)

    overall = _round(HUNDRED * weighted / weight_sum, SCORE_PLACES) if weight_sum > 0 else None
    gaps = sorted(
        (row for row in rows if row["gap"] is not None and Decimal(row["gap"]) > 0),
        key=lambda row: (-Decimal(row["priority"]), -Decimal(row["gap"]), row["ref"]),
    )
    return {
        "overall_score": str(overall) if overall is not None else None,
        "overall_level": str(_round(1 + FOUR * weighted / weight_sum, LEVEL_PLACES)) if weight_sum > 0 else None,
        "dimensions": rows,
        "gaps": [row["ref"] for row in gaps],
        "questions": len(questions),
        "answered": answered_total,
        "required_missing": required_missing,
        "hard_questions": _hard_questions(questions, answers),
    }


def _hard_questions(questions: list[QuestionView], answers: dict[int, AnswerView]) -> dict:
    """The ten hard questions: satisfied = answered at level 4 or above; a red flag = a choice marked so."""
    hard = [q for q in questions if q.hard_question]
    satisfied, red_flags, items = 0, 0, []
    for question in sorted(hard, key=lambda q: q.hard_question):
        answer = answers.get(question.id)
        choice = next((c for c in question.choices if answer and c["key"] == answer.choice_key), None)
        ok = bool(answer and not answer.is_na and answer.level is not None and answer.level >= 4)
        flag = bool(choice and choice.get("red_flag"))
        satisfied += ok
        red_flags += flag
        items.append(
            {
                "number": question.hard_question,
                "ref": question.ref,
                "level": answer.level if answer else None,
                "satisfied": ok,
                "red_flag": flag,
            }
        )
    return {"total": len(hard), "satisfied": satisfied, "red_flags": red_flags, "items": items}


def compare(older: dict, newer: dict) -> list[dict]:
    """Per dimension (matched by ref, so two template versions compare): level and score of each, and the delta."""
    before = {row["ref"]: row for row in older.get("dimensions", [])}
    rows = []
    for row in newer.get("dimensions", []):
        old = before.get(row["ref"], {})
        delta_level = delta_score = None
        if row.get("level") is not None and old.get("level") is not None:
            delta_level = str(Decimal(row["level"]) - Decimal(old["level"]))
        if row.get("score") is not None and old.get("score") is not None:
            delta_score = str(Decimal(row["score"]) - Decimal(old["score"]))
        rows.append(
            {
                "ref": row["ref"],
                "name": row["name"],
                "before_level": old.get("level"),
                "after_level": row.get("level"),
                "before_score": old.get("score"),
                "after_score": row.get("score"),
                "delta_level": delta_level,
                "delta_score": delta_score,
                "target": row.get("target"),
            }
        )
    new_refs = {row["ref"] for row in newer.get("dimensions", [])}
    for ref, old in before.items():
        if ref not in new_refs:
            rows.append(
                {
                    "ref": ref,
                    "name": old["name"],
                    "before_level": old.get("level"),
                    "after_level": None,
                    "before_score": old.get("score"),
                    "after_score": None,
                    "delta_level": None,
                    "delta_score": None,
                    "target": old.get("target"),
                }
            )
    return rows
