"""The statistics under the checks, against values computed by hand."""
import math

import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency

from shared.checks.stats import (
    aligned,
    chi2_goodness_of_fit,
    chi2_two_sample,
    holm,
    js_distance,
    log_t,
    merge_groups,
    p95,
    psi,
    t_limit,
    t_two_sided_p,
)


def test_psi_of_two_bins_by_hand():
    # (0.5-0.25) ln(0.5/0.25) + (0.5-0.75) ln(0.5/0.75) = 0.25 ln 2 + 0.25 ln 1.5
    expected = 0.25 * math.log(2) + 0.25 * math.log(1.5)
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(expected)
    assert expected == pytest.approx(0.274653, abs=1e-6)


def test_psi_takes_counts_and_is_zero_for_the_same_shape():
    assert psi([50, 50], [1, 3]) == pytest.approx(psi([0.5, 0.5], [0.25, 0.75]))
    assert psi([10, 20, 30], [1, 2, 3]) == pytest.approx(0.0)


def test_psi_floors_empty_bins_at_epsilon():
    # a = [1, 1e-4], e = [0.5, 0.5]: 0.5 ln 2 + (1e-4 - 0.5) ln(1e-4 / 0.5)
    expected = 0.5 * math.log(2) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert psi([10, 0], [5, 5]) == pytest.approx(expected)
    assert expected == pytest.approx(4.604319, abs=1e-6)


def test_psi_refuses_mismatched_bins_and_empty_counts():
    with pytest.raises(ValueError, match="bins differ"):
        psi([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="all be zero"):
        psi([0, 0], [1, 1])


def test_js_distance_by_hand():
    # p=[.5,.5], q=[1,0], m=[.75,.25]; KL(p|m)=.5log2(2/3)+.5log2(2), KL(q|m)=log2(4/3)
    kl_p = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    kl_q = math.log2(1 / 0.75)
    expected = math.sqrt((kl_p + kl_q) / 2)
    assert js_distance([0.5, 0.5], [1, 0]) == pytest.approx(expected)
    assert expected == pytest.approx(0.557923, abs=1e-6)
    assert js_distance([0.5, 0.5], [1, 0]) == pytest.approx(jensenshannon([0.5, 0.5], [1, 0], base=2))


def test_js_distance_bounds():
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    assert js_distance([3, 1], [3, 1]) == pytest.approx(0.0)


def test_merge_groups_by_hand():
    # expected counts 50 | 2, 2, 46 -> [0] and [1, 2, 3]
    assert merge_groups([0.5, 0.02, 0.02, 0.46], 100) == [[0], [1, 2, 3]]
    # a short last group joins the one before: 90 | 8 | 2
    assert merge_groups([0.9, 0.08, 0.02], 100) == [[0], [1, 2]]
    # exactly the minimum is enough; everything short is one group
    assert merge_groups([5, 5, 5], 1.0) == [[0], [1], [2]]
    assert merge_groups([0.01, 0.02, 0.03], 100) == [[0, 1, 2]]
    assert merge_groups([1, 1], 1.0, min_expected=1) == [[0], [1]]


def test_chi2_two_sample_against_scipy_and_by_hand():
    # [[30 70] [50 50]]: column totals 80 120; e = 40 60 / 40 60 -> chi2 = 2 (100/40 + 100/60)
    res = chi2_two_sample([30, 70], [50, 50])
    assert res.statistic == pytest.approx(2 * (100 / 40 + 100 / 60))
    assert res.df == 1
    assert res.p == pytest.approx(math.erfc(math.sqrt(res.statistic / 2)))
    assert (res.current, res.reference) == ([30, 70], [50, 50])
    table = [[12, 30, 58], [100, 250, 650]]
    res = chi2_two_sample(table[0], table[1])
    ref = chi2_contingency(table, correction=False)
    assert (res.statistic, res.df, res.p) == (pytest.approx(ref.statistic), ref.dof,
                                              pytest.approx(ref.pvalue))


def test_chi2_two_sample_merges_by_the_smaller_sample_and_pooled_totals():
    # batch 100, reference 900: pooled [100 40 860]; 100 * 40 / 1000 = 4 < 5 -> merged
    res = chi2_two_sample([10, 4, 86], [90, 36, 774])
    assert (res.current, res.reference, res.df) == ([10, 90], [90, 810], 1)
    assert res.p == pytest.approx(1.0)
    # a reference smaller than the batch is the binding sample
    assert chi2_two_sample([90, 36, 774], [10, 4, 86]).df == 1


def test_chi2_two_sample_of_a_constant_feature_cannot_reject():
    res = chi2_two_sample([100, 0, 0], [1000, 0, 0])
    assert (res.statistic, res.df, res.p) == (0.0, 0, 1.0)


def test_chi2_goodness_of_fit_by_hand():
    # 100 counts [40 60] against [.25 .75]: 225/25 + 225/75 = 12
    res = chi2_goodness_of_fit([40, 60], [0.25, 0.75])
    assert (res.statistic, res.df) == (pytest.approx(12.0), 1)
    assert res.p == pytest.approx(math.erfc(math.sqrt(6)))
    assert res.reference == [pytest.approx(25.0), pytest.approx(75.0)]
    # 100 counts over [.97 .02 .01]: 2 and 1 expected -> merged with the first: no test
    assert chi2_goodness_of_fit([90, 5, 5], [0.97, 0.02, 0.01]).df == 0
    res = chi2_goodness_of_fit([20, 30, 50], [0.2, 0.3, 0.5])
    assert (res.statistic, res.df, res.p) == (pytest.approx(0.0), 2, pytest.approx(1.0))


def test_chi2_tests_refuse_bad_counts():
    with pytest.raises(ValueError, match="bins differ"):
        chi2_two_sample([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="bins differ"):
        chi2_goodness_of_fit([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="positive total"):
        chi2_two_sample([0, 0], [1, 1])
    with pytest.raises(ValueError, match="positive total"):
        chi2_two_sample([1, 1], [-1, 3])


def test_holm_by_hand():
    # sorted .01 .03 .04 -> x3 .03, x2 .06, x1 max(.06, .04) = .06
    got = holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert got == {"a": pytest.approx(0.03), "b": pytest.approx(0.06), "c": pytest.approx(0.06)}
    assert holm({"a": 0.5, "b": 0.9}) == {"a": 1.0, "b": 1.0}  # capped at 1
    assert holm({"a": 0.2, "b": 0.3}) == {"a": pytest.approx(0.4), "b": pytest.approx(0.4)}
    assert holm({"a": 0.01, "b": 0.2}) == {"a": pytest.approx(0.02), "b": pytest.approx(0.2)}
    assert holm({}) == {}


def test_log_t_by_hand():
    # ln(1 + v) = [1 2 3]: mean 2, sd 1, error sqrt(4/3)
    history = [math.expm1(v) for v in (1, 2, 3)]
    t, centre, se = log_t(math.expm1(4), history)
    assert t == pytest.approx(2 / math.sqrt(4 / 3))
    assert centre == pytest.approx(math.expm1(2)) and se == pytest.approx(math.sqrt(4 / 3))
    assert log_t(math.expm1(0), history)[0] == pytest.approx(-2 / math.sqrt(4 / 3))


def test_log_t_on_constant_history_and_too_short_history():
    assert log_t(7, [7] * 5) == (0.0, pytest.approx(7.0), 0.0)
    assert log_t(8, [7] * 5)[0] == math.inf
    assert log_t(6, [7] * 5)[0] == -math.inf
    assert log_t(1e9, [1e9] * 3)[0] == 0.0
    with pytest.raises(ValueError, match="two values"):
        log_t(1, [1])


def test_t_p_value_and_limit_by_hand():
    # df 2: P(|T| >= t) = 1 - t / sqrt(2 + t^2)
    for t in (0.5, 1.7, 9.0):
        assert t_two_sided_p(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t))
        assert t_two_sided_p(-t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t))
    assert t_two_sided_p(0.0, 5) == 1.0
    c = 1 - 0.01  # 1 - t / sqrt(2 + t^2) = alpha
    assert t_limit(0.01, 2) == pytest.approx(math.sqrt(2 * c * c / (1 - c * c)))
    assert t_two_sided_p(t_limit(0.01, 19), 19) == pytest.approx(0.01)


def test_p95_interpolates_linearly():
    # rank 0.95 * 4 = 3.8 -> 130 + 0.8 * (140 - 130)
    assert p95([100, 110, 120, 130, 140]) == pytest.approx(138.0)


def test_holm_caps_each_adjusted_value_at_one():
    assert holm({"a": 0.6, "b": 0.7}) == {"a": 1.0, "b": 1.0}


def test_merge_groups_accumulates_mass_across_bins():
    assert merge_groups([3, 3, 3, 3], 1.0) == [[0, 1], [2, 3]]


def test_chi2_accepts_a_single_count_and_a_single_bin():
    assert chi2_two_sample([1, 0], [1, 0]).df == 0
    res = chi2_two_sample([5], [7])
    assert (res.df, res.p, res.current, res.reference) == (0, 1.0, [5.0], [7.0])
    res = chi2_goodness_of_fit([1, 0], [0.5, 0.5])
    assert (res.statistic, res.df, res.p, res.current, res.reference) == (
        0.0, 0, 1.0, [1.0], [1.0])
    assert chi2_goodness_of_fit([40, 60], [1, 3]).current == [40.0, 60.0]


def test_log_t_with_two_values_and_scale_of_an_infinite_score():
    t, centre, se = log_t(math.expm1(3), [math.expm1(1), math.expm1(2)])
    # mean 1.5, sd .7071, error .7071 * sqrt(1.5) = .8660
    assert t == pytest.approx(1.5 / math.sqrt(0.75)) and se == pytest.approx(math.sqrt(0.75))
    assert log_t(8, [7] * 5) == (math.inf, pytest.approx(7.0), 0.0)


def test_aligned_fills_missing_categories_with_zero_in_numeric_order():
    assert aligned({"a": 1}, {"b": 2}) == ([1.0, 0.0], [0.0, 2.0])
    assert aligned({"10": 1, "9": 2}, {"2": 3}) == ([0.0, 2.0, 1.0], [3.0, 0.0, 0.0])


def test_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="non-empty"):
        psi([], [])
    with pytest.raises(ValueError, match="negative"):
        psi([-1, 2], [1, 1])
    with pytest.raises(ValueError, match="2 current vs 3 reference"):
        chi2_goodness_of_fit([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="reference must be"):
        chi2_two_sample([1, 1], [0, 0])
    with pytest.raises(ValueError, match="current must be"):
        chi2_two_sample([0, 0], [1, 1])
