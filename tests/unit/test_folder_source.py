"""Tests of the `folder` source: class folders, top-level splits, manifests, odd files."""

import collections
import csv
import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from components.image_example_gen.component import read_class_names
from components.image_example_gen.sources import base
from components.image_example_gen.sources.folder import FOLDER, parse_manifest
from tests.fixtures.images import image_bytes, truncated_jpeg, write_class_tree
from tests.fixtures.reading import read_split

CLASSES = ["cat", "dog", "emu"]


def test_class_folders_form_one_pool_with_sorted_class_names(tmp_path: Path) -> None:
    root = write_class_tree(tmp_path, ["emu", "cat", "dog"], per_class=4)

    examples, rejected = read_split(FOLDER, str(root), "all")

    assert FOLDER.splits(str(root)) == {"all": "*"}
    assert read_class_names(str(root), "folder") == CLASSES
    assert rejected == []
    assert collections.Counter(e["label_name"] for e in examples) == {
        name.encode(): 4 for name in CLASSES
    }
    for e in examples:
        assert e["label_name"] == CLASSES[e["label"]].encode()
        assert e["source_id"].decode().startswith(CLASSES[e["label"]] + "/")
        assert (e["height"], e["width"], e["channels"]) == (10, 12, 3)
        assert e["image"].startswith(b"\xff\xd8")  # JPEG bytes are kept as they are


@pytest.mark.parametrize(
    ("tops", "expected"),
    [
        (["train", "val"], {"train": "train/*", "eval": "val/*"}),
        (["train", "test"], {"train": "train/*", "test": "test/*"}),
        (["train", "val", "test"], {"train": "train/*", "eval": "val/*", "test": "test/*"}),
    ],
)
def test_top_level_split_folders_are_the_splits(tmp_path: Path, tops, expected) -> None:
    for top in tops:
        write_class_tree(tmp_path / top, CLASSES, per_class=2)

    assert FOLDER.splits(str(tmp_path)) == expected
    for split in expected:
        examples, _ = read_split(FOLDER, str(tmp_path), split)
        assert len(examples) == 6
        assert all(e["source_id"].decode().startswith(expected[split][:-1]) for e in examples)


@pytest.mark.parametrize("alone", ["val", "test"])
def test_a_val_or_test_folder_alone_is_one_pool_of_its_classes(tmp_path: Path, alone) -> None:
    write_class_tree(tmp_path / alone, CLASSES, per_class=2)

    assert FOLDER.splits(str(tmp_path)) == {"all": f"{alone}/*"}
    assert read_class_names(str(tmp_path), "folder") == CLASSES
    assert len(read_split(FOLDER, str(tmp_path), "all")[0]) == 6


def test_val_and_test_without_train_say_what_to_do(tmp_path: Path) -> None:
    for top in ("val", "test"):
        write_class_tree(tmp_path / top, CLASSES, per_class=1)

    with pytest.raises(ValueError, match="holds val/ and test/ but no train/: add train/, or"):
        FOLDER.splits(str(tmp_path))


def test_train_alone_is_one_pool_split_by_hash(tmp_path: Path) -> None:
    write_class_tree(tmp_path / "train", CLASSES, per_class=1)

    assert FOLDER.splits(str(tmp_path)) == {"all": "train/*"}
    assert FOLDER.class_names(str(tmp_path)) == CLASSES


def test_bmp_gif_webp_grey_and_alpha_images_are_reencoded_as_png(tmp_path: Path) -> None:
    folder = tmp_path / "cat"
    folder.mkdir()
    (folder / "a.bmp").write_bytes(image_bytes("BMP"))
    (folder / "b.gif").write_bytes(image_bytes("GIF"))
    (folder / "c.webp").write_bytes(image_bytes("WEBP"))
    (folder / "d.png").write_bytes(image_bytes("PNG", mode="RGBA"))
    (folder / "e.png").write_bytes(image_bytes("PNG", mode="L"))

    examples, rejected = read_split(FOLDER, str(tmp_path), "all")

    assert rejected == []
    by_id = {e["source_id"].decode(): e for e in examples}
    for name in ("cat/a.bmp", "cat/b.gif", "cat/c.webp", "cat/d.png"):
        assert by_id[name]["image"].startswith(b"\x89PNG"), name
        assert tf.io.decode_image(by_id[name]["image"]).shape == (10, 12, 3), name
    grey = by_id["cat/e.png"]
    assert grey["image"] == (folder / "e.png").read_bytes()
    assert grey["channels"] == 1
    original = np.asarray(Image.open(io.BytesIO(image_bytes("BMP"))))
    np.testing.assert_array_equal(tf.io.decode_png(by_id["cat/a.bmp"]["image"]).numpy(), original)


def test_16_bit_grey_png_is_scaled_to_8_bits_not_clipped(tmp_path: Path) -> None:
    folder = tmp_path / "cat"
    folder.mkdir()
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(grey.astype(np.uint16) * 257).save(folder / "a.png")  # v -> v * 257

    [example], rejected = read_split(FOLDER, str(tmp_path), "all")

    assert rejected == []
    assert example["channels"] == 1
    np.testing.assert_array_equal(tf.io.decode_png(example["image"]).numpy()[:, :, 0], grey)


def test_bad_files_are_rejected_with_their_reason_not_dropped(tmp_path: Path) -> None:
    root = write_class_tree(tmp_path, CLASSES, per_class=2)
    (root / "cat" / "empty.jpg").write_bytes(b"")
    (root / "cat" / "cut.jpg").write_bytes(truncated_jpeg())
    (root / "dog" / "garbage.png").write_bytes(b"this is not a PNG at all")
    (root / "dog" / "notes.txt").write_text("a text file")
    (root / "README.md").write_text("stray file next to the class folders")
    (root / "dog" / "nested.png").mkdir()

    examples, rejected = read_split(FOLDER, str(root), "all")

    assert len(examples) == 6
    assert sorted((r.source_id, r.reason) for r in rejected) == [
        ("README.md", base.UNKNOWN_CLASS),
        ("cat/cut.jpg", base.CORRUPT_IMAGE),
        ("cat/empty.jpg", base.EMPTY_FILE),
        ("dog/garbage.png", base.NOT_AN_IMAGE),
        ("dog/nested.png", base.UNREADABLE_FILE),
        ("dog/notes.txt", base.NOT_AN_IMAGE),
    ]


def test_val_class_unknown_to_train_is_rejected(tmp_path: Path) -> None:
    write_class_tree(tmp_path / "train", CLASSES, per_class=1)
    write_class_tree(tmp_path / "val", ["cat", "zebra"], per_class=1)

    examples, rejected = read_split(FOLDER, str(tmp_path), "eval")

    assert [e["label_name"] for e in examples] == [b"cat"]
    [zebra] = rejected
    assert (zebra.source_id, zebra.reason) == ("val/zebra/000.jpg", base.UNKNOWN_CLASS)
    assert "'zebra' is not one of the 3 known classes" in zebra.detail


def test_max_per_class_takes_the_first_files_by_name(tmp_path: Path) -> None:
    root = write_class_tree(tmp_path, CLASSES, per_class=5)

    examples, _ = read_split(dataclasses.replace(FOLDER, max_per_class=2), str(root), "all")

    assert sorted(e["source_id"].decode() for e in examples) == [
        f"{c}/{i:03d}.jpg" for c in CLASSES for i in range(2)
    ]


def test_manifest_rows_label_their_images(tmp_path: Path) -> None:
    root = write_class_tree(tmp_path, ["a", "b"], per_class=2)
    (root / "manifest.csv").write_text("path,label\na/000.jpg,dog\na/001.jpg,cat\nb/000.jpg,dog\n")
    (root / "classes.txt").write_text("dog\ncat\n")

    examples, rejected = read_split(FOLDER, str(root), "all")

    assert FOLDER.splits(str(root)) == {"all": "manifest.csv"}
    assert read_class_names(str(root), "folder") == ["dog", "cat"]
    assert {e["source_id"]: e["label"] for e in examples} == {
        b"a/000.jpg": 0,
        b"a/001.jpg": 1,
        b"b/000.jpg": 0,
    }
    assert rejected == []


def test_a_manifest_label_missing_from_the_class_list_is_an_error(tmp_path: Path) -> None:
    root = write_class_tree(tmp_path, ["a"], per_class=2)
    (root / "manifest.csv").write_text("a/000.jpg,dog\na/001.jpg,dgo\n")
    (root / "classes.txt").write_text("dog\ncat\n")

    with pytest.raises(ValueError, match="'a/001.jpg' has label 'dgo', which classes.txt does"):
        FOLDER.list_inputs(str(root), "manifest.csv", FOLDER.class_names(str(root)))


def test_manifest_without_classes_file_uses_its_sorted_labels(tmp_path: Path) -> None:
    root = write_class_tree(tmp_path, ["x"], per_class=2)
    (root / "manifest.csv").write_text("x/000.jpg,zebra\nx/001.jpg,ant\n")

    assert FOLDER.class_names(str(root)) == ["ant", "zebra"]


def test_malformed_manifest_row_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text("path,label\na.jpg,cat\nb.jpg\n")

    with pytest.raises(ValueError, match=r"manifest.csv:3: expected two non-empty CSV fields"):
        FOLDER.class_names(str(tmp_path))


def test_manifest_listing_an_image_twice_names_both_lines(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text("path,label\na.jpg,cat\nb.jpg,dog\na.jpg,dog\n")

    with pytest.raises(
        ValueError, match=r"manifest.csv:4: 'a.jpg' is listed again \(first on line 2"
    ):
        FOLDER.class_names(str(tmp_path))


def test_empty_dir_names_the_expected_layout(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="holds no classes: expected class folders"):
        read_class_names(str(tmp_path), "folder")
    with pytest.raises(FileNotFoundError, match="is not a directory: expected class folders"):
        read_class_names(str(tmp_path / "missing"), "folder")


_FIELD = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"), min_size=1
)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(_FIELD, _FIELD), max_size=20, unique_by=lambda row: row[0]), st.booleans()
)
def test_parse_manifest_reads_back_any_rows_csv_writes(rows, header: bool) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(["path", "label"])
    writer.writerows(rows)

    parsed = parse_manifest(out.getvalue())

    assert parsed == (rows[1:] if not header and rows[:1] == [("path", "label")] else rows)


def test_folder_names_are_percent_decoded_into_any_class_name(tmp_path: Path) -> None:
    """Fashion-MNIST's class T-shirt/top cannot be a folder name; T-shirt%2Ftop can."""
    write_class_tree(tmp_path, ["T-shirt%2Ftop", "Trouser", "50%25"], per_class=1)

    class_names = read_class_names(str(tmp_path), "folder")
    examples, rejected = read_split(FOLDER, str(tmp_path), "all")

    assert class_names == ["50%", "T-shirt/top", "Trouser"]
    assert rejected == []
    assert sorted(e["label_name"] for e in examples) == [b"50%", b"T-shirt/top", b"Trouser"]


def test_two_folders_of_one_class_are_an_error(tmp_path: Path) -> None:
    write_class_tree(tmp_path, ["50%", "50%25"], per_class=1)

    with pytest.raises(ValueError, match="are both the class '50%'"):
        FOLDER.class_names(str(tmp_path))
