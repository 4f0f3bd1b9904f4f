"""Spill files: the examples of one read task, sorted by order key, kept on disk until their
shards are written.

Beam's DirectRunner (in memory and with worker processes alike) holds every PCollection that
crosses from one stage to the next, and every grouping, in the runner process's memory: a
writer that groups the examples by shard holds the whole data set there (2026-12-02: peak
memory grew by about 6.8 kB per CIFAR-sized JPEG, 1.3 GB more for 200,000 of them). So on
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


@dataclasses.dataclass(frozen=True)
class SpillIndex:
    """Where the examples of one spill file are.

    Attributes:
      path: the spill file.
      prefixes: the first PREFIX_BYTES of each example's key, in file order (sorted).
      ends: the byte offset where each example's frame ends, as an array("Q") in bytes.
      record_bytes: the serialized examples' total size (frames excluded).
    """

    path: str
    prefixes: bytes
    ends: bytes
    record_bytes: int

    def frame_ends(self) -> array.array:
        ends = array.array("Q")
        ends.frombytes(self.ends)
        return ends

    def key_prefixes(self) -> list[int]:
        """Each example's key prefix as an unsigned integer, in file order."""
        blob = self.prefixes
        return [
            int.from_bytes(blob[i : i + PREFIX_BYTES], "big")
            for i in range(0, len(blob), PREFIX_BYTES)
        ]


def write(keyed_records: list[tuple[bytes, bytes]], spill_dir: str) -> SpillIndex:
    """Writes (order key, serialized example) pairs, sorted by key, to a new file in
    `spill_dir`; returns its index. A retried task writes another file (unique name)."""
    path = f"{spill_dir.rstrip('/')}/{uuid.uuid4().hex}.spill"
    ends = array.array("Q")
    prefixes, frames = [], []
    offset = record_bytes = 0
    for key, record in sorted(keyed_records):
        frames += (key, _LENGTH.pack(len(record)), record)
        prefixes.append(key[:PREFIX_BYTES])
        offset += KEY_BYTES + _LENGTH.size + len(record)
        record_bytes += len(record)
        ends.append(offset)
    with files.create(path) as f:
        f.write(b"".join(frames))
    return SpillIndex(path, b"".join(prefixes), ends.tobytes(), record_bytes)


def read(path: str, start: int, end: int) -> Iterator[tuple[bytes, bytes]]:
    """The (key, record) pairs of the frames in bytes [start, end) of spill file `path`."""
    data = files.read_range(path, start, end)
    offset = 0
    while offset < len(data):
        key = data[offset : offset + KEY_BYTES]
        (length,) = _LENGTH.unpack_from(data, offset + KEY_BYTES)
        offset += KEY_BYTES + _LENGTH.size
        yield key, data[offset : offset + length]
        offset += length
