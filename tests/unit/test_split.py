"""The deterministic hash split of data sets without splits of their own."""

import shutil
from pathlib import Path

import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from tfx.components.example_gen.base_example_gen_executor import _PartitionFn

from components.image_example_gen.component import create_image_example_gen, hash_split_config
from components.image_example_gen.example_proto import Example
from components.image_example_gen.reading import hash_split_index
from components.image_example_gen.sources.base import make_example
from components.image_example_gen.splits import plan_splits
from tests.fixtures.images import write_class_tree
from tests.fixtures.reading import features, run_executor

_RATIOS = st.dictionaries(
    st.sampled_from(["train", "eval", "test", "holdout"]), st.integers(1, 10), min_size=2
)


def _split_of(record: bytes, ratios: dict[str, int]) -> str:
    """The split ImageExampleGen puts the serialized example `record` in, under `ratios`: the
    one TFX's own ExampleGen would choose."""
    config = hash_split_config(ratios)
    buckets = [sum(list(ratios.values())[: i + 1]) for i in range(len(ratios))]
    example = tf.train.Example.FromString(record)
    index = hash_split_index(example, buckets, config.partition_feature_name)
    assert index == _PartitionFn(example, len(buckets), buckets, config)
    assert index == hash_split_index(Example.FromString(record), buckets, "source_id")
    return config.splits[index].name


def _example(source_id: str, image: bytes = b"", label: int = 0) -> bytes:
    return make_example(image, 1, 1, 1, label, "x", source_id).SerializeToString(deterministic=True)


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1), _RATIOS)
def test_an_id_always_lands_in_the_same_split_whatever_the_other_fields(source_id, ratios):
    split = _split_of(_example(source_id), ratios)

    assert split in ratios
    assert _split_of(_example(source_id, b"other pixels", label=5), ratios) == split


@settings(max_examples=10, deadline=None)
@given(_RATIOS, st.integers(0, 10**6))
def test_split_sizes_follow_the_ratios(ratios, offset):
    ids = [f"class_{i % 7}/{offset + i:08d}.jpg" for i in range(2000)]

    counts = {name: 0 for name in ratios}
    for source_id in ids:
        counts[_split_of(_example(source_id), ratios)] += 1

    total = sum(ratios.values())
    for name, count in counts.items():
        assert abs(count / len(ids) - ratios[name] / total) < 0.05, (name, counts)


@pytest.mark.parametrize("ratios", [{"train": 1}, {"train": 3, "eval": 0}, {"eval": 1, "x": 1}])
def test_degenerate_ratios_are_refused(ratios):
    with pytest.raises(ValueError, match="must give train and eval"):
        plan_splits(["all"], ratios)


def test_executor_split_is_stable_across_runs_and_data_locations(tmp_path: Path) -> None:
    ratios = {"train": 3, "eval": 1, "test": 1}
    write_class_tree(tmp_path / "a", ["cat", "dog"], per_class=15)
    shutil.copytree(tmp_path / "a", tmp_path / "b")

    def assignment(root: str, out: str) -> dict[bytes, str]:
        component = create_image_example_gen(str(tmp_path / root), "folder", split_ratios=ratios)
        splits, _ = run_executor(component.exec_properties, tmp_path / out)
        return {
            features(e)["source_id"]: split for split, examples in splits.items() for e in examples
        }

    first, second = assignment("a", "out_a"), assignment("b", "out_b")

    assert first == second
    assert len(first) == 30
    assert set(first.values()) == {"train", "eval", "test"}
    assert tf.io.gfile.exists(str(tmp_path / "out_a" / "Split-test"))


@pytest.mark.parametrize(
    ("own", "ratios", "names", "divided"),
    [
        (["train", "test"], None, ["train", "eval", "test"], "train"),  # CIFAR, MNIST, ImageNet
        (["all"], None, ["train", "eval", "test"], "all"),  # one pool: 8:1:1
        (["train"], {"train": 3, "eval": 1}, ["train", "eval"], "train"),
        (["train", "eval", "test"], None, ["train", "eval", "test"], None),  # train/ val/ test/
        (["train", "eval"], {"train": 1, "eval": 1}, ["train", "eval"], None),  # ratios unused
    ],
)
def test_every_data_set_gets_train_eval_and_its_test_split(own, ratios, names, divided):
    plan = plan_splits(own, ratios)

    assert (plan.names, plan.divided) == (names, divided)


def test_ratios_may_not_name_a_split_the_data_set_has():
    with pytest.raises(ValueError, match="name test, which the data set has of its own"):
        plan_splits(["train", "test"], {"train": 8, "eval": 1, "test": 1})
