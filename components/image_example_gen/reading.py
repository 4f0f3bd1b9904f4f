"""The Beam work of reading image files: what runs on the workers.

Kept apart from the executor, which imports TFX: a Beam worker imports the modules of the
functions it runs, and none of the modules a worker needs imports TFX or TensorFlow (see
`example_proto`), each of which would add seconds to every worker's start-up.
"""

import bisect
import dataclasses
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import apache_beam as beam

from components.image_example_gen import example_proto, files, rejects, shards, sources
from components.image_example_gen.sources import base

METRICS_NAMESPACE = "ImageExampleGen"
REPORT_TAG = "report"
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
    lines = (json.dumps([dataclasses.astuple(item) for item in task]) + "\n" for task in tasks)
    files.write_text(path, "".join(lines))


def parse_task(line: str) -> tuple[base.InputFile, ...]:
    """The task that `write_tasks` wrote as `line`."""
    return tuple(base.InputFile(*fields) for fields in json.loads(line))


class ReadFiles(beam.DoFn):
    """Reads a task of `InputFile`s (a line of `write_tasks`) into one batch of its examples
    (`shards.KeyedRecords`, none when all were rejected), and one `rejects.TaskReport` of the
    task to the REPORT_TAG output. Counts `files_read[<split>]`, `examples_read[<split>]` and
    `rejected[<split>][<reason>]`."""

    def __init__(self, source: sources.ImageSource, class_names: list[str], split: str):
        self._source = source
        self._class_names = class_names
        self._split = split
        self._files = beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"files_read[{split}]")
        self._examples = beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"examples_read[{split}]")

    # Iterator[Any]: Beam would read a union with TaggedOutput as the main output's type.
    def process(self, line: str) -> Iterator[Any]:
        task = parse_task(line)
        batch = []
        rejected = []
        for item in task:
            for record in self._source.read(item, self._class_names):
                if isinstance(record, base.Rejected):
                    name = f"rejected[{self._split}][{record.reason}]"
                    beam.metrics.Metrics.counter(METRICS_NAMESPACE, name).inc()
                    rejected.append(record)
                else:
                    batch.append(shards.keyed_record(record))
        self._files.inc(len(task))
        self._examples.inc(len(batch))
        if batch:
            yield batch
        yield beam.pvalue.TaggedOutput(REPORT_TAG, rejects.TaskReport(len(batch), tuple(rejected)))


def hash_split_index(record: bytes, num_splits: int, buckets: Sequence[int], feature: str) -> int:
    """The output split of the serialized example `record` in a hash split, exactly as TFX's
    ExampleGen assigns it: SHA-256 of the serialized `feature`, modulo the total of the hash
    buckets, placed among `buckets` (the running totals of the splits' buckets).
    """
    example = example_proto.Example.FromString(record)
    key = example.features.feature[feature].SerializeToString(deterministic=True)
    bucket = int(hashlib.sha256(key).hexdigest(), 16) % buckets[-1]
    del num_splits  # = len(buckets)
    return bisect.bisect(buckets, bucket)


def split_batch(
    batch: list[tuple[bytes, bytes]], buckets: list[int], feature: str
) -> Iterator[tuple[int, list[tuple[bytes, bytes]]]]:
    """The records of `batch` by output split of a hash split (see `hash_split_index`):
    (split index, records) for each split that gets some."""
    return shards.group_by(
        batch, lambda keyed: hash_split_index(keyed[1], len(buckets), buckets, feature)
    )


def split_of(part: tuple[int, list[tuple[bytes, bytes]]], num_splits: int) -> int:
    """The split index of a part made by `split_batch`: a `beam.Partition` function."""
    del num_splits  # the index is below it
    return part[0]
