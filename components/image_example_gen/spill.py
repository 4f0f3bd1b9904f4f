"""Spill files: the examples of one read task, sorted by order key, kept on disk until their
shards are written.

Beam's DirectRunner (in memory and with worker processes alike) holds every PCollection that
crosses from one stage to the next, and every grouping, in the runner process's memory: a
writer that groups the examples by shard holds the whole data set there, so the runner's
memory grows with every example ingested (docs/benchmarks.md#ingestion-memory). So on
that runner each read task writes its examples to a spill file in the stage that reads
them, and only a small index travels on: 16 bytes per example (its key's first 8 bytes and
where its frame ends). Each shard's writer then reads its consecutive run of every spill
file (`shards.shard_index` partitions the key space into ranges) and writes the shard; the
runner's memory holds the indexes, a worker one task's or one shard's examples.

A spill file is a sequence of frames `key (32 bytes) | uint32 length | record`, sorted by
key. Distributed runners shuffle on disk or in a service and do not need this.
"""

from __future__ import annotations

import array
import dataclasses
import struct
import uuid
from collections.abc import Iterator

from components.image_example_gen import files

KEY_BYTES = 32  # a SHA-256 order key (shards.order_key)
PREFIX_BYTES = 8  # what shards.shard_index reads of a key
_LENGTH = struct.Struct("<I")


_FRAME_BYTES = KEY_BYTES + _LENGTH.size  # a frame's bytes besides its record


def _uint64s(packed: bytes) -> array.array:
    values = array.array("Q")
    values.frombytes(packed)
    return values


@dataclasses.dataclass(frozen=True)
class SpillIndex:
    """Where the examples of one spill file are.

    Attributes:
      path: the spill file.
      prefixes: each example's key prefix (its first PREFIX_BYTES, big-endian) as an
        unsigned integer, in file order (sorted), packed as an array("Q").
      ends: the byte offset where each example's frame ends, packed as an array("Q").
    """

    path: str
    prefixes: bytes
    ends: bytes

    def key_prefixes(self) -> array.array:
        return _uint64s(self.prefixes)

    def frame_ends(self) -> array.array:
        return _uint64s(self.ends)

    @property
    def record_bytes(self) -> int:
        """The serialized examples' total size (frames excluded)."""
        ends = self.frame_ends()
        return ends[-1] - len(ends) * _FRAME_BYTES if ends else 0


def write(keyed_records: list[tuple[bytes, bytes]], spill_dir: str) -> SpillIndex:
    """Writes (order key, serialized example) pairs, sorted by key, to a new file in
    `spill_dir`; returns its index. A retried task writes another file (unique name)."""
    path = f"{spill_dir.rstrip('/')}/{uuid.uuid4().hex}.spill"
    prefixes, ends = array.array("Q"), array.array("Q")
    frames = []
    offset = 0
    for key, record in sorted(keyed_records):
        frames += (key, _LENGTH.pack(len(record)), record)
        prefixes.append(int.from_bytes(key[:PREFIX_BYTES], "big"))
        offset += _FRAME_BYTES + len(record)
        ends.append(offset)
    with files.create(path) as f:
        f.write(b"".join(frames))
    return SpillIndex(path, prefixes.tobytes(), ends.tobytes())


def read(path: str, start: int, end: int) -> Iterator[tuple[bytes, bytes]]:
    """The (key, record) pairs of the frames in bytes [start, end) of spill file `path`."""
    data = files.read_range(path, start, end)
    offset = 0
    while offset < len(data):
        key = data[offset : offset + KEY_BYTES]
        (length,) = _LENGTH.unpack_from(data, offset + KEY_BYTES)
        offset += _FRAME_BYTES
        yield key, data[offset : offset + length]
        offset += length
