"""ImageExampleGen executor: reads image data set files into tf.train.Examples.

The source (see `sources.get_source`) is named in the component's custom config,
an example_gen_pb2.CustomConfig whose `custom_config` Any packs a
google.protobuf.Struct `{"source": "<name>"}`. TFX hands it to the executor as
the JSON string of that proto, under exec_properties["custom_config"].
"""

import os
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import tensorflow as tf
from absl import logging
from apache_beam.metrics.metricbase import Counter
from google.protobuf import struct_pb2
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components.image_example_gen import sources

SOURCE_KEY = "source"
METRICS_NAMESPACE = "ImageExampleGen"


def make_custom_config(source_name: str) -> example_gen_pb2.CustomConfig:
    """Returns the custom config telling the executor which source to read."""
    options = struct_pb2.Struct()
    options[SOURCE_KEY] = source_name
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(options)
    return config


def source_name(exec_properties: dict[str, Any]) -> str:
    """Returns the source name from the custom config in `exec_properties`.

    The config arrives as a JSON string when run by an orchestrator, or as the
    example_gen_pb2.CustomConfig itself when the executor is called directly.
    """
    raw = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    config = (
        proto_utils.json_to_proto(raw, example_gen_pb2.CustomConfig())
        if isinstance(raw, str)
        else raw or example_gen_pb2.CustomConfig()
    )
    options = struct_pb2.Struct()
    if not config.custom_config.Unpack(options) or SOURCE_KEY not in options:
        raise ValueError(
            f"custom_config {raw!r} names no image source: build the component with "
            "create_image_example_gen(), or pass custom_config=make_custom_config(<source>)"
        )
    return options[SOURCE_KEY]


def _split_name(exec_properties: dict[str, Any], split_pattern: str) -> str:
    """Returns the name of the input split whose pattern is `split_pattern`."""
    input_config = proto_utils.json_to_proto(
        exec_properties[standard_component_specs.INPUT_CONFIG_KEY], example_gen_pb2.Input()
    )
    return next((s.name for s in input_config.splits if s.pattern == split_pattern), split_pattern)


def _read_file(
    path: str,
    source: sources.ImageSource,
    files_read: Counter,
    examples_read: Counter,
) -> Iterator[tf.train.Example]:
    """Yields the examples of one file, counting them."""
    files_read.inc()
    for example in source.read(path):
        examples_read.inc()
        yield example


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def ImagesToExample(  # noqa: N802 - Beam PTransform naming, as in TFX.
    pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str
) -> beam.pvalue.PCollection:
    """Reads the files of one split into tf.train.Examples, one file per task.

    Args:
      pipeline: Beam pipeline.
      exec_properties: execution properties; uses input_base, input_config and
        custom_config.
      split_pattern: glob of the split's files, relative to input_base.

    Returns:
      PCollection of tf.train.Example, in the format of `sources.base.make_example`.

    Raises:
      FileNotFoundError: if no file matches the split pattern.
    """
    source = sources.get_source(source_name(exec_properties))
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no files match {pattern}: expected {source.layout}")
    split = _split_name(exec_properties, split_pattern)
    logging.info("Reading %d %s files of split %s: %s", len(files), source.name, split, files)
    files_read = beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"files_read[{split}]")
    examples_read = beam.metrics.Metrics.counter(METRICS_NAMESPACE, f"examples_read[{split}]")
    return (
        pipeline
        | "ListFiles" >> beam.Create(files)
        # Without this, runners fuse the reads into the single Create task.
        | "SpreadFiles" >> beam.Reshuffle()
        | "ReadFiles" >> beam.FlatMap(_read_file, source, files_read, examples_read)
    )


class Executor(BaseExampleGenExecutor):
    """Reads an image data set, e.g. CIFAR-10 batch files, into tf.train.Examples.

    Usage (or simply `component.create_image_example_gen`):

      FileBasedExampleGen(
          input_base=data_dir,
          input_config=...,
          custom_config=executor.make_custom_config("cifar10"),
          custom_executor_spec=executor_spec.BeamExecutorSpec(executor.Executor))
    """

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802 - TFX API.
        """Returns the PTransform reading one split of images into examples."""
        return ImagesToExample
