"""Tests of the `imagenet` source on a tiny ILSVRC2012-like tree."""

import dataclasses
import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from components.image_example_gen.component import read_class_names
from components.image_example_gen.sources import base
from components.image_example_gen.sources.imagenet import IMAGENET
from tests.fixtures.images import WNIDS, write_imagenet
from tests.fixtures.reading import read_split

NAMES = ["tench", "goldfish", "great white shark"]


def test_class_index_is_sorted_wnids_with_human_readable_names(tmp_path: Path) -> None:
    root = write_imagenet(tmp_path)

    assert IMAGENET.wnids(str(root)) == WNIDS
    assert read_class_names(str(root), "imagenet") == NAMES
    (root / "LOC_synset_mapping.txt").unlink()  # the official downloads: the devkit's words
    assert IMAGENET.class_names(str(root)) == NAMES
    shutil.rmtree(root / "ILSVRC2012_devkit_t12")
    assert IMAGENET.class_names(str(root)) == WNIDS


def test_train_reencodes_cmyk_and_png_disguised_as_jpeg(tmp_path: Path) -> None:
    root = write_imagenet(tmp_path)

    examples, rejected = read_split(IMAGENET, str(root), "train")

    assert rejected == []
    assert len(examples) == 9
    by_id = {e["source_id"].decode(): e for e in examples}
    for source_id in ("train/n01440764/n01440764_0.JPEG", "train/n01443537/n01443537_0.JPEG"):
        image = Image.open(io.BytesIO(by_id[source_id]["image"]))
        assert (image.format, image.mode, by_id[source_id]["channels"]) == ("JPEG", "RGB", 3)
    kept = by_id["train/n01440764/n01440764_1.JPEG"]["image"]
    assert kept == (root / "train/n01440764/n01440764_1.JPEG").read_bytes()
    for e in examples:
        assert e["label_name"] == NAMES[e["label"]].encode()
        assert WNIDS[e["label"]] in e["source_id"].decode()


@pytest.mark.parametrize("flat_val", [True, False])
def test_val_labels_come_from_the_devkit_or_the_class_folders(tmp_path: Path, flat_val) -> None:
    root = write_imagenet(tmp_path, val_per_class=2, flat_val=flat_val)

    examples, rejected = read_split(IMAGENET, str(root), "test")

    assert rejected == []
    labels = {e["source_id"].decode().rsplit("/", 1)[-1]: e["label"] for e in examples}
    assert labels == {f"ILSVRC2012_val_{n:08d}.JPEG": (n - 1) % 3 for n in range(1, 7)}


def test_max_per_class_subsets_train_and_flat_val(tmp_path: Path) -> None:
    root = write_imagenet(tmp_path, train_per_class=3, val_per_class=3)
    subset = dataclasses.replace(IMAGENET, max_per_class=1)

    train, _ = read_split(subset, str(root), "train")
    val, _ = read_split(subset, str(root), "test")

    assert sorted(e["label"] for e in train) == [0, 1, 2]
    assert sorted(e["source_id"] for e in val) == [
        f"val/ILSVRC2012_val_{n:08d}.JPEG".encode() for n in (1, 2, 3)
    ]


def test_flat_val_without_ground_truth_names_the_devkit(tmp_path: Path) -> None:
    root = write_imagenet(tmp_path)
    (root / "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt").unlink()

    with pytest.raises(FileNotFoundError, match="val/ in .* is flat but ILSVRC2012_validation"):
        read_split(IMAGENET, str(root), "test")


def test_flat_val_without_meta_mat_names_the_devkit(tmp_path: Path) -> None:
    root = write_imagenet(tmp_path)
    (root / "ILSVRC2012_devkit_t12/data/meta.mat").unlink()

    with pytest.raises(FileNotFoundError, match=r"is flat but meta.mat \(beside it\) is missing"):
        read_split(IMAGENET, str(root), "test")


def test_corrupt_and_stray_files_are_rejected(tmp_path: Path) -> None:
    root = write_imagenet(tmp_path)
    (root / "train/n01440764/n01440764_1.JPEG").write_bytes(b"")
    (root / "train/n01484850/n01484850_2.JPEG").write_bytes(b"\xff\xd8\xff\xe0 broken")
    (root / "val/ILSVRC2012_val_00000099.JPEG").write_bytes(b"")  # beyond the ground truth

    train, train_rejected = read_split(IMAGENET, str(root), "train")
    val, val_rejected = read_split(IMAGENET, str(root), "test")

    assert (len(train), len(val)) == (7, 6)
    assert sorted((r.source_id, r.reason) for r in train_rejected + val_rejected) == [
        ("train/n01440764/n01440764_1.JPEG", base.EMPTY_FILE),
        ("train/n01484850/n01484850_2.JPEG", base.CORRUPT_IMAGE),
        ("val/ILSVRC2012_val_00000099.JPEG", base.UNKNOWN_CLASS),
    ]


def test_wrong_layout_is_one_line_naming_the_ilsvrc_layout(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="found no train/ in .*: expected the ILSVRC2012"):
        read_class_names(str(tmp_path), "imagenet")
    (tmp_path / "train" / "cats").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"\['cats'\] not named like a wnid"):
        read_class_names(str(tmp_path), "imagenet")
