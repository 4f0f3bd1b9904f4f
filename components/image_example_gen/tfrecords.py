"""Writes TFRecord files without TensorFlow (see `example_proto` for why).

A TFRecord file is a sequence of records, each framed as

    uint64 length | uint32 masked CRC-32C of length | data | uint32 masked CRC-32C of data

(little-endian), as TensorFlow's `tf.io.TFRecordWriter` writes them and
`tf.data.TFRecordDataset` checks them. Gzipped files are one gzip stream of those bytes.
"""

import struct
from collections.abc import Iterable

import google_crc32c

from components.image_example_gen import files

_MASK_DELTA = 0xA282EAD8
_FLUSH_BYTES = 1 << 20  # hand the file (and gzip) about 1 MiB at a time, not every record


def masked_crc32c(data: bytes) -> int:
    """The CRC-32C of `data`, rotated and offset as TFRecord files store it."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(record: bytes) -> bytes:
    """`record` with the length and checksums around it."""
    length = struct.pack("<Q", len(record))
    return b"".join(
        (
            length,
            struct.pack("<I", masked_crc32c(length)),
            record,
            struct.pack("<I", masked_crc32c(record)),
        )
    )


def write(path: str, records: Iterable[bytes], gzip: bool = True) -> int:
    """Writes `records` to a new TFRecord file `path` (gzipped, like TFX's, by default).

    Returns:
      The number of records written.
    """
    count = 0
    pending: list[bytes] = []
    pending_bytes = 0
    with files.create(path, gzip=gzip) as f:
        for record in records:
            pending.append(frame(record))
            pending_bytes += len(pending[-1])
            count += 1
            if pending_bytes >= _FLUSH_BYTES:
                f.write(b"".join(pending))
                pending, pending_bytes = [], 0
        f.write(b"".join(pending))
    return count
