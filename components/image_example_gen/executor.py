"""ImageExampleGen executor: reads image data set files into tf.train.Examples.

What to read travels in the component's custom config, an example_gen_pb2.CustomConfig whose
`custom_config` Any packs a google.protobuf.Struct (see `ReaderConfig`). TFX hands it to the
executor as the JSON string of that proto, under exec_properties["custom_config"].
"""

import dataclasses
import itertools
import os
from collections.abc import Sequence
from typing import Any

import apache_beam as beam
import tensorflow as tf
from absl import logging
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import write_split
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.util import examples_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

import features
from components.image_example_gen import (
    class_counts,
    files,
    reading,
    rejects,
    shards,
    sources,
    splits,
)
from components.image_example_gen.class_names import write as write_class_names
from components.image_example_gen.defaults import DEFAULT_MAX_REJECTED_FRACTION, DEFAULT_SHARD_BYTES
from components.image_example_gen.sources import base

# Added to exec_properties by Executor.Do for the PTransform: where rejects go, and where
# the lists of inputs to read are written for the workers (removed after the run).
_REJECTED_DIR_KEY = "_image_example_gen_rejected_dir"
_TASKS_DIR_KEY = "_image_example_gen_tasks_dir"


@dataclasses.dataclass(frozen=True)
class ReaderConfig:
    """What ImageExampleGen reads and how strict it is.

    Attributes:
      source: registry name of the source, e.g. "cifar10".
      max_per_class: read at most this many images per class and split (folder, imagenet).
      max_rejected_fraction: fail the run when more than this fraction of the inputs
        (examples + rejected) is rejected.
      shard_bytes: about this many bytes of serialized examples per output shard.
      read_outside_data_dir: read inputs that lead outside the data dir (symlinks, `..`,
        absolute manifest paths) instead of rejecting them as OUTSIDE_DATA_DIR.
      min_images_per_class: fail the run unless two classes or more have at least this many
        examples in the train split (`class_counts.check`).
    """

    source: str
    max_per_class: int | None = None
    max_rejected_fraction: float = DEFAULT_MAX_REJECTED_FRACTION
    shard_bytes: int = DEFAULT_SHARD_BYTES
    read_outside_data_dir: bool = False
    min_images_per_class: int = 1

    def image_source(self) -> sources.ImageSource:
        return sources.get_source(self.source, max_per_class=self.max_per_class)

    def to_proto(self) -> example_gen_pb2.CustomConfig:
        options = struct_pb2.Struct()
        options.update({k: v for k, v in dataclasses.asdict(self).items() if v is not None})
        config = example_gen_pb2.CustomConfig()
        config.custom_config.Pack(options)
        return config

    @classmethod
    def from_exec_properties(cls, exec_properties: dict[str, Any]) -> "ReaderConfig":
        """Reads the custom config of `exec_properties`: a JSON string when run by an
        orchestrator, or the example_gen_pb2.CustomConfig when the executor is called directly.

        Raises:
          ValueError: if the config names no source.
        """
        raw = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
        config = (
            proto_utils.json_to_proto(raw, example_gen_pb2.CustomConfig())
            if isinstance(raw, str)
            else raw or example_gen_pb2.CustomConfig()
        )
        options = struct_pb2.Struct()
        if not config.custom_config.Unpack(options) or "source" not in options:
            raise ValueError(
                f"custom_config {raw!r} names no image source: build the component with "
                "create_image_example_gen(), or pass custom_config=ReaderConfig(...).to_proto()"
            )
        values = json_format.MessageToDict(options)
        # A Struct holds every number as a float.
        for key in ("max_per_class", "shard_bytes", "min_images_per_class"):
            if values.get(key) is not None:
                values[key] = int(values[key])
        return cls(**values)


def _input_config(exec_properties: dict[str, Any]) -> example_gen_pb2.Input:
    return proto_utils.json_to_proto(
        exec_properties[standard_component_specs.INPUT_CONFIG_KEY], example_gen_pb2.Input()
    )


def _output_config(exec_properties: dict[str, Any]) -> example_gen_pb2.Output:
    return proto_utils.json_to_proto(
        exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], example_gen_pb2.Output()
    )


def _split_plan(exec_properties: dict[str, Any]) -> splits.SplitPlan:
    """The output splits of the input splits, as the component planned them (its hash split
    config holds the ratios, in order)."""
    split_config = _output_config(exec_properties).split_config
    ratios = {split.name: split.hash_buckets for split in split_config.splits} or None
    names = [split.name for split in _input_config(exec_properties).splits]
    return splits.plan_splits(names, ratios)


def _split_name(exec_properties: dict[str, Any], split_pattern: str) -> str:
    """Returns the name of the input split whose pattern is `split_pattern`."""
    input_config = _input_config(exec_properties)
    return next((s.name for s in input_config.splits if s.pattern == split_pattern), split_pattern)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(shards.SplitRecords)
def ReadImages(  # noqa: N802 - Beam PTransform naming, as in TFX.
    pipeline: beam.Pipeline,
    exec_properties: dict[str, Any],
    split_patterns: Sequence[str],
    hash_split: reading.HashSplit | None = None,
) -> beam.pvalue.PCollection:
    """Reads the inputs of the input splits into parts of output splits of examples.

    The driver lists each split's inputs (file names only), groups them into tasks (see
    `reading.group_into_tasks`) and writes the task list to a file; a worker reads the
    file's lines, a reshuffle spreads them over the workers, and each task's images are read.
    The list travels as a file rather than in a `beam.Create` of its lines, which would put
    every file name inside the pipeline graph (all 1.28 M of ImageNet's) and pickle and
    bz2-compress them on the way, a cost per file (docs/benchmarks.md#task-list). All splits
    share the stages: a pipeline pays each stage once. Rejected inputs are counted
    (`rejected[<split>][<reason>]`) and written by `rejects.write_rejects`; unless the
    config's `read_outside_data_dir`, inputs that lead outside input_base are among them.

    Args:
      pipeline: Beam pipeline.
      exec_properties: execution properties; uses input_base, input_config and
        custom_config.
      split_patterns: the globs of the input splits to read, relative to input_base.
      hash_split: divides the examples into output splits; None keeps each in its input
        split.

    Returns:
      PCollection of `shards.SplitRecords`: per read task and output split, the (order key,
      serialized tf.train.Example) of its examples, in the format of
      `sources.base.make_example`.

    Raises:
      FileNotFoundError: if no file matches a split pattern.
    """
    reader = ReaderConfig.from_exec_properties(exec_properties)
    source = reader.image_source()
    data_dir = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    class_names = source.class_names(data_dir)
    tasks: list[reading.Task] = []
    for pattern in split_patterns:
        split = _split_name(exec_properties, pattern)
        inputs = source.list_inputs(data_dir, pattern, class_names)
        if not inputs:
            raise FileNotFoundError(
                f"no files match {base.join(data_dir, pattern)}: expected {source.layout}"
            )
        logging.info("Reading %d %s inputs of split %s", len(inputs), source.name, split)
        tasks += [(split, items) for items in reading.group_into_tasks(inputs)]
    tasks_path = base.join(exec_properties[_TASKS_DIR_KEY], "tasks.jsonl")
    reading.write_tasks(tasks, tasks_path)
    boundary = None if reader.read_outside_data_dir else data_dir
    results = (
        pipeline
        | "TaskFile" >> beam.Create([tasks_path])
        | "ListTasks" >> beam.FlatMap(files.read_lines)
        # Else runners fuse the reads into the one task that reads the list.
        | "SpreadTasks" >> beam.Reshuffle()
        | "ReadFiles"
        >> beam.ParDo(reading.ReadFiles(source, class_names, hash_split, boundary)).with_outputs(
            reading.REPORT_TAG, main="examples"
        )
    )
    rejected_dir = exec_properties.get(_REJECTED_DIR_KEY)
    if rejected_dir:
        rejects.write_rejects(results[reading.REPORT_TAG], rejected_dir)
    return results.examples


class Executor(BaseExampleGenExecutor):
    """Reads an image data set, e.g. CIFAR-10 batch files, into tf.train.Examples.

    Follows TFX's ExampleGen, in fewer stages: one `ReadImages` chain reads every input split
    (the one `splits.plan_splits` divides is hash-split as it is read, see `_read_splits`),
    and one `shards.WriteSplits` writes all splits (sized shards in a repeatable order)
    instead of TFX's writer.
    Besides the examples, writes the `rejected` records under the Examples artifact (see
    `rejects`) and the class names (`class_names`), logs the rejects' summary, and fails when
    too many inputs were rejected.
    """

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802 - TFX API.
        """Abstract in TFX's base class, whose `GenerateExamplesByBeam` (overridden here) is its
        only caller; see docs/architecture.md#private-tfx-hooks."""
        raise NotImplementedError("ImageExampleGen reads every split in one chain, not per split")

    def Do(  # noqa: N802 - TFX API.
        self,
        input_dict: dict[str, list[Any]],
        output_dict: dict[str, list[Any]],
        exec_properties: dict[str, Any],
    ) -> None:
        """Writes the examples and the rejected records, then checks the rejected fraction.

        Raises:
          rejects.TooManyRejectsError: a one-line summary, when more than
            `max_rejected_fraction` of the inputs were rejected.
          class_counts.TooFewClassesError: one line, when fewer than two classes have
            `min_images_per_class` training examples.
        """
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY]
        )
        rejected_dir = os.path.join(examples.uri, rejects.REJECTED_DIR)
        reader = ReaderConfig.from_exec_properties(exec_properties)
        self._log_startup(input_dict, output_dict, exec_properties)
        tasks_dir = os.path.join(examples.uri, ".tasks")
        spill_dir = os.path.join(examples.uri, ".spill") if self._shuffles_in_memory() else None
        tf.io.gfile.makedirs(tasks_dir)
        try:
            self._write_examples(
                examples,
                {**exec_properties, _REJECTED_DIR_KEY: rejected_dir, _TASKS_DIR_KEY: tasks_dir},
                reader.shard_bytes,
                spill_dir,
            )
        finally:
            for work_dir in (tasks_dir, spill_dir):
                if work_dir and tf.io.gfile.exists(work_dir):
                    tf.io.gfile.rmtree(work_dir)
        data_dir = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        class_names = reader.image_source().class_names(data_dir)
        write_class_names(examples, class_names)
        report = rejects.RejectReport.read(rejected_dir)
        max_fraction = reader.max_rejected_fraction
        if report.fraction > max_fraction:
            # <component dir>/examples/<id> -> <component dir>/rejected/<id>
            outputs_dir, execution_id = os.path.split(examples.uri.rstrip("/"))
            kept_dir = os.path.join(
                os.path.dirname(outputs_dir), rejects.REJECTED_DIR, execution_id
            )
            report = report.copied_to(kept_dir)
        if report.total_rejected:
            logging.warning("ImageExampleGen %s", report.summary())
        report.check(max_fraction)
        counts = class_counts.read(rejected_dir)
        class_counts.check(counts, class_names, reader.min_images_per_class)

    def GenerateExamplesByBeam(  # noqa: N802 - TFX API.
        self, pipeline: beam.Pipeline, exec_properties: dict[str, Any]
    ) -> dict[str, beam.pvalue.PCollection]:
        """TFX's API: the batches of (order key, serialized example) of each output split.

        `Do` writes `_read_splits`, the same parts with their split names, without this
        partition.
        """
        names = self._output_split_names(exec_properties)
        parts = self._read_splits(pipeline, exec_properties) | "BySplit" >> beam.Partition(
            reading.split_index, len(names), names
        )
        return {
            name: part | f"Batches[{name}]" >> beam.Values()
            for name, part in zip(names, parts, strict=True)
        }

    @staticmethod
    def _output_split_names(exec_properties: dict[str, Any]) -> list[str]:
        return _split_plan(exec_properties).names

    def _read_splits(
        self, pipeline: beam.Pipeline, exec_properties: dict[str, Any]
    ) -> beam.pvalue.PCollection:
        """Reads every input split into `shards.SplitRecords` of the output splits: the input
        split the plan divides goes through a hash split (`reading.HashSplit`, TFX's own
        assignment, so that Beam workers import no TFX module); see `splits.plan_splits`."""
        input_config = _input_config(exec_properties)
        split_config = _output_config(exec_properties).split_config
        plan = _split_plan(exec_properties)
        hash_split = None
        if plan.divided:
            hash_split = reading.HashSplit(
                divides=plan.divided,
                names=tuple(plan.ratios),
                buckets=tuple(itertools.accumulate(plan.ratios.values())),
                feature=split_config.partition_feature_name or features.SOURCE_ID_KEY,
            )
        patterns = [split.pattern for split in input_config.splits]
        return pipeline | "InputToRecord" >> ReadImages(exec_properties, patterns, hash_split)

    def _shuffles_in_memory(self) -> bool:
        """Whether the pipeline runs on Beam's DirectRunner (the default runner), which
        holds every grouped PCollection in memory; the writer then spills (see `spill`)."""
        runner = PipelineOptions(self._beam_pipeline_args).view_as(StandardOptions).runner
        return runner is None or "direct" in str(runner).lower()

    def _write_examples(
        self,
        examples: Any,
        exec_properties: dict[str, Any],
        shard_bytes: int,
        spill_dir: str | None,
    ) -> None:
        """What `BaseExampleGenExecutor.Do` does, with `shards.WriteSplits` as the writer."""
        names = self._output_split_names(exec_properties)
        examples.split_names = artifact_utils.encode_split_names(names)
        output_dirs = {name: artifact_utils.get_split_uri([examples], name) for name in names}
        with self._make_beam_pipeline() as pipeline:
            _ = self._read_splits(pipeline, exec_properties) | "WriteSplits" >> shards.WriteSplits(
                output_dirs, shard_bytes, spill_dir
            )
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(
            examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP)
        )
