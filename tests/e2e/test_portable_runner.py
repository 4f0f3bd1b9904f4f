"""The Beam components under Beam's portable runner: the same artifacts as on the DirectRunner.

The smoke pipeline runs twice on one tiny data set: with `--beam=in_memory` (DirectRunner)
and with `--beam=portable` (PortableRunner, `--job_endpoint=embed`, LOOPBACK: each Beam
pipeline is submitted to Beam's embedded job service through the Job API and run by an SDK
worker through the Fn API, as a Flink or Spark job server would run it). ExampleGen,
StatisticsGen, ExampleValidator, Transform and the Evaluator must produce the same artifacts
either way. Both Trainers train for 0 epochs, so both runs evaluate identical models (their
seeded initial weights; checked) and the Evaluator's metrics must be equal too. What this
proves and what only a real cluster can: docs/runners.md.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from apache_beam.runners.portability import local_job_service
from google.protobuf import json_format, text_format
from google.protobuf.message import Message
from ml_metadata.proto import metadata_store_pb2
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from pipeline.commands.run import EXIT_NOTHING_PUSHED
from pipeline.config import PRESETS
from pipeline.outputs import executed_nodes, latest_outputs, open_store
from tests.e2e.workspace import make_workspace, run_smoke

pytestmark = pytest.mark.e2e

NAME = PRESETS["smoke"]().name
SPLITS = ("eval", "test", "train")
MODELS = ("candidate", "baseline")
UNTRAINED = (
    *("--set", "candidate.epochs=0", "--set", "baseline.epochs=0"),
    *("--set", "gate.allow_untrained=true"),
)
# A top-level transform of each Beam component's pipeline, as the job service receives it.
BEAM_COMPONENT_TRANSFORMS = {
    "FileBasedExampleGen": "InputToRecord",
    "StatisticsGen": "GenerateStatistics[train]",
    "Transform": "WriteTransformFn",
    "Evaluator": "ExtractEvaluateAndWriteResults",
}
# How the runner reaches a LOOPBACK worker (the DirectRunner's in-process one is "embedded").
EXTERNAL_ENVIRONMENT = "beam:env:external:v1"
SCHEMA = Path("transformed_metadata", "schema.pbtxt")
WEIGHTS = Path("Format-Serving", "variables", "variables.data-00000-of-00001")
# Floats computed by a combiner may be summed in another order on another runner.
REL_TOLERANCE = 1e-6


@dataclasses.dataclass(frozen=True)
class Job:
    """A Beam pipeline the embedded job service received."""

    transforms: frozenset[str]  # top-level transform names
    environments: frozenset[str]  # URNs


@dataclasses.dataclass(frozen=True)
class Run:
    status: int
    output_root: Path
    jobs: tuple[Job, ...]

    def _store(self):
        return open_store(str(self.output_root / "metadata" / NAME / "metadata.db"))

    def executed(self) -> dict[str, int]:
        return executed_nodes(self._store(), NAME)

    def artifact(self, node: str, key: str) -> metadata_store_pb2.Artifact:
        return latest_outputs(self._store(), NAME, node)[key]

    def folder(self, node: str, key: str) -> Path:
        return Path(self.artifact(node, key).uri)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Run, Run]:
    """The DirectRunner's run and the portable runner's, on one data set, each in its own
    output root, with the Beam jobs the embedded job service received during each."""
    root = tmp_path_factory.mktemp("portable")
    data_dir = make_workspace(root, images_per_batch=20, num_train_batches=2)["data_dir"]
    jobs: list[Job] = []
    create_beam_job = local_job_service.LocalJobServicer.create_beam_job

    def record(self, preparation_id, job_name, pipeline, options):
        components = pipeline.components
        transforms = frozenset(t.unique_name.split("/")[0] for t in components.transforms.values())
        jobs.append(Job(transforms, frozenset(e.urn for e in components.environments.values())))
        return create_beam_job(self, preparation_id, job_name, pipeline, options)

    runs = []
    with pytest.MonkeyPatch.context() as patch:  # a spy: the job service itself still runs
        patch.setattr(local_job_service.LocalJobServicer, "create_beam_job", record)
        for beam in ("in_memory", "portable"):
            workspace = {"data_dir": data_dir, "output_root": root / beam}
            status = run_smoke(workspace, f"--beam={beam}", *UNTRAINED)
            runs.append(Run(status, root / beam, tuple(jobs)))
            jobs.clear()
    return tuple(runs)


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every leaf of nested dicts and lists (a proto as `MessageToDict`)."""
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            yield from leaves(value[key], f"{path}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def assert_same(got: Any, expected: Any, what: str) -> None:
    """Equal nested values (protos as dicts): the same leaves, floats up to REL_TOLERANCE."""
    if isinstance(got, Message):
        got, expected = json_format.MessageToDict(got), json_format.MessageToDict(expected)
    got, expected = dict(leaves(got)), dict(leaves(expected))
    assert sorted(got) == sorted(expected), what
    for path, value in expected.items():
        if isinstance(value, float):
            value = pytest.approx(value, rel=REL_TOLERANCE, nan_ok=True)
        assert got[path] == value, f"{what}: {path}"


def read_proto(path: Path, message: Message) -> Message:
    message.ParseFromString(path.read_bytes())
    return message


def examples(folder: Path) -> list[tuple[tuple[str, bytes], ...]]:
    """The tf.Examples of a split folder, each as (feature, serialized value) pairs sorted by
    feature name (a proto map's serialized order is not fixed), sorted."""
    files = sorted(str(f) for f in folder.iterdir() if f.suffix == ".gz")
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    parsed = (tf.train.Example.FromString(r.numpy()) for r in records)
    return sorted(
        tuple(sorted((k, v.SerializeToString()) for k, v in e.features.feature.items()))
        for e in parsed
    )


def split_names(artifact: metadata_store_pb2.Artifact) -> set[str]:
    return set(json.loads(artifact.properties["split_names"].string_value))


def test_both_runs_succeed_and_only_the_portable_one_uses_the_job_service(runs):
    direct, portable = runs
    assert direct.status == portable.status
    assert direct.status in (0, EXIT_NOTHING_PUSHED)
    assert portable.executed() == direct.executed() == dict.fromkeys(direct.executed(), 1)

    assert direct.jobs == ()
    # One job per Beam component, each run by the LOOPBACK worker through the Fn API.
    assert len(portable.jobs) == len(BEAM_COMPONENT_TRANSFORMS)
    for component, transform in BEAM_COMPONENT_TRANSFORMS.items():
        assert any(transform in job.transforms for job in portable.jobs), component
    for job in portable.jobs:
        assert job.environments == {EXTERNAL_ENVIRONMENT}


def test_example_gen_writes_the_same_examples(runs):
    direct, portable = runs
    node = "FileBasedExampleGen"
    got, expected = portable.artifact(node, "examples"), direct.artifact(node, "examples")
    assert split_names(got) == split_names(expected) == set(SPLITS)
    for name in ("num_classes", "class_names", "input_fingerprint"):
        assert got.custom_properties[name] == expected.custom_properties[name], name
    for split in SPLITS:
        rows = examples(Path(expected.uri) / f"Split-{split}")
        assert rows, split
        assert examples(Path(got.uri) / f"Split-{split}") == rows, split
    for name in ("class_names.json", "rejected/train-summary.json", "rejected/test-summary.json"):
        texts = [json.loads((Path(a.uri) / name).read_text()) for a in (got, expected)]
        assert texts[0] == texts[1], name


def test_statistics_gen_and_example_validator_see_the_same_data(runs):
    direct, portable = runs
    for split in SPLITS:
        stats = [
            read_proto(
                run.folder("StatisticsGen", "statistics") / f"Split-{split}" / "FeatureStats.pb",
                statistics_pb2.DatasetFeatureStatisticsList(),
            )
            for run in (portable, direct)
        ]
        assert stats[1].datasets[0].num_examples > 0
        assert_same(*stats, f"statistics of {split}")
        anomalies = [
            read_proto(
                run.folder("ExampleValidator", "anomalies") / f"Split-{split}" / "SchemaDiff.pb",
                anomalies_pb2.Anomalies(),
            )
            for run in (portable, direct)
        ]
        assert_same(*anomalies, f"anomalies of {split}")


def test_transform_writes_the_same_examples_schema_and_statistics(runs):
    direct, portable = runs
    got = portable.artifact("Transform", "transformed_examples")
    expected = direct.artifact("Transform", "transformed_examples")
    assert split_names(got) == split_names(expected) == set(SPLITS)
    for split in SPLITS:
        rows = examples(Path(expected.uri) / f"Split-{split}")
        assert rows, split
        assert examples(Path(got.uri) / f"Split-{split}") == rows, split

    schemas = [
        text_format.Parse(
            (run.folder("Transform", "transform_graph") / SCHEMA).read_text(), schema_pb2.Schema()
        )
        for run in (portable, direct)
    ]
    assert_same(*schemas, "transformed schema")
    for key in ("pre_transform_stats", "post_transform_stats"):
        stats = [
            read_proto(
                run.folder("Transform", key) / "FeatureStats.pb",
                statistics_pb2.DatasetFeatureStatisticsList(),
            )
            for run in (portable, direct)
        ]
        assert_same(*stats, key)


def test_evaluator_scores_the_same_models_alike(runs):
    direct, portable = runs
    for node in ("CandidateTrainer", "BaselineTrainer"):  # the premise: identical models
        weights = [(run.folder(node, "model") / WEIGHTS).read_bytes() for run in runs]
        assert weights[0] == weights[1], f"{node}'s untrained weights differ between runs"

    evaluations = [run.folder("Evaluator", "evaluation") for run in (portable, direct)]
    for model in MODELS:
        got, expected = (
            dict(tfma.load_eval_result(str(uri), model_name=model).slicing_metrics)
            for uri in evaluations
        )
        assert () in expected and len(expected) > 1, "the overall slice and feature slices"
        assert_same(got, expected, f"{model} metrics")
    blessed = [run.artifact("Evaluator", "blessing").custom_properties["blessed"] for run in runs]
    assert blessed[0] == blessed[1]
