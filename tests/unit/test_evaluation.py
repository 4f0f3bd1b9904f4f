"""The TFMA EvalConfig of every preset, and the calibration and per-class metrics."""

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types

from components.evaluator.calibration import ExpectedCalibrationError, expected_calibration_error
from components.evaluator.class_metrics import PerClassPrecisionRecall
from components.evaluator.keys import BASELINE, CANDIDATE
from pipeline.config import PRESETS, EvaluationConfig, GateConfig
from pipeline.evaluation import build_eval_config, resolve_top_k
from pipeline.schemas import num_classes_from_schema


def metric_names(config: tfma.EvalConfig) -> set[str]:
    return {m.class_name for spec in config.metrics_specs for m in spec.metrics}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_eval_config_builds_and_verifies_for_every_preset(preset):
    config = PRESETS[preset]()
    eval_config = build_eval_config(
        config.gate, resolve_top_k(config.evaluation, config.schema_dir)
    )

    # What the Evaluator does with it before running.
    checked = tfma.utils.update_eval_config_with_defaults(eval_config, has_baseline=True)
    tfma.utils.verify_eval_config(checked)
    assert [(s.name, s.is_baseline) for s in eval_config.model_specs] == [
        (CANDIDATE, False),
        (BASELINE, True),
    ]
    assert {
        "ExampleCount",
        "SparseCategoricalAccuracy",
        "SparseTopKCategoricalAccuracy",
        "SparseCategoricalCrossentropy",
        "ExpectedCalibrationError",
        "MultiClassConfusionMatrixPlot",
        "PerClassPrecisionRecall",
    } <= metric_names(eval_config)
    slices = [list(s.feature_keys) for s in eval_config.slicing_specs]
    assert slices == [[]] + [[f] for f in config.evaluation.slices]


def test_thresholds_gate_the_overall_slice_only():
    gate = GateConfig(min_accuracy=0.3, min_gain=0.02)
    eval_config = build_eval_config(gate, EvaluationConfig())
    thresholds = [
        (m.class_name, t)
        for spec in eval_config.metrics_specs
        for m in spec.metrics
        for t in m.per_slice_thresholds
    ]
    [(name, threshold)] = thresholds
    assert name == "SparseCategoricalAccuracy"
    assert list(threshold.slicing_specs) == [tfma.SlicingSpec()]
    assert threshold.threshold.value_threshold.lower_bound.value == pytest.approx(0.3)
    assert threshold.threshold.change_threshold.absolute.value == pytest.approx(0.02)
    assert not any(s.HasField("binarize") for s in eval_config.metrics_specs), (
        "nothing may depend on the number of classes"
    )


@pytest.mark.parametrize(
    ("preset", "classes"),
    [("cifar10", 10), ("cifar100", 100), ("imagenet", 1000), ("mnist", 10), ("folder", None)],
)
def test_curated_schemas_fix_the_number_of_classes_except_folder(preset, classes):
    assert num_classes_from_schema(PRESETS[preset]().schema_dir) == classes


def test_top_k_follows_the_classes_unless_set_and_a_too_large_one_is_a_clear_error(tmp_path):
    cifar10, folder = PRESETS["cifar10"]().schema_dir, PRESETS["folder"]().schema_dir
    three_classes = tmp_path / "three"
    three_classes.mkdir()
    (three_classes / "schema.pbtxt").write_text(
        'feature { name: "label" type: INT int_domain { min: 0 max: 2 } }'
    )
    assert resolve_top_k(EvaluationConfig(), cifar10).top_k == 5
    assert resolve_top_k(EvaluationConfig(), str(three_classes)).top_k == 3
    assert resolve_top_k(EvaluationConfig(), folder).top_k == 5  # any number of class folders
    with pytest.raises(ValueError, match="top_k=11 must be between 1 and the number of classes"):
        resolve_top_k(EvaluationConfig(top_k=11), cifar10)
    with pytest.raises(ValueError, match="top_k must be at least 1; got 0"):
        EvaluationConfig(top_k=0)
    assert resolve_top_k(EvaluationConfig(top_k=10), cifar10).top_k == 10
    assert resolve_top_k(EvaluationConfig(top_k=50), folder).top_k == 50


def _standard_inputs(label: int, prediction: list[float]) -> metric_types.StandardMetricInputs:
    return metric_types.StandardMetricInputs(
        labels=np.array([label]), predictions=np.array(prediction), example_weights=np.array([1.0])
    )


def test_per_class_precision_and_recall_find_the_classes_when_evaluating():
    matrices, derived = PerClassPrecisionRecall().computations(model_names=[""])
    combiner = matrices.combiner
    inputs = [
        (0, [0.7, 0.2, 0.1, 0.0]),  # right
        (0, [0.1, 0.8, 0.1, 0.0]),  # 0 taken for 1
        (1, [0.1, 0.8, 0.1, 0.0]),  # right
        (2, [0.1, 0.2, 0.7, 0.0]),  # right; class 3 is neither a label nor predicted
    ]
    accumulator = combiner.create_accumulator()
    for label, prediction in inputs:
        accumulator = combiner.add_input(accumulator, _standard_inputs(label, prediction))
    values = derived.result(combiner.extract_output(accumulator))

    by_class = {(k.name, k.sub_key.class_id): v for k, v in values.items()}
    assert by_class == pytest.approx(
        {
            ("precision", 0): 1.0,
            ("recall", 0): 0.5,
            ("precision", 1): 0.5,
            ("recall", 1): 1.0,
            ("precision", 2): 1.0,
            ("recall", 2): 1.0,
        }
    )
    assert all(k.sub_key.class_id in (0, 1, 2) for k in values)


def test_ece_from_bin_totals():
    # Bin 0.7-0.8: 2 examples, 1 right, confidences 0.7 + 0.8; bin 0.9-1: 1 right at 0.95.
    counts = np.array([0.0, 0.0, 0, 0, 0, 0, 0, 2, 0, 1])
    correct = np.array([0.0, 0, 0, 0, 0, 0, 0, 1, 0, 1])
    confidence = np.array([0.0, 0, 0, 0, 0, 0, 0, 1.5, 0, 0.95])
    expected = 2 / 3 * abs(0.5 - 0.75) + 1 / 3 * abs(1.0 - 0.95)
    assert expected_calibration_error(counts, correct, confidence) == pytest.approx(expected)
    assert np.isnan(expected_calibration_error(np.zeros(3), np.zeros(3), np.zeros(3)))


def test_ece_metric_combiner_on_sparse_labels():
    [computation] = ExpectedCalibrationError(num_bins=10).computations(model_names=[""])
    combiner = computation.combiner
    inputs = [
        (0, [0.7, 0.2, 0.1]),  # right, confidence 0.7
        (1, [0.8, 0.1, 0.1]),  # wrong, confidence 0.8
        (2, [0.02, 0.03, 0.95]),  # right, confidence 0.95
    ]
    accumulator = combiner.create_accumulator()
    for label, prediction in inputs:
        element = metric_types.StandardMetricInputs(
            labels=np.array([label]),
            predictions=np.array(prediction),
            example_weights=np.array([1.0]),
        )
        accumulator = combiner.add_input(accumulator, element)
    merged = combiner.merge_accumulators([accumulator, combiner.create_accumulator()])
    [value] = combiner.extract_output(merged).values()
    expected = 1 / 3 * abs(1 - 0.7) + 1 / 3 * abs(0 - 0.8) + 1 / 3 * abs(1 - 0.95)
    assert value == pytest.approx(expected)
