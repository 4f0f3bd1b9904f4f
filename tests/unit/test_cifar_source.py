"""Tests of the CIFAR python-layout source and the shared example helpers."""

import collections
import pickle
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from components.image_example_gen import sources
from components.image_example_gen.sources import base
from components.image_example_gen.sources.cifar import CIFAR10, CIFAR100
from tests.fixtures.cifar import CIFAR10_CLASS_NAMES, write_cifar10_python

IMAGES_PER_BATCH = 20
CIFAR100_TEST_SUBSET = (
    Path(__file__).parents[2].parent / "shared/data/cifar100-test-subset/cifar-100-python"
)


def _features(example: tf.train.Example) -> dict[str, object]:
    """Returns the single value of each feature of `example`."""
    values = {}
    for key, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        (values[key],) = getattr(feature, kind).value
    return values


def _load_pickle(path: Path) -> dict:
    with path.open("rb") as f:
        return pickle.load(f, encoding="bytes")


@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    return write_cifar10_python(tmp_path, IMAGES_PER_BATCH)


def test_read_yields_one_example_per_image_with_balanced_labels(cifar_dir: Path) -> None:
    examples = [_features(e) for e in CIFAR10.read(str(cifar_dir / "data_batch_2"))]

    assert len(examples) == IMAGES_PER_BATCH
    assert collections.Counter(e["label"] for e in examples) == {
        label: IMAGES_PER_BATCH // 10 for label in range(10)
    }
    for index, e in enumerate(examples):
        assert e["label_name"] == CIFAR10_CLASS_NAMES[e["label"]].encode()
        assert (e["height"], e["width"], e["channels"]) == (32, 32, 3)
        assert e["source_id"] == f"data_batch_2:{index}".encode()


def test_decoded_png_pixels_equal_pickled_pixels(cifar_dir: Path) -> None:
    batch = _load_pickle(cifar_dir / "test_batch")
    expected = batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)

    examples = [_features(e) for e in CIFAR10.read(str(cifar_dir / "test_batch"))]

    assert [e["label"] for e in examples] == batch[b"labels"]
    for e, image in zip(examples, expected, strict=True):
        assert e["image"].startswith(b"\x89PNG")
        np.testing.assert_array_equal(tf.io.decode_png(e["image"]).numpy(), image)


def test_source_id_is_the_pickled_file_name_when_present(tmp_path: Path) -> None:
    cifar_dir = write_cifar10_python(tmp_path, IMAGES_PER_BATCH, with_filenames=True)
    filenames = _load_pickle(cifar_dir / "data_batch_1")[b"filenames"]

    examples = [_features(e) for e in CIFAR10.read(str(cifar_dir / "data_batch_1"))]

    assert [e["source_id"] for e in examples] == filenames


def test_class_names_come_from_batches_meta(cifar_dir: Path) -> None:
    assert CIFAR10.class_names(str(cifar_dir)) == CIFAR10_CLASS_NAMES


def test_parent_dir_resolves_to_the_batches_dir(cifar_dir: Path) -> None:
    parent = str(cifar_dir.parent)

    assert CIFAR10.resolve_data_dir(parent) == str(cifar_dir)
    assert CIFAR10.resolve_data_dir(str(cifar_dir)) == str(cifar_dir)
    assert CIFAR10.class_names(parent) == CIFAR10_CLASS_NAMES


def test_default_splits_are_the_official_files() -> None:
    assert CIFAR10.default_splits() == {"train": "data_batch_*", "eval": "test_batch"}


@pytest.mark.parametrize("missing", ["does-not-exist", "empty"])
def test_missing_data_dir_names_the_expected_layout(tmp_path: Path, missing: str) -> None:
    (tmp_path / "empty").mkdir()

    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py/ with data_batch_1..5"):
        CIFAR10.class_names(str(tmp_path / missing))


def test_non_pickle_batch_file_names_the_expected_layout(cifar_dir: Path) -> None:
    (cifar_dir / "data_batch_1").write_text("airplane,0\n")

    with pytest.raises(ValueError, match="is not a pickle.*CIFAR-10 python layout"):
        list(CIFAR10.read(str(cifar_dir / "data_batch_1")))


def test_batch_without_data_names_the_missing_key(cifar_dir: Path) -> None:
    with (cifar_dir / "data_batch_1").open("wb") as f:
        pickle.dump({b"labels": [0, 1]}, f, protocol=2)

    with pytest.raises(ValueError, match=r"lacks keys \[b'data', b'labels'\].*CIFAR-10 python"):
        list(CIFAR10.read(str(cifar_dir / "data_batch_1")))


def test_batch_with_misshapen_data_is_rejected(cifar_dir: Path) -> None:
    with (cifar_dir / "data_batch_1").open("wb") as f:
        pickle.dump({b"labels": [0, 1], b"data": np.zeros((2, 32, 32, 3), np.uint8)}, f)

    with pytest.raises(ValueError, match=r"must be uint8 \(2, 3072\), one row per label"):
        list(CIFAR10.read(str(cifar_dir / "data_batch_1")))


def test_label_outside_the_class_names_is_rejected(cifar_dir: Path) -> None:
    with (cifar_dir / "data_batch_1").open("wb") as f:
        pickle.dump({b"labels": [10], b"data": np.zeros((1, 3072), np.uint8)}, f)

    with pytest.raises(ValueError, match="names 10 classes"):
        list(CIFAR10.read(str(cifar_dir / "data_batch_1")))


def test_get_source_knows_cifar10_and_lists_known_names() -> None:
    assert sources.get_source("cifar10") is CIFAR10
    with pytest.raises(ValueError, match="known sources are cifar10, cifar100"):
        sources.get_source("mnist")


@settings(max_examples=25, deadline=None)
@given(
    hnp.arrays(
        np.uint8,
        st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3, 4])),
    )
)
def test_image_example_round_trips_any_uint8_image(image: np.ndarray) -> None:
    e = _features(base.image_example(image, 7, "horse", "x:0"))

    np.testing.assert_array_equal(tf.io.decode_png(e["image"]).numpy(), image)
    assert (e["height"], e["width"], e["channels"]) == image.shape
    assert (e["label"], e["label_name"], e["source_id"]) == (7, b"horse", b"x:0")


@pytest.mark.skipif(
    not CIFAR100_TEST_SUBSET.is_dir(),
    reason=f"real CIFAR-100 subset absent: {CIFAR100_TEST_SUBSET}",
)
def test_cifar100_reads_the_real_test_subset_with_fine_labels() -> None:
    class_names = CIFAR100.class_names(str(CIFAR100_TEST_SUBSET.parent))
    examples = [_features(e) for e in CIFAR100.read(str(CIFAR100_TEST_SUBSET / "test"))]

    assert len(class_names) == 100
    assert len(examples) == 916
    assert all(e["label_name"] == class_names[e["label"]].encode() for e in examples)
    assert examples[0]["source_id"] == b"volcano_s_000012.png"
    assert [e["label_name"] for e in examples[:3]] == [b"mountain", b"forest", b"seal"]


def test_embedded_default_sample_is_class_balanced() -> None:
    sample_dir = Path(__file__).parents[2] / "data/cifar10-sample"
    expected_per_class = {"data_batch_1": 100, "data_batch_2": 100, "test_batch": 50}

    batches_dir = Path(CIFAR10.resolve_data_dir(str(sample_dir)))

    for file_name, per_class in expected_per_class.items():
        labels = collections.Counter(
            _features(e)["label"] for e in CIFAR10.read(str(batches_dir / file_name))
        )
        assert labels == dict.fromkeys(range(10), per_class), file_name
