"""The TFMA evaluation of a run: VT (candidate) against the CNN (baseline), with slices.

Metrics per model and slice: example count, top-1 and top-k accuracy, loss (cross-entropy of
the predicted probabilities), expected calibration error, per-class precision and recall
(`components.evaluator.class_metrics`), and the multi-class confusion matrix (a TFMA
plot). None needs the number of classes when the pipeline is built.

The Evaluator blesses the candidate when its top-1 accuracy on the overall slice clears the
absolute floor and beats the baseline by at least `min_gain` (other slices are reported, not
gated: a plain `threshold` would gate every slice). TFMA skips thresholds on the baseline
model, so the winner selection (`components/winner`) checks the CNN's floor from the same
metrics.

Slices: raw features slice directly; the image-property buckets come from the Transform
graph, run by the Evaluator's UDF module `components.evaluator.extractors`.
"""

from __future__ import annotations

import dataclasses
import json

import tensorflow_model_analysis as tfma

from components.evaluator import calibration, class_metrics
from components.evaluator.keys import (
    BASELINE,
    CANDIDATE,
    LOSS,
    TOP_K_ACCURACY,
)
from features import LABEL_KEY
from models.signatures import PROBABILITIES_KEY
from pipeline.config import EvaluationConfig, GateConfig
from pipeline.schemas import num_classes_from_schema

DEFAULT_TOP_K = 5


def resolve_top_k(evaluation: EvaluationConfig, schema_dir: str) -> EvaluationConfig:
    """`evaluation` with its top_k set: unset, `DEFAULT_TOP_K` or the number of classes the
    curated schema in `schema_dir` fixes, whichever is smaller (a schema that leaves it open,
    e.g. the folder one, gets the default).

    Raises ValueError when a top_k the user set is above that number of classes
    (`EvaluationConfig` itself refuses one below 1).
    """
    num_classes = num_classes_from_schema(schema_dir)
    if evaluation.top_k is None:
        top_k = DEFAULT_TOP_K if num_classes is None else min(DEFAULT_TOP_K, num_classes)
        return dataclasses.replace(evaluation, top_k=top_k)
    if num_classes is not None and evaluation.top_k > num_classes:
        raise ValueError(
            f"evaluation.top_k={evaluation.top_k} must be between 1 and the number of "
            f"classes ({num_classes})"
        )
    return evaluation


def build_eval_config(gate: GateConfig, evaluation: EvaluationConfig) -> tfma.EvalConfig:
    """EvalConfig for the candidate and baseline models of a classifier.

    Nothing in it depends on the number of classes, so the pipeline is built without reading
    any data: per-class metrics find the classes when the Evaluator runs
    (`components.evaluator.class_metrics`); `resolve_top_k` sets `top_k` from the curated
    schema first (else `DEFAULT_TOP_K`). The config's own checks have refused impossible
    values already.
    """
    model_specs = [
        tfma.ModelSpec(
            name=name,
            # Loaded with tf.saved_model.load on every runner: TFMA would otherwise try a
            # Keras load first, which succeeds only where the model's layers are imported.
            model_type=tfma.TF_GENERIC,
            signature_name="serving_default",
            label_key=LABEL_KEY,
            prediction_key=PROBABILITIES_KEY,
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
    model_metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        tfma.MetricConfig(
            class_name="SparseCategoricalAccuracy", per_slice_thresholds=[overall_only]
        ),
        tfma.MetricConfig(
            class_name="SparseTopKCategoricalAccuracy",
            config=json.dumps({"k": evaluation.top_k or DEFAULT_TOP_K, "name": TOP_K_ACCURACY}),
        ),
        tfma.MetricConfig(
            class_name="SparseCategoricalCrossentropy", config=json.dumps({"name": LOSS})
        ),
        tfma.MetricConfig(
            class_name="ExpectedCalibrationError",
            module=calibration.__name__,
            config=json.dumps({"num_bins": evaluation.calibration_bins}),
        ),
        tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
        tfma.MetricConfig(class_name="PerClassPrecisionRecall", module=class_metrics.__name__),
    ]
    metrics_specs = [tfma.MetricsSpec(metrics=model_metrics)]
    slicing_specs = [tfma.SlicingSpec()] + [
        tfma.SlicingSpec(feature_keys=[feature]) for feature in evaluation.slices
    ]
    return tfma.EvalConfig(
        model_specs=model_specs, metrics_specs=metrics_specs, slicing_specs=slicing_specs
    )
