"""ImageExampleGen's writer: sized shards whose content and order repeat from run to run."""

from pathlib import Path

import apache_beam as beam
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from components.image_example_gen import executor, shards
from components.image_example_gen.component import create_image_example_gen
from components.image_example_gen.sources.base import make_example
from tests.fixtures.cifar import write_cifar10_python
from tests.fixtures.reading import run_executor


def _examples(n: int) -> list[bytes]:
    """`n` serialized examples, as ImageExampleGen's readers produce them."""
    return [
        make_example(b"x" * 100, 1, 1, 3, i % 3, "c", f"img{i:03d}").SerializeToString(
            deterministic=True
        )
        for i in range(n)
    ]


def _key(record: bytes) -> bytes:
    return shards.order_key(tf.train.Example.FromString(record))


def _write_splits(
    tmp_path: Path, examples: dict[str, list[bytes]], shard_bytes: int, spill: bool = False
) -> dict[str, list[Path]]:
    """Writes each split's `examples` handed to WriteSplits in parts of 7, as read tasks
    hand them (through spill files when `spill`); returns the shards of each split."""
    parts = []
    for split, records in examples.items():
        keyed = [(_key(record), record) for record in records]
        parts += [(split, keyed[i : i + 7]) for i in range(0, len(keyed), 7)]
    output_dirs = {split: str(tmp_path / split) for split in examples}
    spill_dir = str(tmp_path / ".spill") if spill else None
    with beam.Pipeline() as pipeline:
        _ = (
            pipeline
            | beam.Create(parts, reshuffle=True)
            | shards.WriteSplits(output_dirs, shard_bytes, spill_dir)
        )
    return {split: sorted((tmp_path / split).glob("*.gz")) for split in examples}


def _write(
    tmp_path: Path, examples: list[bytes], shard_bytes: int, spill: bool = False
) -> list[Path]:
    """Writes `examples` as the one split of a WriteSplits; returns its shards."""
    return _write_splits(tmp_path, {"train": examples}, shard_bytes, spill)["train"]


def _records(path: Path) -> list[bytes]:
    return [r.numpy() for r in tf.data.TFRecordDataset(str(path), compression_type="GZIP")]


@pytest.mark.parametrize("spill", [False, True], ids=["grouped", "spilled"])
def test_shards_are_sized_complete_and_sorted_by_the_hash_of_the_source_id(
    tmp_path: Path, spill: bool
):
    examples = _examples(60)
    record_bytes = len(examples[0])

    files = _write(tmp_path, examples, shard_bytes=10 * record_bytes, spill=spill)

    assert [f.name for f in files] == [f"data_tfrecord-{i:05d}-of-00006.gz" for i in range(6)]
    written = [r for f in files for r in _records(f)]
    assert sorted(written, key=_key) == sorted(examples, key=_key), "every example exactly once"
    for f in files:
        keys = [_key(r) for r in _records(f)]
        assert keys == sorted(keys)
    assert not list(tmp_path.glob("*/*.tmp"))


def test_the_same_examples_give_byte_identical_shards_in_any_input_order(tmp_path: Path):
    examples = _examples(40)

    first = _write(tmp_path / "a", examples, shard_bytes=1000)
    second = _write(tmp_path / "b", list(reversed(examples)), shard_bytes=1000)

    assert len(first) > 1
    assert [f.read_bytes() for f in first] == [f.read_bytes() for f in second]


def test_spilled_shards_are_byte_identical_to_grouped_ones(tmp_path: Path):
    examples = _examples(60)

    grouped = _write(tmp_path / "grouped", examples, shard_bytes=1000)
    spilled = _write(tmp_path / "spilled", examples, shard_bytes=1000, spill=True)

    assert len(grouped) > 3
    assert [f.name for f in grouped] == [f.name for f in spilled]
    assert [f.read_bytes() for f in grouped] == [f.read_bytes() for f in spilled]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=50),
    st.integers(1, 5000),
)
def test_shards_are_consecutive_runs_of_the_key_order(keys: list[bytes], count: int):
    indexes = [shards.shard_index(key, count) for key in sorted(keys)]

    assert indexes == sorted(indexes)
    assert all(0 <= index < count for index in indexes)
    assert shards.shard_index(b"\0" * 32, count) == 0
    assert shards.shard_index(b"\xff" * 32, count) == count - 1


@pytest.mark.parametrize("spill", [False, True], ids=["grouped", "spilled"])
def test_an_empty_split_still_gets_its_one_shard(tmp_path: Path, spill: bool):
    [only] = _write(tmp_path, [], shard_bytes=1000, spill=spill)
    assert only.name == "data_tfrecord-00000-of-00001.gz"
    assert _records(only) == []


@pytest.mark.parametrize("spill", [False, True], ids=["grouped", "spilled"])
def test_every_shard_exists_even_when_no_example_hashes_to_it(tmp_path: Path, spill: bool):
    examples = _examples(2)

    files = _write(tmp_path, examples, shard_bytes=len(examples[0]) // 2, spill=spill)

    assert [f.name for f in files] == [f"data_tfrecord-{i:05d}-of-00004.gz" for i in range(4)]
    assert sorted(r for f in files for r in _records(f)) == sorted(examples)
    assert sum(1 for f in files if not _records(f)) >= 2


@pytest.mark.parametrize("spill", [False, True], ids=["grouped", "spilled"])
def test_each_split_is_sized_and_written_in_its_own_directory(tmp_path: Path, spill: bool):
    examples = _examples(50)
    record_bytes = len(examples[0])
    by_split = {"train": examples[:40], "eval": examples[40:], "test": []}

    written = _write_splits(tmp_path, by_split, shard_bytes=10 * record_bytes, spill=spill)

    assert {split: len(paths) for split, paths in written.items()} == {
        "train": 4,
        "eval": 1,
        "test": 1,
    }
    for split, paths in written.items():
        records = [r for path in paths for r in _records(path)]
        assert sorted(records) == sorted(by_split[split]), split


def test_executor_repeats_its_output_byte_for_byte(tmp_path: Path):
    data_dir = write_cifar10_python(tmp_path / "data", 30, 2)
    exec_properties = create_image_example_gen(
        str(data_dir), "cifar10", shard_bytes=20_000
    ).exec_properties

    outputs = []
    for run in ("first", "second"):
        splits, _ = run_executor(exec_properties, tmp_path / run)
        sizes = {name: len(e) for name, e in splits.items()}
        assert (sizes["train"] + sizes["eval"], sizes["test"]) == (60, 30)  # eval: 1/10 of train
        files = sorted((tmp_path / run / "Split-train").glob("*.gz"))
        outputs.append([f.read_bytes() for f in files])
        hidden = sorted(p.name for p in (tmp_path / run).iterdir() if p.name.startswith("."))
        assert hidden == [], "the task list and the spill files are removed"

    assert len(outputs[0]) > 1, "small shards: more than one file"
    assert outputs[0] == outputs[1]


def test_a_shard_size_below_one_byte_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ValueError, match="shard size must be positive"):
        data_dir = write_cifar10_python(tmp_path, 2, 1)
        create_image_example_gen(str(data_dir), "cifar10", shard_bytes=0)


@pytest.mark.parametrize(
    ("runner", "spills"),
    [(None, True), ("DirectRunner", True), ("DataflowRunner", False), ("FlinkRunner", False)],
)
def test_the_writer_spills_where_the_runner_would_group_in_memory(runner, spills):
    # A dependency flag, as a cluster run has, spares TFX building a package of this module.
    args = [f"--runner={runner}", "--sdk_container_image=vt-tfx"] if runner else []
    context = executor.Executor.Context(beam_pipeline_args=args)

    assert executor.Executor(context)._shuffles_in_memory() is spills
