"""Confidence intervals for accuracies measured on a finite set of examples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np


def wilson_interval(hits: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion `hits / total` at `confidence`: unlike the
    normal approximation it stays within [0, 1] and holds for accuracies near 0 or 1.

    Raises:
      ValueError: for no examples, hits outside 0..total, or confidence outside (0, 1).
    """
    if total < 1 or not 0 <= hits <= total or not 0 < confidence < 1:
        raise ValueError(f"no interval for {hits} of {total} at confidence {confidence}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = hits / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return max(0.0, centre - half), min(1.0, centre + half)


# Resamples of the paired bootstrap: enough that the interval's ends move by about one
# example (1 / n) from one seed to another (docs/benchmarks-history.md, 2026-12-07 evening).
BOOTSTRAP_RESAMPLES = 10_000


@dataclass(frozen=True)
class Gain:
    """Model A's accuracy minus model B's on the same examples, with its interval.

    Attributes:
      value: the gain measured (a fraction: 0.01 is one point).
      low, high: the ends of its `confidence` interval (paired bootstrap).
      confidence: e.g. 0.9.
      examples: how many examples both models were scored on.
    """

    value: float
    low: float
    high: float
    confidence: float
    examples: int

    def describe(self) -> str:
        return (
            f"gain {100 * self.value:+.1f} pts, {self.confidence:.0%} CI {100 * self.low:+.1f} "
            f"to {100 * self.high:+.1f} ({self.examples} examples)"
        )


def paired_gain(
    hits_a: Sequence[bool], hits_b: Sequence[bool], confidence: float, seed: int = 0
) -> Gain:
    """The gain of A over B (per-example correctness of each, on the same examples, in the
    same order) with a paired bootstrap interval: the examples are resampled together, so
    what both models get right or wrong cancels out, and the interval is far narrower than
    one from two independent accuracies. Deterministic for a `seed`.

    Raises:
      ValueError: when the two are of different lengths or empty.
    """
    a, b = np.asarray(hits_a, dtype=bool), np.asarray(hits_b, dtype=bool)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired scores of {a.size} and {b.size} examples")
    n = a.size
    # Resampling examples only moves the counts of the three kinds of pair (A alone right,
    # B alone right, both or neither): draw those counts directly.
    kinds = np.array([np.sum(a & ~b), np.sum(~a & b), np.sum(a == b)]) / n
    draws = np.random.default_rng(seed).multinomial(n, kinds, size=BOOTSTRAP_RESAMPLES)
    gains = (draws[:, 0] - draws[:, 1]) / n
    low, high = np.quantile(gains, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Gain(float(a.mean() - b.mean()), float(low), float(high), confidence, n)
