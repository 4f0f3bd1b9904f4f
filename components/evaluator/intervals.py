"""Confidence intervals for accuracies measured on a finite set of examples."""

from __future__ import annotations

import math
from statistics import NormalDist


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
