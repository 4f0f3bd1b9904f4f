"""SelectWinner: turns the Evaluator's verdict into exactly one model for the Pusher.

Inputs:  candidate_model, baseline_model (Trainer outputs), evaluation (Evaluator output),
         candidate_blessing (Evaluator's blessing of the candidate against the baseline).
Outputs: model     a copy of the winning SavedModel whose `assets.extra/gating_decision.json`
                   records the decision (so it travels with the pushed model);
         blessing  a ModelBlessing (`blessed` = 1 when there is a winner) for the Pusher,
                   with `decision.json` in its folder even when nothing is pushed.

No `from __future__ import annotations` here: TFX reads the component's type hints.
"""

import os

import tensorflow as tf
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx
from tfx.types import standard_artifacts
from tfx.utils import io_utils, path_utils

from components.winner.decision import Decision, ModelScore, decide
from pipeline.evaluation import ACCURACY, BASELINE, CANDIDATE

DECISION_FILE = "decision.json"
PUSHED_DECISION_PATH = os.path.join("assets.extra", "gating_decision.json")


def overall_accuracy(evaluation_uri: str) -> dict[str, float]:
    """Top-1 accuracy per model name on the overall slice of a TFMA output."""
    accuracy = {}
    for metrics in tfma.load_metrics(evaluation_uri):
        if metrics.slice_key.single_slice_keys:
            continue
        for entry in metrics.metric_keys_and_values:
            if entry.key.name == ACCURACY and not entry.key.is_diff:
                accuracy[entry.key.model_name] = entry.value.double_value.value
    missing = {CANDIDATE, BASELINE} - accuracy.keys()
    if missing:
        raise ValueError(f"the evaluation at {evaluation_uri} has no {ACCURACY} for {missing}")
    return accuracy


@tfx.dsl.components.component
def SelectWinner(  # noqa: N802 (TFX components are named like classes)
    candidate_model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
    baseline_model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
    evaluation: tfx.dsl.components.InputArtifact[standard_artifacts.ModelEvaluation],
    candidate_blessing: tfx.dsl.components.InputArtifact[standard_artifacts.ModelBlessing],
    model: tfx.dsl.components.OutputArtifact[standard_artifacts.Model],
    blessing: tfx.dsl.components.OutputArtifact[standard_artifacts.ModelBlessing],
    candidate_name: tfx.dsl.components.Parameter[str],
    baseline_name: tfx.dsl.components.Parameter[str],
    min_accuracy: tfx.dsl.components.Parameter[float],
    min_gain: tfx.dsl.components.Parameter[float],
) -> None:
    accuracy = overall_accuracy(evaluation.uri)
    decision = decide(
        ModelScore(CANDIDATE, candidate_name, accuracy[CANDIDATE]),
        ModelScore(BASELINE, baseline_name, accuracy[BASELINE]),
        candidate_blessed=bool(candidate_blessing.get_int_custom_property("blessed")),
        min_accuracy=min_accuracy,
        min_gain=min_gain,
    )
    io_utils.write_string_file(os.path.join(blessing.uri, DECISION_FILE), decision.to_json())
    blessing.set_int_custom_property("blessed", int(decision.winner is not None))
    if decision.winner is None:
        return
    source = candidate_model if decision.winner.role == CANDIDATE else baseline_model
    serving_dir = path_utils.serving_model_path(model.uri)
    io_utils.copy_dir(path_utils.serving_model_path(source.uri), serving_dir)
    io_utils.write_string_file(os.path.join(serving_dir, PUSHED_DECISION_PATH), decision.to_json())
    blessing.set_string_custom_property("winner", decision.winner.model)


def read_decision(blessing_uri: str) -> Decision:
    """The decision a SelectWinner run wrote into its blessing folder."""
    with tf.io.gfile.GFile(os.path.join(blessing_uri, DECISION_FILE)) as f:
        return Decision.from_json(f.read())
