"""The values a numeric config field accepts, and the one-line check every config section
runs in `__post_init__` (the pipeline's config and the training recipe alike)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Range:
    """The values a numeric config field accepts: an interval, each end open or closed."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return f"{'more than' if self.low_open else 'at least'} {self.low:g}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{self.low:g}, {self.high:g}{right}"


AT_LEAST_0 = Range(0)
AT_LEAST_1 = Range(1)
POSITIVE = Range(0, low_open=True)
FRACTION = Range(0, 1)
FRACTION_BELOW_1 = Range(0, 1, high_open=True)
GAIN = Range(-1, 1)


def check_ranges(config: Any, ranges: Mapping[str, Range]) -> None:
    """Raises ValueError, one line starting with the field's name, for the first field of
    `config` outside its range (None is left to mean "off"). `apply_overrides` puts the
    section in front (`train.epochs must be ...`)."""
    for name, allowed in ranges.items():
        value = getattr(config, name)
        if value is not None and value not in allowed:
            raise ValueError(f"{name} must be {allowed}; got {value!r}")


def check_choice(config: Any, name: str, allowed: tuple[str, ...]) -> None:
    """Raises ValueError, one line starting with the field's name, unless the field `name` of
    `config` is one of `allowed`."""
    value = getattr(config, name)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
