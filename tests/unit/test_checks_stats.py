"""The statistics under the checks, against values computed by hand."""
import math

import pytest
from scipy.spatial.distance import jensenshannon

from shared.checks.stats import js_distance, p95, psi, robust_z


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


def test_robust_z_with_mad():
    # median 11, |dev| = [1,1,0,2,2] -> MAD 1; z = 0.6745 * (20 - 11) / 1
    z, med, _ = robust_z(20, [10, 12, 11, 13, 9])
    assert med == 11
    assert z == pytest.approx(0.6745 * 9)


def test_robust_z_falls_back_to_mean_absolute_deviation_when_mad_is_zero():
    # median 5, |dev| = [0,0,0,1,4]: MAD 0, mean AD 1 -> scale 1.253314; z = 4 / 1.253314
    z, med, scale = robust_z(9, [5, 5, 5, 6, 9])
    assert (med, scale) == (5, pytest.approx(1.253314))
    assert z == pytest.approx(4 / 1.253314)


def test_robust_z_on_constant_history():
    assert robust_z(7, [7] * 5)[0] == 0
    assert robust_z(8, [7] * 5)[0] == math.inf
    assert robust_z(6, [7] * 5)[0] == -math.inf


def test_p95_interpolates_linearly():
    # rank 0.95 * 4 = 3.8 -> 130 + 0.8 * (140 - 130)
    assert p95([100, 110, 120, 130, 140]) == pytest.approx(138.0)
