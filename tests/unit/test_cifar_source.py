"""Tests of the CIFAR-10/100 sources: python and binary layouts, archives, download, rejects."""

import collections
import dataclasses
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from components.image_example_gen import download
from components.image_example_gen.component import read_class_names
from components.image_example_gen.sources import base
from components.image_example_gen.sources.cifar import CIFAR10, CIFAR100
from pipeline.commands import run
from tests.fixtures.cifar import (
    CIFAR10_CLASS_NAMES,
    cifar100_names,
    truncate,
    write_cifar10_binary,
    write_cifar10_python,
    write_cifar100_binary,
    write_cifar100_python,
    write_tar_gz,
)
from tests.fixtures.reading import features, read_split

IMAGES_PER_BATCH = 20


def _load_pickle(path: Path) -> dict:
    with path.open("rb") as f:
        return pickle.load(f, encoding="bytes")


def _read_file(source, path: Path) -> list:
    """Every record (example features or Rejected) of one batch file."""
    class_names = source.class_names(str(path.parent))
    item = base.InputFile(str(path), path.name)
    return [
        r if isinstance(r, base.Rejected) else features(r) for r in source.read(item, class_names)
    ]


@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    return write_cifar10_python(tmp_path, IMAGES_PER_BATCH)


def test_read_yields_one_example_per_image_with_balanced_labels(cifar_dir: Path) -> None:
    examples = _read_file(CIFAR10, cifar_dir / "data_batch_2")

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

    examples = _read_file(CIFAR10, cifar_dir / "test_batch")

    assert [e["label"] for e in examples] == batch[b"labels"]
    for e, image in zip(examples, expected, strict=True):
        assert e["image"].startswith(b"\x89PNG")
        np.testing.assert_array_equal(tf.io.decode_png(e["image"]).numpy(), image)


def test_source_id_is_the_pickled_file_name_when_present(tmp_path: Path) -> None:
    cifar_dir = write_cifar10_python(tmp_path, IMAGES_PER_BATCH, with_filenames=True)
    filenames = _load_pickle(cifar_dir / "data_batch_1")[b"filenames"]

    examples = _read_file(CIFAR10, cifar_dir / "data_batch_1")

    assert [e["source_id"] for e in examples] == filenames


def test_class_names_and_splits_come_from_the_layout(cifar_dir: Path) -> None:
    parent = str(cifar_dir.parent)

    assert CIFAR10.resolve_data_dir(parent) == str(cifar_dir)
    assert CIFAR10.resolve_data_dir(str(cifar_dir)) == str(cifar_dir)
    assert CIFAR10.class_names(parent) == CIFAR10_CLASS_NAMES
    assert CIFAR10.splits(str(cifar_dir)) == {"train": "data_batch_*", "test": "test_batch"}


def test_binary_layout_holds_the_same_images_as_the_python_layout(tmp_path: Path) -> None:
    binary_dir = write_cifar10_binary(tmp_path, IMAGES_PER_BATCH)
    python_dir = tmp_path / "py" / "cifar-10-batches-py"

    assert CIFAR10.resolve_data_dir(str(tmp_path)) in (str(binary_dir), str(python_dir))
    assert CIFAR10.splits(str(binary_dir)) == {
        "train": "data_batch_*.bin",
        "test": "test_batch.bin",
    }
    assert CIFAR10.class_names(str(binary_dir)) == CIFAR10_CLASS_NAMES
    binary, rejected = read_split(CIFAR10, str(binary_dir), "test")
    python, _ = read_split(CIFAR10, str(python_dir), "test")

    assert rejected == []
    assert [(e["label"], e["image"]) for e in binary] == [(e["label"], e["image"]) for e in python]
    assert binary[3]["source_id"] == b"test_batch.bin:3"


@pytest.mark.parametrize("writer", [write_cifar100_python, write_cifar100_binary])
def test_cifar100_examples_carry_fine_and_coarse_labels(tmp_path: Path, writer) -> None:
    data_dir = writer(tmp_path, 40)

    examples, rejected = read_split(CIFAR100, str(data_dir), "train")

    assert rejected == []
    assert len(examples) == 40
    fine, coarse = cifar100_names(100, "fine"), cifar100_names(20, "coarse")
    for index, e in enumerate(examples):
        assert (e["label"], e["coarse_label"]) == (index, index % 20)
        assert e["label_name"] == fine[index].encode()
        assert e["coarse_label_name"] == coarse[index % 20].encode()


@pytest.mark.parametrize(
    ("writer", "stem", "batches_dir"),
    [
        (write_cifar10_python, "cifar-10-python", "cifar-10-batches-py"),
        (write_cifar10_binary, "cifar-10-binary", "cifar-10-batches-bin"),
    ],
)
def test_official_archive_is_unpacked_into_the_cache(
    tmp_path: Path, writer, stem: str, batches_dir: str
) -> None:
    batches = writer(tmp_path / "src", IMAGES_PER_BATCH)
    archive = write_tar_gz(batches, tmp_path / f"{stem}.tar.gz")
    source = dataclasses.replace(CIFAR10, cache_dir=str(tmp_path / "cache"))

    resolved = source.resolve_data_dir(str(archive))

    assert resolved == str(tmp_path / "cache" / stem / batches_dir)
    assert source.class_names(resolved) == CIFAR10_CLASS_NAMES
    train_batches = len(list(batches.glob("data_batch_*")))
    assert len(read_split(source, resolved, "train")[0]) == train_batches * IMAGES_PER_BATCH


def _published_at(tmp_path: Path, md5: str | None = None) -> tuple[download.Archive, Path]:
    """A CIFAR-10 archive at a file:// URL, with its MD5 (or `md5`) as the published one."""
    batches = write_cifar10_python(tmp_path / "server", IMAGES_PER_BATCH)
    archive = write_tar_gz(batches, tmp_path / "server" / "cifar-10-python.tar.gz")
    return download.Archive(archive.as_uri(), md5 or download.md5_of(str(archive))), archive


def test_missing_data_dir_downloads_the_archive_once_and_checks_its_md5(tmp_path: Path) -> None:
    archive, served = _published_at(tmp_path)
    source = dataclasses.replace(
        CIFAR10, archive=archive, cache_dir=str(tmp_path / "cache"), download=True
    )

    resolved = source.resolve_data_dir(str(tmp_path / "nowhere"))
    served.unlink()  # a second resolution must not download again

    assert source.resolve_data_dir(str(tmp_path / "nowhere")) == resolved
    assert (tmp_path / "cache" / "cifar-10-python.tar.gz").is_file()
    assert source.class_names(resolved) == CIFAR10_CLASS_NAMES


def test_default_cache_is_in_the_xdg_cache_home(tmp_path: Path, monkeypatch) -> None:
    archive, _ = _published_at(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    resolved = dataclasses.replace(CIFAR10, archive=archive).resolve_data_dir("")

    cache = tmp_path / "xdg" / "vt-tfx" / "datasets"
    assert resolved == str(cache / "cifar-10-python" / "cifar-10-batches-py")
    assert (cache / "cifar-10-python.tar.gz").is_file()
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert download.default_cache_dir() == str(tmp_path / "home/.cache/vt-tfx/datasets")


def test_cache_dir_flag_reaches_the_source(tmp_path: Path) -> None:
    # A copy unpacked by an earlier run: found there, nothing is downloaded.
    cached = write_cifar10_python(tmp_path / "cache" / "cifar-10-python", IMAGES_PER_BATCH)
    flags = [f"--data-dir={tmp_path / 'nowhere'}", f"--cache-dir={tmp_path}/cache", "--download"]
    args = run.parse_args(flags)
    config = run.build_config(args)

    assert config.data.cache_dir == f"{tmp_path}/cache"
    assert run.resolve_data(config, "local").data.data_dir == str(cached)


def test_download_with_a_wrong_md5_is_deleted_and_reported(tmp_path: Path) -> None:
    archive, _ = _published_at(tmp_path, md5="0" * 32)
    source = dataclasses.replace(
        CIFAR10, archive=archive, cache_dir=str(tmp_path / "cache"), download=True
    )

    with pytest.raises(ValueError, match="published MD5 is 0{32}: the download is damaged"):
        source.resolve_data_dir(str(tmp_path / "nowhere"))
    assert list((tmp_path / "cache").iterdir()) == []


def test_archive_put_in_the_cache_by_hand_is_md5_checked_and_kept(tmp_path: Path) -> None:
    archive, served = _published_at(tmp_path, md5="0" * 32)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / archive.file_name).write_bytes(served.read_bytes())
    source = dataclasses.replace(CIFAR10, archive=archive, cache_dir=str(cache), download=True)

    with pytest.raises(ValueError, match=f"has MD5 .* published MD5 of .* is {'0' * 32}"):
        source.resolve_data_dir(str(tmp_path / "nowhere"))
    assert (cache / archive.file_name).is_file()


def test_offline_says_where_to_put_the_files(tmp_path: Path) -> None:
    offline = download.Archive((tmp_path / "unreachable.tar.gz").as_uri(), "0" * 32)
    source = dataclasses.replace(CIFAR10, archive=offline, cache_dir=str(tmp_path / "cache"))
    # An empty data dir means the cache, as in the cifar10 preset.

    with pytest.raises(FileNotFoundError, match=r"put unreachable.tar.gz .* in .*/cache, or pass"):
        source.resolve_data_dir("")


def test_a_missing_data_dir_is_an_error_not_a_download(tmp_path: Path) -> None:
    archive, served = _published_at(tmp_path)
    source = dataclasses.replace(CIFAR10, archive=archive, cache_dir=str(tmp_path / "cache"))

    with pytest.raises(FileNotFoundError) as error:
        source.resolve_data_dir(str(tmp_path / "cifar-10-batchs-py"))

    assert str(error.value) == (
        f"{tmp_path / 'cifar-10-batchs-py'} does not exist: check --data-dir, or pass "
        f"--download to use the official cifar-10-python.tar.gz in {tmp_path / 'cache'} "
        "(downloaded when missing)"
    )
    assert not (tmp_path / "cache").exists()


def test_existing_dir_without_the_layout_names_both_layouts(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="python layout .* or binary layout"):
        CIFAR10.class_names(str(tmp_path))


def test_one_split_alone_is_a_pool_and_none_is_named(cifar_dir: Path) -> None:
    (cifar_dir / "test_batch").unlink()
    assert CIFAR10.splits(str(cifar_dir)) == {"all": "data_batch_*"}

    for batch in cifar_dir.glob("data_batch_*"):
        batch.unlink()

    with pytest.raises(
        FileNotFoundError, match="no train files \\(data_batch_\\*\\) in .*CIFAR-10"
    ):
        read_class_names(str(cifar_dir), "cifar10")


@pytest.mark.parametrize(
    ("content", "detail", "count"),
    [
        # Nothing readable: the 10,000 images of an official CIFAR-10 batch.
        (b"airplane,0\n", "not a pickle", 10_000),
        (
            pickle.dumps({b"labels": [0, 1]}, protocol=2),
            r"lacks keys \[b'data', b'labels'\]",
            10_000,
        ),
        (
            pickle.dumps({b"labels": [0, None], b"data": np.zeros((2, 3072), np.uint8)}),
            r"b'labels' holds a value that is not an integer",
            10_000,
        ),
        (
            pickle.dumps({b"labels": [b"cat"], b"data": np.zeros((1, 3072), np.uint8)}),
            r"b'labels' holds a value that is not an integer",
            10_000,
        ),
        # The labels say how many images there were.
        (
            pickle.dumps({b"labels": [0, 1], b"data": np.zeros((2, 32, 32, 3), np.uint8)}),
            r"must be uint8 \(2, 3072\), one row per label",
            2,
        ),
        (
            pickle.dumps(
                {b"labels": [0, 1], b"data": np.zeros((2, 3072), np.uint8), b"filenames": [b"a"]}
            ),
            r"b'filenames' has 1 values for 2 images",
            2,
        ),
        (
            pickle.dumps(
                {b"labels": [0], b"data": np.zeros((1, 3072), np.uint8), b"filenames": [None]}
            ),
            r"b'filenames' holds a value that is not a file name",
            1,
        ),
    ],
)
def test_unreadable_batch_file_is_one_record_counting_its_images(
    cifar_dir: Path, content: bytes, detail: str, count: int
) -> None:
    (cifar_dir / "data_batch_1").write_bytes(content)

    [rejected] = _read_file(CIFAR10, cifar_dir / "data_batch_1")

    assert (rejected.source_id, rejected.reason) == ("data_batch_1", base.UNREADABLE_FILE)
    assert re.search(detail, rejected.detail)
    assert rejected.count == count
    assert rejected.detail.endswith(f"counts as {count} rejected images")


def test_cifar100_batch_with_fewer_coarse_than_fine_labels_is_unreadable(tmp_path: Path) -> None:
    cifar100 = write_cifar100_python(tmp_path, 4)
    batch = _load_pickle(cifar100 / "test")
    batch[b"coarse_labels"] = batch[b"coarse_labels"][:3]
    with (cifar100 / "test").open("wb") as f:
        pickle.dump(batch, f)

    [rejected] = _read_file(CIFAR100, cifar100 / "test")

    assert (rejected.reason, rejected.count) == (base.UNREADABLE_FILE, 4)
    assert "b'coarse_labels' has 3 values for 4 images" in rejected.detail


def test_truncated_pickle_counts_the_images_of_the_official_file(tmp_path: Path) -> None:
    cifar10 = write_cifar10_python(tmp_path / "c10", IMAGES_PER_BATCH)
    cifar100 = write_cifar100_python(tmp_path / "c100", IMAGES_PER_BATCH)

    [batch] = _read_file(CIFAR10, truncate(cifar10 / "data_batch_2"))
    [train] = _read_file(CIFAR100, truncate(cifar100 / "train"))
    [test] = _read_file(CIFAR100, truncate(cifar100 / "test"))

    assert "not a pickle" in batch.detail
    assert [(r.source_id, r.count) for r in (batch, train, test)] == [
        ("data_batch_2", 10_000),
        ("train", 50_000),
        ("test", 10_000),
    ]


def test_truncated_binary_file_counts_the_images_of_the_official_file(tmp_path: Path) -> None:
    cifar10 = write_cifar10_binary(tmp_path / "c10", IMAGES_PER_BATCH)
    cifar100 = write_cifar100_binary(tmp_path / "c100", IMAGES_PER_BATCH)

    [test_batch] = _read_file(CIFAR10, truncate(cifar10 / "test_batch.bin"))
    [train] = _read_file(CIFAR100, truncate(cifar100 / "train.bin"))

    assert test_batch.reason == train.reason == base.UNREADABLE_FILE
    assert "not a whole number of 3073-byte records" in test_batch.detail
    assert "not a whole number of 3074-byte records" in train.detail
    assert (test_batch.count, train.count) == (10_000, 50_000)


def test_oversized_truncated_binary_file_counts_at_least_the_records_it_starts(
    tmp_path: Path,
) -> None:
    cifar10 = write_cifar10_binary(tmp_path, IMAGES_PER_BATCH)
    # A non-official batch holding more than 10,000 records, cut inside its last one.
    (cifar10 / "data_batch_6.bin").write_bytes(bytes(10_001 * 3073 - 5))

    [rejected] = _read_file(CIFAR10, cifar10 / "data_batch_6.bin")

    assert rejected.count == 10_001


def test_labels_outside_the_class_names_are_rejected_one_by_one(cifar_dir: Path) -> None:
    with (cifar_dir / "data_batch_1").open("wb") as f:
        pickle.dump({b"labels": [3, 10, 4], b"data": np.zeros((3, 3072), np.uint8)}, f)

    records = _read_file(CIFAR10, cifar_dir / "data_batch_1")

    assert [r["label"] for r in records if isinstance(r, dict)] == [3, 4]
    [rejected] = [r for r in records if isinstance(r, base.Rejected)]
    assert (rejected.source_id, rejected.reason) == ("data_batch_1:1", base.LABEL_OUT_OF_RANGE)


@settings(max_examples=25, deadline=None)
@given(
    hnp.arrays(
        np.uint8,
        st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3, 4])),
    )
)
def test_image_example_round_trips_any_uint8_image(image: np.ndarray) -> None:
    e = features(base.image_example(image, 7, "horse", "x:0"))

    np.testing.assert_array_equal(tf.io.decode_png(e["image"]).numpy(), image)
    assert (e["height"], e["width"], e["channels"]) == image.shape
    assert (e["label"], e["label_name"], e["source_id"]) == (7, b"horse", b"x:0")


def test_real_cifar100_subset_has_fine_and_coarse_labels(shared_data: Path) -> None:
    data_dir = shared_data / "cifar100-test-subset"

    examples, rejected = read_split(CIFAR100, str(data_dir), "all")

    class_names = CIFAR100.class_names(str(data_dir))
    assert (len(class_names), len(examples), rejected) == (100, 916, [])
    assert all(e["label_name"] == class_names[e["label"]].encode() for e in examples)
    assert examples[0]["source_id"] == b"volcano_s_000012.png"
    assert [e["label_name"] for e in examples[:3]] == [b"mountain", b"forest", b"seal"]
    assert [e["coarse_label_name"] for e in examples[:3]] == [
        b"large_natural_outdoor_scenes",
        b"large_natural_outdoor_scenes",
        b"aquatic_mammals",
    ]
    assert len({e["coarse_label"] for e in examples}) == 20
    # The test set alone: one pool, split by hash.
    resolved = CIFAR100.resolve_data_dir(str(data_dir))
    assert CIFAR100.splits(resolved) == {"all": "test"}
    assert read_class_names(str(data_dir), "cifar100") == class_names


def test_embedded_default_sample_is_class_balanced() -> None:
    sample_dir = Path(__file__).parents[2] / "data/cifar10-sample"
    expected_per_class = {"train": 200, "test": 50}

    for split, per_class in expected_per_class.items():
        examples, rejected = read_split(CIFAR10, str(sample_dir), split)

        assert rejected == []
        assert collections.Counter(e["label"] for e in examples) == dict.fromkeys(
            range(10), per_class
        ), split
