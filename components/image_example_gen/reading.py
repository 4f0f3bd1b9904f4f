"""The Beam work of reading image files: what runs on the workers.

Kept apart from the executor, which imports TFX: a Beam worker imports the modules of the
functions it runs, and importing TFX would add about as much to every worker's start-up as
TensorFlow itself.
"""

import bisect
import dataclasses
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import apache_beam as beam
import tensorflow as tf

from components.image_example_gen import sources
from components.image_example_gen.sources import base

METRICS_NAMESPACE = "ImageExampleGen"
REJECTED_TAG = "rejected"
# Inputs travel in tasks of up to this many files (fewer when there are few inputs, so that
# there are at least _MIN_TASKS tasks to spread over the workers): Beam's cost per element,
# paid per task instead of per file, would otherwise rival reading a 32x32 image.
_MAX_FILES_PER_TASK = 64
_MIN_TASKS = 256


def group_into_tasks(inputs: list[base.InputFile]) -> list[tuple[base.InputFile, ...]]:
    """Splits `inputs` into consecutive tasks of 1 to _MAX_FILES_PER_TASK files."""
    size = min(_MAX_FILES_PER_TASK, max(1, len(inputs) // _MIN_TASKS))
    return [tuple(inputs[i : i + size]) for i in range(0, len(inputs), size)]


def write_tasks(tasks: list[tuple[base.InputFile, ...]], path: str) -> None:
    """Writes `tasks` to `path` (local or gs://), one line per task (see `parse_task`)."""
    with tf.io.gfile.GFile(path, "w") as f:
        for task in tasks:
            f.write(json.dumps([dataclasses.astuple(item) for item in task]) + "\n")


def parse_task(line: str) -> tuple[base.InputFile, ...]:
    """The task that `write_tasks` wrote as `line`."""
    return tuple(base.InputFile(*fields) for fields in json.loads(line))


class ReadFiles(beam.DoFn):
    """Reads a task of `InputFile`s (a line of `write_tasks`) into examples; rejected records
    go to the REJECTED_TAG output. Counts `files_read[<split>]`, `examples_read[<split>]` and
    `rejected[<split>][<reason>]`."""

    def __init__(self, source: sources.ImageSource, class_names: list[str], split: str):
        self._source = source
        self._class_names = class_names
        self._split = split
        self._files = beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"files_read[{split}]")
        self._examples = beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"examples_read[{split}]")

    def process(self, line: str) -> Iterator[Any]:
        task = parse_task(line)
        examples = 0
        for item in task:
            for record in self._source.read(item, self._class_names):
                if isinstance(record, base.Rejected):
                    name = f"rejected[{self._split}][{record.reason}]"
                    beam.metrics.Metrics.counter(METRICS_NAMESPACE, name).inc()
                    yield beam.pvalue.TaggedOutput(REJECTED_TAG, record)
                else:
                    examples += 1
                    yield record
        self._files.inc(len(task))
        self._examples.inc(examples)


def hash_split_index(example: Any, num_splits: int, buckets: Sequence[int], feature: str) -> int:
    """The output split of `example` in a hash split, exactly as TFX's ExampleGen assigns it:
    SHA-256 of the serialized `feature`, modulo the total of the hash buckets, placed among
    `buckets` (the running totals of the splits' buckets). A `beam.Partition` function.
    """
    key = example.features.feature[feature].SerializeToString(deterministic=True)
    bucket = int(hashlib.sha256(key).hexdigest(), 16) % buckets[-1]
    del num_splits  # = len(buckets)
    return bisect.bisect(buckets, bucket)
