"""How ImageExampleGen hands its inputs to Beam: every file once, in tasks of bounded size,
to workers that import no TensorFlow."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import apache_beam as beam
import pytest
import tensorflow as tf
from apache_beam.internal import pickler
from apache_beam.portability import common_urns, python_urns
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.runner import PipelineResult, PipelineRunner, PipelineState
from hypothesis import given, settings
from hypothesis import strategies as st
from tfx.types import standard_artifacts

from components.image_example_gen import class_counts, executor, reading, sources
from components.image_example_gen.component import create_image_example_gen
from components.image_example_gen.sources.base import InputFile
from tests.fixtures.cifar import write_cifar10_python
from tests.fixtures.idx import write_mnist
from tests.fixtures.images import write_class_tree


def _inputs(n: int) -> list[InputFile]:
    return [InputFile(f"/data/c/{i}.jpg", f"c/{i}.jpg", 0, "c") for i in range(n)]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 40_000))
def test_tasks_hold_every_input_once_in_order_and_are_bounded(n):
    inputs = _inputs(n)

    tasks = reading.group_into_tasks(inputs)

    assert [item for task in tasks for item in task] == inputs
    assert all(1 <= len(task) <= 64 for task in tasks)
    assert len(tasks) >= min(n, 256), "enough tasks to spread over the workers"


def test_few_inputs_travel_one_per_task():
    assert [len(task) for task in reading.group_into_tasks(_inputs(6))] == [1] * 6


def test_a_task_survives_its_trip_through_the_task_file(tmp_path):
    inputs = _inputs(3) + [InputFile("/data/x.bin", "x.bin"), InputFile("/d/é 1.jpg", "é 1.jpg")]
    tasks = [("train", items) for items in reading.group_into_tasks(inputs)]
    tasks.append(("eval", (InputFile("/data/y.bin", "y.bin"),)))

    reading.write_tasks(tasks, str(tmp_path / "tasks.jsonl"))

    lines = (tmp_path / "tasks.jsonl").read_text(encoding="utf-8").splitlines()
    assert [reading.parse_task(line) for line in lines] == tasks


# Runs in a fresh process, as a Beam worker does: unpickles the ReadFiles of each split, reads
# one task with it, and writes the examples as a TFRecord file.
_WORKER = """
import json, sys
from apache_beam.internal import pickler
from components.image_example_gen import rejects, shards, tfrecords

jobs = json.load(open(sys.argv[1]))
for job in jobs:
    read_files = pickler.loads(job["read_files"].encode())
    [(split, records)] = [out for out in read_files.process(job["task"]) if isinstance(out, tuple)]
    assert split == "train", split
    tfrecords.write(job["output"], [record for _, record in records])
assert "tensorflow" not in sys.modules, "a worker imported TensorFlow"
"""


def test_a_worker_reads_and_writes_without_importing_tensorflow(tmp_path: Path) -> None:
    """Importing TensorFlow would cost every Beam worker process about 2 s."""
    data = {
        "cifar10": write_cifar10_python(tmp_path / "cifar", 4),
        "mnist": write_mnist(tmp_path / "mnist"),
        "folder": write_class_tree(tmp_path / "folder", ["cat", "dog"], per_class=2),
    }
    jobs, expected = [], {}
    for name, data_dir in data.items():
        source = sources.get_source(name)
        class_names = source.class_names(str(data_dir))
        pattern = next(iter(source.splits(str(data_dir)).values()))
        inputs = source.list_inputs(str(data_dir), pattern, class_names)
        task_file = tmp_path / f"{name}.jsonl"
        reading.write_tasks([("train", tuple(inputs))], str(task_file))
        read_files = reading.ReadFiles(source, class_names)
        jobs.append(
            {
                "read_files": pickler.dumps(read_files).decode(),
                "task": task_file.read_text().strip(),
                "output": str(tmp_path / f"{name}.tfrecord.gz"),
            }
        )
        expected[name] = [
            record.SerializeToString(deterministic=True)
            for item in inputs
            for record in source.read(item, class_names)
        ]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))

    subprocess.run([sys.executable, "-c", _WORKER, str(tmp_path / "jobs.json")], check=True)

    for name, records in expected.items():
        path = str(tmp_path / f"{name}.tfrecord.gz")
        written = [r.numpy() for r in tf.data.TFRecordDataset(path, compression_type="GZIP")]
        assert written == records, name
        # TensorFlow reads every feature into a known field (none is left as unknown bytes).
        parsed = tf.train.Example.FromString(written[0]).features.feature
        kinds = {key: feature.WhichOneof("kind") for key, feature in parsed.items()}
        assert kinds["image"] == kinds["label_name"] == kinds["source_id"] == "bytes_list"
        assert kinds["label"] == kinds["height"] == kinds["width"] == "int64_list"


class _CapturingRunner(PipelineRunner):
    """Keeps the pipeline's graph instead of running it."""

    graph: beam_runner_api_pb2.Pipeline | None = None

    def run_pipeline(self, pipeline: beam.Pipeline, options: object) -> PipelineResult:
        _CapturingRunner.graph = pipeline.to_runner_api()
        return PipelineResult(PipelineState.DONE)


def _pickled_functions(graph: beam_runner_api_pb2.Pipeline) -> list[bytes]:
    """What a worker unpickles to run `graph`: the DoFns and CombineFns of its transforms."""
    functions = []
    for transform in graph.components.transforms.values():
        if transform.spec.urn == common_urns.primitives.PAR_DO.urn:
            function = beam_runner_api_pb2.ParDoPayload.FromString(transform.spec.payload).do_fn
        elif transform.spec.urn in (
            common_urns.composites.COMBINE_PER_KEY.urn,
            common_urns.composites.COMBINE_GLOBALLY.urn,
        ):
            payload = beam_runner_api_pb2.CombinePayload.FromString(transform.spec.payload)
            function = payload.combine_fn
        else:
            continue
        if function.urn in (python_urns.PICKLED_DOFN_INFO, python_urns.PICKLED_COMBINE_FN):
            functions.append(function.payload)
    return functions


def test_no_function_of_the_pipeline_makes_a_worker_import_tensorflow(tmp_path: Path) -> None:
    """A function defined in a module that imports TFX or TensorFlow (e.g. a lambda in the
    executor) would make every worker import it to unpickle the function."""
    data_dir = write_class_tree(tmp_path / "folder", ["cat", "dog"], per_class=2)
    component = create_image_example_gen(str(data_dir), "folder")  # hash-split
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    context = executor.Executor.Context(
        make_beam_pipeline_fn=lambda: beam.Pipeline(runner=_CapturingRunner())
    )
    # The capturing runner runs nothing: the checks after the pipeline find no example.
    with pytest.raises(class_counts.TooFewClassesError):
        executor.Executor(context).Do({}, {"examples": [examples]}, component.exec_properties)
    functions = _pickled_functions(_CapturingRunner.graph)
    assert len(functions) > 10
    (tmp_path / "functions.json").write_text(
        json.dumps([base64.b64encode(f).decode() for f in functions])
    )

    script = """
import base64, json, sys
from apache_beam.internal import pickler
for function in json.load(open(sys.argv[1])):
    pickler.loads(base64.b64decode(function))
heavy = sorted(m for m in ("tensorflow", "tfx") if m in sys.modules)
assert not heavy, f"unpickling the pipeline's functions imported {heavy}"
"""
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "functions.json")], check=True)
