"""Repeated-seed statistics: mean, spread, t-based confidence intervals, Welch's t-test and verdicts.

A study trains every condition with n seeds; each number it reports is ``mean +- std`` with a 95%
confidence interval from Student's t distribution (n - 1 degrees of freedom), and each claim of the
original report is checked with Welch's unequal-variance t-test (Welch, "The generalization of
'Student's' problem when several different population variances are involved", Biometrika 1947) -
``scipy.stats.ttest_ind(equal_var=False)``, two-sided. A claim names a direction ("A more accurate than
B"): a significant difference in that direction *confirms* it, a significant difference the other way
*refutes* it, anything else is *not significant* at the run's n. With one run per condition there is
no variance to test against, and the verdict says so instead of guessing.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Sequence

ALPHA = 0.05  # significance level of every verdict
CONFIDENCE = 0.95  # level of the reported intervals

CONFIRMED = "confirmed"
REFUTED = "refuted"
NOT_SIGNIFICANT = "not significant"
NO_TEST = "no test (n=1)"  # fewer than two runs on a side: a variance can't be estimated
NO_DATA = "no data"  # a condition has no finished run
VERDICTS = (CONFIRMED, REFUTED, NOT_SIGNIFICANT, NO_TEST, NO_DATA)

DIRECTIONS = {">": "greater than", "<": "less than"}


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (ddof=1) and the t-based 95% CI of ``n`` values (NaN where undefined)."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """``values`` (any length) -> :class:`Summary`; n=0 gives NaNs, n=1 a mean with NaN spread and CI."""
    from scipy import stats

    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(xs)
    if n == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    mean = sum(xs) / n
    if n == 1:
        return Summary(1, mean, math.nan, math.nan, math.nan)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half)


@dataclass(frozen=True)
class TestResult:
    """A two-sided t-test: statistic, p-value, degrees of freedom (Welch-Satterthwaite for two samples)."""

    statistic: float
    p_value: float
    df: float


def welch(a: Sequence[float], b: Sequence[float]) -> TestResult:
    """Welch's two-sided t-test of mean(a) == mean(b); needs at least two values on each side.

    Two samples without any spread are compared exactly: p = 0 if their means differ, 1 if not
    (scipy returns NaN for the second case, which would read as "no evidence either way").
    """
    from scipy import stats

    a, b = [float(x) for x in a], [float(x) for x in b]
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's t-test needs at least two values in each sample")
    if _constant(a) and _constant(b):
        return _exact_test(a[0] - b[0], len(a) + len(b) - 2)
    with warnings.catch_warnings():  # "nearly identical data": the p-value is still the right answer
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_ind(a, b, equal_var=False)
    return TestResult(float(res.statistic), float(res.pvalue), float(res.df))


def one_sample(a: Sequence[float], value: float) -> TestResult:
    """Two-sided one-sample t-test of mean(a) == ``value`` (e.g. accuracy at chance level)."""
    from scipy import stats

    a = [float(x) for x in a]
    if len(a) < 2:
        raise ValueError("a one-sample t-test needs at least two values")
    if _constant(a):
        return _exact_test(a[0] - value, len(a) - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_1samp(a, value)
    return TestResult(float(res.statistic), float(res.pvalue), float(len(a) - 1))


def _constant(xs: list[float]) -> bool:
    return all(x == xs[0] for x in xs)


def _exact_test(difference: float, df: int) -> TestResult:
    """No spread on either side: the means differ for certain (p = 0) or not at all (p = 1)."""
    if difference == 0:
        return TestResult(0.0, 1.0, float(df))
    return TestResult(math.copysign(math.inf, difference), 0.0, float(df))


@dataclass(frozen=True)
class Verdict:
    """Outcome of checking "mean(a) <direction> mean(b)" (or a constant ``b``)."""

    verdict: str  # one of VERDICTS
    p_value: float | None  # two-sided; None where no test was run
    difference: float | None  # mean(a) - mean(b)
    test: str  # "welch", "one-sample t", or why there is none


def verdict(a: Sequence[float], b: Sequence[float] | float, direction: str, alpha: float = ALPHA) -> Verdict:
    """Check the claim ``mean(a) <direction> mean(b)``; ``direction`` is ``">"`` or ``"<"``.

    ``b`` is the other condition's values, or a number (then a one-sample test against it). Significant
    (two-sided p < ``alpha``) in the claimed direction -> confirmed; significant against it -> refuted;
    otherwise not significant. Fewer than two values on a side -> ``NO_TEST`` (the observed
    difference is still returned); an empty side -> ``NO_DATA``.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be '>' or '<', got {direction!r}")
    a = [float(x) for x in a if x is not None and not math.isnan(float(x))]
    constant = isinstance(b, (int, float))
    if not constant:
        b = [float(x) for x in b if x is not None and not math.isnan(float(x))]
    if not a or (not constant and not b):
        return Verdict(NO_DATA, None, None, "a condition has no finished run")
    mean_b = float(b) if constant else sum(b) / len(b)
    diff = sum(a) / len(a) - mean_b
    if len(a) < 2 or (not constant and len(b) < 2):
        return Verdict(NO_TEST, None, diff, "one run per condition: no variance to test against")
    result = one_sample(a, float(b)) if constant else welch(a, b)
    name = "one-sample t" if constant else "welch"
    if result.p_value < alpha and diff != 0:
        agrees = diff > 0 if direction == ">" else diff < 0
        return Verdict(CONFIRMED if agrees else REFUTED, result.p_value, diff, name)
    return Verdict(NOT_SIGNIFICANT, result.p_value, diff, name)


def exact_verdict(ours: float, original: float, rel_tol: float = 0.0) -> str:
    """A deterministic quantity (a parameter count): confirmed when within ``rel_tol`` of the original."""
    ok = ours == original if rel_tol == 0 else abs(ours - original) <= rel_tol * abs(original)
    return CONFIRMED if ok else REFUTED
