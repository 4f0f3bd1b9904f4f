"""The TFMA evaluation of a run: VT (candidate) against the CNN (baseline), with slices.

Metrics per model and slice: example count, top-1 and top-k accuracy, loss (cross-entropy of
the predicted probabilities), expected calibration error, per-class precision and recall
(`pipeline.class_metrics`), and the multi-class confusion matrix (a TFMA plot). None needs
the number of classes when the pipeline is built.

The Evaluator blesses the candidate when its top-1 accuracy on the overall slice clears the
absolute floor and beats the baseline by at least `min_gain` (other slices are reported, not
gated: a plain `threshold` would gate every slice). TFMA skips thresholds on the baseline
model, so the winner selection (`components/winner`) checks the CNN's floor from the same
metrics.

Slices. TFMA reads the raw examples (what serving sees), so raw features such as
`label_name` slice directly. Image-property buckets (brightness, contrast) are computed by
the Transform graph, which TFMA does not run by itself: the Evaluator loads this module
(`module_path`) and `custom_extractors` adds one step after feature parsing that runs the
candidate model's own Transform layer on the raw image and adds the bucket features it
outputs. Both models share one Transform graph, so the buckets are the same for both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import apache_beam as beam
import numpy as np
import tensorflow_model_analysis as tfma

from pipeline.config import EvaluationConfig, GateConfig
from pipeline.schemas import num_classes_from_schema

CANDIDATE = "candidate"
BASELINE = "baseline"
ACCURACY = "sparse_categorical_accuracy"
TOP_K_ACCURACY = "top_k_accuracy"
LOSS = "loss"
LABEL_KEY = "label"
IMAGE_KEY = "image"
PREDICTION_KEY = "probabilities"
# The Evaluator imports this module to find `custom_extractors`.
EVALUATOR_MODULE = __name__
FEATURES_EXTRACTOR_STAGE = "ExtractFeatures"


def check_top_k(evaluation: EvaluationConfig, schema_dir: str) -> None:
    """Raises ValueError when `evaluation.top_k` is below 1 or above the number of classes the
    curated schema in `schema_dir` fixes (a schema that leaves it open, e.g. the folder one,
    only gets the first check)."""
    num_classes = num_classes_from_schema(schema_dir)
    if evaluation.top_k < 1 or (num_classes is not None and evaluation.top_k > num_classes):
        raise ValueError(
            f"evaluation.top_k={evaluation.top_k} must be between 1 and the number of "
            f"classes ({num_classes if num_classes is not None else 'open'})"
        )


def build_eval_config(gate: GateConfig, evaluation: EvaluationConfig) -> tfma.EvalConfig:
    """EvalConfig for the candidate and baseline models of a classifier.

    Nothing in it depends on the number of classes, so the pipeline is built without reading
    any data: per-class metrics find the classes when the Evaluator runs
    (`pipeline.class_metrics`); check `top_k` against the curated schema with `check_top_k`.

    Raises ValueError when `evaluation` asks for what no classifier can give.
    """
    if evaluation.top_k < 1:
        raise ValueError(f"evaluation.top_k={evaluation.top_k} must be at least 1")
    if evaluation.calibration_bins < 1:
        raise ValueError(
            f"evaluation.calibration_bins must be >= 1, not {evaluation.calibration_bins}"
        )
    model_specs = [
        tfma.ModelSpec(
            name=name,
            # Loaded with tf.saved_model.load on every runner: TFMA would otherwise try a
            # Keras load first, which succeeds only where the model's layers are imported.
            model_type=tfma.TF_GENERIC,
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
    model_metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        tfma.MetricConfig(
            class_name="SparseCategoricalAccuracy", per_slice_thresholds=[overall_only]
        ),
        tfma.MetricConfig(
            class_name="SparseTopKCategoricalAccuracy",
            config=json.dumps({"k": evaluation.top_k, "name": TOP_K_ACCURACY}),
        ),
        tfma.MetricConfig(
            class_name="SparseCategoricalCrossentropy", config=json.dumps({"name": LOSS})
        ),
        tfma.MetricConfig(
            class_name="ExpectedCalibrationError",
            module="pipeline.calibration",
            config=json.dumps({"num_bins": evaluation.calibration_bins}),
        ),
        tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
        tfma.MetricConfig(class_name="PerClassPrecisionRecall", module="pipeline.class_metrics"),
    ]
    metrics_specs = [tfma.MetricsSpec(metrics=model_metrics)]
    slicing_specs = [tfma.SlicingSpec()] + [
        tfma.SlicingSpec(feature_keys=[feature]) for feature in evaluation.slices
    ]
    return tfma.EvalConfig(
        model_specs=model_specs, metrics_specs=metrics_specs, slicing_specs=slicing_specs
    )


def custom_extractors(
    eval_shared_model: tfma.types.MaybeMultipleEvalSharedModels,
    eval_config: tfma.EvalConfig,
    tensor_adapter_config=None,
) -> list[tfma.extractors.Extractor]:
    """Evaluator UDF: TFMA's default extractors plus the Transform-computed slice features."""
    extractors = tfma.default_extractors(
        eval_shared_model=eval_shared_model,
        eval_config=eval_config,
        tensor_adapter_config=tensor_adapter_config,
    )
    models = eval_shared_model if isinstance(eval_shared_model, list) else [eval_shared_model]
    slice_features = sorted(
        {key for spec in eval_config.slicing_specs for key in spec.feature_keys}
    )
    [position] = [i for i, e in enumerate(extractors) if e.stage_name == FEATURES_EXTRACTOR_STAGE]
    transformed = tfma.extractors.Extractor(
        stage_name="ExtractTransformSliceFeatures",
        ptransform=beam.ParDo(_TransformSliceFeatures(models[0].model_path, slice_features)),
    )
    return extractors[: position + 1] + [transformed] + extractors[position + 1 :]


class _TransformSliceFeatures(beam.DoFn):
    """Adds the slice features the model's Transform layer computes from the raw image.

    The exported models keep the Transform graph as the function `transform_features` (see
    models/trainer.py); fed the raw `image` only, it returns every transformed feature that
    does not need the label.
    Features the examples already carry are left as they are.
    """

    def __init__(self, model_path: str, slice_features: Sequence[str]):
        self._model_path = model_path
        self._slice_features = list(slice_features)
        self._model = None
        self._transform = None

    def setup(self) -> None:
        import tensorflow as tf

        self._model = tf.saved_model.load(self._model_path)  # owns the graph's resources
        if hasattr(self._model, "transform_features"):
            self._transform = self._model.transform_features
        else:  # exported before 2026-12-02 (a cached Trainer): the revived Keras layer
            layer = self._model.tft_layer
            self._transform = lambda images: layer({IMAGE_KEY: images})

    def process(self, extracts: dict) -> Iterator[dict]:
        import tensorflow as tf

        features = extracts[tfma.FEATURES_KEY]
        wanted = [f for f in self._slice_features if f not in features]
        if not wanted:
            yield extracts
            return
        images = [np.asarray(value).reshape(-1)[0] for value in features[IMAGE_KEY]]
        outputs = self._transform(tf.reshape(tf.constant(images, tf.string), [-1, 1]))
        features = dict(features)
        for name in wanted:
            if name in outputs:
                features[name] = outputs[name].numpy().reshape(len(images), -1)
        yield {**extracts, tfma.FEATURES_KEY: features}
