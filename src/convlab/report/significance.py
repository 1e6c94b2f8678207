"""How sure the comparison may be: Wilson intervals, McNemar's exact test against the best job, Holm, t-intervals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from convlab.report.intervals import wilson_interval

ALPHA = 0.05


def accuracy_interval(test: dict) -> tuple[float, float] | None:
    """A record's 95% interval of test accuracy: its own ``acc_ci95`` when it has one, else Wilson's from
    ``acc`` and ``samples`` (older records); None without both."""
    if isinstance(test.get("acc_ci95"), list | tuple) and len(test["acc_ci95"]) == 2:
        low, high = test["acc_ci95"]
        return float(low), float(high)
    if test.get("acc") is None or not test.get("samples"):
        return None
    n = int(test["samples"])
    return wilson_interval(round(float(test["acc"]) * n), n)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs (b right only in one job,
    c only in the other) against 1/2; 1.0 when no sample tells them apart."""
    if b + c == 0:
        return 1.0
    from scipy.special import bdtr  # the binomial CDF; scipy.stats would cost a second to import

    return min(1.0, 2.0 * float(bdtr(min(b, c), b + c, 0.5)))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input's order: monotone, capped at 1."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [1.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def contingency(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[int, int, int, int]:
    """(both right, only a right, only b right, both wrong) over the same samples in the same order."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    return int(np.sum(a & b)), int(np.sum(a & ~b)), int(np.sum(~a & b)), int(np.sum(~a & ~b))


def t_interval(
    values: Sequence[float], confidence: float = 0.95, bounds: tuple[float, float] = (-math.inf, math.inf)
) -> tuple[float, float] | None:
    """Student-t interval of the mean of repeats (seeds, folds), clipped to ``bounds`` (an accuracy's [0, 1]:
    with two seeds the interval can be far wider than the range); None with fewer than two."""
    if len(values) < 2:
        return None
    from scipy.special import stdtrit  # Student-t quantile

    mean = float(np.mean(values))
    quantile = float(stdtrit(len(values) - 1, 0.5 + confidence / 2))
    half = quantile * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return max(bounds[0], mean - half), min(bounds[1], mean + half)


@dataclass
class Paired:
    """One job against the best job (by validation accuracy) on the same test set."""

    best: str  # the best job's key (its run directory)
    b: int  # samples only this job got right
    c: int  # samples only the best job got right
    p: float  # exact McNemar
    p_holm: float  # Holm-adjusted over every comparison against that best job

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA

    def verdict(self) -> str:
        if self.significant:
            worse = "worse" if self.c > self.b else "better"
            return f"significantly {worse} on test than the best (Holm-adjusted p={self.p_holm:.2g})"
        return f"not significantly different from the best (Holm-adjusted p={self.p_holm:.2g})"


def against_best(
    jobs: Sequence[tuple[str, float, np.ndarray]],
) -> tuple[str, dict[str, Paired]] | None:
    """McNemar exact of every job against the one with the best validation accuracy, Holm over the family.

    ``jobs`` are (key, validation accuracy, per-sample correctness in one test set's order). None with
    fewer than two jobs. The test set never chooses the best: that would bias every comparison toward it. Nor
    does it break a tie: among equal validation accuracies the first key in sorted order is the best.
    """
    if len(jobs) < 2:
        return None
    top = max(val for _, val, _ in jobs)
    best_key, _, best_correct = min((j for j in jobs if j[1] == top), key=lambda j: j[0])
    others = [(key, contingency(correct, best_correct)) for key, _, correct in jobs if key != best_key]
    pvalues = [mcnemar_exact(b, c) for _, (_, b, c, _) in others]
    adjusted = holm(pvalues)
    return best_key, {
        key: Paired(best_key, b, c, p, p_adj)
        for (key, (_, b, c, _)), p, p_adj in zip(others, pvalues, adjusted, strict=True)
    }
