"""The report's statistics against answers worked out by hand: Wilson, exact McNemar, Holm, t-intervals."""

from __future__ import annotations

import numpy as np
import pytest

from convlab.report.significance import (
    accuracy_interval,
    against_best,
    contingency,
    holm,
    mcnemar_exact,
    t_interval,
)


def test_a_record_with_its_own_interval_is_quoted_not_recomputed() -> None:
    assert accuracy_interval({"acc": 0.9, "samples": 100, "acc_ci95": [0.1, 0.2]}) == (0.1, 0.2)
    assert accuracy_interval({"acc": 0.9, "samples": 100}) == pytest.approx((0.8256, 0.9448), abs=1e-4)
    assert accuracy_interval({"acc": 0.9}) is None  # an old record without the sample count


@pytest.mark.parametrize(("b", "c", "p"), [(0, 6, 0.03125), (1, 1, 1.0), (2, 10, 0.0386), (0, 0, 1.0), (6, 0, 0.03125)])
def test_exact_mcnemar_is_a_two_sided_binomial_test_of_the_discordant_pairs(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p, abs=1e-4)


def test_holm_steps_down_and_stays_monotone() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []


def test_t_interval_of_the_mean_of_three_repeats() -> None:
    low, high = t_interval([0.90, 0.92, 0.94])  # mean 0.92, sd 0.02, t(2, 0.975) = 4.3027
    assert (low, high) == pytest.approx((0.92 - 4.3027 * 0.02 / 3**0.5, 0.92 + 4.3027 * 0.02 / 3**0.5), abs=1e-4)
    assert t_interval([0.9]) is None
    assert t_interval([0.6, 0.9], bounds=(0.0, 1.0)) == (0.0, 1.0)  # two seeds: wider than [0, 1], clipped


def test_contingency_of_constructed_predictions() -> None:
    # samples: 5 right in both, 3 right only in a, 1 right only in b, 2 wrong in both
    a = np.array([1] * 5 + [1] * 3 + [0] * 1 + [0] * 2, dtype=bool)
    b = np.array([1] * 5 + [0] * 3 + [1] * 1 + [0] * 2, dtype=bool)
    assert contingency(a, b) == (5, 3, 1, 2)


def test_the_best_is_chosen_by_validation_accuracy_never_by_test_accuracy() -> None:
    best_on_val = np.array([1] * 10 + [0] * 6, dtype=bool)  # 10 of 16 right
    best_on_test = np.array([1] * 16, dtype=bool)  # 16 of 16: b = 0 right only in best_on_val, c = 6
    close = np.array([1] * 9 + [0] + [1] + [0] * 5, dtype=bool)  # one each way against best_on_val
    best, paired = against_best([("val", 0.95, best_on_val), ("test", 0.90, best_on_test), ("close", 0.5, close)])
    assert best == "val"
    assert (paired["test"].b, paired["test"].c) == (6, 0)  # b: right only in this job, c: only in the best
    assert paired["test"].p == pytest.approx(0.03125) and paired["close"].p == pytest.approx(1.0)
    assert paired["test"].p_holm == pytest.approx(0.0625) and not paired["test"].significant  # Holm over 2
    assert "not significantly different" in paired["close"].verdict()


def test_a_tie_in_validation_accuracy_is_not_broken_by_the_test_set() -> None:
    worse_on_test = np.array([1] * 10 + [0] * 6, dtype=bool)
    better_on_test = np.array([1] * 16, dtype=bool)
    # Listed first (as a table sorted by test accuracy would list it) and equal on validation: not the best.
    best, _ = against_best([("b_run", 0.9, better_on_test), ("a_run", 0.9, worse_on_test)])
    assert best == "a_run"
    best, _ = against_best([("a_run", 0.9, better_on_test), ("b_run", 0.9, worse_on_test)])
    assert best == "a_run"
