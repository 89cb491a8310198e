"""The statistics behind every verdict, checked against scipy on fixed numbers and on hand-made cases."""
import math

import pytest
from scipy import stats as sps

from xaicnn.studies import stats

A = [0.861, 0.872, 0.866, 0.870, 0.858]
B = [0.820, 0.831, 0.818, 0.829, 0.826]


def test_summary_matches_scipy_t_interval():
    s = stats.summarize(A)
    assert s.n == 5
    assert s.mean == pytest.approx(sum(A) / 5)
    assert s.std == pytest.approx(sps.tstd(A))  # ddof=1
    low, high = sps.t.interval(0.95, 4, loc=s.mean, scale=sps.sem(A))
    assert (s.ci_low, s.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_summary_edge_cases():
    one = stats.summarize([0.5])
    assert one.n == 1 and one.mean == 0.5 and math.isnan(one.std) and math.isnan(one.ci_low)
    assert stats.summarize([]).n == 0 and math.isnan(stats.summarize([]).mean)
    assert stats.summarize([None, 0.2, float("nan"), 0.4]).n == 2


def test_compare_matches_scipy_welch_and_its_interval():
    c = stats.compare(A, B)
    ref = sps.ttest_ind(A, B, equal_var=False)
    assert c.p_value == pytest.approx(ref.pvalue) and c.df == pytest.approx(ref.df)
    ci = ref.confidence_interval(0.95)
    assert (c.ci_low, c.ci_high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert c.difference == pytest.approx(sum(A) / 5 - sum(B) / 5)


def test_hedges_g_is_cohens_d_with_the_small_sample_correction():
    c = stats.compare(A, B)
    pooled = math.sqrt((4 * sps.tvar(A) + 4 * sps.tvar(B)) / 8)
    d = (sum(A) / 5 - sum(B) / 5) / pooled
    assert c.hedges_g == pytest.approx(d * (1 - 3 / (4 * 8 - 1)))


def test_one_sample_against_a_number():
    chance = [0.101, 0.099, 0.100, 0.102]
    c = stats.compare(chance, 0.15)
    assert c.test == "one-sample t" and c.p_value == pytest.approx(sps.ttest_1samp(chance, 0.15).pvalue)


def test_zero_spread_is_degenerate_never_p_zero():
    c = stats.compare([0.1, 0.1, 0.1], [0.2, 0.2, 0.2])
    assert c.p_value is None and c.test.startswith("degenerate")
    assert stats.compare([0.1, 0.1], 0.1).p_value is None
    assert stats.compare([0.9], [0.1, 0.2]).p_value is None  # n = 1 on a side: no test


def test_tost_matches_two_one_sided_scipy_tests():
    a, b = [0.761, 0.755, 0.768, 0.759, 0.763], [0.758, 0.762, 0.751, 0.760, 0.757]
    c = stats.compare(a, b)
    margin = 0.02
    lower = sps.ttest_ind([x + margin for x in a], b, equal_var=False, alternative="greater").pvalue
    upper = sps.ttest_ind([x - margin for x in a], b, equal_var=False, alternative="less").pvalue
    assert stats.tost(c, margin) == pytest.approx(max(lower, upper))
    assert stats.tost(c, margin) < 0.05  # equal means, small spread, 2-point margin: equivalent
    assert stats.tost(stats.compare(A, B), margin) > 0.05  # 4 points apart: not shown equivalent


def test_holm_step_down():
    assert stats.holm([0.01, 0.04, 0.03, None]) == [pytest.approx(0.03), pytest.approx(0.06), pytest.approx(0.06), None]
    assert stats.holm([0.2, 0.9]) == [pytest.approx(0.4), pytest.approx(0.9)]  # monotone
    assert stats.holm([0.6, 0.7]) == [1.0, 1.0]  # capped at 1
    assert stats.holm([]) == []


def test_detectable_effect_shrinks_with_n():
    few = stats.detectable(stats.compare(A[:3], B[:3]))
    many = stats.detectable(stats.compare(A * 2, B * 2))
    assert few > many > 0


def test_ratio_interval_from_logs():
    r, low, high, p = stats.ratio([2.0, 2.2, 2.1], [1.0, 1.1, 1.05])
    assert r == pytest.approx(2.0) and low < 2.0 < high and p < 0.05


def test_pooled_accuracy_tests():
    assert stats.pooled_accuracy_test(500, 1000, 100, 1000) < 1e-6
    assert stats.pooled_accuracy_test(100, 1000, None, None, 0.1) == pytest.approx(1.0, abs=0.05)
