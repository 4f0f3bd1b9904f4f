"""Everything under the data dir is untrusted: reading it never runs code, never leaves the
data dir, and never crashes (see docs/datasets.md, "Untrusted data")."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from components.image_example_gen import rejects, safe_pickle
from components.image_example_gen.component import create_image_example_gen, read_class_names
from components.image_example_gen.sources import base
from components.image_example_gen.sources.cifar import CIFAR10
from tests.fixtures.cifar import write_cifar10_python
from tests.fixtures.reading import run_executor
from tests.fixtures.untrusted import code_payloads, hostile_batch, write_marker_module

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
    assert {split: len(examples) for split, examples in splits.items()} == {"train": 40, "eval": 20}
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
