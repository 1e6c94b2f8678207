"""The Wilson score interval of test accuracy (results.json's test.acc_ci95)."""

from __future__ import annotations

import pytest

from convlab.report.intervals import wilson_interval


def test_ninety_of_a_hundred() -> None:
    low, high = wilson_interval(90, 100)
    assert (round(low, 4), round(high, 4)) == (0.8256, 0.9448)


def test_none_and_all_right_keep_a_width_and_stay_inside_zero_one() -> None:
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.7225, abs=1e-4) and high == 1.0


def test_a_wider_confidence_gives_a_wider_interval_and_no_samples_says_nothing() -> None:
    narrow, wide = wilson_interval(45, 50, 0.9), wilson_interval(45, 50, 0.99)
    assert wide[0] < narrow[0] < 0.9 < narrow[1] < wide[1]
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="outside"):
        wilson_interval(11, 10)
