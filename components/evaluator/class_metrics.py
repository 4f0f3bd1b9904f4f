"""Per-class precision and recall as a TFMA metric that needs no class count up front.

TFMA's own per-class metrics (`Precision`, `Recall` with `BinarizationOptions.class_ids`)
must list the class ids in the EvalConfig, i.e. when the pipeline is built; the pipeline reads
no data then (the class names travel with the examples). This metric derives both from TFMA's
multi-class confusion matrix (the one `MultiClassConfusionMatrixPlot` also uses, computed
once) when the Evaluator runs, for every class id 0..C-1, C being one more than the largest
class id among the labels and top-1 predictions. Its keys are those the binarized metrics had:
`precision` and `recall` with sub-key `classId:N`. A class never predicted has no precision
and a class absent from the labels no recall (NaN).

Used in an EvalConfig as `tfma.MetricConfig(class_name="PerClassPrecisionRecall",
module="components.evaluator.class_metrics")`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.metrics import multi_class_confusion_matrix_metrics as mcm

PRECISION = "precision"
RECALL = "recall"
# Declared key of the derived computation, one per model: TFMA tells derived computations
# apart by their keys. Private (leading underscore): TFMA drops it from the output.
_COMPUTATION_NAME = "_per_class_precision_recall"
# TFMA's default confusion matrix has one threshold, 0.0: every example has a prediction.
_THRESHOLD = 0.0


def confusion_matrix(entries: dict[Any, float]) -> np.ndarray:
    """[C, C] weights (rows: true class, columns: predicted) from TFMA matrix entries; C is one
    more than the largest class id seen. Entries without a prediction are left out."""
    ids = [i for key in entries for i in key if i >= 0]
    num_classes = max(ids) + 1 if ids else 0
    matrix = np.zeros((num_classes, num_classes))
    for key, weight in entries.items():
        if key.predicted_class_id >= 0:
            matrix[key.actual_class_id, key.predicted_class_id] += weight
    return matrix


def precision_recall(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class precision (right / predicted) and recall (right / actual); NaN for 0 / 0."""
    right = np.diag(matrix)
    with np.errstate(divide="ignore", invalid="ignore"):
        return right / matrix.sum(axis=0), right / matrix.sum(axis=1)


class PerClassPrecisionRecall(metric_types.Metric):
    """Precision and recall of every class, one-vs-rest on the top-1 prediction."""

    def __init__(self, name: str = _COMPUTATION_NAME):
        super().__init__(_computations, name=name)


metric_types.register_metric(PerClassPrecisionRecall)


def _computations(
    name: str = _COMPUTATION_NAME,
    eval_config: Any = None,
    model_names: list[str] | None = None,
    output_names: list[str] | None = None,
    example_weighted: bool = False,
) -> metric_types.MetricComputations:
    computations = []
    for model_name in model_names or [""]:
        for output_name in output_names or [""]:
            matrices = mcm.multi_class_confusion_matrices(
                eval_config=eval_config,
                model_name=model_name,
                output_name=output_name,
                example_weighted=example_weighted,
            )
            matrices_key = matrices[-1].keys[-1]

            def key(metric: str, class_id: int, model_name=model_name, output_name=output_name):
                return metric_types.MetricKey(
                    name=metric,
                    model_name=model_name,
                    output_name=output_name,
                    sub_key=metric_types.SubKey(class_id=class_id),
                    example_weighted=example_weighted,
                )

            def result(metrics: dict, matrices_key=matrices_key, key=key) -> dict:
                entries = metrics[matrices_key].get(_THRESHOLD, {})
                precision, recall = precision_recall(confusion_matrix(entries))
                values = {}
                for class_id, (p, r) in enumerate(zip(precision, recall, strict=True)):
                    values[key(PRECISION, class_id)] = float(p)
                    values[key(RECALL, class_id)] = float(r)
                return values

            declared = metric_types.MetricKey(
                name=name,
                model_name=model_name,
                output_name=output_name,
                example_weighted=example_weighted,
            )
            computations += matrices
            computations.append(metric_types.DerivedMetricComputation([declared], result))
    return computations
