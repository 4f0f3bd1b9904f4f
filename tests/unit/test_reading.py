"""How ImageExampleGen hands its inputs to Beam: every file once, in tasks of bounded size,
to workers that import no TensorFlow."""

import json
import subprocess
import sys
from pathlib import Path

import tensorflow as tf
from apache_beam.internal import pickler
from hypothesis import given, settings
from hypothesis import strategies as st

from components.image_example_gen import reading, sources
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
    tasks = reading.group_into_tasks(inputs)

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
    records = [r for r in read_files.process(job["task"]) if isinstance(r, bytes)]
    tfrecords.write(job["output"], records)
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
        reading.write_tasks([tuple(inputs)], str(task_file))
        read_files = reading.ReadFiles(source, class_names, "train")
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
        assert tf.train.Example.FromString(written[0]).features.feature["label_name"].bytes_list
