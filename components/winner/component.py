"""SelectWinner and PushWinner: exactly one model, or none, reaches the serving directory.

SelectWinner
  Inputs:  candidate_model, baseline_model (Trainer outputs), evaluation (Evaluator output),
           candidate_blessing (Evaluator's blessing of the candidate against the baseline),
           examples (ExampleGen output: its class count sets the chance floor).
  Outputs: model     a copy of the winning SavedModel whose `assets.extra/gating_decision.json`
                     records the decision (so it travels with the pushed model);
           blessing  a ModelBlessing (`blessed` = 1 when there is a winner) for PushWinner,
                     with `decision.json` in its folder even when nothing is pushed.
  Its decision depends on the run's two models only, so it may be cached with them.
PushWinner
  Inputs:  model, model_blessing (SelectWinner outputs), examples (ExampleGen output: the
           winner and the model in production are scored on its eval split).
  At push time, under the serving directory's lock, pushes the winner as
  `serving_dir/<next version>` (atomically) unless the same model is already pushed or it
  does not beat the model then in production (`serving.push_winner`). Its PushedModel output
  carries TFX's Pusher properties (pushed, pushed_destination, pushed_version) and
  `push_record.json` (`decision.PushRecord`), also written inside a pushed version; its
  push_blessing output is blessed only when a version was pushed now, for pushers downstream
  (the Vertex AI Model Registry, pipeline/cloud_serving.py).

No `from __future__ import annotations` here: TFX reads the component's type hints.
"""

import dataclasses
import json
import os

import tensorflow as tf
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx
from tfx.types import artifact, artifact_utils, standard_artifacts
from tfx.utils import io_utils, path_utils

from components.evaluator.intervals import paired_gain
from components.evaluator.keys import ACCURACY, BASELINE, CANDIDATE
from components.image_example_gen import class_names
from components.run_metadata import open_store, run_of_output
from components.winner.decision import Decision, ModelScore, PushRecord, decide
from components.winner.serving import DECISION_PATH, hits_on_examples, push_winner
from features import DECISION_FILE, EVAL_SPLIT, PUSH_RECORD_FILE
from models.training.recipe import BASELINE_TEACHER


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


def distillation_teacher(model: artifact.Artifact, baseline_name: str) -> str | None:
    """The teacher a Trainer distilled `model` from, in words, from the recipe it recorded on
    the Model artifact (components/trainer/component.py); None when it learned from the labels
    alone or recorded no recipe."""
    recipe = model.get_string_custom_property("recipe")
    distillation = json.loads(recipe).get("distillation", {}) if recipe else {}
    teacher = distillation.get("teacher")
    if not teacher:
        return None
    if teacher == BASELINE_TEACHER:
        teacher = f"{baseline_name}, this run's baseline it is compared with"
    how = "through its distillation token" if distillation.get("token") else "on its logits"
    labels = "hard labels" if distillation.get("hard") else "soft labels"
    return f"{teacher} ({how}, {labels})"


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
    candidate_epochs: tfx.dsl.components.Parameter[int],
    baseline_epochs: tfx.dsl.components.Parameter[int],
    min_accuracy: tfx.dsl.components.Parameter[float],
    min_gain_over_chance: tfx.dsl.components.Parameter[float],
    allow_untrained: tfx.dsl.components.Parameter[bool],
    min_gain: tfx.dsl.components.Parameter[float],
    confidence: tfx.dsl.components.Parameter[float],
    metadata_path: tfx.dsl.components.Parameter[str] = None,
) -> None:
    accuracy = overall_accuracy(evaluation.uri)
    # The gain with its interval: both models scored on the same eval examples (the same
    # serving signature TFMA calls), their hits paired.
    eval_files = _eval_files(examples)
    hits = [
        hits_on_examples(path_utils.serving_model_path(m.uri), eval_files)
        for m in (candidate_model, baseline_model)
    ]
    teachers = [distillation_teacher(m, baseline_name) for m in (candidate_model, baseline_model)]
    decision = decide(
        ModelScore(CANDIDATE, candidate_name, accuracy[CANDIDATE], candidate_epochs, teachers[0]),
        ModelScore(BASELINE, baseline_name, accuracy[BASELINE], baseline_epochs, teachers[1]),
        candidate_blessed=bool(candidate_blessing.get_int_custom_property("blessed")),
        min_accuracy=min_accuracy,
        min_gain=min_gain,
        num_classes=len(class_names.read(examples.uri)),
        min_gain_over_chance=min_gain_over_chance,
        allow_untrained=allow_untrained,
        gain=paired_gain(*hits, confidence),
    )
    if metadata_path:  # a local run: the decision names the run it was made in
        run = run_of_output(open_store(metadata_path), blessing.uri)
        decision = dataclasses.replace(decision, run_id=run[0] if run else None)
    io_utils.write_string_file(os.path.join(blessing.uri, DECISION_FILE), decision.to_json())
    record_decision(blessing, decision)
    if decision.winner is None:
        return
    source = candidate_model if decision.winner.role == CANDIDATE else baseline_model
    serving_dir = path_utils.serving_model_path(model.uri)
    io_utils.copy_dir(path_utils.serving_model_path(source.uri), serving_dir)
    io_utils.write_string_file(os.path.join(serving_dir, DECISION_PATH), decision.to_json())
    blessing.set_string_custom_property("winner", decision.winner.model)


@tfx.dsl.components.component
def PushWinner(  # noqa: N802 (TFX components are named like classes)
    model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
    model_blessing: tfx.dsl.components.InputArtifact[standard_artifacts.ModelBlessing],
    examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
    pushed_model: tfx.dsl.components.OutputArtifact[standard_artifacts.PushedModel],
    push_blessing: tfx.dsl.components.OutputArtifact[standard_artifacts.ModelBlessing],
    serving_dir: tfx.dsl.components.Parameter[str],
    min_gain_over_production: tfx.dsl.components.Parameter[float],
    confidence: tfx.dsl.components.Parameter[float],
) -> None:
    decision = read_decision(model_blessing.uri)
    if decision.winner is None:
        record = PushRecord(False, False, f"no winner to push: {decision.reason}")
    else:
        eval_files = _eval_files(examples)
        record = push_winner(
            path_utils.serving_model_path(model.uri),
            serving_dir,
            decision.winner.model,
            lambda model_dir: hits_on_examples(model_dir, eval_files),
            min_gain_over_production,
            confidence,
        )
    io_utils.write_string_file(os.path.join(pushed_model.uri, PUSH_RECORD_FILE), record.to_json())
    pushed_model.set_int_custom_property("pushed", int(record.pushed))
    # What pushers downstream may push (TFX's read "blessed"): only a version pushed now.
    push_blessing.set_int_custom_property("blessed", int(record.pushed))
    push_blessing.set_string_custom_property("reason", record.reason)
    if record.pushed:
        destination = os.path.join(serving_dir, str(record.version))
        pushed_model.set_string_custom_property("pushed_destination", destination)
        pushed_model.set_string_custom_property("pushed_version", str(record.version))


def record_decision(blessing: standard_artifacts.ModelBlessing, decision: Decision) -> None:
    """The decision as the blessing's custom properties, so that ML Metadata's lineage says
    why a model was pushed without reading files: blessed, winner, reason, and the
    candidate's gain over the baseline with its interval."""
    blessing.set_int_custom_property("blessed", int(decision.winner is not None))
    blessing.set_string_custom_property("reason", decision.reason)
    if decision.gain is not None:
        for name in ("value", "low", "high", "confidence"):
            blessing.set_float_custom_property(f"gain_{name}", getattr(decision.gain, name))
        blessing.set_int_custom_property("gain_examples", decision.gain.examples)


def _eval_files(examples: standard_artifacts.Examples) -> list[str]:
    """The files of the eval split of ImageExampleGen's output."""
    eval_uri = artifact_utils.get_split_uri([examples], EVAL_SPLIT)
    return tf.io.gfile.glob(f"{eval_uri}/*")


def read_decision(blessing_uri: str) -> Decision:
    """The decision a SelectWinner run wrote into its blessing folder."""
    with tf.io.gfile.GFile(os.path.join(blessing_uri, DECISION_FILE)) as f:
        return Decision.from_json(f.read())


def read_push_record(pushed_model_uri: str) -> PushRecord | None:
    """What a PushWinner run did; None for a push made before it kept a record."""
    path = os.path.join(pushed_model_uri, PUSH_RECORD_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return PushRecord.from_json(f.read())
