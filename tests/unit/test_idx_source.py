"""Tests of the IDX sources (mnist, fashion_mnist, kmnist)."""

import collections
import gzip
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from components.image_example_gen.component import read_class_names
from components.image_example_gen.sources import base, get_source
from components.image_example_gen.sources.idx import KMNIST, MNIST
from tests.fixtures.idx import idx_bytes, write_idx_pair, write_mnist
from tests.fixtures.reading import read_split


def test_images_become_one_channel_pngs_with_their_labels(tmp_path: Path) -> None:
    write_mnist(tmp_path, num_train=20, num_test=10)
    images = write_idx_pair(tmp_path, "t10k", 10, seed=2)

    examples, rejected = read_split(MNIST, str(tmp_path), "test")

    assert rejected == []
    assert [e["label"] for e in examples] == [i % 10 for i in range(10)]
    for index, (e, image) in enumerate(zip(examples, images, strict=True)):
        assert (e["height"], e["width"], e["channels"]) == (28, 28, 1)
        assert e["source_id"] == f"t10k-images-idx3-ubyte.gz:{index}".encode()
        np.testing.assert_array_equal(tf.io.decode_png(e["image"]).numpy()[:, :, 0], image)


def test_fashion_mnist_names_its_classes(tmp_path: Path) -> None:
    write_mnist(tmp_path)

    assert read_class_names(str(tmp_path), "fashion_mnist")[9] == "Ankle boot"
    examples, _ = read_split(get_source("fashion_mnist"), str(tmp_path), "train")
    assert examples[0]["label_name"] == b"T-shirt/top"


@pytest.mark.parametrize(
    ("images", "labels", "detail"),
    [
        (b"not gzip", None, "not a complete gzip file"),
        (gzip.compress(b"\0\0\x08\x01" + b"\0\0\0\x05"), None, "no IDX header of 3-dimensional"),
        (gzip.compress(idx_bytes(np.zeros((2, 28, 28)))[:-5]), None, "but 1563 values follow"),
        (None, gzip.compress(idx_bytes(np.zeros(3))), "2 images but 3 labels"),
    ],
)
def test_broken_files_are_rejected_whole(tmp_path: Path, images, labels, detail) -> None:
    write_idx_pair(tmp_path, "t10k", 2)
    if images is not None:
        (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(images)
    if labels is not None:
        (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(labels)

    item = base.InputFile(str(tmp_path / "t10k-images-idx3-ubyte.gz"), "t10k-images")
    [rejected] = list(MNIST.read(item, MNIST.class_names(str(tmp_path))))

    assert rejected.reason == base.UNREADABLE_FILE
    assert detail in rejected.detail
    # As many rejected images as the file held: its header's 2 when the images were read,
    # else the 10,000 of the official t10k file.
    assert rejected.count == (2 if labels is not None else 10_000)


def test_images_without_their_labels_file_are_rejected_whole(tmp_path: Path) -> None:
    write_idx_pair(tmp_path, "t10k", 2)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    labels.unlink()

    item = base.InputFile(str(tmp_path / "t10k-images-idx3-ubyte.gz"), "t10k-images")
    [rejected] = list(MNIST.read(item, MNIST.class_names(str(tmp_path))))

    assert (rejected.reason, rejected.count) == (base.UNREADABLE_FILE, 2)
    assert f"cannot read {labels}" in rejected.detail


def test_labels_out_of_range_are_rejected(tmp_path: Path) -> None:
    write_idx_pair(tmp_path, "t10k", 3)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.array([1, 12, 2])))
    )

    examples, rejected = read_split(MNIST, str(tmp_path), "all")

    assert [e["label"] for e in examples] == [1, 2]
    assert [(r.source_id, r.reason) for r in rejected] == [
        ("t10k-images-idx3-ubyte.gz:1", base.LABEL_OUT_OF_RANGE)
    ]


def test_a_test_set_alone_is_one_pool_and_no_files_at_all_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no train files .* expected the MNIST IDX"):
        read_class_names(str(tmp_path), "mnist")

    write_idx_pair(tmp_path, "t10k", 2)

    assert MNIST.splits(str(tmp_path)) == {"all": "t10k-images-idx3-ubyte.gz"}
    assert read_class_names(str(tmp_path), "mnist") == [str(digit) for digit in range(10)]


def test_real_kmnist_test_set_has_1000_images_per_class(shared_data: Path) -> None:
    examples, rejected = read_split(KMNIST, str(shared_data / "kmnist"), "all")

    assert rejected == []
    assert collections.Counter(e["label"] for e in examples) == dict.fromkeys(range(10), 1000)
    assert {(e["height"], e["width"], e["channels"]) for e in examples} == {(28, 28, 1)}
