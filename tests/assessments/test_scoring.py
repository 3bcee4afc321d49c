"""The assessment arithmetic (apps.assessments.scoring), as plain functions: no database. Every expected figure is
worked out by hand in the comments from the rules of docs/assessment-format.md: n = (level − 1) / 4,
D = Σ w·n / Σ w, overall = 100 · Σ W·D / Σ W, L = 1 + 4·D rounded to 0.1, gap = target − L, ordered by W × gap."""

from __future__ import annotations

from decimal import Decimal

from apps.assessments.scoring import AnswerView, DimensionView, QuestionView, compare, score

D = Decimal
LEVELS_15 = [{"key": f"l{n}", "level": n, "label": f"L{n}"} for n in range(1, 6)]


class Sheet:
    """A template and its answers built question by question: add(dim, level, weight=…)."""

    def __init__(self, **dimension_weights):
        self.dimensions = [DimensionView(ref, f"Dim {ref}", D(str(w))) for ref, w in dimension_weights.items()]
        self.questions: list[QuestionView] = []
        self.answers: dict[int, AnswerView] = {}

    def add(self, dim, level=None, *, weight=1, na=False, required=True, hard=None, choices=None, key=None):
        qid = len(self.questions) + 1
        self.questions.append(
            QuestionView(qid, f"{dim}-q{qid}", dim, D(str(weight)), required, hard, choices or LEVELS_15)
        )
        if na:
            self.answers[qid] = AnswerView(qid, None, True)
        elif level is not None:
            self.answers[qid] = AnswerView(qid, level, False, key or f"l{level}")
        return qid

    def score(self, **targets):
        return score(self.dimensions, self.questions, self.answers, targets)


def rows(results) -> dict:
    return {row["ref"]: row for row in results["dimensions"]}


def test_weighted_score_with_question_and_dimension_weights_and_gap_order():
    sheet = Sheet(a=14, b=6, c=2)
    # a: the documented example. n = 0.75 (w1), 0.25 (w2), 0.5 (w1), 0.5 (w2)
    #    D = (0.75 + 0.5 + 0.5 + 1.0) / 6 = 2.75 / 6 = 0.458333…  → score 45.83, L = 2.8333 → 2.8
    #    gap = 4 − 2.8 = 1.2, priority = 14 × 1.2 = 16.80
    for level, weight in ((4, 1), (2, 2), (3, 1), (3, 2)):
        sheet.add("a", level, weight=weight)
    # b: n = 1 (w3), 0 (w1): D = 3 / 4 = 0.75 → 75.00, L = 4.0, gap = 5 − 4 = 1.0, priority 6 × 1 = 6.00
    sheet.add("b", 5, weight=3)
    sheet.add("b", 1, weight=1)
    # c: D = 0 → L = 1.0, gap = 5 − 1 = 4.0 (the biggest gap), priority 2 × 4 = 8.00
    sheet.add("c", 1)

    results = sheet.score(a=4, b=5, c=5)
    by = rows(results)

    assert (by["a"]["score"], by["a"]["level"], by["a"]["gap"], by["a"]["priority"]) == ("45.83", "2.8", "1.2", "16.80")
    assert (by["b"]["score"], by["b"]["level"], by["b"]["gap"], by["b"]["priority"]) == ("75.00", "4.0", "1.0", "6.00")
    assert (by["c"]["score"], by["c"]["level"], by["c"]["gap"], by["c"]["priority"]) == ("0.00", "1.0", "4.0", "8.00")
    # overall = 100 · (14 · 0.458333 + 6 · 0.75 + 2 · 0) / 22 = 100 · 10.916667 / 22 = 49.6212 → 49.62
    assert results["overall_score"] == "49.62"
    # overall level = 1 + 4 · 0.496212 = 2.98 → 3.0
    assert results["overall_level"] == "3.0"
    # By weight × gap: a (16.80) before c (8.00, though its gap of 4 is the largest) before b (6.00).
    assert results["gaps"] == ["a", "c", "b"]
    assert (results["questions"], results["answered"], results["required_missing"]) == (7, 7, 0)
    assert by["a"]["weight"] == "14" and by["a"]["questions"] == 4 and by["a"]["answered"] == 4


def test_unanswered_questions_are_left_out_not_counted_as_zero():
    sheet = Sheet(a=10)
    sheet.add("a", 5)
    sheet.add("a")  # unanswered, required
    sheet.add("a", required=False)  # unanswered, optional
    qid = sheet.add("a", 3)
    sheet.answers[qid] = AnswerView(qid, None, False)  # a cleared answer: no level, not N/A

    results = sheet.score(a=4)
    row = rows(results)["a"]

    # Only the level-5 answer counts: D = 1 → 100, L = 5.0 (as zeros it would be 25).
    assert (row["score"], row["level"], row["answered"]) == ("100.00", "5.0", 1)
    assert results["overall_score"] == "100.00"
    # Two required questions are open (the cleared one and the unanswered one); the optional one is not counted.
    assert results["required_missing"] == 2 and results["answered"] == 1
    # At or above target: gap 0 and no entry in the gap list.
    assert D(row["gap"]) == 0 and results["gaps"] == []


def test_not_applicable_answers_are_excluded_but_count_as_answered():
    sheet = Sheet(a=10, b=10)
    sheet.add("a", na=True, weight=5)  # would weigh 5 of 6 if it were scored
    sheet.add("a", 3, weight=1)  # D = 0.5 → 50.00, L = 3.0
    sheet.add("b", na=True)  # b has only N/A: not assessed

    results = sheet.score(a=4, b=4)
    a, b = rows(results)["a"], rows(results)["b"]

    assert (a["score"], a["level"], a["answered"], a["not_applicable"]) == ("50.00", "3.0", 2, 1)
    assert (b["score"], b["level"], b["gap"], b["answered"], b["not_applicable"]) == (None, None, None, 1, 1)
    # b left out of the overall: 100 · 10 · 0.5 / 10 = 50.00 (with b as 0 it would be 25).
    assert results["overall_score"] == "50.00"
    assert results["required_missing"] == 0 and results["answered"] == 3
    assert results["gaps"] == ["a"]  # a: 4 − 3.0 = 1.0; b has no gap


def test_a_dimension_without_answers_is_not_assessed_and_out_of_the_overall():
    sheet = Sheet(a=30, b=70)
    sheet.add("a", 4)  # D = 0.75
    sheet.add("b")
    sheet.add("b")

    results = sheet.score(a=3, b=5)
    b = rows(results)["b"]

    # Only a counts: 100 · 30 · 0.75 / 30 = 75.00 (with b as zero: 100 · 22.5 / 100 = 22.50).
    assert results["overall_score"] == "75.00" and results["overall_level"] == "4.0"
    assert b["score"] is None and b["level"] is None and b["gap"] is None and b["priority"] is None
    assert b["target"] == 5 and b["answered"] == 0 and b["questions"] == 2
    assert results["gaps"] == []  # a is above its target of 3, b is not assessed
    assert results["required_missing"] == 2


def test_nothing_answered_gives_no_overall():
    sheet = Sheet(a=10)
    sheet.add("a")
    results = sheet.score(a=4)
    assert results["overall_score"] is None and results["overall_level"] is None and results["gaps"] == []


def test_level_is_rounded_half_up_to_a_tenth_and_the_gap_uses_the_rounded_level():
    sheet = Sheet(a=10)
    # 11 × n(3) + 9 × n(4) = 11 · 0.5 + 9 · 0.75 = 12.25 over 20: D = 0.6125 → 61.25
    # L = 1 + 4 · 0.6125 = 3.45 → 3.5 (half up; half-even would give 3.4)
    sheet.add("a", 3, weight=11)
    sheet.add("a", 4, weight=9)

    row = rows(sheet.score(a=4))["a"]

    assert (row["score"], row["level"]) == ("61.25", "3.5")
    # gap = 4 − 3.5 = 0.5 (not 4 − 3.45 = 0.55); priority = 10 × 0.5 = 5.00
    assert (row["gap"], row["priority"]) == ("0.5", "5.00")


def test_at_target_there_is_no_gap():
    sheet = Sheet(a=10, b=10)
    sheet.add("a", 4)  # L = 4.0 = target
    sheet.add("b", 5)  # L = 5.0 > target 3
    results = sheet.score(a=4, b=3)
    assert D(rows(results)["a"]["gap"]) == 0 and D(rows(results)["b"]["gap"]) == 0
    assert results["gaps"] == []


def test_a_dimension_without_a_target_has_no_gap():
    sheet = Sheet(a=10)
    sheet.add("a", 1)
    results = sheet.score()
    assert rows(results)["a"]["gap"] is None and rows(results)["a"]["target"] is None and results["gaps"] == []


def test_zero_weights_ask_without_scoring():
    sheet = Sheet(x=0, y=10, z=10)
    sheet.add("x", 5)  # a dimension of weight 0: its level shows, the overall ignores it
    sheet.add("y", 1)
    sheet.add("y", 5, weight=0)  # a question of weight 0 does not move y
    sheet.add("z", 5, weight=0)  # z answered only with a weight-0 question: nothing to score

    results = sheet.score(x=4, y=4, z=4)
    by = rows(results)

    assert by["x"]["level"] == "5.0" and by["y"]["level"] == "1.0" and by["y"]["score"] == "0.00"
    assert by["z"]["level"] is None and by["z"]["answered"] == 1
    # overall = 100 · (0 · 1 + 10 · 0) / (0 + 10) = 0.00
    assert results["overall_score"] == "0.00"


def test_hard_questions_satisfied_at_level_4_and_red_flags_whatever_the_score():
    red = [
        {"key": "none", "level": 1, "label": "None", "red_flag": True},
        {"key": "some", "level": 3, "label": "Some"},
        {"key": "good", "level": 4, "label": "Good"},
        {"key": "all", "level": 5, "label": "All"},
    ]
    sheet = Sheet(a=10, b=10)
    sheet.add("a", 4, hard=3, choices=red, key="good")  # satisfied (4 ≥ 4)
    sheet.add("a", 3, hard=1, choices=red, key="some")  # not satisfied
    sheet.add("a", 5, hard=2, choices=red, key="all")  # satisfied
    sheet.add("b", 5)
    sheet.add("b", 5)
    sheet.add("b", 1, hard=7, choices=red, key="none")  # red flag in a dimension scoring 66.67
    sheet.add("b", hard=9, choices=red)  # unanswered
    sheet.add("b", na=True, hard=10, choices=red)  # N/A: neither satisfied nor a flag

    results = sheet.score(a=4, b=4)
    hard = results["hard_questions"]

    assert (hard["total"], hard["satisfied"], hard["red_flags"]) == (6, 2, 1)
    items = {item["number"]: item for item in hard["items"]}
    assert [item["number"] for item in hard["items"]] == [1, 2, 3, 7, 9, 10]  # by number, not by position
    assert items[3] == {"number": 3, "ref": "a-q1", "level": 4, "satisfied": True, "red_flag": False}
    assert items[1]["satisfied"] is False and items[2]["satisfied"] is True
    assert items[7]["red_flag"] is True and items[7]["satisfied"] is False and items[7]["level"] == 1
    assert items[9]["level"] is None and not items[9]["satisfied"] and not items[9]["red_flag"]
    assert not items[10]["satisfied"] and not items[10]["red_flag"]
    # b = (1 + 1 + 0) / 3 = 0.6667 → 66.67: a red flag in a dimension that scores well
    assert rows(results)["b"]["score"] == "66.67"


def test_compare_gives_deltas_and_keeps_dimensions_found_on_one_side_only():
    older = Sheet(a=14, b=6, gone=5)
    for level, weight in ((4, 1), (2, 2), (3, 1), (3, 2)):
        older.add("a", level, weight=weight)  # 45.83, L 2.8 (as above)
    older.add("b", 5)  # 100.00, L 5.0
    older.add("gone", 2)  # 25.00, L 2.0
    newer = Sheet(a=14, b=6, new=5)
    newer.add("a", 3, weight=11)  # 61.25, L 3.5 (as above)
    newer.add("a", 4, weight=9)
    newer.add("b", 4)  # 75.00, L 4.0
    newer.add("new", 5)

    result = compare(older.score(a=4, b=5, gone=3), newer.score(a=4, b=5, new=4))
    by = {row["ref"]: row for row in result}

    assert [row["ref"] for row in result] == ["a", "b", "new", "gone"]  # newer's order, then the dropped ones
    # a: 3.5 − 2.8 = +0.7 levels, 61.25 − 45.83 = +15.42 points
    assert (by["a"]["before_level"], by["a"]["after_level"], by["a"]["delta_level"]) == ("2.8", "3.5", "0.7")
    assert (by["a"]["before_score"], by["a"]["after_score"], by["a"]["delta_score"]) == ("45.83", "61.25", "15.42")
    # b went down: 4.0 − 5.0 = −1.0, 75.00 − 100.00 = −25.00
    assert (by["b"]["delta_level"], by["b"]["delta_score"]) == ("-1.0", "-25.00")
    assert by["b"]["target"] == 5
    # Only in the newer one: no before, no delta.
    assert (by["new"]["before_level"], by["new"]["after_level"], by["new"]["delta_level"]) == (None, "5.0", None)
    assert by["new"]["delta_score"] is None and by["new"]["target"] == 4
    # Only in the older one: kept, with its before figures and no after.
    assert by["gone"] == {
        "ref": "gone",
        "name": "Dim gone",
        "before_level": "2.0",
        "after_level": None,
        "before_score": "25.00",
        "after_score": None,
        "delta_level": None,
        "delta_score": None,
        "target": 3,
    }


def test_compare_with_a_side_not_assessed_has_no_delta():
    older = Sheet(a=10)
    older.add("a")  # not assessed
    newer = Sheet(a=10)
    newer.add("a", 3)
    [row] = compare(older.score(a=4), newer.score(a=4))
    assert (row["before_level"], row["after_level"], row["delta_level"], row["delta_score"]) == (
        None,
        "3.0",
        None,
        None,
    )
    assert compare({}, {}) == []
