"""The TFMA slice metrics of a run as rows: one per slice, each metric per model and the gap.

Reads the Evaluator output through TFMA's own API (`tfma.load_eval_result`), once per model.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow_model_analysis as tfma

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
    result = tfma.load_eval_result(evaluation_uri, model_name=model_name)
    table = {}
    for slice_key, outputs in result.slicing_metrics:
        values = outputs.get("", {}).get("", {})
        table[slice_name(slice_key)] = {
            name: value["doubleValue"] for name, value in values.items() if "doubleValue" in value
        }
    return table


def available_metrics(evaluation_uri: str) -> list[str]:
    """Scalar metric names of the candidate on the overall slice (without TFMA's `_diff`s)."""
    names = _metrics_by_slice(evaluation_uri, CANDIDATE).get(OVERALL, {})
    return sorted(name for name in names if not name.endswith(DIFF_SUFFIX))


def slice_rows(evaluation_uri: str, metric: str = ACCURACY) -> list[SliceRow]:
    """One row per slice both models have `metric` for: overall first, then by name.

    Raises ValueError naming the available metrics when `metric` is unknown.
    """
    candidate = _metrics_by_slice(evaluation_uri, CANDIDATE)
    baseline = _metrics_by_slice(evaluation_uri, BASELINE)
    if metric not in candidate.get(OVERALL, {}) or metric.endswith(DIFF_SUFFIX):
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
    return sorted(rows, key=lambda r: (r.slice_name != OVERALL, r.slice_name))
