"""Confidence intervals of a proportion (test accuracy over n samples)."""

from __future__ import annotations

from statistics import NormalDist


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval [low, high] of ``successes`` out of ``n``; (0.0, 1.0) when n is 0.

    Wilson, not the normal approximation: it stays inside [0, 1] and is not zero-width at 0/n or n/n,
    where small test sets and near-perfect models live.
    """
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} is outside 0..n={n}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / denominator
    # At 0/n and n/n the bound equals the observed proportion exactly; clamp float rounding there.
    return max(0.0, centre - half) if successes else 0.0, min(1.0, centre + half) if successes < n else 1.0
