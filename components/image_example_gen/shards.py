"""Writes one split of examples as gzipped TFRecord shards of a chosen size, in an order that
is the same on every run and every runner.

TFX's own writer (`write_split.WriteSplit`) reshuffles the examples at random and lets the
runner choose the shards, so two runs over the same data hand the Trainer's seeded shuffle a
different input order and train different models. `WriteShards` instead:

- makes `ceil(serialized bytes / shard_bytes)` shards (at least one);
- puts an example in shard `h % num_shards`, `h` being the SHA-256 of its `source_id`;
- writes each shard's examples sorted by `h`: a fixed pseudo-random order, so classes are
  mixed even when the inputs come class by class.

The same data thus gives byte-identical shards. To sort a shard a worker holds it in memory,
so `shard_bytes` also bounds the memory that writing takes. Files are named as TFX names them
(`data_tfrecord-00000-of-00004.gz`), and every one of the `num_shards` files is written, empty
when no example hashed to it.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam

from components.image_example_gen import files, tfrecords
from components.image_example_gen.sources.base import SOURCE_ID_KEY

FILE_PREFIX = "data_tfrecord"
DEFAULT_SHARD_BYTES = 128 * 1024 * 1024


# The elements ImageExampleGen's transforms pass on: the examples of one read task as
# (order key, serialized example) pairs. Beam's cost per element is of the order of reading a
# small image; paid per batch of up to 64 files, it fades.
KeyedRecords = beam.typehints.List[beam.typehints.Tuple[bytes, bytes]]


def order_key(example: Any) -> bytes:
    """SHA-256 of the `source_id` of `example` (an `example_proto.Example`, or a
    tf.train.Example): its shard and its place in the shard."""
    return hashlib.sha256(example.features.feature[SOURCE_ID_KEY].bytes_list.value[0]).digest()


def keyed_record(example: Any) -> tuple[bytes, bytes]:
    """(order key, serialized example); maps are serialized in a fixed order, so the same
    example always gives the same bytes."""
    return order_key(example), example.SerializeToString(deterministic=True)


def group_by(
    batch: list[tuple[bytes, bytes]], index_of: Callable[[tuple[bytes, bytes]], int]
) -> Iterator[tuple[int, list[tuple[bytes, bytes]]]]:
    """The records of `batch` grouped by `index_of`: (index, records) for each index, in the
    order of first appearance."""
    groups: dict[int, list[tuple[bytes, bytes]]] = collections.defaultdict(list)
    for keyed in batch:
        groups[index_of(keyed)].append(keyed)
    return iter(groups.items())


def num_shards(total_bytes: int, shard_bytes: int) -> int:
    """Shards of at most about `shard_bytes` for `total_bytes` of serialized examples."""
    return max(1, math.ceil(total_bytes / shard_bytes))


def shard_path(output_dir: str, index: int, count: int) -> str:
    return os.path.join(output_dir, f"{FILE_PREFIX}-{index:05d}-of-{count:05d}.gz")


def _write_shard(
    shard: tuple[int, Iterable[list[tuple[bytes, bytes]]]], output_dir: str, count: int
) -> Iterable[str]:
    """Writes one shard, its records sorted by key; first to a temporary name, then renamed,
    so a retried task never leaves a partial file under the final name. The shard's values
    are lists of its (key, record) pairs, one of them empty to make sure the shard exists."""
    index, parts = shard
    path = shard_path(output_dir, index, count)
    tmp = f"{path}.tmp"
    tfrecords.write(tmp, (record for _, record in sorted(itertools.chain.from_iterable(parts))))
    files.rename(tmp, path)
    yield path


@beam.ptransform_fn
@beam.typehints.with_input_types(KeyedRecords)
def WriteShards(  # noqa: N802 - Beam PTransform naming, as in TFX.
    batches: beam.pvalue.PCollection, output_dir: str, shard_bytes: int = DEFAULT_SHARD_BYTES
) -> beam.pvalue.PCollection:
    """Writes `batches` of (order key, serialized tf.train.Example) into `output_dir` (see the
    module docstring); returns the paths."""
    if shard_bytes < 1:
        raise ValueError(f"shard_bytes must be at least 1, not {shard_bytes}")
    files.makedirs(output_dir)
    count = (
        batches
        | "Bytes" >> beam.Map(lambda batch: sum(len(record) for _, record in batch))
        | "TotalBytes" >> beam.CombineGlobally(sum)
        | "NumShards" >> beam.Map(num_shards, shard_bytes)
    )
    parts = batches | "AssignShards" >> beam.FlatMap(
        lambda batch, n: group_by(batch, lambda keyed: int.from_bytes(keyed[0][:8], "big") % n),
        n=beam.pvalue.AsSingleton(count),
    )
    every_shard = count | "EveryShard" >> beam.FlatMap(lambda n: ((i, []) for i in range(n)))
    return (
        (parts, every_shard)
        | "Flatten" >> beam.Flatten()
        | "GroupByShard" >> beam.GroupByKey()
        | "WriteShard" >> beam.FlatMap(_write_shard, output_dir, beam.pvalue.AsSingleton(count))
    )
