"""SelectWinner and PushWinner: exactly one model, or none, reaches the serving directory.

SelectWinner
  Inputs:  candidate_model, baseline_model (Trainer outputs), evaluation (Evaluator output),
           candidate_blessing (Evaluator's blessing of the candidate against the baseline),
           examples (ExampleGen output: the production model is scored on its eval split).
  Outputs: model     a copy of the winning SavedModel whose `assets.extra/gating_decision.json`
                     records the decision (so it travels with the pushed model);
           blessing  a ModelBlessing (`blessed` = 1 when there is a winner) for PushWinner,
                     with `decision.json` in its folder even when nothing is pushed.
PushWinner
  Copies a blessed model to `serving_dir/<next version>` atomically; its PushedModel output
  carries the same custom properties as TFX's Pusher (pushed, pushed_destination,
  pushed_version).

No `from __future__ import annotations` here: TFX reads the component's type hints.
"""

import json
import os

import tensorflow as tf
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils, path_utils

from components.evaluator.keys import ACCURACY, BASELINE, CANDIDATE
from components.winner.decision import Decision, ModelScore, decide
from components.winner.serving import accuracy_on_examples, production_model_dir, push_version

DECISION_FILE = "decision.json"
PUSHED_DECISION_PATH = os.path.join("assets.extra", "gating_decision.json")
PRODUCTION = "production"
EVAL_SPLIT = "eval"


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


def production_score(serving_dir: str, example_files: list[str]) -> ModelScore | None:
    """The model in production scored on `example_files`; None when nothing was pushed."""
    model_dir = production_model_dir(serving_dir)
    if model_dir is None:
        return None
    name = f"version {os.path.basename(model_dir)}"
    decision_path = os.path.join(model_dir, PUSHED_DECISION_PATH)
    if tf.io.gfile.exists(decision_path):
        with tf.io.gfile.GFile(decision_path) as f:
            name = f"{json.load(f)['winner']['model']} ({name})"
    return ModelScore(PRODUCTION, name, accuracy_on_examples(model_dir, example_files))


@tfx.dsl.components.component
def SelectWinner(  # noqa: N802 (TFX components are named like classes)
    candidate_model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
    baseline_model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
    evaluation: tfx.dsl.components.InputArtifact[standard_artifacts.ModelEvaluation],
    candidate_blessing: tfx.dsl.components.InputArtifact[standard_artifacts.ModelBlessing],
    examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
    model: tfx.dsl.components.OutputArtifact[standard_artifacts.Model],
    blessing: tfx.dsl.components.OutputArtifact[standard_artifacts.ModelBlessing],
    candidate_name: tfx.dsl.components.Parameter[str],
    baseline_name: tfx.dsl.components.Parameter[str],
    min_accuracy: tfx.dsl.components.Parameter[float],
    min_gain: tfx.dsl.components.Parameter[float],
    min_gain_over_production: tfx.dsl.components.Parameter[float],
    serving_dir: tfx.dsl.components.Parameter[str],
) -> None:
    accuracy = overall_accuracy(evaluation.uri)
    eval_uri = artifact_utils.get_split_uri([examples], EVAL_SPLIT)
    decision = decide(
        ModelScore(CANDIDATE, candidate_name, accuracy[CANDIDATE]),
        ModelScore(BASELINE, baseline_name, accuracy[BASELINE]),
        candidate_blessed=bool(candidate_blessing.get_int_custom_property("blessed")),
        min_accuracy=min_accuracy,
        min_gain=min_gain,
        production=production_score(serving_dir, tf.io.gfile.glob(f"{eval_uri}/*")),
        min_gain_over_production=min_gain_over_production,
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


@tfx.dsl.components.component
def PushWinner(  # noqa: N802 (TFX components are named like classes)
    model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
    model_blessing: tfx.dsl.components.InputArtifact[standard_artifacts.ModelBlessing],
    pushed_model: tfx.dsl.components.OutputArtifact[standard_artifacts.PushedModel],
    serving_dir: tfx.dsl.components.Parameter[str],
) -> None:
    if not model_blessing.get_int_custom_property("blessed"):
        pushed_model.set_int_custom_property("pushed", 0)
        return
    destination = push_version(path_utils.serving_model_path(model.uri), serving_dir)
    pushed_model.set_int_custom_property("pushed", 1)
    pushed_model.set_string_custom_property("pushed_destination", destination)
    pushed_model.set_string_custom_property("pushed_version", os.path.basename(destination))


def read_decision(blessing_uri: str) -> Decision:
    """The decision a SelectWinner run wrote into its blessing folder."""
    with tf.io.gfile.GFile(os.path.join(blessing_uri, DECISION_FILE)) as f:
        return Decision.from_json(f.read())
