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

import hashlib
import math
import os
from collections.abc import Iterable

import apache_beam as beam

from components.image_example_gen import example_proto, files, tfrecords
from components.image_example_gen.sources.base import SOURCE_ID_KEY

FILE_PREFIX = "data_tfrecord"
DEFAULT_SHARD_BYTES = 128 * 1024 * 1024


def order_key(record: bytes) -> bytes:
    """SHA-256 of the `source_id` of the serialized example `record`: its shard and its
    place in the shard."""
    example = example_proto.Example.FromString(record)
    return hashlib.sha256(example.features.feature[SOURCE_ID_KEY].bytes_list.value[0]).digest()


def num_shards(total_bytes: int, shard_bytes: int) -> int:
    """Shards of at most about `shard_bytes` for `total_bytes` of serialized examples."""
    return max(1, math.ceil(total_bytes / shard_bytes))


def shard_path(output_dir: str, index: int, count: int) -> str:
    return os.path.join(output_dir, f"{FILE_PREFIX}-{index:05d}-of-{count:05d}.gz")


def _write_shard(shard: tuple[int, Iterable], output_dir: str, count: int) -> Iterable[str]:
    """Writes one shard, its records sorted by key; first to a temporary name, then renamed,
    so a retried task never leaves a partial file under the final name. The shard's values
    are its (key, record) pairs and one None that makes sure the shard exists."""
    index, values = shard
    path = shard_path(output_dir, index, count)
    tmp = f"{path}.tmp"
    tfrecords.write(tmp, (record for _, record in sorted(v for v in values if v is not None)))
    files.rename(tmp, path)
    yield path


@beam.ptransform_fn
@beam.typehints.with_input_types(bytes)
def WriteShards(  # noqa: N802 - Beam PTransform naming, as in TFX.
    records: beam.pvalue.PCollection, output_dir: str, shard_bytes: int = DEFAULT_SHARD_BYTES
) -> beam.pvalue.PCollection:
    """Writes `records`, serialized tf.train.Examples, into `output_dir` (see the module
    docstring); returns the paths."""
    if shard_bytes < 1:
        raise ValueError(f"shard_bytes must be at least 1, not {shard_bytes}")
    files.makedirs(output_dir)
    # (key, record): the record breaks ties between duplicate source ids.
    keyed = records | "Key" >> beam.Map(lambda record: (order_key(record), record))
    count = (
        keyed
        | "Bytes" >> beam.Map(lambda kv: len(kv[1]))
        | "TotalBytes" >> beam.CombineGlobally(sum)
        | "NumShards" >> beam.Map(num_shards, shard_bytes)
    )
    records = keyed | "AssignShard" >> beam.Map(
        lambda kv, n: (int.from_bytes(kv[0][:8], "big") % n, kv),
        n=beam.pvalue.AsSingleton(count),
    )
    every_index = count | "EveryShard" >> beam.FlatMap(lambda n: ((i, None) for i in range(n)))
    return (
        (records, every_index)
        | "Flatten" >> beam.Flatten()
        | "GroupByShard" >> beam.GroupByKey()
        | "WriteShard" >> beam.FlatMap(_write_shard, output_dir, beam.pvalue.AsSingleton(count))
    )
