"""Everything under the data dir is untrusted: reading it never runs code, never leaves the
data dir, and never crashes (see docs/datasets.md, "Untrusted data")."""

import contextlib
import gzip
import json
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from components.image_example_gen import files, rejects, safe_pickle
from components.image_example_gen.component import create_image_example_gen, read_class_names
from components.image_example_gen.sources import base, folder, idx, image_files, imagenet
from components.image_example_gen.sources.cifar import CIFAR10
from components.image_example_gen.sources.folder import FOLDER, parse_manifest
from components.image_example_gen.sources.imagenet import IMAGENET
from tests.fixtures.cifar import write_cifar10_binary, write_cifar10_python
from tests.fixtures.idx import write_mnist
from tests.fixtures.images import image_bytes, write_class_tree, write_imagenet
from tests.fixtures.reading import features, run_executor
from tests.fixtures.untrusted import (
    code_payloads,
    hostile_batch,
    python2_batch,
    shared_nesting,
    write_marker_module,
)

EMBEDDED_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "cifar10-sample"
WAYS_TO_RUN_CODE = sorted(code_payloads(Path("unused")))


@pytest.fixture
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file that a hostile pickle creates if its code runs (also by importing a module)."""
    path = tmp_path / "MARKER"
    write_marker_module(tmp_path, path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return path


def _rejected_records(examples_dir: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted((examples_dir / rejects.REJECTED_DIR).glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


# Pickles -----------------------------------------------------------------------------------


@pytest.mark.parametrize("way", WAYS_TO_RUN_CODE)
def test_a_batch_pickle_that_runs_code_is_rejected_and_nothing_runs(
    way: str, marker: Path, tmp_path: Path
) -> None:
    data_dir = write_cifar10_python(tmp_path / "data", 20)  # 3 train batches + test, 20 each
    (data_dir / "data_batch_1").write_bytes(hostile_batch(code_payloads(marker)[way]))
    component = create_image_example_gen(str(data_dir), "cifar10", max_rejected_fraction=1.0)

    splits, _ = run_executor(component.exec_properties, tmp_path / "examples")

    assert not marker.exists()
    sizes = {split: len(examples) for split, examples in splits.items()}
    assert (sizes["train"] + sizes["eval"], sizes["test"]) == (40, 20)  # eval: 1/10 of train
    [record] = _rejected_records(tmp_path / "examples")
    assert (record["source_id"], record["reason"]) == ("data_batch_1", base.UNREADABLE_FILE)
    assert "unsafe pickle, not loaded: refused to load " in record["detail"]


@pytest.mark.parametrize("way", WAYS_TO_RUN_CODE)
def test_a_meta_pickle_that_runs_code_is_a_one_line_error_and_nothing_runs(
    way: str, marker: Path, tmp_path: Path
) -> None:
    data_dir = write_cifar10_python(tmp_path / "data", 2)
    names = {b"label_names": code_payloads(marker)[way]}
    (data_dir / "batches.meta").write_bytes(pickle.dumps(names, protocol=2))

    with pytest.raises(ValueError, match="unsafe pickle, not loaded: refused to load") as error:
        read_class_names(str(data_dir), "cifar10")

    assert "\n" not in str(error.value)
    assert not marker.exists()


def _official_files(shared_data: Path) -> list[Path]:
    cifar10 = shared_data / "cifar10-subset" / "cifar-10-batches-py"
    cifar100 = shared_data / "cifar100-test-subset" / "cifar-100-python"
    sample = EMBEDDED_SAMPLE / "cifar-10-batches-py"
    return sorted(cifar10.iterdir()) + sorted(cifar100.iterdir()) + sorted(sample.iterdir())


def test_the_real_cifar_files_load_as_pickle_loads_them(shared_data: Path) -> None:
    for path in _official_files(shared_data):
        data = path.read_bytes()
        expected = pickle.loads(data, encoding="bytes")

        loaded = safe_pickle.loads(data)

        assert loaded.keys() == expected.keys(), path
        for key, value in expected.items():
            if isinstance(value, np.ndarray):
                assert loaded[key].dtype == value.dtype, (path, key)
                np.testing.assert_array_equal(loaded[key], value)
            else:
                assert loaded[key] == value, (path, key)


def test_the_real_cifar_subset_ingests_to_the_same_example_bytes(shared_data: Path) -> None:
    """The examples are those that the plain unpickled arrays make."""
    batch = shared_data / "cifar10-subset" / "cifar-10-batches-py" / "data_batch_1"
    class_names = CIFAR10.class_names(str(batch.parent))
    content = pickle.loads(batch.read_bytes(), encoding="bytes")
    images = content[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    expected = [
        base.image_example(image, label, class_names[label], f"data_batch_1:{i}")
        for i, (image, label) in enumerate(zip(images, content[b"labels"], strict=True))
    ]

    examples = list(CIFAR10.read(base.InputFile(str(batch), "data_batch_1"), class_names))

    assert [e.SerializeToString(deterministic=True) for e in examples] == [
        e.SerializeToString(deterministic=True) for e in expected
    ]


def test_a_batch_as_python_2_pickled_it_loads_as_pickle_loads_it(tmp_path: Path) -> None:
    """The official CIFAR files were written by Python 2: dtype arguments come as bytes."""
    data = python2_batch(bytes(range(6)), [0, 1])
    expected = pickle.loads(data, encoding="bytes")

    loaded = safe_pickle.loads(data)

    np.testing.assert_array_equal(loaded[b"data"], expected[b"data"])
    assert loaded[b"data"].dtype == np.uint8 and loaded[b"labels"] == [0, 1]
    cifar_dir = write_cifar10_python(tmp_path, 2, num_train_batches=1)
    pixels = np.arange(2 * 3072, dtype=np.uint8).tobytes()
    (cifar_dir / "data_batch_1").write_bytes(python2_batch(pixels[:200], [3, 5]))
    records = list(
        CIFAR10.read(
            base.InputFile(str(cifar_dir / "data_batch_1"), "data_batch_1"),
            CIFAR10.class_names(str(cifar_dir)),
        )
    )
    # 100 bytes per row is not CIFAR's 3072: rejected by the reader, not by the unpickler.
    assert "must be uint8 (2, 3072)" in records[0].detail


def _nested_file_name() -> bytes:
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]}
    return pickle.dumps({**batch, b"filenames": [shared_nesting(None, 12)]}, protocol=2)


def _nested_key() -> bytes:
    """{<tuples nested 12 deep>: 1}, written opcode by opcode: building such a dict in the
    test would hash 10**12 elements."""
    key = pickle.dumps(shared_nesting(b"k", 12), protocol=2)[2:-1]  # no PROTO, no STOP
    return b"\x80\x02}" + key + b"K\x01s."


def _nested_set() -> bytes:
    return pickle.dumps({b"labels": frozenset({shared_nesting(1, 2)})}, protocol=4)


@pytest.mark.parametrize(
    "make_pickle",
    [_nested_file_name, _nested_key, _nested_set],
    ids=["a file name of 10**12 leaves", "a dict key of 10**12 leaves", "a frozenset"],
)
def test_hostile_values_are_refused_or_described_briefly(tmp_path: Path, make_pickle) -> None:
    """A few hundred bytes must not hang the reader: not in hashing a key, not in a repr."""
    cifar_dir = write_cifar10_python(tmp_path, 2, num_train_batches=1)
    (cifar_dir / "data_batch_1").write_bytes(make_pickle())

    [rejected] = _read_file(cifar_dir / "data_batch_1")

    assert rejected.reason == base.UNREADABLE_FILE
    assert len(rejected.detail) < 2000


def _read_file(path: Path) -> list:
    class_names = CIFAR10.class_names(str(path.parent))
    return list(CIFAR10.read(base.InputFile(str(path), path.name), class_names))


class _HugeShape:
    def __reduce__(self):
        state = (1, (2**8000,) * 50, np.dtype("u1"), False, b"")
        return np.core.multiarray._reconstruct, (np.ndarray, (0,), b"b"), state


def test_a_huge_shape_is_refused_before_any_arithmetic() -> None:
    with pytest.raises(safe_pickle.UnsafePickleError, match="is not a tuple of sizes"):
        safe_pickle.loads(pickle.dumps({b"data": _HugeShape()}, protocol=4))


@pytest.mark.parametrize("name", ["dtype", "ndarray"])
def test_the_stand_ins_refuse_to_be_changed(name: str) -> None:
    # GLOBAL numpy.<name>, then BUILD with {"_function": "x"}: would overwrite attributes.
    data = b"\x80\x02cnumpy\n" + name.encode() + b"\n}(U\t_functionU\x01xub."
    with pytest.raises(safe_pickle.UnsafePickleError, match="refused to give .* a state"):
        safe_pickle.loads(data)


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", ["u1", ">i4", "<f8", "?"])
def test_numeric_arrays_load_in_every_protocol_and_order(
    protocol: int, order: str, dtype: str
) -> None:
    array = np.asarray(np.arange(24).reshape(2, 3, 4) % 7, dtype=dtype, order=order)

    loaded = safe_pickle.loads(pickle.dumps({b"data": array, b"n": [1, 2]}, protocol=protocol))

    assert loaded[b"data"].dtype == array.dtype
    np.testing.assert_array_equal(loaded[b"data"], array)
    assert loaded[b"n"] == [1, 2]


@pytest.mark.parametrize(
    "value",
    [
        np.array([1, "a"], dtype=object),
        np.zeros(2, dtype=[("a", "u1"), ("b", "f4")]),
        np.datetime64("2026-12-07"),
        np.float32(1.5),
    ],
    ids=["object array", "structured array", "datetime scalar", "numpy scalar"],
)
def test_numpy_values_beyond_plain_arrays_are_refused(value: object) -> None:
    with pytest.raises(safe_pickle.UnsafePickleError):
        safe_pickle.loads(pickle.dumps({b"data": value}, protocol=2))


# Paths that lead out of the data dir -------------------------------------------------------


@pytest.fixture
def tree_with_ways_out(tmp_path: Path) -> Path:
    """Class folders of 3 images each, and 5 ways to reach images outside the data dir: a
    symlinked file, a symlinked class folder (2 images), and a manifest-like `..` alias
    through a symlinked folder; plus a symlink that stays inside (read as usual)."""
    outside = write_class_tree(tmp_path / "private", ["cat", "dog"], per_class=2)
    data_dir = write_class_tree(tmp_path / "data", ["cat", "dog", "emu"], per_class=3)
    (data_dir / "cat" / "secret.jpg").symlink_to(outside / "cat" / "000.jpg")
    (data_dir / "cat" / "alias.jpg").symlink_to(data_dir / "dog" / "000.jpg")
    (data_dir / "emu" / "up").symlink_to(outside)
    (data_dir / "fox").symlink_to(outside / "dog", target_is_directory=True)
    return data_dir


def _read_tree(data_dir: Path, examples_dir: Path, **options) -> tuple[dict, list[dict]]:
    component = create_image_example_gen(
        str(data_dir), "folder", split_ratios={"train": 1, "eval": 1}, **options
    )
    splits, _ = run_executor(component.exec_properties, examples_dir)
    source_ids = sorted(
        features(e)["source_id"].decode() for examples in splits.values() for e in examples
    )
    return source_ids, _rejected_records(examples_dir)


def test_inputs_that_lead_outside_the_data_dir_are_rejected_unread(
    tree_with_ways_out: Path, tmp_path: Path
) -> None:
    source_ids, records = _read_tree(
        tree_with_ways_out, tmp_path / "examples", max_rejected_fraction=1.0
    )

    assert "cat/alias.jpg" in source_ids  # a symlink within the data dir
    assert len(source_ids) == 3 * 3 + 1
    outside = {r["source_id"]: r for r in records if r["reason"] == base.OUTSIDE_DATA_DIR}
    assert sorted(outside) == ["cat/secret.jpg", "emu/up", "fox/000.jpg", "fox/001.jpg"]
    private = tmp_path / "private"
    assert (
        f"leads to {private / 'cat' / '000.jpg'}, outside the data dir "
        in (outside["cat/secret.jpg"]["detail"])
    )
    assert outside["fox/000.jpg"]["detail"].endswith("(data.read_outside_data_dir reads it)")


def test_the_user_may_allow_inputs_outside_the_data_dir(
    tree_with_ways_out: Path, tmp_path: Path
) -> None:
    source_ids, records = _read_tree(
        tree_with_ways_out,
        tmp_path / "examples",
        max_rejected_fraction=1.0,
        read_outside_data_dir=True,
    )

    assert {"cat/secret.jpg", "fox/000.jpg", "fox/001.jpg"} <= set(source_ids)
    assert [(r["source_id"], r["reason"]) for r in records] == [
        ("emu/up", base.NOT_AN_IMAGE)  # a folder inside a class folder, as before
    ]


def test_manifest_paths_outside_the_data_dir_are_rejected(tmp_path: Path) -> None:
    images = write_class_tree(tmp_path / "data" / "images", ["cat", "dog"], per_class=4)
    elsewhere = write_class_tree(tmp_path / "elsewhere", ["cat"], per_class=1)
    inside = [f"images/{name}/{i:03d}.jpg" for name in ("cat", "dog") for i in range(1, 4)]
    rows = [
        *(f"{path},{path.split('/')[1]}" for path in inside),
        f"{images / 'cat' / '000.jpg'},cat",  # absolute, inside
        "../elsewhere/cat/000.jpg,cat",
        f"{elsewhere / 'cat' / '000.jpg'},dog",  # absolute, outside
    ]
    (tmp_path / "data" / "manifest.csv").write_text("\n".join(rows) + "\n")

    source_ids, records = _read_tree(
        tmp_path / "data", tmp_path / "examples", max_rejected_fraction=1.0
    )

    assert source_ids == sorted([*inside, str(images / "cat" / "000.jpg")])
    assert sorted((r["source_id"], r["reason"]) for r in records) == sorted(
        [
            ("../elsewhere/cat/000.jpg", base.OUTSIDE_DATA_DIR),
            (str(elsewhere / "cat" / "000.jpg"), base.OUTSIDE_DATA_DIR),
        ]
    )


def test_batch_files_and_their_metadata_outside_the_data_dir_count_their_images(
    tmp_path: Path,
) -> None:
    cifar = write_cifar10_python(tmp_path / "cifar", 20)
    elsewhere = write_cifar10_python(tmp_path / "elsewhere", 20)
    (cifar / "data_batch_2").unlink()
    (cifar / "data_batch_2").symlink_to(elsewhere / "data_batch_2")
    mnist = write_mnist(tmp_path / "mnist", num_train=20, num_test=10)
    moved = tmp_path / "labels.gz"
    (mnist / f"t10k{idx.LABELS_SUFFIX}").rename(moved)
    (mnist / f"t10k{idx.LABELS_SUFFIX}").symlink_to(moved)

    for data_dir, source, source_id, count in [
        (cifar, "cifar10", "data_batch_2", 10_000),
        (mnist, "mnist", f"t10k{idx.IMAGES_SUFFIX}", 10_000),
    ]:
        component = create_image_example_gen(str(data_dir), source, max_rejected_fraction=1.0)
        run_executor(component.exec_properties, tmp_path / f"examples-{source}")

        [record] = _rejected_records(tmp_path / f"examples-{source}")
        assert (record["source_id"], record["reason"], record["count"]) == (
            source_id,
            base.OUTSIDE_DATA_DIR,
            count,
        )


@pytest.mark.parametrize(
    ("root", "path", "outside"),
    [
        ("gs://bucket/data", "gs://bucket/data/cat/1.jpg", False),
        ("gs://bucket/data/", "gs://bucket/data/a/../cat/1.jpg", False),
        ("gs://bucket/data", "gs://bucket/data/../private/1.jpg", True),
        ("gs://bucket/data", "gs://bucket/data2/1.jpg", True),
        ("gs://bucket/data", "s3://bucket/data/1.jpg", True),
    ],
)
def test_remote_paths_are_judged_by_their_normal_form(root: str, path: str, outside: bool) -> None:
    assert bool(files.Boundary(root).outside(path)) is outside


def test_a_local_sibling_with_the_same_prefix_is_outside(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data2").mkdir()

    boundary = files.Boundary(str(tmp_path / "data"))

    assert boundary.outside(str(tmp_path / "data2" / "x.jpg")) == str(tmp_path / "data2" / "x.jpg")
    assert boundary.outside(str(tmp_path / "data" / "x.jpg")) is None


# Random bytes into every parser ------------------------------------------------------------
# Each parser gets random bytes and valid files with random bytes changed or cut off; it must
# answer with rejected records or a one-line error (ValueError / FileNotFoundError), never
# another exception, and within the deadline.

FUZZ = settings(
    max_examples=60,
    deadline=5_000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ONE_LINE_ERRORS = (ValueError, FileNotFoundError)


@st.composite
def damaged(draw: st.DrawFn, valid: bytes) -> bytes:
    """`valid` with some bytes replaced and perhaps the tail cut off, or random bytes."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=4096))
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


@contextlib.contextmanager
def replaced(path: Path, content: bytes) -> Iterator[None]:
    """`path` holds `content` for the block, then its own bytes again (the next example of a
    test reuses the data set)."""
    original = path.read_bytes()
    path.write_bytes(content)
    try:
        yield
    finally:
        path.write_bytes(original)


def _records(source: base.ImageSource, data_dir: Path, name: str) -> list:
    """Every record `source` reads from the file `name` of `data_dir` (a one-line error from
    its class names counts as an answer too)."""
    try:
        class_names = source.class_names(str(data_dir))
    except ONE_LINE_ERRORS as e:
        assert "\n" not in str(e)
        return []
    records = list(source.read(base.InputFile(str(data_dir / name), name), class_names))
    for record in records:
        if isinstance(record, base.Rejected):
            assert record.count >= 1
    return records


@pytest.fixture(scope="module")
def cifar_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("valid")
    return {
        "python": write_cifar10_python(root / "python", 4, num_train_batches=1),
        "binary": write_cifar10_binary(root / "binary", 4),
    }


@FUZZ
@given(data=st.data())
@pytest.mark.parametrize(
    ("layout", "name"),
    [
        ("python", "data_batch_1"),
        ("python", "batches.meta"),
        ("binary", "data_batch_1.bin"),
        ("binary", "batches.meta.txt"),
    ],
)
def test_cifar_files_of_random_bytes_are_rejected_or_refused(
    cifar_files: dict[str, Path], tmp_path: Path, layout: str, name: str, data: st.DataObject
) -> None:
    data_dir = tmp_path / layout
    if not data_dir.exists():
        shutil.copytree(cifar_files[layout], data_dir)
    (data_dir / name).write_bytes(data.draw(damaged((cifar_files[layout] / name).read_bytes())))
    batch = "data_batch_1.bin" if layout == "binary" else "data_batch_1"

    _records(CIFAR10, data_dir, batch)


@FUZZ
@given(data=st.data())
@pytest.mark.parametrize("kind", [idx.IMAGES_SUFFIX, idx.LABELS_SUFFIX])
def test_idx_files_of_random_bytes_are_rejected(
    tmp_path: Path, kind: str, data: st.DataObject
) -> None:
    data_dir = tmp_path / "mnist"
    if not data_dir.exists():
        write_mnist(data_dir, num_train=3, num_test=3)
    path = data_dir / f"train{kind}"
    raw = data.draw(damaged(gzip.decompress(path.read_bytes())))

    with replaced(path, gzip.compress(raw) if data.draw(st.booleans()) else raw):
        _records(idx.MNIST, data_dir, f"train{idx.IMAGES_SUFFIX}")


@FUZZ
@given(text=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300))
def test_random_manifests_are_read_or_refused_in_one_line(tmp_path: Path, text: str) -> None:
    (tmp_path / "manifest.csv").write_text(text, encoding="utf-8")

    try:
        rows = parse_manifest(text)
        class_names = FOLDER.class_names(str(tmp_path))
        inputs = FOLDER.list_inputs(str(tmp_path), folder.MANIFEST_FILE, class_names)
    except ONE_LINE_ERRORS as e:
        assert "\n" not in str(e)
        return
    assert len(inputs) == len(rows)


@settings(FUZZ, max_examples=20)  # each example reads meta.mat in a process of its own
@given(data=st.data())
@pytest.mark.parametrize("name", [imagenet.GROUND_TRUTH_FILE, imagenet.META_FILE])
def test_imagenet_devkit_files_of_random_bytes_are_read_or_refused_in_one_line(
    tmp_path: Path, name: str, data: st.DataObject
) -> None:
    data_dir = tmp_path / "imagenet"
    if not data_dir.exists():
        write_imagenet(data_dir)
    path = data_dir / imagenet.DEVKIT_DATA_DIR / name

    with replaced(path, data.draw(damaged(path.read_bytes()))):
        try:
            class_names = IMAGENET.class_names(str(data_dir))
            IMAGENET.list_inputs(str(data_dir), "val/*", class_names)
        except ONE_LINE_ERRORS as e:
            assert "\n" not in str(e)


# Decompression bombs -----------------------------------------------------------------------


@pytest.mark.parametrize("limit", [3_000, 1_000])  # PIL warns above the limit, fails above 2x
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_images_above_the_decompression_bomb_limit_are_rejected(
    limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    data = image_bytes("PNG", size=(64, 64))  # 4,096 pixels

    with pytest.raises(base.InvalidInputError) as error:
        image_files.encode_image(data, frozenset({"PNG"}), "PNG")

    assert error.value.reason == base.IMAGE_TOO_LARGE
