"""Writes the splits of examples as gzipped TFRecord shards of a chosen size, in an order that
is the same on every run and every runner.

TFX's own writer (`write_split.WriteSplit`) reshuffles the examples at random and lets the
runner choose the shards, so two runs over the same data hand the Trainer's seeded shuffle a
different input order and train different models. `WriteSplits` instead:

- makes `ceil(serialized bytes / shard_bytes)` shards per split (at least one);
- orders the examples by `h`, the SHA-256 of their `source_id`: a fixed pseudo-random order,
  so classes are mixed even when the inputs come class by class;
- cuts that order into `num_shards` consecutive runs of the key space (`shard_index`) and
  writes each run, in order, as one shard.

The same data thus gives byte-identical shards. To sort a shard a worker holds it in memory,
so `shard_bytes` also bounds the memory that writing takes. Files are named as TFX names them
(`data_tfrecord-00000-of-00004.gz`), and every one of the `num_shards` files is written, empty
when no example hashed to it.

How the examples reach their shard's writer depends on the runner: a grouping by shard
where the runner shuffles on disk or in a service (Dataflow, Flink, Spark), spill files
(`spill`) on the DirectRunner, which would hold every grouped example in memory. Both
write the same bytes.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import apache_beam as beam

from components.image_example_gen import files, spill, tfrecords
from components.image_example_gen.defaults import DEFAULT_SHARD_BYTES
from features import SOURCE_ID_KEY

FILE_PREFIX = "data_tfrecord"


# The elements ImageExampleGen's transforms pass on: the examples of one read task as
# (order key, serialized example) pairs. Beam's cost per element is of the order of reading a
# small image; paid per batch of up to 64 files, it fades.
KeyedRecords = beam.typehints.List[beam.typehints.Tuple[bytes, bytes]]
# A part of one output split: (split name, records).
SplitRecords = beam.typehints.Tuple[str, KeyedRecords]


def order_key(example: Any) -> bytes:
    """SHA-256 of the `source_id` of `example` (an `example_proto.Example`, or a
    tf.train.Example): its shard and its place in the shard."""
    return hashlib.sha256(example.features.feature[SOURCE_ID_KEY].bytes_list.value[0]).digest()


def keyed_record(example: Any) -> tuple[bytes, bytes]:
    """(order key, serialized example); maps are serialized in a fixed order, so the same
    example always gives the same bytes."""
    return order_key(example), example.SerializeToString(deterministic=True)


def shard_index(key: bytes, count: int) -> int:
    """The shard, among `count`, of the example with order key `key`: the key space cut into
    `count` equal ranges, so that each shard is a consecutive run of the key order."""
    return _shard_of_prefix(int.from_bytes(key[: spill.PREFIX_BYTES], "big"), count)


def _shard_of_prefix(prefix: int, count: int) -> int:
    """`shard_index` of a key whose first 8 bytes are the unsigned integer `prefix`."""
    return (prefix * count) >> 64


def num_shards(total_bytes: int, shard_bytes: int) -> int:
    """Shards of at most about `shard_bytes` for `total_bytes` of serialized examples."""
    return max(1, math.ceil(total_bytes / shard_bytes))


def shard_path(output_dir: str, index: int, count: int) -> str:
    return os.path.join(output_dir, f"{FILE_PREFIX}-{index:05d}-of-{count:05d}.gz")


def _shard_bytes(part: tuple[str, list[tuple[bytes, bytes]]]) -> tuple[str, int]:
    """(split, serialized bytes) of a part of a split."""
    split, records = part
    return split, sum(len(record) for _, record in records)


def _assign_shards(
    part: tuple[str, list[tuple[bytes, bytes]]], counts: Mapping[str, int]
) -> Iterator[tuple[tuple[str, int, int], list[tuple[bytes, bytes]]]]:
    """The records of a part of a split, by shard: ((split, shard index, shard count),
    records) for each shard that gets some."""
    split, records = part
    count = counts[split]
    by_shard: dict[int, list[tuple[bytes, bytes]]] = collections.defaultdict(list)
    for keyed in records:
        by_shard[shard_index(keyed[0], count)].append(keyed)
    for index, group in by_shard.items():
        yield (split, index, count), group


def _spill(
    part: tuple[str, list[tuple[bytes, bytes]]], spill_dir: str
) -> tuple[str, spill.SpillIndex]:
    """Writes a part of a split to a spill file: (split, its index)."""
    split, records = part
    return split, spill.write(records, spill_dir)


def _spilled_bytes(split_index: tuple[str, spill.SpillIndex]) -> tuple[str, int]:
    split, index = split_index
    return split, index.record_bytes


def _assign_segments(
    split_index: tuple[str, spill.SpillIndex], counts: Mapping[str, int]
) -> Iterator[tuple[tuple[str, int, int], tuple[str, int, int]]]:
    """The runs of a spill file that belong to each shard: ((split, shard index, shard
    count), (path, start, end)) for each shard that gets some of its examples."""
    split, index = split_index
    count = counts[split]
    ends = index.frame_ends()
    start = 0
    shards_of = [_shard_of_prefix(prefix, count) for prefix in index.key_prefixes()]
    for position, shard in enumerate(shards_of):
        if position + 1 == len(shards_of) or shards_of[position + 1] != shard:
            yield (split, shard, count), (index.path, start, ends[position])
            start = ends[position]


def _read_segments(
    shard: tuple[tuple[str, int, int], Iterable[tuple[str, int, int]]],
) -> tuple[tuple[str, int, int], list[list[tuple[bytes, bytes]]]]:
    """A shard's spilled runs, read back as lists of (key, record) pairs."""
    key, segments = shard
    return key, [list(spill.read(*segment)) for segment in segments]


def _write_shard(
    shard: tuple[tuple[str, int, int], Iterable[list[tuple[bytes, bytes]]]],
    output_dirs: Mapping[str, str],
) -> Iterator[str]:
    """Writes one shard, its records sorted by key; first to a temporary name, then renamed,
    so a retried task never leaves a partial file under the final name. The shard's values
    are lists of its (key, record) pairs."""
    (split, index, count), parts = shard
    path = shard_path(output_dirs[split], index, count)
    tmp = f"{path}.tmp"
    tfrecords.write(tmp, (record for _, record in sorted(itertools.chain.from_iterable(parts))))
    files.rename(tmp, path)
    yield path


def _write_empty_shards(
    split_count: tuple[str, int], output_dirs: Mapping[str, str], written: list[str]
) -> Iterator[str]:
    """Writes, empty, the shards of a split that no example hashed to (the one shard of a
    split without examples), so that each of its files exists."""
    split, count = split_count
    done = set(written)
    for index in range(count):
        if shard_path(output_dirs[split], index, count) not in done:
            yield from _write_shard(((split, index, count), []), output_dirs)


@beam.ptransform_fn
@beam.typehints.with_input_types(SplitRecords)
def WriteSplits(  # noqa: N802 - Beam PTransform naming, as in TFX.
    parts: beam.pvalue.PCollection,
    output_dirs: Mapping[str, str],
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    spill_dir: str | None = None,
) -> beam.pvalue.PCollection:
    """Writes `parts`, (split name, (order key, serialized tf.train.Example) pairs), into the
    shards of each split's directory in `output_dirs` (see the module docstring); returns
    the paths. Every split of `output_dirs` gets at least one shard, empty if no part names
    it. With `spill_dir`, the parts go through spill files there (see `spill`; the caller
    removes the directory) instead of a grouping. All splits go through one set of stages: a
    pipeline pays each stage once, and each stage that the examples pass through again (an
    empty part per shard flattened into them added one; docs/benchmarks.md#beam-stages)."""
    if shard_bytes < 1:
        raise ValueError(f"shard_bytes must be at least 1, not {shard_bytes}")
    for output_dir in output_dirs.values():
        files.makedirs(output_dir)
    if spill_dir:
        files.makedirs(spill_dir)
        parts = parts | "Spill" >> beam.Map(_spill, spill_dir)
    no_bytes = parts.pipeline | "EverySplit" >> beam.Create(
        [(split, 0) for split in output_dirs], reshuffle=False
    )
    counts = (
        (parts | "Bytes" >> beam.Map(_spilled_bytes if spill_dir else _shard_bytes), no_bytes)
        | "AllBytes" >> beam.Flatten()
        | "TotalBytes" >> beam.CombinePerKey(sum)
        | "NumShards" >> beam.MapTuple(lambda split, total: (split, num_shards(total, shard_bytes)))
    )
    assign = _assign_segments if spill_dir else _assign_shards
    shards = (
        parts
        | "AssignShards" >> beam.FlatMap(assign, beam.pvalue.AsDict(counts))
        | "GroupByShard" >> beam.GroupByKey()
    )
    if spill_dir:
        shards = shards | "ReadSpilled" >> beam.Map(_read_segments)
    written = shards | "WriteShard" >> beam.FlatMap(_write_shard, output_dirs)
    empty = counts | "WriteEmptyShards" >> beam.FlatMap(
        _write_empty_shards, output_dirs, beam.pvalue.AsList(written)
    )
    return (written, empty) | "AllShards" >> beam.Flatten()
