"""Expected calibration error (ECE) as a TFMA metric, for multi-class probabilities.

ECE = sum over confidence bins b of |B_b| / N * |accuracy(B_b) - mean confidence(B_b)|,
where an example's confidence is its top probability and it lands in bin
floor(confidence * num_bins) (Guo et al. 2017). 0 is perfectly calibrated, 1 the worst.

Used in an EvalConfig as `tfma.MetricConfig(class_name="ExpectedCalibrationError",
module="components.evaluator.calibration", config='{"num_bins": 10}')`.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util

ECE_NAME = "expected_calibration_error"


def expected_calibration_error(
    counts: np.ndarray, correct: np.ndarray, confidence: np.ndarray
) -> float:
    """ECE from per-bin totals: example counts, correct predictions and summed confidences."""
    total = counts.sum()
    if total == 0:
        return float("nan")
    occupied = counts > 0
    gap = np.abs(correct[occupied] - confidence[occupied]) / counts[occupied]
    return float(np.sum(counts[occupied] / total * gap))


class ExpectedCalibrationError(metric_types.Metric):
    """ECE of the top-1 prediction over `num_bins` equal-width confidence bins."""

    def __init__(self, num_bins: int = 10, name: str = ECE_NAME):
        super().__init__(_ece_computations, num_bins=num_bins, name=name)


metric_types.register_metric(ExpectedCalibrationError)


def _ece_computations(
    num_bins: int,
    name: str = ECE_NAME,
    eval_config: Any = None,
    model_names: list[str] | None = None,
    output_names: list[str] | None = None,
    example_weighted: bool = False,
) -> metric_types.MetricComputations:
    computations = []
    for model_name in model_names or [""]:
        for output_name in output_names or [""]:
            key = metric_types.MetricKey(
                name=name,
                model_name=model_name,
                output_name=output_name,
                example_weighted=example_weighted,
            )
            combiner = _EceCombiner(key, eval_config, num_bins)
            computations.append(
                metric_types.MetricComputation(keys=[key], preprocessors=None, combiner=combiner)
            )
    return computations


class _EceCombiner(beam.CombineFn):
    """Accumulates [3, num_bins]: example count, correct count, summed confidence per bin."""

    def __init__(self, key: metric_types.MetricKey, eval_config: Any, num_bins: int):
        self._key = key
        self._eval_config = eval_config
        self._num_bins = num_bins

    def create_accumulator(self) -> np.ndarray:
        return np.zeros((3, self._num_bins))

    def add_input(
        self, accumulator: np.ndarray, element: metric_types.StandardMetricInputs
    ) -> np.ndarray:
        for label, prediction, _ in metric_util.to_label_prediction_example_weight(
            element,
            eval_config=self._eval_config,
            model_name=self._key.model_name,
            output_name=self._key.output_name,
            flatten=False,
            squeeze=False,
        ):
            probabilities = np.asarray(prediction, dtype=np.float64).reshape(-1)
            label = np.asarray(label).reshape(-1)
            # Sparse labels hold the class id; one-hot labels are as long as the prediction.
            true_class = int(np.argmax(label)) if label.size > 1 else int(label[0])
            confidence = float(probabilities.max())
            bin_index = min(int(confidence * self._num_bins), self._num_bins - 1)
            accumulator[0, bin_index] += 1
            accumulator[1, bin_index] += float(int(np.argmax(probabilities)) == true_class)
            accumulator[2, bin_index] += confidence
        return accumulator

    def merge_accumulators(self, accumulators) -> np.ndarray:
        accumulators = iter(accumulators)
        result = next(accumulators)
        for accumulator in accumulators:
            result = result + accumulator
        return result

    def extract_output(self, accumulator: np.ndarray) -> dict[metric_types.MetricKey, float]:
        return {self._key: expected_calibration_error(*accumulator)}
