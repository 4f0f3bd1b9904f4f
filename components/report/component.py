"""RunReport: the run's HTML report (components/report/render.py) as a TFX artifact, so it also
exists for Kubeflow / Vertex runs.

Inputs:  candidate_model, baseline_model (Trainer `model`), candidate_run, baseline_run (Trainer
         `model_run`: history.json), examples (ExampleGen: the eval split's images),
         evaluation (Evaluator), blessing (SelectWinner: decision.json), pushed_model
         (Pusher: what was pushed, decided against production at push time).
Output:  report  a folder with index.html and its PNGs.
Optional metadata_path: a local run's SQLite ML Metadata, where the report finds its run id,
         start and the data set read (components/report/provenance.py); Kubeflow / Vertex
         keep their own.

No `from __future__ import annotations` here: TFX reads the component's type hints.
"""

import dataclasses
import json
import os

import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import artifact, standard_artifacts
from tfx.utils import path_utils

from components.evaluator.keys import BASELINE, CANDIDATE
from components.report.provenance import ORCHESTRATOR_METADATA, Provenance, recorded_provenance
from components.report.render import ModelRun, data_summary, write_report
from components.winner.component import read_decision, read_push_record
from features import EVAL_SPLIT, HISTORY_FILE, split_folder


class RunReportArtifact(artifact.Artifact):
    """A folder holding index.html and the PNG plots it shows."""

    TYPE_NAME = "vt_tfx.RunReport"  # namespace.Name, as Kubeflow V2 requires


def model_run(
    role: str, name: str, overrides: dict, model_uri: str, model_run_uri: str
) -> ModelRun:
    """A Trainer's outputs as the report reads them."""
    return ModelRun(
        role=role,
        name=name,
        model_dir=path_utils.serving_model_path(model_uri),
        history_path=os.path.join(model_run_uri, HISTORY_FILE),
        overrides=overrides,
    )


def split_files(examples_uri: str, split: str = EVAL_SPLIT) -> list[str]:
    """The TFRecord files of one split (the eval split) of an ExampleGen output folder."""
    return tf.io.gfile.glob(os.path.join(examples_uri, split_folder(split), "*"))


@tfx.dsl.components.component
def RunReport(  # noqa: N802 (TFX components are named like classes)
    candidate_model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
    baseline_model: tfx.dsl.components.InputArtifact[standard_artifacts.Model],
    candidate_run: tfx.dsl.components.InputArtifact[standard_artifacts.ModelRun],
    baseline_run: tfx.dsl.components.InputArtifact[standard_artifacts.ModelRun],
    examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
    evaluation: tfx.dsl.components.InputArtifact[standard_artifacts.ModelEvaluation],
    blessing: tfx.dsl.components.InputArtifact[standard_artifacts.ModelBlessing],
    pushed_model: tfx.dsl.components.InputArtifact[standard_artifacts.PushedModel],
    report: tfx.dsl.components.OutputArtifact[RunReportArtifact],
    title: tfx.dsl.components.Parameter[str],
    candidate_name: tfx.dsl.components.Parameter[str],
    baseline_name: tfx.dsl.components.Parameter[str],
    candidate_overrides_json: tfx.dsl.components.Parameter[str],
    baseline_overrides_json: tfx.dsl.components.Parameter[str],
    image_size: tfx.dsl.components.Parameter[int],
    min_images_per_class: tfx.dsl.components.Parameter[int],
    metadata_path: tfx.dsl.components.Parameter[str] = None,
) -> None:
    candidate = (candidate_name, json.loads(candidate_overrides_json))
    baseline = (baseline_name, json.loads(baseline_overrides_json))
    recorded = (
        recorded_provenance(metadata_path, report.uri, examples.id)
        if metadata_path
        else Provenance(metadata=ORCHESTRATOR_METADATA)
    )
    pushed_path = pushed_model.get_string_custom_property("pushed_destination")
    provenance = dataclasses.replace(
        recorded, examples_uri=examples.uri, pushed_path=pushed_path or None
    )
    write_report(
        title=title,
        runs=[
            model_run(CANDIDATE, *candidate, candidate_model.uri, candidate_run.uri),
            model_run(BASELINE, *baseline, baseline_model.uri, baseline_run.uri),
        ],
        eval_files=split_files(examples.uri),
        evaluation_uri=evaluation.uri,
        decision=read_decision(blessing.uri),
        push=read_push_record(pushed_model.uri),
        data=data_summary(examples.uri, min_images_per_class),
        image_size=image_size,
        output_dir=report.uri,
        provenance=provenance,
    )
