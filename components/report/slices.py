"""The TFMA slice metrics of a run as rows: one per slice, each metric per model and the gap.

Reads the Evaluator output through TFMA's own API (`tfma.load_eval_result`), once per model.
Metrics TFMA computes per class (precision, recall: sub key `classId:N`) give a row per slice
and class, named "label_name:cat, classId:3". `slice_accuracies` adds the intervals the report
shows, and whether each gap is significant.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import tensorflow_model_analysis as tfma

from components.evaluator.intervals import Gain, paired_gain, wilson_interval
from components.evaluator.keys import ACCURACY, BASELINE, CANDIDATE

OVERALL = "Overall"
EXAMPLE_COUNT = "example_count"
DIFF_SUFFIX = "_diff"


@dataclass(frozen=True)
class SliceRow:
    """One slice: its name (e.g. "label_name:cat"), example count, and a metric per model."""

    slice_name: str
    example_count: int
    candidate: float
    baseline: float

    @property
    def gap(self) -> float:
        """Candidate minus baseline."""
        return self.candidate - self.baseline


def slice_name(slice_key: tuple) -> str:
    """ "Overall" for the overall slice, else "feature:value[, feature:value]"."""
    if not slice_key:
        return OVERALL
    return ", ".join(f"{feature}:{_text(value)}" for feature, value in slice_key)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _metrics_by_slice(evaluation_uri: str, model_name: str) -> dict[str, dict[str, float]]:
    """Row name -> scalar metrics: a row per slice, and per slice and sub key (a class)."""
    result = tfma.load_eval_result(evaluation_uri, model_name=model_name)
    table = {}
    for slice_key, outputs in result.slicing_metrics:
        name = slice_name(slice_key)
        by_sub_key = outputs.get("", {})
        count = by_sub_key.get("", {}).get(EXAMPLE_COUNT, {}).get("doubleValue", 0.0)
        for sub_key, values in by_sub_key.items():
            row = {m: float(v["doubleValue"]) for m, v in values.items() if "doubleValue" in v}
            table[f"{name}, {sub_key}" if sub_key else name] = {EXAMPLE_COUNT: count, **row}
    return table


def _is_overall(row_name: str) -> bool:
    return row_name == OVERALL or row_name.startswith(f"{OVERALL}, ")


def available_metrics(evaluation_uri: str) -> list[str]:
    """Scalar metric names of the candidate on the overall slice, per-class ones included
    (without TFMA's `_diff`s)."""
    table = _metrics_by_slice(evaluation_uri, CANDIDATE)
    names = {name for row, values in table.items() if _is_overall(row) for name in values}
    return sorted(name for name in names if not name.endswith(DIFF_SUFFIX))


def slice_rows(evaluation_uri: str, metric: str = ACCURACY) -> list[SliceRow]:
    """One row per slice both models have `metric` for: overall first, then by name.

    Raises ValueError naming the available metrics when `metric` is unknown.
    """
    candidate = _metrics_by_slice(evaluation_uri, CANDIDATE)
    baseline = _metrics_by_slice(evaluation_uri, BASELINE)
    if metric not in available_metrics(evaluation_uri):
        known = ", ".join(available_metrics(evaluation_uri))
        raise ValueError(f"no metric {metric!r} in {evaluation_uri}; available: {known}")
    rows = [
        SliceRow(
            slice_name=name,
            example_count=int(values.get(EXAMPLE_COUNT, 0)),
            candidate=values[metric],
            baseline=baseline[name][metric],
        )
        for name, values in candidate.items()
        if metric in values and metric in baseline.get(name, {})
    ]
    return sorted(rows, key=lambda r: (not _is_overall(r.slice_name), r.slice_name))


CLASS_SUB_KEY = "classId:"


@dataclass(frozen=True)
class OverallMetrics:
    """What TFMA computed for one model on the overall slice: every scalar metric, and
    precision and recall per class id."""

    scalars: dict[str, float]
    per_class: dict[int, dict[str, float]]


def overall_metrics(evaluation_uri: str) -> dict[str, OverallMetrics]:
    """Model name (candidate, baseline) -> its overall-slice metrics."""
    metrics = {}
    for model in (CANDIDATE, BASELINE):
        table = _metrics_by_slice(evaluation_uri, model)
        per_class = {}
        prefix = f"{OVERALL}, {CLASS_SUB_KEY}"
        for row, values in table.items():
            if row.startswith(prefix):
                per_class[int(row[len(prefix) :])] = values
        scalars = {k: v for k, v in table.get(OVERALL, {}).items() if not k.endswith(DIFF_SUFFIX)}
        metrics[model] = OverallMetrics(scalars, dict(sorted(per_class.items())))
    return metrics


CONFIDENCE = 0.95  # of the report's slice intervals


@dataclass(frozen=True)
class SliceAccuracy:
    """A slice's top-1 accuracies with their intervals, and the gap's.

    Attributes:
      row: the slice's accuracies (a `slice_rows` row of the accuracy metric).
      candidate_interval, baseline_interval: the Wilson intervals of the two accuracies.
      gap: candidate minus baseline, with a paired bootstrap interval over the slice's
        examples when `paired`, else Newcombe's interval (`newcombe_gain`).
      paired: whether the report knew which examples the slice holds.
    """

    row: SliceRow
    candidate_interval: tuple[float, float]
    baseline_interval: tuple[float, float]
    gap: Gain
    paired: bool

    @property
    def significant(self) -> bool:
        """Whether the gap's interval excludes zero."""
        return self.gap.low > 0 or self.gap.high < 0


def newcombe_gain(hits_a: int, hits_b: int, total: int, confidence: float = CONFIDENCE) -> Gain:
    """A's accuracy minus B's, both on `total` examples, with Newcombe's hybrid score
    interval (his method 10): each end combines the two Wilson intervals' distances from their
    accuracies. It treats the two as independent, so for two models scored on the same
    examples (whose mistakes overlap) it is wider, more cautious, than a paired interval."""
    a, b = hits_a / total, hits_b / total
    low_a, high_a = wilson_interval(hits_a, total, confidence)
    low_b, high_b = wilson_interval(hits_b, total, confidence)
    gap = a - b
    low = gap - math.hypot(a - low_a, high_b - b)
    high = gap + math.hypot(high_a - a, b - low_b)
    return Gain(gap, low, high, confidence, total)


def slice_accuracies(
    rows: list[SliceRow],
    paired_hits: Mapping[str, tuple[np.ndarray, np.ndarray]],
    confidence: float = CONFIDENCE,
) -> list[SliceAccuracy]:
    """`rows` (top-1 accuracies) with their intervals, in the same order.

    `paired_hits`: slice name -> per-example correctness of the candidate and the baseline on
    the slice's examples, for the slices whose examples are known; used for a paired bootstrap
    (`paired_gain`) when they are as many as TFMA counted in the slice.
    """
    accuracies = []
    for row in rows:
        total = row.example_count
        hits = round(row.candidate * total), round(row.baseline * total)
        pair = paired_hits.get(row.slice_name)
        paired = pair is not None and len(pair[0]) == total
        gap = paired_gain(*pair, confidence) if paired else newcombe_gain(*hits, total, confidence)
        candidate, baseline = (wilson_interval(h, total, confidence) for h in hits)
        accuracies.append(SliceAccuracy(row, candidate, baseline, gap, paired))
    return accuracies
