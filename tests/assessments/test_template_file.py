"""The bundled capability-matrix template (data/ai-era-msp.yaml): valid keel-maturity/1 and internally consistent.

No database: the file is read and checked as data, the way the loader and the prefill will rely on it.
"""

import json
import re
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
import yaml

APP = Path(__file__).resolve().parents[2] / "apps" / "assessment_templates"
TEMPLATE = APP / "data" / "ai-era-msp.yaml"
SCHEMA = APP / "schema.json"

DIMENSION_REFS = [
    "cloud-strategy",
    "security",
    "ai-support",
    "billing-review",
    "monitoring",
    "agent-guardrails",
    "compliance",
    "data-sovereignty",
    "cost-optimisation",
    "drift-management",
]

# Signal key -> the dimensions its question may sit in (the prefill maps each signal to one question).
SIGNALS = {
    "finops.billing_freshness": {"billing-review"},
    "finops.token_monitoring": {"monitoring"},
    "finops.unit_economics": {"cost-optimisation", "billing-review"},
    "security.mfa_enforced": {"security"},
    "agents.kill_switches": {"agent-guardrails"},
    "agents.permissions_reviewed": {"agent-guardrails"},
    "compliance.readiness": {"compliance"},
    "inventory.completeness": {"ai-support", "compliance"},
    "shadow_ai.discovery": {"compliance", "ai-support"},
    "finops.anomaly_detection": {"cost-optimisation"},
    "recommendations.adoption": {"cost-optimisation"},
}

# Hard question N (its order in the seed list) -> the dimensions it may belong to.
HARD_QUESTIONS = {
    1: {"compliance", "ai-support"},  # shadow AI
    2: {"compliance"},  # DORA / NIS2
    3: {"ai-support"},  # private AI cluster
    4: {"monitoring"},  # hallucination loops burning tokens
    5: {"security"},  # phishing-resistant MFA
    6: {"cost-optimisation", "billing-review"},  # unit economics
    7: {"data-sovereignty"},  # geopatriation
    8: {"security", "ai-support"},  # engineers certified in LLM security
    9: {"security", "cloud-strategy"},  # automated CSPM remediation
    10: {"data-sovereignty"},  # exit strategy
}


@pytest.fixture(scope="module")
def template():
    return yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))


def questions(template):
    return [(d, q) for d in template["dimensions"] for q in d["questions"]]


def sentences(text):
    # Abbreviations are not sentence ends.
    return [s for s in re.split(r"(?<!e\.g)(?<!i\.e)[.!?](?:\s+|$)", text.strip()) if s.strip()]


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load keeps the last of two equal keys silently; this loader refuses them."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def test_no_duplicate_yaml_keys():
    loader = _UniqueKeyLoader(TEMPLATE.read_text(encoding="utf-8"))
    try:
        assert loader.get_single_data()
    finally:
        loader.dispose()


def test_valid_against_schema(template):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(template)]
    assert errors == []


def test_identity_and_levels(template):
    assert template["format"] == "keel-maturity/1"
    assert template["key"] == "ai-era-msp"
    assert template["version"] == 1
    assert template["name"] == "AI-era capability matrix"
    assert [lv["level"] for lv in template["levels"]] == [1, 2, 3, 4, 5]
    assert template["levels"][0]["name"] == "Legacy"
    assert all(lv.get("description") for lv in template["levels"])


def test_dimensions_in_order_and_weights_sum_to_100(template):
    assert [d["ref"] for d in template["dimensions"]] == DIMENSION_REFS
    assert sum(d["weight"] for d in template["dimensions"]) == 100
    assert all(d["weight"] > 0 for d in template["dimensions"])


def test_refs_unique(template):
    dim_refs = Counter(d["ref"] for d in template["dimensions"])
    assert [r for r, n in dim_refs.items() if n > 1] == []
    # Question refs are unique across the whole file, not only within their dimension.
    q_refs = Counter(q["ref"] for _, q in questions(template))
    assert [r for r, n in q_refs.items() if n > 1] == []


def test_target_profile_covers_every_dimension(template):
    profile = template["target_profile"]
    assert profile["name"] == "AI-era strategic partner baseline"
    assert set(profile["levels"]) == set(DIMENSION_REFS)
    assert all(isinstance(v, int) and 1 <= v <= 5 for v in profile["levels"].values())
    # "Mostly 4, some 3 or 5."
    counts = Counter(profile["levels"].values())
    assert counts[4] > len(DIMENSION_REFS) / 2


def test_descriptors_and_recommendations(template):
    for d in template["dimensions"]:
        assert d.get("legacy") and d.get("modern"), d["ref"]
        assert list(d["descriptors"]) == ["1", "2", "3", "4", "5"], d["ref"]
        for level, text in d["descriptors"].items():
            assert 1 <= len(sentences(text)) <= 2, (d["ref"], level)
        assert sorted(d["recommendations"]) == ["2", "3", "4", "5"], d["ref"]
        for level, rec in d["recommendations"].items():
            assert len(rec["title"]) <= 80, (d["ref"], level)
            assert 1 <= len(sentences(rec["detail"])) <= 3, (d["ref"], level)
            assert rec["effort"] in {"small", "medium", "large"}, (d["ref"], level)


def test_question_counts(template):
    per_dimension = {d["ref"]: len(d["questions"]) for d in template["dimensions"]}
    assert all(3 <= n <= 5 for n in per_dimension.values()), per_dimension
    assert 35 <= sum(per_dimension.values()) <= 45


def test_choices(template):
    for _, q in questions(template):
        keys = [c["key"] for c in q["choices"]]
        levels = {c["level"] for c in q["choices"]}
        assert 3 <= len(keys) <= 5, q["ref"]
        assert len(set(keys)) == len(keys), q["ref"]
        assert len(levels) >= 2, q["ref"]
        assert levels & {1, 2}, q["ref"]
        assert levels & {4, 5}, q["ref"]
        assert q.get("weight", 1) in (1, 2), q["ref"]


def test_ten_hard_questions_each_once_in_their_dimension(template):
    found = Counter(q["hard_question"] for _, q in questions(template) if "hard_question" in q)
    assert sorted(found) == list(range(1, 11))
    assert all(n == 1 for n in found.values()), found
    for d, q in questions(template):
        if "hard_question" not in q:
            assert not any(c.get("red_flag") for c in q["choices"]), q["ref"]
            continue
        assert d["ref"] in HARD_QUESTIONS[q["hard_question"]], q["ref"]
        # The lowest choice is always a red flag, and no red flag sits above a choice that is not one.
        by_level = sorted(q["choices"], key=lambda c: c["level"])
        assert by_level[0].get("red_flag") is True, q["ref"]
        flagged = [c["level"] for c in by_level if c.get("red_flag")]
        unflagged = [c["level"] for c in by_level if not c.get("red_flag")]
        assert max(flagged) < min(unflagged), q["ref"]


def test_every_signal_used_once_on_a_question_it_can_prefill(template):
    used = Counter(q["signal"] for _, q in questions(template) if "signal" in q)
    assert set(used) == set(SIGNALS)
    assert all(n == 1 for n in used.values()), used
    for d, q in questions(template):
        if "signal" not in q:
            continue
        assert d["ref"] in SIGNALS[q["signal"]], q["ref"]
        # The prefill picks the highest choice not above the signal's level: a level-1 choice means any
        # signal value finds one, and a level-5 choice means the best value is representable.
        levels = {c["level"] for c in q["choices"]}
        assert {1, 5} <= levels, q["ref"]
    by_signal = {q["signal"]: q for _, q in questions(template) if "signal" in q}
    assert by_signal["shadow_ai.discovery"].get("hard_question") == 1
    assert by_signal["finops.unit_economics"].get("hard_question") == 6
    # MFA enforcement is prefilled on its own question, never on the phishing-resistant one (hard question 5).
    assert "hard_question" not in by_signal["security.mfa_enforced"]


def test_allow_na_only_where_it_can_apply(template):
    na = {q["ref"] for d, q in questions(template) if q.get("allow_na")}
    agents = {q["ref"] for q in template["dimensions"][DIMENSION_REFS.index("agent-guardrails")]["questions"]}
    assert na <= agents | {"cmp-dora-nis2"}
    for _, q in questions(template):
        if q.get("allow_na"):
            assert q.get("help", "").startswith("N/A only"), q["ref"]
