"""Tests of the ImageExampleGen component and its executor, run on the DirectRunner."""

import collections
import json
from pathlib import Path

import apache_beam as beam
import pytest
import tensorflow as tf
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to
from tfx.components.example_gen.base_example_gen_executor import _PartitionFn
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components.image_example_gen import class_names, executor
from components.image_example_gen.component import (
    create_image_example_gen,
    hash_split_config,
    read_class_names,
    resolve_data_dir,
)
from components.image_example_gen.sources.cifar import CIFAR10
from components.image_example_gen.sources.folder import FOLDER
from components.image_example_gen.splits import DEFAULT_RATIOS
from features import CLASS_NAMES_FILE
from tests.fixtures.cifar import CIFAR10_CLASS_NAMES, write_cifar10_python
from tests.fixtures.reading import run_executor

IMAGES_PER_BATCH = 20
NUM_TRAIN_BATCHES = 3
# Class counts (airplane..truck) per file, as published in shared/data/README.md.
CIFAR10_SUBSET_CLASS_COUNTS = {
    "data_batch_1": [103, 113, 102, 94, 103, 86, 109, 102, 101, 104],
    "data_batch_2": [105, 101, 83, 99, 110, 96, 98, 118, 118, 89],
    "data_batch_3": [104, 108, 92, 120, 103, 92, 107, 94, 105, 92],
    "data_batch_4": [101, 105, 117, 89, 112, 105, 87, 97, 99, 105],
    "data_batch_5": [104, 97, 96, 91, 109, 96, 102, 105, 106, 111],
    "test_batch": [105, 93, 100, 104, 92, 87, 114, 102, 110, 110],
}


def _value(example: tf.train.Example, key: str) -> object:
    feature = example.features.feature[key]
    (value,) = getattr(feature, feature.WhichOneof("kind")).value
    return value


@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    return write_cifar10_python(tmp_path / "data", IMAGES_PER_BATCH, NUM_TRAIN_BATCHES)


def test_executor_carves_eval_from_train_and_keeps_the_test_batch_apart(
    cifar_dir: Path, tmp_path: Path
) -> None:
    # The exec_properties TFX stores for the component: protos as JSON strings.
    exec_properties = create_image_example_gen(str(cifar_dir), "cifar10").exec_properties

    splits, pipeline = run_executor(exec_properties, tmp_path / "examples")

    for split in ("train", "eval", "test"):
        assert (tmp_path / "examples" / f"Split-{split}").is_dir()
    ids = {split: {_value(e, "source_id") for e in examples} for split, examples in splits.items()}
    train_batches = {
        f"data_batch_{b}:{i}".encode()
        for b in range(1, NUM_TRAIN_BATCHES + 1)
        for i in range(IMAGES_PER_BATCH)
    }
    assert ids["eval"] == set(_hash_split_ids("eval")) & train_batches  # TFX's 9:1 hash split
    assert ids["train"] == train_batches - ids["eval"]
    assert ids["test"] == {f"test_batch:{i}".encode() for i in range(IMAGES_PER_BATCH)}
    test_labels = collections.Counter(_value(e, "label") for e in splits["test"])
    assert test_labels == {k: IMAGES_PER_BATCH // 10 for k in range(10)}
    for example in splits["train"] + splits["eval"] + splits["test"]:
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
        "files_read[test]": 1,  # counted per input split
        "examples_read[test]": IMAGES_PER_BATCH,
    }


def test_generate_examples_by_beam_gives_each_output_split_its_examples(
    cifar_dir: Path, tmp_path: Path
) -> None:
    """TFX's API of an ExampleGen executor (Do writes the same parts without the partition)."""
    component = create_image_example_gen(
        str(cifar_dir), "cifar10", {"all": "*_batch*"}, split_ratios=DEFAULT_RATIOS
    )
    exec_properties = {**component.exec_properties, executor._TASKS_DIR_KEY: str(tmp_path)}

    with beam.Pipeline() as pipeline:
        splits = executor.Executor().GenerateExamplesByBeam(pipeline, exec_properties)
        for name, batches in splits.items():
            ids = batches | f"Ids[{name}]" >> beam.FlatMap(
                lambda batch: [
                    _value(tf.train.Example.FromString(r), "source_id") for _, r in batch
                ]
            )
            assert_that(ids, equal_to(_hash_split_ids(name)), label=f"Check[{name}]")

    assert set(splits) == {"train", "eval"}


def _hash_split_ids(name: str) -> list[bytes]:
    """The source ids that TFX's own ExampleGen puts in split `name` by the default 9:1 hash
    split, of the fixture's 80 images."""
    batches = [f"data_batch_{b}" for b in range(1, NUM_TRAIN_BATCHES + 1)] + ["test_batch"]
    ids = [f"{batch}:{i}".encode() for batch in batches for i in range(IMAGES_PER_BATCH)]
    config = hash_split_config(DEFAULT_RATIOS)
    names = [split.name for split in config.splits]
    return [i for i in ids if names[_PartitionFn(_example_with_id(i), 2, [9, 10], config)] == name]


def _example_with_id(source_id: bytes) -> tf.train.Example:
    example = tf.train.Example()
    example.features.feature["source_id"].bytes_list.value.append(source_id)
    return example


def test_executor_stores_the_class_names_with_the_examples(cifar_dir: Path, tmp_path: Path) -> None:
    exec_properties = create_image_example_gen(str(cifar_dir), "cifar10").exec_properties
    examples = standard_artifacts.Examples()

    run_executor(exec_properties, tmp_path / "examples", examples)

    content = json.loads((tmp_path / "examples" / CLASS_NAMES_FILE).read_text())
    assert content == {"format_version": 1, "class_names": CIFAR10_CLASS_NAMES}
    assert class_names.read(examples.uri) == CIFAR10_CLASS_NAMES
    # Custom properties, published to ML Metadata with the artifact.
    assert examples.get_json_value_custom_property("class_names") == CIFAR10_CLASS_NAMES
    assert examples.get_int_custom_property("num_classes") == 10


def test_class_names_of_an_unknown_format_or_foreign_examples_are_clear_errors(
    tmp_path: Path,
) -> None:
    with pytest.raises(FileNotFoundError, match="must come from ImageExampleGen"):
        class_names.read(str(tmp_path))
    (tmp_path / CLASS_NAMES_FILE).write_text('{"format_version": 2, "class_names": []}')
    with pytest.raises(ValueError, match="format_version 2; this code reads version 1"):
        class_names.read(str(tmp_path))


def test_executor_names_the_layout_when_a_split_matches_no_file(
    cifar_dir: Path, tmp_path: Path
) -> None:
    component = create_image_example_gen(str(cifar_dir), "cifar10", {"train": "train_*"})

    with pytest.raises(FileNotFoundError, match=r"no files match .*/train_\*: expected a CIFAR-10"):
        run_executor(component.exec_properties, tmp_path / "examples")


def test_component_carries_the_resolved_dir_and_the_source(cifar_dir: Path) -> None:
    component = create_image_example_gen(
        resolve_data_dir(str(cifar_dir.parent), "cifar10"), "cifar10"
    )
    input_config = proto_utils.json_to_proto(
        component.exec_properties["input_config"], example_gen_pb2.Input()
    )

    assert component.exec_properties["input_base"] == str(cifar_dir)
    assert {s.name: s.pattern for s in input_config.splits} == CIFAR10.splits(str(cifar_dir))
    assert executor.ReaderConfig.from_exec_properties(
        component.exec_properties
    ) == executor.ReaderConfig("cifar10")
    assert read_class_names(str(cifar_dir.parent), "cifar10") == CIFAR10_CLASS_NAMES


def test_reader_config_round_trips_as_proto_and_json() -> None:
    config = executor.ReaderConfig("imagenet", max_per_class=7, max_rejected_fraction=0.05)
    proto = config.to_proto()

    assert executor.ReaderConfig.from_exec_properties({"custom_config": proto}) == config
    assert (
        executor.ReaderConfig.from_exec_properties(
            {"custom_config": proto_utils.proto_to_json(proto)}
        )
        == config
    )
    with pytest.raises(ValueError, match="names no image source: build the component with"):
        executor.ReaderConfig.from_exec_properties({"custom_config": None})


def test_component_rejects_an_unknown_source_and_a_foreign_option(cifar_dir: Path) -> None:
    with pytest.raises(ValueError, match="known sources are cifar10, cifar100, fashion_mnist"):
        create_image_example_gen(str(cifar_dir), "svhn")
    with pytest.raises(
        ValueError, match="no option 'max_per_class'; it applies to: folder, imagenet"
    ):
        create_image_example_gen(str(cifar_dir), "cifar10", max_per_class=3)


def test_real_cifar10_subset_has_the_published_counts_and_histograms(
    shared_data: Path, tmp_path: Path
) -> None:
    data_dir = resolve_data_dir(str(shared_data / "cifar10-subset"), "cifar10")
    component = create_image_example_gen(data_dir, "cifar10")

    splits, _ = run_executor(component.exec_properties, tmp_path / "examples")

    expected = {
        "train": [
            sum(
                counts[k]
                for name, counts in CIFAR10_SUBSET_CLASS_COUNTS.items()
                if name != "test_batch"
            )
            for k in range(10)
        ],
        "test": CIFAR10_SUBSET_CLASS_COUNTS["test_batch"],
    }
    carved = {"train": splits["train"] + splits["eval"], "test": splits["test"]}
    for split, examples in carved.items():
        labels = collections.Counter(_value(e, "label") for e in examples)
        assert [labels[k] for k in range(10)] == expected[split], split
    assert {split: len(examples) for split, examples in carved.items()} == {
        "train": 5085,
        "test": 1017,
    }
    assert 0.08 < len(splits["eval"]) / 5085 < 0.12  # the 9:1 hash split
    assert read_class_names(data_dir, "cifar10") == CIFAR10_CLASS_NAMES


def test_real_cifar10_jpg_folder_lists_5000_per_class_and_reads_a_subset(
    shared_data: Path, tmp_path: Path
) -> None:
    data_dir = str(shared_data / "cifar10-jpg")
    class_names = read_class_names(data_dir, "folder")
    inputs = FOLDER.list_inputs(data_dir, FOLDER.splits(data_dir)["all"], class_names)

    assert class_names == sorted(CIFAR10_CLASS_NAMES)
    assert collections.Counter(item.class_key for item in inputs) == dict.fromkeys(
        class_names, 5000
    )
    component = create_image_example_gen(data_dir, "folder", max_per_class=20)
    splits, _ = run_executor(component.exec_properties, tmp_path / "examples")
    examples = [e for split in splits.values() for e in split]
    assert collections.Counter(_value(e, "label") for e in examples) == dict.fromkeys(range(10), 20)
    assert {(_value(e, "height"), _value(e, "width"), _value(e, "channels")) for e in examples} == {
        (32, 32, 3)
    }
