"""Tests of the ImageExampleGen component and its executor, run on the DirectRunner."""

import collections
from pathlib import Path

import apache_beam as beam
import pytest
import tensorflow as tf
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils

from components.image_example_gen import executor
from components.image_example_gen.component import (
    create_image_example_gen,
    read_class_names,
    resolve_data_dir,
)
from components.image_example_gen.sources.cifar import CIFAR10
from tests.fixtures.cifar import CIFAR10_CLASS_NAMES, write_cifar10_python

IMAGES_PER_BATCH = 20
NUM_TRAIN_BATCHES = 3
CIFAR10_SUBSET = Path(__file__).parents[2].parent / "shared/data/cifar10-subset/cifar-10-batches-py"
# Class counts (airplane..truck) per file, as published in shared/data/README.md.
CIFAR10_SUBSET_CLASS_COUNTS = {
    "data_batch_1": [103, 113, 102, 94, 103, 86, 109, 102, 101, 104],
    "data_batch_2": [105, 101, 83, 99, 110, 96, 98, 118, 118, 89],
    "data_batch_3": [104, 108, 92, 120, 103, 92, 107, 94, 105, 92],
    "data_batch_4": [101, 105, 117, 89, 112, 105, 87, 97, 99, 105],
    "data_batch_5": [104, 97, 96, 91, 109, 96, 102, 105, 106, 111],
    "test_batch": [105, 93, 100, 104, 92, 87, 114, 102, 110, 110],
}


def _run_executor(exec_properties: dict, output_uri: Path) -> tuple[dict, beam.Pipeline]:
    """Runs Executor.Do in memory; returns the examples per split and the pipeline."""
    examples = standard_artifacts.Examples()
    examples.uri = str(output_uri)
    pipelines = []

    def make_pipeline() -> beam.Pipeline:
        pipelines.append(
            beam.Pipeline(
                options=PipelineOptions(direct_running_mode="in_memory", direct_num_workers=1)
            )
        )
        return pipelines[0]

    context = executor.Executor.Context(make_beam_pipeline_fn=make_pipeline)
    executor.Executor(context).Do(
        {}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties
    )

    split_examples = {}
    for split in artifact_utils.decode_split_names(examples.split_names):
        files = tf.io.gfile.glob(str(output_uri / f"Split-{split}" / "*.gz"))
        records = tf.data.TFRecordDataset(files, compression_type="GZIP")
        split_examples[split] = [tf.train.Example.FromString(r.numpy()) for r in records]
    return split_examples, pipelines[0]


def _value(example: tf.train.Example, key: str) -> object:
    feature = example.features.feature[key]
    (value,) = getattr(feature, feature.WhichOneof("kind")).value
    return value


@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    return write_cifar10_python(tmp_path / "data", IMAGES_PER_BATCH, NUM_TRAIN_BATCHES)


def test_executor_writes_train_and_eval_splits_of_examples(cifar_dir: Path, tmp_path: Path) -> None:
    # The exec_properties TFX stores for the component: protos as JSON strings.
    exec_properties = create_image_example_gen(str(cifar_dir), "cifar10").exec_properties

    splits, pipeline = _run_executor(exec_properties, tmp_path / "examples")

    assert (tmp_path / "examples" / "Split-train").is_dir()
    assert (tmp_path / "examples" / "Split-eval").is_dir()
    assert {split: len(examples) for split, examples in splits.items()} == {
        "train": NUM_TRAIN_BATCHES * IMAGES_PER_BATCH,
        "eval": IMAGES_PER_BATCH,
    }
    train_labels = collections.Counter(_value(e, "label") for e in splits["train"])
    assert train_labels == {k: NUM_TRAIN_BATCHES * IMAGES_PER_BATCH // 10 for k in range(10)}
    assert {_value(e, "source_id") for e in splits["train"]} == {
        f"data_batch_{b}:{i}".encode()
        for b in range(1, NUM_TRAIN_BATCHES + 1)
        for i in range(IMAGES_PER_BATCH)
    }
    for example in splits["train"] + splits["eval"]:
        assert set(example.features.feature) == {
            "image",
            "label",
            "label_name",
            "height",
            "width",
            "channels",
            "source_id",
        }
        assert (
            _value(example, "label_name") == CIFAR10_CLASS_NAMES[_value(example, "label")].encode()
        )
        image = tf.io.decode_png(_value(example, "image"))
        assert image.shape == (_value(example, "height"), _value(example, "width"), 3)

    counters = pipeline.result.metrics().query(MetricsFilter().with_namespace("ImageExampleGen"))
    assert {c.key.metric.name: c.committed for c in counters["counters"]} == {
        "files_read[train]": NUM_TRAIN_BATCHES,
        "examples_read[train]": NUM_TRAIN_BATCHES * IMAGES_PER_BATCH,
        "files_read[eval]": 1,
        "examples_read[eval]": IMAGES_PER_BATCH,
    }


def test_executor_names_the_layout_when_a_split_matches_no_file(
    cifar_dir: Path, tmp_path: Path
) -> None:
    component = create_image_example_gen(str(cifar_dir), "cifar10", {"train": "train_*"})

    with pytest.raises(FileNotFoundError, match=r"no files match .*/train_\*: expected a CIFAR-10"):
        _run_executor(component.exec_properties, tmp_path / "examples")


def test_component_carries_the_resolved_dir_and_the_source(cifar_dir: Path) -> None:
    component = create_image_example_gen(
        resolve_data_dir(str(cifar_dir.parent), "cifar10"), "cifar10"
    )
    input_config = proto_utils.json_to_proto(
        component.exec_properties["input_config"], example_gen_pb2.Input()
    )

    assert component.exec_properties["input_base"] == str(cifar_dir)
    assert {s.name: s.pattern for s in input_config.splits} == CIFAR10.default_splits()
    assert executor.source_name(component.exec_properties) == "cifar10"
    assert read_class_names(str(cifar_dir.parent), "cifar10") == CIFAR10_CLASS_NAMES


def test_source_name_accepts_the_proto_and_rejects_a_missing_config() -> None:
    config = executor.make_custom_config("cifar10")

    assert executor.source_name({"custom_config": config}) == "cifar10"
    assert executor.source_name({"custom_config": proto_utils.proto_to_json(config)}) == "cifar10"
    with pytest.raises(ValueError, match="names no image source: build the component with"):
        executor.source_name({"custom_config": None})


def test_component_rejects_an_unknown_source(cifar_dir: Path) -> None:
    with pytest.raises(ValueError, match="known sources are cifar10"):
        create_image_example_gen(str(cifar_dir), "imagenet")


@pytest.mark.skipif(
    not CIFAR10_SUBSET.is_dir(), reason=f"real CIFAR-10 subset absent: {CIFAR10_SUBSET}"
)
def test_real_cifar10_subset_has_the_published_class_counts() -> None:
    for file_name, expected_counts in CIFAR10_SUBSET_CLASS_COUNTS.items():
        labels = collections.Counter(
            _value(e, "label") for e in CIFAR10.read(str(CIFAR10_SUBSET / file_name))
        )

        assert [labels[k] for k in range(10)] == expected_counts, file_name
    assert CIFAR10.class_names(str(CIFAR10_SUBSET.parent)) == CIFAR10_CLASS_NAMES
