"""Repeated-seed statistics: summaries, the difference of two conditions with its confidence interval,
effect size, tests of difference and of equivalence, multiple-testing correction and detectable effects.

A study trains every condition with n seeds. Each number it reports is ``mean +- std`` with a 95%
t-interval. Comparing two conditions uses Welch's unequal-variance t statistic (Welch, Biometrika 1947;
``scipy.stats.ttest_ind(equal_var=False)``): the difference of the means with its 95% interval on
Welch-Satterthwaite degrees of freedom, Hedges' g (Hedges, J. Educ. Stat. 1981: Cohen's d with the small-sample
correction), and a two-sided p-value. "About the same" is tested with two one-sided tests (TOST; Schuirmann,
J. Pharmacokinet. Biopharm. 1987) against a stated margin. The p-values of one study are adjusted together
with Holm's step-down method (Holm, Scand. J. Stat. 1979). A comparison without a difference has a *smallest
detectable effect*: the difference this n and this spread would find with 80% power.

Samples without any spread (every seed gave the same accuracy, as nets stuck at chance do) make the t
statistic infinite; such tests are *degenerate* and never reported as p = 0: accuracies are then compared on
the pooled predictions (Fisher's exact test / a binomial test over every validation image of every seed),
other metrics get no p-value.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

ALPHA = 0.05  # significance level of every verdict (after Holm's adjustment within a study)
CONFIDENCE = 0.95  # level of the reported intervals
POWER = 0.80  # power at which the smallest detectable effect is stated


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


def clean(values) -> list[float]:
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """``values`` (any length) -> :class:`Summary`; n=0 gives NaNs, n=1 a mean with NaN spread and CI."""
    from scipy import stats

    xs = clean(values)
    n = len(xs)
    if n == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    mean = sum(xs) / n
    if n == 1:
        return Summary(1, mean, math.nan, math.nan, math.nan)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half)


def _var(xs: list[float]) -> float:
    m = sum(xs) / len(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def constant(xs: Sequence[float]) -> bool:
    return all(x == xs[0] for x in xs)


@dataclass(frozen=True)
class Comparison:
    """mean(a) - mean(b) (or mean(a) - a constant) with Welch's interval and test, and Hedges' g.

    ``p_value`` is two-sided; ``None`` when the test is degenerate (no spread on either side) or a side has
    fewer than two values. ``se``/``df`` are what the interval and the detectable effect use."""

    difference: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    hedges_g: float | None
    se: float | None
    df: float | None
    n: tuple[int, int | None]
    test: str  # "welch", "one-sample t", or why there is none

    def to_dict(self) -> dict:
        return asdict(self)


def compare(a: Sequence[float], b: Sequence[float] | float, confidence: float = CONFIDENCE) -> Comparison:
    """Welch comparison of two samples, or a one-sample comparison of ``a`` with the number ``b``."""
    from scipy import stats

    a = clean(a)
    one_sample = isinstance(b, (int, float))
    bs = [] if one_sample else clean(b)
    mean_b = float(b) if one_sample else sum(bs) / len(bs)
    diff = sum(a) / len(a) - mean_b
    n = (len(a), None if one_sample else len(bs))
    if len(a) < 2 or (not one_sample and len(bs) < 2):
        return Comparison(diff, None, None, None, None, None, None, n, "one run on a side: no variance to test against")
    flat_a, flat_b = constant(a), one_sample or constant(bs)
    va, vb = (0.0 if flat_a else _var(a)), (0.0 if flat_b else _var(bs))
    if flat_a and flat_b:
        return Comparison(diff, diff, diff, None, None, 0.0, None, n, "degenerate: no spread on either side")
    if one_sample:
        se, df = math.sqrt(va / len(a)), len(a) - 1
        sd = math.sqrt(va)
        g = diff / sd * _hedges_correction(len(a) - 1)
    else:
        se = math.sqrt(va / len(a) + vb / len(bs))
        df = se ** 4 / ((va / len(a)) ** 2 / (len(a) - 1) + (vb / len(bs)) ** 2 / (len(bs) - 1))
        pooled = math.sqrt(((len(a) - 1) * va + (len(bs) - 1) * vb) / (len(a) + len(bs) - 2))
        g = diff / pooled * _hedges_correction(len(a) + len(bs) - 2) if pooled > 0 else None
    half = stats.t.ppf(0.5 + confidence / 2, df) * se
    p = 2 * stats.t.sf(abs(diff) / se, df)
    return Comparison(diff, diff - half, diff + half, float(p), g, se, float(df), n,
                      "one-sample t" if one_sample else "welch")


def _hedges_correction(df: float) -> float:
    """J(df) = 1 - 3 / (4 df - 1): removes the small-sample bias of Cohen's d (Hedges 1981)."""
    return 1 - 3 / (4 * df - 1) if df > 0.25 else math.nan


def tost(c: Comparison, margin: float) -> float | None:
    """p-value of equivalence within +-``margin`` (two one-sided Welch tests on ``c``'s se and df): the
    larger of the two one-sided p-values; ``None`` where ``c`` has no test."""
    from scipy import stats

    if c.se is None or c.df is None or c.se == 0:
        return None
    p_low = stats.t.sf((c.difference + margin) / c.se, c.df)  # H0: difference <= -margin
    p_high = stats.t.cdf((c.difference - margin) / c.se, c.df)  # H0: difference >= +margin
    return float(max(p_low, p_high))


def equivalence_interval(c: Comparison, alpha: float = ALPHA) -> tuple[float, float] | None:
    """The (1 - 2 alpha) interval TOST decides on: equivalent iff it lies inside +-margin."""
    from scipy import stats

    if c.se is None or c.df is None:
        return None
    half = stats.t.ppf(1 - alpha, c.df) * c.se
    return c.difference - half, c.difference + half


def detectable(c: Comparison, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """Smallest |difference| a two-sided Welch test at ``alpha`` finds with probability ``power``, at the
    observed spread and n: (t_{1-alpha/2} + t_{power}) * se."""
    from scipy import stats

    if c.se is None or c.df is None or c.se == 0:
        return None
    return float((stats.t.ppf(1 - alpha / 2, c.df) + stats.t.ppf(power, c.df)) * c.se)


def ratio(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float | None, float | None, float | None]:
    """mean(a) / mean(b) with a 95% interval from Welch's interval on the logs (timings, sizes are ratios):
    (ratio, low, high, p of log-ratio = 0)."""
    a, b = clean(a), clean(b)
    if not a or not b or min(a + b) <= 0:
        return math.nan, None, None, None
    c = compare([math.log(x) for x in a], [math.log(x) for x in b], confidence)
    r = (sum(a) / len(a)) / (sum(b) / len(b))
    if c.ci_low is None:
        return r, None, None, None
    return r, math.exp(c.ci_low), math.exp(c.ci_high), c.p_value


def pooled_accuracy_test(a_correct: int, a_total: int, b_correct: int | None, b_total: int | None,
                         value: float | None = None, alternative: str = "two-sided") -> float:
    """Accuracy without spread across seeds: treat every (seed, image) prediction as one trial. Two conditions:
    Fisher's exact test on the 2x2 table of correct / wrong; one condition against ``value``: a binomial test."""
    from scipy import stats

    if b_correct is None:
        return float(stats.binomtest(a_correct, a_total, value, alternative=alternative).pvalue)
    table = [[a_correct, a_total - a_correct], [b_correct, b_total - b_correct]]
    return float(stats.fisher_exact(table, alternative=alternative).pvalue)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of the p-values of one family (``None`` entries are left out and stay
    ``None``): the k-th smallest of m is multiplied by (m - k + 1), then made monotone and capped at 1."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(indexed)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for k, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - k) * p))
        out[i] = running
    return out
