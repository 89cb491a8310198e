"""The statistics behind every verdict, checked against scipy on fixed numbers and on hand-made cases."""
import math

import pytest
from scipy import stats as sps

from xaicnn.studies import stats

pytestmark = pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # scipy on constant reference samples

A = [0.861, 0.872, 0.866, 0.870, 0.858]
B = [0.820, 0.831, 0.818, 0.829, 0.826]


def test_summary_matches_scipy_t_interval():
    s = stats.summarize(A)
    assert s.n == 5
    assert s.mean == pytest.approx(sum(A) / 5)
    assert s.std == pytest.approx(sps.tstd(A))  # ddof=1
    low, high = sps.t.interval(0.95, 4, loc=s.mean, scale=sps.sem(A))
    assert (s.ci_low, s.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert s.ci_low < s.mean < s.ci_high


def test_summary_edge_cases():
    one = stats.summarize([0.5])
    assert one.n == 1 and one.mean == 0.5 and math.isnan(one.std) and math.isnan(one.ci_low)
    assert stats.summarize([]).n == 0 and math.isnan(stats.summarize([]).mean)
    assert stats.summarize([None, 0.2, float("nan"), 0.4]).n == 2


def test_welch_matches_scipy():
    r = stats.welch(A, B)
    ref = sps.ttest_ind(A, B, equal_var=False)
    assert r.statistic == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    assert r.df == pytest.approx(ref.df)
    # Welch differs from Student's pooled test when variances differ
    wide = [0.5, 0.9, 0.7, 0.6]
    assert stats.welch(wide, B).p_value != pytest.approx(sps.ttest_ind(wide, B).pvalue)


def test_welch_without_spread_is_exact():
    assert stats.welch([0.1, 0.1], [0.2, 0.2]).p_value == 0.0
    assert stats.welch([0.1, 0.1], [0.1, 0.1]).p_value == 1.0
    with pytest.raises(ValueError):
        stats.welch([0.1], [0.2, 0.3])


@pytest.mark.parametrize("a,b,direction,expected", [
    (A, B, ">", stats.CONFIRMED),  # clearly higher, as claimed
    (A, B, "<", stats.REFUTED),  # clearly higher, claimed lower
    (B, A, "<", stats.CONFIRMED),
    ([0.80, 0.86, 0.83], [0.82, 0.84, 0.81], ">", stats.NOT_SIGNIFICANT),  # overlapping
    ([0.80, 0.86, 0.83], [0.82, 0.84, 0.81], "<", stats.NOT_SIGNIFICANT),
    ([0.9], [0.1, 0.2], ">", stats.NO_TEST),  # n=1: no variance, no test
    ([0.9, 0.8], [0.1], ">", stats.NO_TEST),
    ([], [0.1, 0.2], ">", stats.NO_DATA),
    ([0.10, 0.10, 0.10], [0.5, 0.7, 0.6], "<", stats.CONFIRMED),  # one side constant: still a valid test
])
def test_verdicts(a, b, direction, expected):
    v = stats.verdict(a, b, direction)
    assert v.verdict == expected
    if expected in (stats.CONFIRMED, stats.REFUTED, stats.NOT_SIGNIFICANT):
        assert v.p_value == pytest.approx(sps.ttest_ind(a, b, equal_var=False).pvalue)
        assert (v.p_value < stats.ALPHA) == (expected != stats.NOT_SIGNIFICANT)
    if expected == stats.NO_TEST:
        assert v.p_value is None and v.difference == pytest.approx(sum(a) / len(a) - sum(b) / len(b))


def test_verdict_against_a_constant_uses_a_one_sample_test():
    chance = [0.101, 0.099, 0.100, 0.102]
    v = stats.verdict(chance, 0.15, "<")
    assert v.verdict == stats.CONFIRMED and v.test == "one-sample t"
    assert v.p_value == pytest.approx(sps.ttest_1samp(chance, 0.15).pvalue)
    assert stats.verdict([0.4, 0.45, 0.5], 0.15, "<").verdict == stats.REFUTED
    assert stats.verdict([0.10, 0.10], 0.15, "<").verdict == stats.CONFIRMED  # all runs exactly at chance


def test_verdict_rejects_unknown_direction():
    with pytest.raises(ValueError):
        stats.verdict(A, B, "=")


def test_exact_verdict():
    assert stats.exact_verdict(33_638_218, 33_638_218) == stats.CONFIRMED
    assert stats.exact_verdict(33_638_219, 33_638_218) == stats.REFUTED
    assert stats.exact_verdict(23_520_842, 25_000_000, rel_tol=0.1) == stats.CONFIRMED
    assert stats.exact_verdict(20_000_000, 25_000_000, rel_tol=0.1) == stats.REFUTED
