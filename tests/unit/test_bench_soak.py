"""The soak's growth figure: the slope of each window's least RSS, so a leak under swings is
seen and swings with no leak are not read as growth."""
from __future__ import annotations

import random

from bench.bench_soak import _floors, growth_per_hour


def _swinging(leak_mb_per_hour: float, seconds: int = 1200, seed: int = 0):
    """RSS every 2 s: 100 MB plus the leak, plus swings of up to 200 MB that reach the
    floor at least once a minute (as a collecting process's do)."""
    rng = random.Random(seed)
    return [(t, 100 + leak_mb_per_hour * t / 3600 + (0 if t % 60 == 0 else rng.uniform(0, 200)))
            for t in range(0, seconds, 2)]


def test_a_leak_under_large_swings_is_measured_from_the_floors():
    growth, _ = growth_per_hour(_swinging(10.0), window=60)
    assert abs(growth - 0.10) < 0.01


def test_swings_with_no_leak_are_not_growth_though_the_samples_slope_can_say_otherwise():
    slopes = [growth_per_hour(_swinging(0.0, seed=s), window=60) for s in range(20)]
    assert all(abs(floor) < 0.005 for floor, _ in slopes)
    assert max(abs(raw) for _, raw in slopes) > 0.10  # what the samples' slope would report


def test_only_whole_windows_make_floors():
    points = [(0, 5.0), (30, 3.0), (60, 7.0), (90, 6.0), (100, 1.0)]
    assert _floors(points, 60) == [(30.0, 3.0)]  # 60-100 is a partial window
    assert growth_per_hour(points, 60) == (0.0, 0.0)  # one floor has no slope
