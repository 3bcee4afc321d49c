"""Drift of one feature or score (pure, numpy + scipy): validate a submission, profile it, compare two profiles.

A submission is raw values or a histogram; what is stored is a profile (bin edges frozen from the reference,
counts, n, and for raw numeric data a bounded sample for KS), never the raw data. Formulas follow the operations
notes §3.3, with Evidently's conventions where they matter (Sturges bins, empty bins floored at 1e-4 for PSI):

    psi = Σ (r_i − c_i)·ln(r_i / c_i)                          r, c = bin proportions, 0 → 1e-4
    js  = scipy.spatial.distance.jensenshannon(r, c, base=2)   distance in [0, 1], on the unfloored proportions
    ks  = scipy.stats.ks_2samp(ref_sample, cur_sample)         or the binned approximation (see `compare`)

PSI, JS and the KS statistic leave as Decimal (6 places, as DriftCheck stores them); the KS p-value is a float
and only reported when both sides kept every value and n ≤ 1000 (at larger n p-values flag any difference).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

NUMERIC = "numeric"
CATEGORICAL = "categorical"
KINDS = (NUMERIC, CATEGORICAL)

PROFILE_VERSION = 1
MAX_VALUES = 100_000  # raw values per submission; larger windows must be sent as a histogram
MAX_BINS = 1000  # histogram bins or distinct categories per submission
MAX_TOTAL = 2_147_483_647  # total count: DriftCheck.n is a PositiveIntegerField
SAMPLE_MAX = 10_000  # values kept on a profile for KS
KS_PVALUE_MAX_N = 1000
PSI_FLOOR = 1e-4  # Evidently: empty bins → 0.0001 so ln(r/c) stays finite
MAX_MESSAGES = 10  # per field, so a bad 100k list does not produce 100k messages

PSI_WARN = Decimal("0.1")
PSI_ALERT = Decimal("0.2")
JS_ALERT = Decimal("0.2")

STABLE = "stable"
MODERATE = "moderate"
SIGNIFICANT = "significant"

PLACES = Decimal("0.000001")
EDGE_TOLERANCE = 1e-9  # relative to the reference's span: histogram edges that survived a float round trip


class DriftInputError(ValueError):
    """A submission that cannot be profiled; `errors` lists "field: problem" messages for the caller."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


@dataclass(frozen=True)
class Submission:
    """A validated submission. Numeric: `values` (raw) or `edges` + `counts`; categorical: `categories`."""

    kind: str
    values: np.ndarray | None = None
    edges: np.ndarray | None = None
    counts: np.ndarray | None = None
    categories: dict[str, int] | None = None

    @property
    def n(self) -> int:
        if self.values is not None:
            return int(self.values.size)
        if self.counts is not None:
            return int(self.counts.sum())
        return sum(self.categories.values()) if self.categories else 0


@dataclass(frozen=True)
class DriftResult:
    psi: Decimal
    js: Decimal
    ks_statistic: Decimal | None
    ks_pvalue: float | None
    n_reference: int
    n_current: int
    labels: list[str] = field(default_factory=list)
    reference_share: list[Decimal] = field(default_factory=list)
    current_share: list[Decimal] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: decimals as strings (as SloStatus.burn_rates stores them)."""

        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "psi": text(self.psi),
            "js": text(self.js),
            "ks_statistic": text(self.ks_statistic),
            "ks_pvalue": self.ks_pvalue,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "labels": list(self.labels),
            "reference_share": [str(s) for s in self.reference_share],
            "current_share": [str(s) for s in self.current_share],
        }


# --- validation ---------------------------------------------------------------------------------------------


class _Errors:
    """Collects messages, at most MAX_MESSAGES per field (then one "…and N more")."""

    def __init__(self):
        self.messages: list[str] = []
        self._per_field: Counter[str] = Counter()

    def add(self, field_name: str, message: str, *, path: str | None = None) -> None:
        self._per_field[field_name] += 1
        seen = self._per_field[field_name]
        if seen <= MAX_MESSAGES:
            self.messages.append(f"{path or field_name}: {message}")

    def close(self) -> None:
        for field_name, seen in self._per_field.items():
            if seen > MAX_MESSAGES:
                self.messages.append(f"{field_name}: …and {seen - MAX_MESSAGES} more problems")
        if self.messages:
            raise DriftInputError(self.messages)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _finite_float(value: Any) -> tuple[float | None, str | None]:
    if not _is_number(value):
        return None, f"not a number ({type(value).__name__})"
    try:
        number = float(value)
    except (OverflowError, ValueError):
        return None, "too large"
    if math.isnan(number):
        return None, "NaN is not allowed"
    if math.isinf(number):
        return None, "infinity is not allowed"
    return number, None


def _count(value: Any) -> tuple[int | None, str | None]:
    if not isinstance(value, int) or isinstance(value, bool):
        return None, f"not an integer count ({type(value).__name__})"
    if value < 0:
        return None, f"negative count ({value})"
    return value, None


def _sized_list(errors: _Errors, name: str, value: Any, limit: int) -> bool:
    """Type and length first, so an oversized list is refused before a single element is looked at."""
    if not isinstance(value, list | tuple):
        errors.add(name, f"expected a list, got {type(value).__name__}")
        return False
    if len(value) == 0:
        errors.add(name, "is empty")
        return False
    if len(value) > limit:
        errors.add(name, f"{len(value)} items, at most {limit} allowed")
        return False
    return True


def _check_total(errors: _Errors, name: str, total: int) -> None:
    if total == 0:
        errors.add(name, "total count is 0")
    elif total > MAX_TOTAL:
        errors.add(name, f"total count {total} exceeds {MAX_TOTAL}")


def _parse_each(errors: _Errors, field: str, raw: list, parse) -> list:
    """Each item through `parse` (→ value, problem); every problem recorded with the item's path."""
    parsed = []
    for i, item in enumerate(raw):
        value, problem = parse(item)
        if problem:
            errors.add(field, problem, path=f"{field}[{i}]")
        else:
            parsed.append(value)
    return parsed


def _parse_numeric_values(errors: _Errors, raw: Any) -> np.ndarray | None:
    if not _sized_list(errors, "values", raw, MAX_VALUES):
        return None
    numbers = _parse_each(errors, "values", raw, _finite_float)
    if errors.messages:
        return None
    values = np.array(numbers, dtype=np.float64)
    if not math.isfinite(float(values.max()) - float(values.min())):
        errors.add("values", "range too wide to bin (max − min overflows)")
        return None
    return values


def _parse_histogram(errors: _Errors, raw_edges: Any, raw_counts: Any) -> tuple[np.ndarray, np.ndarray] | None:
    edges_ok = _sized_list(errors, "edges", raw_edges, MAX_BINS + 1)
    counts_ok = _sized_list(errors, "counts", raw_counts, MAX_BINS)
    if not (edges_ok and counts_ok):
        return None
    if len(raw_edges) < 2:
        errors.add("edges", "at least 2 edges (one bin) are needed")
    if len(raw_counts) != len(raw_edges) - 1:
        errors.add("counts", f"{len(raw_counts)} counts for {len(raw_edges)} edges; expected len(edges) − 1")
    edges = _parse_each(errors, "edges", raw_edges, _finite_float)
    if len(edges) == len(raw_edges):
        for i in range(1, len(edges)):
            if not edges[i] > edges[i - 1]:
                errors.add("edges", f"not strictly increasing ({edges[i - 1]!r} then {edges[i]!r})", path=f"edges[{i}]")
        if edges and not math.isfinite(edges[-1] - edges[0]):
            errors.add("edges", "range too wide (last − first overflows)")
    counts = _parse_each(errors, "counts", raw_counts, _count)
    if errors.messages:
        return None
    _check_total(errors, "counts", sum(counts))
    if errors.messages:
        return None
    return np.array(edges, dtype=np.float64), np.array(counts, dtype=np.int64)


def _parse_categories(errors: _Errors, raw: Any) -> dict[str, int] | None:
    if not isinstance(raw, dict):
        errors.add("categories", f"expected an object of category → count, got {type(raw).__name__}")
        return None
    if not raw:
        errors.add("categories", "is empty")
        return None
    if len(raw) > MAX_BINS:
        errors.add("categories", f"{len(raw)} categories, at most {MAX_BINS} allowed")
        return None
    categories: dict[str, int] = {}
    for name, item in raw.items():
        if not isinstance(name, str):
            errors.add(
                "categories", f"category names must be strings ({type(name).__name__})", path=f"categories.{name}"
            )
            continue
        number, problem = _count(item)
        if problem:
            errors.add("categories", problem, path=f"categories.{name}")
        else:
            categories[name] = number
    if errors.messages:
        return None
    _check_total(errors, "categories", sum(categories.values()))
    return None if errors.messages else categories


def _parse_categorical_values(errors: _Errors, raw: Any) -> dict[str, int] | None:
    if not _sized_list(errors, "values", raw, MAX_VALUES):
        return None
    names: list[str] = []
    for i, item in enumerate(raw):
        # Integer labels (0/1 predictions) are accepted and counted under their decimal text.
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            names.append(str(item))
        else:
            errors.add("values", f"not a category name ({type(item).__name__})", path=f"values[{i}]")
    if errors.messages:
        return None
    counted = Counter(names)
    if len(counted) > MAX_BINS:
        errors.add("values", f"{len(counted)} distinct categories, at most {MAX_BINS} allowed")
        return None
    return dict(counted)


def parse_submission(kind: str, submission: Any) -> Submission:
    """Validate raw values or a histogram of one window; raises DriftInputError listing every problem found."""
    errors = _Errors()
    if kind not in KINDS:
        errors.add("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
        errors.close()
    if not isinstance(submission, dict):
        errors.add("submission", f"expected an object, got {type(submission).__name__}")
        errors.close()
    allowed = {"values", "edges", "counts"} if kind == NUMERIC else {"values", "categories"}
    for key in sorted(set(submission) - allowed, key=str):
        errors.add(str(key), f"unknown field for a {kind} submission (expected {', '.join(sorted(allowed))})")
    errors.close()

    if kind == NUMERIC:
        has_histogram = "edges" in submission or "counts" in submission
        if "values" in submission and has_histogram:
            errors.add("submission", "give either values or edges and counts, not both")
        elif "values" in submission:
            values = _parse_numeric_values(errors, submission["values"])
            errors.close()
            return Submission(kind=kind, values=values)
        elif has_histogram:
            for key in ("edges", "counts"):
                if key not in submission:
                    errors.add(key, "required with a histogram")
            errors.close()
            parsed = _parse_histogram(errors, submission["edges"], submission["counts"])
            errors.close()
            return Submission(kind=kind, edges=parsed[0], counts=parsed[1])
        else:
            errors.add("submission", "no data: give values, or edges and counts")
        errors.close()

    if "values" in submission and "categories" in submission:
        errors.add("submission", "give either values or categories, not both")
    elif "values" in submission:
        categories = _parse_categorical_values(errors, submission["values"])
        errors.close()
        return Submission(kind=kind, categories=categories)
    elif "categories" in submission:
        categories = _parse_categories(errors, submission["categories"])
        errors.close()
        return Submission(kind=kind, categories=categories)
    else:
        errors.add("submission", "no data: give values or categories")
    errors.close()
    raise AssertionError("unreachable")  # pragma: no cover


# --- profiles -----------------------------------------------------------------------------------------------


def sturges_bins(n: int) -> int:
    """Sturges' rule k = ⌈log2 n⌉ + 1 (the `bins="sturges"` of numpy that Evidently's PSI uses), at least 2."""
    return max(2, math.ceil(math.log2(n)) + 1) if n > 0 else 2


def _reference_edges(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if low == high:
        # One bin around the single value; wide enough that ±half is representable next to a large value.
        half = max(0.5, abs(low) * 1e-6)
        return np.array([low - half, low + half])
    edges = np.unique(np.linspace(low, high, sturges_bins(int(values.size)) + 1))
    # np.unique only matters when the span is a few ulps wide and linspace repeats an edge.
    return edges if edges.size >= 2 else np.array([low, high])


def _bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts on [e_i, e_i+1) bins, the last one closed (as np.histogram). Values below the first edge are
    counted in the first bin and values above the last edge in the last bin: the reference's edges stay frozen
    and a current window's outliers still weigh on PSI and JS instead of vanishing."""
    k = edges.size - 1
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, k - 1)
    return np.bincount(index, minlength=k)


def _sample(values: np.ndarray) -> list[float]:
    """Sorted values, or SAMPLE_MAX evenly spaced order statistics (min and max included) so quantiles and the
    empirical CDF are kept deterministically."""
    ordered = np.sort(values)
    if ordered.size > SAMPLE_MAX:
        ordered = ordered[np.round(np.linspace(0, ordered.size - 1, SAMPLE_MAX)).astype(np.int64)]
    return ordered.tolist()


def _numeric_profile(edges: np.ndarray, counts: np.ndarray, sample: list[float] | None) -> dict[str, Any]:
    return {
        "version": PROFILE_VERSION,
        "kind": NUMERIC,
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in counts],
        "n": int(counts.sum()),
        "sample": sample,
    }


def _categorical_profile(categories: dict[str, int]) -> dict[str, Any]:
    ordered = {name: int(categories[name]) for name in sorted(categories)}
    return {"version": PROFILE_VERSION, "kind": CATEGORICAL, "categories": ordered, "n": sum(ordered.values())}


def reference_profile(kind: str, submission: Any) -> dict[str, Any]:
    """The profile to pin on DriftMonitor.reference: Sturges edges from raw values (or the histogram's own
    edges), counts, n and a sample of ≤ SAMPLE_MAX values when raw values were given; categorical counts."""
    parsed = parse_submission(kind, submission)
    if kind == CATEGORICAL:
        return _categorical_profile(parsed.categories)
    if parsed.values is not None:
        edges = _reference_edges(parsed.values)
        return _numeric_profile(edges, _bin_counts(parsed.values, edges), _sample(parsed.values))
    return _numeric_profile(parsed.edges, parsed.counts, None)


def _check_profile(profile: Any, name: str) -> str:
    if not isinstance(profile, dict) or profile.get("kind") not in KINDS:
        raise ValueError(f"{name}: not a drift profile")
    if profile["kind"] == NUMERIC:
        edges, counts = profile.get("edges"), profile.get("counts")
        if not isinstance(edges, list) or not isinstance(counts, list) or len(edges) != len(counts) + 1 or not counts:
            raise ValueError(f"{name}: numeric profile without matching edges and counts")
    elif not isinstance(profile.get("categories"), dict):
        raise ValueError(f"{name}: categorical profile without categories")
    return profile["kind"]


def _same_edges(reference: list[float], other: list[float]) -> bool:
    if len(reference) != len(other):
        return False
    tolerance = EDGE_TOLERANCE * (reference[-1] - reference[0])
    return all(abs(a - b) <= tolerance for a, b in zip(reference, other, strict=True))


def current_profile(reference_profile: dict[str, Any], kind: str, submission: Any) -> dict[str, Any]:
    """The current window on the reference's frame: raw values binned on its edges (sample kept), a histogram
    that must use the same edges, or categorical counts on the union of both sides' categories."""
    reference_kind = _check_profile(reference_profile, "reference")
    if reference_kind != kind:
        raise DriftInputError([f"kind: the reference is {reference_kind}, the submission says {kind}"])
    parsed = parse_submission(kind, submission)
    if kind == CATEGORICAL:
        union = dict.fromkeys(reference_profile["categories"], 0) | parsed.categories
        return _categorical_profile(union)
    edges = reference_profile["edges"]
    if parsed.values is not None:
        frozen = np.array(edges, dtype=np.float64)
        return _numeric_profile(frozen, _bin_counts(parsed.values, frozen), _sample(parsed.values))
    if not _same_edges(edges, parsed.edges.tolist()):
        raise DriftInputError(
            [f"edges: must be the reference's {len(edges)} edges {edges} (got {len(parsed.edges)} different ones)"]
        )
    return _numeric_profile(np.array(edges, dtype=np.float64), parsed.counts, None)


# --- comparison ---------------------------------------------------------------------------------------------


def _decimal(value: float) -> Decimal:
    value = float(value)
    return Decimal(value if value > 0 else 0.0).quantize(PLACES, rounding=ROUND_HALF_EVEN)


def _label(low: float, high: float, last: bool) -> str:
    return f"[{low:.6g}, {high:.6g}{']' if last else ')'}"


def population_stability_index(reference_share: np.ndarray, current_share: np.ndarray) -> float:
    """Population stability index on bin proportions; empty bins count as PSI_FLOOR (Evidently's 0.0001)."""
    r = np.where(reference_share == 0, PSI_FLOOR, reference_share)
    c = np.where(current_share == 0, PSI_FLOOR, current_share)
    return float(np.sum((r - c) * np.log(r / c)))


def js_distance(reference_share: np.ndarray, current_share: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2 (0 identical, 1 disjoint)."""
    with np.errstate(invalid="ignore"):
        value = float(jensenshannon(reference_share, current_share, base=2))
    # sqrt of a divergence rounded a hair below 0 is NaN: the distributions are identical to float precision.
    return 0.0 if math.isnan(value) else value


def compare(reference_profile: dict[str, Any], current_profile: dict[str, Any]) -> DriftResult:
    """PSI, JS and KS between two profiles on the same bins or categories.

    KS statistic: scipy's two-sample KS on the kept samples when both sides have one (a subsample above
    SAMPLE_MAX values); otherwise the binned approximation max_i |R_i − C_i| over the cumulative bin
    proportions, which can only understate the exact statistic (the CDFs are compared at the edges only).
    The p-value needs the full data of both sides, n ≤ KS_PVALUE_MAX_N each. Categorical: no KS."""
    kind = _check_profile(reference_profile, "reference")
    if _check_profile(current_profile, "current") != kind:
        raise ValueError("reference and current profiles are of different kinds")

    if kind == CATEGORICAL:
        labels = sorted(set(reference_profile["categories"]) | set(current_profile["categories"]))
        ref_counts = np.array([reference_profile["categories"].get(n, 0) for n in labels], dtype=np.float64)
        cur_counts = np.array([current_profile["categories"].get(n, 0) for n in labels], dtype=np.float64)
    else:
        edges = reference_profile["edges"]
        if not _same_edges(edges, current_profile["edges"]):
            raise ValueError("current profile is not on the reference's bin edges")
        labels = [_label(edges[i], edges[i + 1], i == len(edges) - 2) for i in range(len(edges) - 1)]
        ref_counts = np.array(reference_profile["counts"], dtype=np.float64)
        cur_counts = np.array(current_profile["counts"], dtype=np.float64)

    n_reference, n_current = int(ref_counts.sum()), int(cur_counts.sum())
    if n_reference == 0 or n_current == 0:
        raise ValueError("a profile with no observations cannot be compared")
    r, c = ref_counts / n_reference, cur_counts / n_current

    ks_statistic: Decimal | None = None
    ks_pvalue: float | None = None
    if kind == NUMERIC:
        ref_sample, cur_sample = reference_profile.get("sample"), current_profile.get("sample")
        if ref_sample and cur_sample:
            result = stats.ks_2samp(np.asarray(ref_sample, dtype=np.float64), np.asarray(cur_sample, dtype=np.float64))
            ks_statistic = _decimal(result.statistic)
            full = len(ref_sample) == n_reference and len(cur_sample) == n_current
            if full and n_reference <= KS_PVALUE_MAX_N and n_current <= KS_PVALUE_MAX_N:
                ks_pvalue = float(result.pvalue)
        else:
            ks_statistic = _decimal(np.max(np.abs(np.cumsum(r) - np.cumsum(c))))

    return DriftResult(
        psi=_decimal(population_stability_index(r, c)),
        js=_decimal(js_distance(r, c)),
        ks_statistic=ks_statistic,
        ks_pvalue=ks_pvalue,
        n_reference=n_reference,
        n_current=n_current,
        labels=labels,
        reference_share=[_decimal(s) for s in r],
        current_share=[_decimal(s) for s in c],
    )


def classify(
    psi: Decimal,
    js: Decimal,
    psi_warn: Decimal = PSI_WARN,
    psi_alert: Decimal = PSI_ALERT,
    js_alert: Decimal = JS_ALERT,
) -> str:
    """DriftCheck.Status value: significant at PSI ≥ alert or JS ≥ alert, moderate at PSI ≥ warn, else stable."""
    if psi >= psi_alert or js >= js_alert:
        return SIGNIFICANT
    if psi >= psi_warn:
        return MODERATE
    return STABLE
