"""The TFMA evaluation of a run: VT (candidate) against the CNN (baseline), with slices.

The Evaluator blesses the candidate when its top-1 accuracy on the overall slice clears the
absolute floor and beats the baseline by at least `min_gain` (per-class slices are reported,
not gated: a plain `threshold` would gate every slice). TFMA skips thresholds on the
baseline model, so the winner selection (`components/winner`) checks the CNN's floor from the
same metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow_model_analysis as tfma

from pipeline.config import GateConfig

CANDIDATE = "candidate"
BASELINE = "baseline"
ACCURACY = "sparse_categorical_accuracy"
LABEL_KEY = "label"
PREDICTION_KEY = "probabilities"
DEFAULT_SLICE_FEATURES = ("label_name",)


def build_eval_config(
    gate: GateConfig, slice_features: Sequence[str] = DEFAULT_SLICE_FEATURES
) -> tfma.EvalConfig:
    """EvalConfig with two models, accuracy thresholds and one slice per feature in
    `slice_features` besides the overall slice."""
    model_specs = [
        tfma.ModelSpec(
            name=name,
            signature_name="serving_default",
            label_key=LABEL_KEY,
            prediction_key=PREDICTION_KEY,
            is_baseline=name == BASELINE,
        )
        for name in (CANDIDATE, BASELINE)
    ]
    accuracy_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": gate.min_accuracy}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": gate.min_gain},
        ),
    )
    overall_only = tfma.PerSliceMetricThreshold(
        slicing_specs=[tfma.SlicingSpec()], threshold=accuracy_threshold
    )
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        tfma.MetricConfig(
            class_name="SparseCategoricalAccuracy", per_slice_thresholds=[overall_only]
        ),
    ]
    slicing_specs = [tfma.SlicingSpec()] + [
        tfma.SlicingSpec(feature_keys=[feature]) for feature in slice_features
    ]
    return tfma.EvalConfig(
        model_specs=model_specs,
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
        slicing_specs=slicing_specs,
    )
