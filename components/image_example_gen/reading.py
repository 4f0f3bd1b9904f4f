"""The Beam work of reading image files: what runs on the workers.

Kept apart from the executor, which imports TFX: a Beam worker imports the modules of the
functions it runs, and none of the modules a worker needs imports TFX or TensorFlow (see
`example_proto`), each of which would add seconds to every worker's start-up.
"""

import bisect
import collections
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import apache_beam as beam

import features
from components.image_example_gen import files, rejects, shards, sources
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


# A read task: the input split's name and its files.
Task = tuple[str, tuple[base.InputFile, ...]]
# An input file's fields, in order: read by name, since `dataclasses.astuple` deep-copies
# each value, a cost the driver pays per input file (docs/benchmarks.md#task-list).
_INPUT_FIELDS = tuple(field.name for field in dataclasses.fields(base.InputFile))


def write_tasks(tasks: Iterable[Task], path: str) -> None:
    """Writes `tasks` to `path` (local or gs://), one line per task (see `parse_task`)."""
    lines = (
        json.dumps([split, [[getattr(item, name) for name in _INPUT_FIELDS] for item in items]])
        + "\n"
        for split, items in tasks
    )
    files.write_text(path, "".join(lines))


def parse_task(line: str) -> Task:
    """The task that `write_tasks` wrote as `line`."""
    split, items = json.loads(line)
    return split, tuple(base.InputFile(*fields) for fields in items)


@dataclasses.dataclass(frozen=True)
class HashSplit:
    """A deterministic hash split of one input split into output splits, exactly as TFX's
    ExampleGen assigns it.

    Attributes:
      divides: the input split divided; the others are kept as they are.
      names: the output splits' names.
      buckets: the running totals of their hash buckets, e.g. (9, 10) for 9:1.
      feature: the feature hashed, e.g. `source_id`.
    """

    divides: str
    names: tuple[str, ...]
    buckets: tuple[int, ...]
    feature: str

    def split_of(self, example: Any) -> str:
        """The output split of `example` (an `example_proto.Example` or a tf.train.Example)."""
        return self.names[hash_split_index(example, self.buckets, self.feature)]


def hash_split_index(example: Any, buckets: Sequence[int], feature: str) -> int:
    """The output split index of `example` (an `example_proto.Example` or a tf.train.Example)
    in a hash split, as TFX's ExampleGen assigns it: SHA-256 of the serialized `feature`,
    modulo the total of the hash buckets, placed among `buckets` (running totals)."""
    key = example.features.feature[feature].SerializeToString(deterministic=True)
    bucket = int.from_bytes(hashlib.sha256(key).digest(), "big") % buckets[-1]
    return bisect.bisect(buckets, bucket)


class ReadFiles(beam.DoFn):
    """Reads a task (a line of `write_tasks`) into its examples, as `shards.SplitRecords`:
    (output split, keyed records) for each output split that gets some (the task's input
    split, or those of `hash_split`), and (input split, `rejects.TaskReport`) of the task to
    the REPORT_TAG output. Counts `files_read[<split>]`, `examples_read[<split>]` and
    `rejected[<split>][<reason>]` per input split.

    With `data_dir`, an input any of whose files (`ImageSource.input_paths`) leads outside
    it — a symlink, `..`, a manifest's absolute path — is not opened: it is rejected as
    `OUTSIDE_DATA_DIR`, standing for the images it would hold. None reads every path.
    """

    def __init__(
        self,
        source: sources.ImageSource,
        class_names: list[str],
        hash_split: HashSplit | None = None,
        data_dir: str | None = None,
    ):
        self._source = source
        self._class_names = class_names
        self._hash_split = hash_split
        self._data_dir = data_dir
        self._boundary: files.Boundary | None = None

    def setup(self) -> None:
        if self._data_dir:
            self._boundary = files.Boundary(self._data_dir)

    def _read(self, item: base.InputFile) -> Iterable[base.Example | base.Rejected]:
        """`item`'s records; one OUTSIDE_DATA_DIR record when it leads out of the data dir."""
        if self._boundary:
            for path in self._source.input_paths(item):
                resolved = self._boundary.outside(path)
                if resolved:
                    detail = (
                        f"{path} leads to {resolved}, outside the data dir "
                        f"{self._boundary.root}: not read (data.read_outside_data_dir reads it)"
                    )
                    count = self._source.nominal_images(item)
                    return [base.Rejected(item.source_id, base.OUTSIDE_DATA_DIR, detail, count)]
        return self._source.read(item, self._class_names)

    # Iterator[Any]: Beam would read a union with TaggedOutput as the main output's type.
    def process(self, line: str) -> Iterator[Any]:
        split, items = parse_task(line)
        parts: dict[str, list[tuple[bytes, bytes]]] = collections.defaultdict(list)
        rejected = []
        classes: collections.Counter[tuple[str, int]] = collections.Counter()
        for item in items:
            for record in self._read(item):
                if isinstance(record, base.Rejected):
                    _count(f"rejected[{split}][{record.reason}]")
                    rejected.append(record)
                else:
                    output = split
                    if self._hash_split and split == self._hash_split.divides:
                        output = self._hash_split.split_of(record)
                    parts[output].append(shards.keyed_record(record))
                    [label] = record.features.feature[features.LABEL_KEY].int64_list.value
                    classes[output, label] += 1
        examples = sum(len(records) for records in parts.values())
        _count(f"files_read[{split}]", len(items))
        _count(f"examples_read[{split}]", examples)
        yield from parts.items()
        counts = tuple((output, label, count) for (output, label), count in classes.items())
        report = rejects.TaskReport(examples, tuple(rejected), counts)
        yield beam.pvalue.TaggedOutput(REPORT_TAG, (split, report))


def _count(name: str, n: int = 1) -> None:
    beam.metrics.Metrics.counter(METRICS_NAMESPACE, name).inc(n)


def split_index(
    part: tuple[str, list[tuple[bytes, bytes]]], num_splits: int, names: list[str]
) -> int:
    """The index among `names` of the split of a `shards.SplitRecords` part: a
    `beam.Partition` function."""
    del num_splits  # = len(names)
    return names.index(part[0])
