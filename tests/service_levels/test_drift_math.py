"""Drift arithmetic (no database): PSI worked by hand, JS and KS against scipy, bins, validation, profiles."""

from __future__ import annotations

import json
import math
import time
from decimal import Decimal

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from apps.service_levels import drift
from apps.service_levels.drift import (
    DriftInputError,
    classify,
    compare,
    current_profile,
    reference_profile,
    sturges_bins,
)

Q = Decimal("0.000001")
EDGES = [0.0, 1.0, 2.0, 3.0, 4.0]


def q6(value: float) -> Decimal:
    return Decimal(float(value)).quantize(Q)


def histogram(counts: list[int], edges: list[float] = EDGES) -> dict:
    return {"edges": list(edges), "counts": counts}


# --- PSI ----------------------------------------------------------------------------------------------------


def test_psi_worked_example_with_an_empty_bin():
    # Reference 25/25/25/25 of 100 → r = 0.25 each. Current 40/30/30/0 of 100 → c = 0.40, 0.30, 0.30, 0 → 1e-4.
    #   bin 1: (0.25 − 0.40)·ln(0.25/0.40)   = (−0.15)·(−0.470004) = 0.070501
    #   bin 2: (0.25 − 0.30)·ln(0.25/0.30)   = (−0.05)·(−0.182322) = 0.009116
    #   bin 3: same as bin 2                                        = 0.009116
    #   bin 4: (0.25 − 0.0001)·ln(0.25/0.0001) = 0.2499·7.824046   = 1.955229
    #   PSI = 0.070501 + 0.009116 + 0.009116 + 1.955229             = 2.043962
    ref = reference_profile("numeric", histogram([25, 25, 25, 25]))
    cur = current_profile(ref, "numeric", histogram([40, 30, 30, 0]))
    result = compare(ref, cur)
    assert result.psi == Decimal("2.043962")
    assert result.n_reference == 100 and result.n_current == 100
    assert result.labels == ["[0, 1)", "[1, 2)", "[2, 3)", "[3, 4]"]
    assert result.reference_share == [Decimal("0.250000")] * 4
    assert result.current_share == [Decimal("0.400000"), Decimal("0.300000"), Decimal("0.300000"), Decimal("0")]
    # Histograms on both sides: KS is the binned approximation, max |cumulative r − cumulative c|:
    #   cumulative r = 0.25, 0.50, 0.75, 1; cumulative c = 0.40, 0.70, 1.00, 1 → |diff| = 0.15, 0.20, 0.25, 0
    assert result.ks_statistic == Decimal("0.250000")
    assert result.ks_pvalue is None
    # JS is computed on the unfloored proportions.
    assert result.js == q6(jensenshannon([0.25] * 4, [0.4, 0.3, 0.3, 0.0], base=2))


def test_psi_of_identical_histograms_is_zero():
    ref = reference_profile("numeric", histogram([5, 0, 7, 9]))
    result = compare(ref, current_profile(ref, "numeric", histogram([10, 0, 14, 18])))
    assert result.psi == Decimal("0.000000")
    assert result.js == Decimal("0.000000")
    assert result.ks_statistic == Decimal("0.000000")


# --- JS -----------------------------------------------------------------------------------------------------


def test_js_matches_scipy_base_2():
    ref = reference_profile("numeric", histogram([10, 20, 30, 40]))
    result = compare(ref, current_profile(ref, "numeric", histogram([40, 30, 20, 10])))
    expected = jensenshannon([0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], base=2)
    assert result.js == q6(expected)
    assert Decimal("0.2") < result.js < Decimal("0.4")  # sanity: scipy's value is 0.2653…


def test_js_is_zero_for_identical_and_one_for_disjoint():
    ref = reference_profile("categorical", {"categories": {"a": 3, "b": 1}})
    identical = compare(ref, current_profile(ref, "categorical", {"categories": {"a": 30, "b": 10}}))
    assert identical.js == Decimal("0.000000")
    assert identical.psi == Decimal("0.000000")
    disjoint = compare(ref, current_profile(ref, "categorical", {"categories": {"c": 5, "d": 5}}))
    assert disjoint.js == Decimal("1.000000")


# --- KS -----------------------------------------------------------------------------------------------------


def test_ks_statistic_and_pvalue_match_scipy_for_small_samples():
    a = np.random.default_rng(7).normal(0.0, 1.0, 800)
    b = np.random.default_rng(8).normal(0.15, 1.1, 600)
    expected = stats.ks_2samp(a, b)
    ref = reference_profile("numeric", {"values": a.tolist()})
    result = compare(ref, current_profile(ref, "numeric", {"values": b.tolist()}))
    assert result.ks_statistic == q6(expected.statistic)
    assert result.ks_pvalue == pytest.approx(expected.pvalue, rel=1e-12)
    assert 0 < result.ks_pvalue < 1
    assert result.n_reference == 800 and result.n_current == 600


def test_ks_pvalue_is_none_above_1000_values_but_the_statistic_stays_exact():
    a = np.random.default_rng(1).normal(size=1001)
    b = np.random.default_rng(2).normal(size=500)
    ref = reference_profile("numeric", {"values": a.tolist()})
    result = compare(ref, current_profile(ref, "numeric", {"values": b.tolist()}))
    assert result.ks_pvalue is None
    assert result.ks_statistic == q6(stats.ks_2samp(a, b).statistic)
    # The other side above 1000 too.
    result = compare(
        reference_profile("numeric", {"values": b.tolist()}),
        current_profile(reference_profile("numeric", {"values": b.tolist()}), "numeric", {"values": a.tolist()}),
    )
    assert result.ks_pvalue is None


def test_ks_falls_back_to_binned_cdf_when_one_side_is_a_histogram():
    values = [0.5] * 10 + [1.5] * 30 + [2.5] * 60  # on Sturges edges of [0.5, 2.5]: 8 bins
    ref = reference_profile("numeric", {"values": values})
    counts = [0] * len(ref["counts"])
    counts[0], counts[-1] = 50, 50
    result = compare(ref, current_profile(ref, "numeric", {"edges": ref["edges"], "counts": counts}))
    r = np.array(ref["counts"]) / 100
    c = np.array(counts) / 100
    assert result.ks_statistic == q6(np.max(np.abs(np.cumsum(r) - np.cumsum(c))))
    assert result.ks_statistic == Decimal("0.400000")  # cumulative 0.10 / 0.40 (from the 1.5 bin) vs 0.50 / 0.50
    assert result.ks_pvalue is None


def test_categorical_has_no_ks():
    ref = reference_profile("categorical", {"values": ["a", "b", "a"]})
    result = compare(ref, current_profile(ref, "categorical", {"values": ["b", "b"]}))
    assert result.ks_statistic is None and result.ks_pvalue is None


# --- classification on realistic samples --------------------------------------------------------------------


def test_clearly_shifted_lognormal_is_significant():
    reference = np.random.default_rng(11).lognormal(5.0, 0.4, 5000)
    shifted = np.random.default_rng(12).lognormal(5.6, 0.4, 5000)
    ref = reference_profile("numeric", {"values": reference.tolist()})
    result = compare(ref, current_profile(ref, "numeric", {"values": shifted.tolist()}))
    assert result.psi >= Decimal("0.2")
    assert result.js >= Decimal("0.2")
    assert result.ks_statistic == q6(stats.ks_2samp(reference, shifted).statistic)
    assert result.ks_pvalue is None  # n = 5000
    assert classify(result.psi, result.js) == "significant"


def test_same_distribution_is_stable():
    a = np.random.default_rng(21).lognormal(5.0, 0.4, 5000)
    b = np.random.default_rng(22).lognormal(5.0, 0.4, 5000)
    ref = reference_profile("numeric", {"values": a.tolist()})
    result = compare(ref, current_profile(ref, "numeric", {"values": b.tolist()}))
    assert result.psi < Decimal("0.1")
    assert result.js < Decimal("0.2")
    assert classify(result.psi, result.js) == "stable"


@pytest.mark.parametrize(
    ("psi", "js", "expected"),
    [
        ("0", "0", "stable"),
        ("0.099999", "0.199999", "stable"),
        ("0.1", "0", "moderate"),
        ("0.199999", "0.1", "moderate"),
        ("0.2", "0", "significant"),
        ("0", "0.2", "significant"),
        ("0.05", "0.5", "significant"),
    ],
)
def test_classify_default_thresholds(psi, js, expected):
    assert classify(Decimal(psi), Decimal(js)) == expected


def test_classify_custom_thresholds_and_defaults_as_constants():
    defaults = (drift.PSI_WARN, drift.PSI_ALERT, drift.JS_ALERT)
    assert defaults == (Decimal("0.1"), Decimal("0.2"), Decimal("0.2"))
    kwargs = {"psi_warn": Decimal("0.25"), "psi_alert": Decimal("0.5"), "js_alert": Decimal("0.3")}
    assert classify(Decimal("0.2"), Decimal("0.1"), **kwargs) == "stable"
    assert classify(Decimal("0.3"), Decimal("0.1"), **kwargs) == "moderate"
    assert classify(Decimal("0.3"), Decimal("0.3"), **kwargs) == "significant"


# --- bins ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "bins"), [(1, 2), (2, 2), (3, 3), (8, 4), (9, 5), (1000, 11), (1024, 11), (1025, 12)])
def test_sturges_rule(n, bins):
    assert sturges_bins(n) == bins  # ⌈log2 n⌉ + 1, at least 2
    assert bins == max(2, math.ceil(math.log2(n)) + 1)


def test_reference_edges_follow_sturges_on_the_reference():
    values = np.random.default_rng(3).normal(10, 2, 5000)
    profile = reference_profile("numeric", {"values": values.tolist()})
    assert len(profile["counts"]) == 14  # ⌈log2 5000⌉ + 1 = 13 + 1
    assert len(profile["edges"]) == 15
    assert profile["edges"][0] == values.min() and profile["edges"][-1] == values.max()
    assert np.allclose(np.diff(profile["edges"]), (values.max() - values.min()) / 14)
    assert profile["counts"] == np.histogram(values, bins=profile["edges"])[0].tolist()
    assert profile["n"] == 5000 and sum(profile["counts"]) == 5000


def test_two_distinct_values_give_two_bins_and_equal_values_one_bin():
    assert reference_profile("numeric", {"values": [1.0, 3.0]})["edges"] == [1.0, 2.0, 3.0]
    assert reference_profile("numeric", {"values": [1.0, 3.0]})["counts"] == [1, 1]
    same = reference_profile("numeric", {"values": [7, 7, 7]})
    assert same["edges"] == [6.5, 7.5] and same["counts"] == [3] and same["n"] == 3


def test_out_of_range_current_values_land_in_the_end_bins():
    ref = reference_profile("numeric", {"values": np.linspace(0, 10, 101).tolist()})  # 8 bins of 1.25 on [0, 10]
    assert ref["edges"][0] == 0.0 and ref["edges"][-1] == 10.0 and len(ref["counts"]) == 8
    cur = current_profile(ref, "numeric", {"values": [-100, -0.001, 0, 5, 10, 10.5, 1e6]})
    assert cur["edges"] == ref["edges"]
    assert cur["counts"] == [3, 0, 0, 0, 1, 0, 0, 3]  # 5 is in [5, 6.25)
    assert cur["n"] == 7
    assert cur["sample"] == [-100.0, -0.001, 0.0, 5.0, 10.0, 10.5, 1e6]


# --- histograms ---------------------------------------------------------------------------------------------


def test_histogram_reference_keeps_its_edges_and_has_no_sample():
    profile = reference_profile("numeric", histogram([1, 2, 3, 4]))
    assert profile == {"version": 1, "kind": "numeric", "edges": EDGES, "counts": [1, 2, 3, 4], "n": 10, "sample": None}


@pytest.mark.parametrize(
    "edges",
    [
        [0.0, 1.0, 2.0, 3.0, 5.0],  # same count, one edge moved
        [0.0, 2.0, 4.0],  # fewer bins
        [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],  # more bins
    ],
)
def test_current_histogram_on_other_edges_is_refused(edges):
    ref = reference_profile("numeric", histogram([1, 2, 3, 4]))
    with pytest.raises(DriftInputError) as caught:
        current_profile(ref, "numeric", {"edges": edges, "counts": [1] * (len(edges) - 1)})
    assert caught.value.errors[0].startswith("edges: must be the reference's 5 edges")


def test_current_histogram_tolerates_float_noise_in_edges():
    ref = reference_profile("numeric", histogram([1, 2, 3, 4]))
    noisy = [e + 1e-13 for e in EDGES]
    cur = current_profile(ref, "numeric", {"edges": noisy, "counts": [4, 3, 2, 1]})
    assert cur["edges"] == EDGES  # stored on the reference's exact edges


def test_kind_mismatch_is_refused():
    ref = reference_profile("numeric", histogram([1, 2, 3, 4]))
    with pytest.raises(DriftInputError, match="the reference is numeric"):
        current_profile(ref, "categorical", {"categories": {"a": 1}})


# --- categorical --------------------------------------------------------------------------------------------


def test_category_only_in_current():
    ref = reference_profile("categorical", {"categories": {"b": 50, "a": 50}})
    assert ref == {"version": 1, "kind": "categorical", "categories": {"a": 50, "b": 50}, "n": 100}
    cur = current_profile(ref, "categorical", {"values": ["a"] * 50 + ["c"] * 50})
    assert cur["categories"] == {"a": 50, "b": 0, "c": 50}
    result = compare(ref, cur)
    assert result.labels == ["a", "b", "c"]
    assert result.reference_share == [Decimal("0.5"), Decimal("0.5"), Decimal("0")]
    assert result.current_share == [Decimal("0.5"), Decimal("0"), Decimal("0.5")]
    # PSI: a → 0; b: (0.5 − 1e-4)·ln(0.5/1e-4); c: (1e-4 − 0.5)·ln(1e-4/0.5) → 2 · 0.4999 · ln 5000
    #    = 2 · 0.4999 · 8.517193 = 8.515490
    assert result.psi == Decimal("8.515490")
    # JS: m = (0.5, 0.25, 0.25); KL(r‖m) = KL(c‖m) = 0.5·ln 2 → divergence (base 2) = 0.5 → distance √0.5
    assert result.js == Decimal("0.707107")


def test_categorical_integer_labels_are_counted_as_text():
    profile = reference_profile("categorical", {"values": [0, 1, 1, "1"]})
    assert profile["categories"] == {"0": 1, "1": 3}


# --- validation ---------------------------------------------------------------------------------------------


def _errors(kind: str, submission) -> list[str]:
    with pytest.raises(DriftInputError) as caught:
        reference_profile(kind, submission)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == "; ".join(caught.value.errors)
    return caught.value.errors


@pytest.mark.parametrize(
    ("kind", "submission", "expected"),
    [
        ("numeric", {"values": []}, ["values: is empty"]),
        ("numeric", {}, ["submission: no data: give values, or edges and counts"]),
        ("numeric", {"values": [1.0, float("nan")]}, ["values[1]: NaN is not allowed"]),
        (
            "numeric",
            {"values": [float("inf"), float("-inf")]},
            [
                "values[0]: infinity is not allowed",
                "values[1]: infinity is not allowed",
            ],
        ),
        (
            "numeric",
            {"values": [1, "2", None, True]},
            [
                "values[1]: not a number (str)",
                "values[2]: not a number (NoneType)",
                "values[3]: not a number (bool)",
            ],
        ),
        ("numeric", {"values": "1,2,3"}, ["values: expected a list, got str"]),
        ("numeric", {"values": [10**400]}, ["values[0]: too large"]),
        ("numeric", {"values": [-1e308, 1e308]}, ["values: range too wide to bin (max − min overflows)"]),
        ("numeric", {"edges": [0, 1, 2], "counts": [1, -2]}, ["counts[1]: negative count (-2)"]),
        ("numeric", {"edges": [0, 1, 2], "counts": [1, 1.5]}, ["counts[1]: not an integer count (float)"]),
        ("numeric", {"edges": [0, 2, 1], "counts": [1, 1]}, ["edges[2]: not strictly increasing (2.0 then 1.0)"]),
        ("numeric", {"edges": [0, 1, 1], "counts": [1, 1]}, ["edges[2]: not strictly increasing (1.0 then 1.0)"]),
        ("numeric", {"edges": [0, float("nan")], "counts": [1]}, ["edges[1]: NaN is not allowed"]),
        ("numeric", {"edges": [0, 1, 2], "counts": [1]}, ["counts: 1 counts for 3 edges; expected len(edges) − 1"]),
        ("numeric", {"edges": [0, 1], "counts": [1, 2]}, ["counts: 2 counts for 2 edges; expected len(edges) − 1"]),
        ("numeric", {"edges": [0], "counts": []}, ["counts: is empty"]),
        ("numeric", {"edges": [0, 1, 2], "counts": [0, 0]}, ["counts: total count is 0"]),
        ("numeric", {"edges": [0, 1]}, ["counts: required with a histogram"]),
        (
            "numeric",
            {"edges": list(range(1002)), "counts": [1] * 1001},
            ["edges: 1002 items, at most 1001 allowed", "counts: 1001 items, at most 1000 allowed"],
        ),
        (
            "numeric",
            {"values": [1], "edges": [0, 1], "counts": [1]},
            ["submission: give either values or edges and counts, not both"],
        ),
        (
            "numeric",
            {"values": [1], "weights": [1]},
            ["weights: unknown field for a numeric submission (expected counts, edges, values)"],
        ),
        (
            "numeric",
            {"categories": {"a": 1}},
            ["categories: unknown field for a numeric submission (expected counts, edges, values)"],
        ),
        ("numeric", [1, 2, 3], ["submission: expected an object, got list"]),
        ("ordinal", {"values": [1]}, ["kind: must be one of numeric, categorical, got 'ordinal'"]),
        ("categorical", {"categories": {}}, ["categories: is empty"]),
        ("categorical", {"categories": {"a": 0, "b": 0}}, ["categories: total count is 0"]),
        ("categorical", {"categories": {"a": -1}}, ["categories.a: negative count (-1)"]),
        ("categorical", {"categories": {"a": "3"}}, ["categories.a: not an integer count (str)"]),
        (
            "categorical",
            {"categories": {str(i): 1 for i in range(1001)}},
            ["categories: 1001 categories, at most 1000 allowed"],
        ),
        ("categorical", {"values": []}, ["values: is empty"]),
        (
            "categorical",
            {"values": ["a", 1.5, None]},
            [
                "values[1]: not a category name (float)",
                "values[2]: not a category name (NoneType)",
            ],
        ),
        (
            "categorical",
            {"values": [str(i) for i in range(1001)]},
            ["values: 1001 distinct categories, at most 1000 allowed"],
        ),
        (
            "categorical",
            {"edges": [0, 1], "counts": [1]},
            [
                "counts: unknown field for a categorical submission (expected categories, values)",
                "edges: unknown field for a categorical submission (expected categories, values)",
            ],
        ),
    ],
)
def test_bad_input_is_refused_with_messages(kind, submission, expected):
    assert _errors(kind, submission) == expected


def test_messages_are_capped_per_field():
    errors = _errors("numeric", {"values": ["x"] * 50})
    assert len(errors) == drift.MAX_MESSAGES + 1
    assert errors[0] == "values[0]: not a number (str)"
    assert errors[-1] == "values: …and 40 more problems"


def test_max_values_boundary():
    assert reference_profile("numeric", {"values": [1.0, 2.0] * 50_000})["n"] == 100_000
    assert _errors("numeric", {"values": [1.0] * 100_001}) == ["values: 100001 items, at most 100000 allowed"]
    assert _errors("categorical", {"values": ["a"] * 100_001}) == ["values: 100001 items, at most 100000 allowed"]


class _Untouchable(list):
    """A list whose elements must not be read: only its length may be asked."""

    def __iter__(self):
        raise AssertionError("the oversized list was iterated")

    def __getitem__(self, index):
        raise AssertionError("the oversized list was indexed")


def test_a_million_values_are_refused_by_length_alone(monkeypatch):
    huge = _Untouchable([0.5] * 1_000_001)

    def no_array(*args, **kwargs):
        raise AssertionError("a numpy array was built")

    for name in ("array", "asarray", "asanyarray", "fromiter"):
        monkeypatch.setattr(drift.np, name, no_array)
    started = time.perf_counter()
    for kind in ("numeric", "categorical"):
        with pytest.raises(DriftInputError) as caught:
            reference_profile(kind, {"values": huge})
        assert caught.value.errors == ["values: 1000001 items, at most 100000 allowed"]
    ref = {"version": 1, "kind": "numeric", "edges": EDGES, "counts": [1, 1, 1, 1], "n": 4, "sample": None}
    with pytest.raises(DriftInputError, match="1000001 items"):
        current_profile(ref, "numeric", {"values": huge})
    assert time.perf_counter() - started < 0.5


# --- profiles -----------------------------------------------------------------------------------------------


def test_profiles_are_json_serialisable_and_round_trip():
    values = np.random.default_rng(5).gamma(2.0, 3.0, 700).tolist()
    current = np.random.default_rng(6).gamma(2.2, 3.0, 900).tolist()
    ref = reference_profile("numeric", {"values": values})
    cur = current_profile(ref, "numeric", {"values": current})
    ref_back, cur_back = json.loads(json.dumps(ref)), json.loads(json.dumps(cur))
    assert ref_back == ref and cur_back == cur
    assert compare(ref_back, cur_back) == compare(ref, cur)
    for profile in (
        reference_profile("numeric", histogram([1, 2, 3, 4])),
        reference_profile("categorical", {"values": ["x", "y", "x"]}),
    ):
        assert json.loads(json.dumps(profile)) == profile
    # The result's own JSON form: decimals as strings.
    as_json = json.loads(json.dumps(compare(ref, cur).as_dict()))
    assert Decimal(as_json["psi"]) == compare(ref, cur).psi
    assert len(as_json["labels"]) == len(as_json["reference_share"]) == len(ref["counts"])


def test_profiles_are_deterministic_and_order_independent():
    values = np.random.default_rng(9).normal(size=3000)
    shuffled = values.copy()
    np.random.default_rng(10).shuffle(shuffled)
    first = reference_profile("numeric", {"values": values.tolist()})
    second = reference_profile("numeric", {"values": shuffled.tolist()})
    assert json.dumps(first) == json.dumps(second)
    cats_a = reference_profile("categorical", {"values": ["b", "a", "c", "a"]})
    cats_b = reference_profile("categorical", {"categories": {"c": 1, "a": 2, "b": 1}})
    assert json.dumps(cats_a) == json.dumps(cats_b)
    assert list(cats_a["categories"]) == ["a", "b", "c"]


def test_large_reference_keeps_an_evenly_spaced_sample():
    values = np.random.default_rng(4).exponential(2.0, 25_000)
    profile = reference_profile("numeric", {"values": values.tolist()})
    sample = np.array(profile["sample"])
    assert profile["n"] == 25_000 and sum(profile["counts"]) == 25_000
    assert sample.size == drift.SAMPLE_MAX
    assert sample[0] == values.min() and sample[-1] == values.max()
    assert np.all(np.diff(sample) >= 0)
    for q in (0.1, 0.5, 0.9, 0.99):
        assert np.quantile(sample, q) == pytest.approx(np.quantile(values, q), rel=2e-3)
    assert reference_profile("numeric", {"values": values.tolist()}) == profile
