"""File access for ImageExampleGen, for local paths and remote ones (gs://, s3://) alike.

What Beam workers do with files — read an input, write a shard or a summary, rename — goes
through Beam's `FileSystems`, which a worker has imported already. `tf.io.gfile` would work
too, but importing TensorFlow would slow every worker process's start (see `example_proto`).
The driver, which imports TensorFlow anyway, lists data sets (directories, globs) with
`tf.io.gfile`, since Beam's file systems know no directories: those functions say "driver
only".
"""

import os
import posixpath
from typing import BinaryIO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems


def _gfile():
    """`tf.io.gfile`, imported on first use: by the driver's listing only."""
    import tensorflow as tf  # here, not at the top: see the module docstring

    return tf.io.gfile


def exists(path: str) -> bool:
    """Whether the file `path` exists (for a directory, ask `isdir`)."""
    return FileSystems.exists(path)


def isdir(path: str) -> bool:
    """Whether `path` is a directory (driver only)."""
    return _gfile().isdir(path)


def glob(pattern: str) -> list[str]:
    """The paths that match `pattern`, unsorted (driver only)."""
    return _gfile().glob(pattern)


def listdir(path: str) -> list[str]:
    """The names in the directory `path`; sub-directories may end in "/" (driver only)."""
    return _gfile().listdir(path)


def makedirs(path: str) -> None:
    """Makes the directory `path` and its parents, if missing (driver only)."""
    _gfile().makedirs(path)


def read_bytes(path: str) -> bytes:
    """The contents of the file `path`.

    Raises:
      OSError: when it cannot be read, e.g. it is missing or a directory.
    """
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return f.read()


def read_range(path: str, start: int, end: int) -> bytes:
    """Bytes [start, end) of the file `path`; raises OSError like `read_bytes`."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.seek(start)
        return f.read(end - start)


def read_text(path: str) -> str:
    """The contents of the UTF-8 text file `path`; raises OSError like `read_bytes`."""
    return read_bytes(path).decode("utf-8")


def read_lines(path: str) -> list[str]:
    """The lines of the UTF-8 text file `path`, without their line ends."""
    return read_text(path).splitlines()


def create(path: str, gzip: bool = False) -> BinaryIO:
    """A new binary file `path` to write (local parent directories are made); its contents
    gzip-compressed when `gzip`."""
    compression = CompressionTypes.GZIP if gzip else CompressionTypes.UNCOMPRESSED
    return FileSystems.create(path, compression_type=compression)


def write_text(path: str, text: str) -> None:
    """Writes `text` as UTF-8 to `path`, replacing the file if it exists."""
    with create(path) as f:
        f.write(text.encode("utf-8"))


def rename(src: str, dst: str) -> None:
    """Moves `src` to `dst`, replacing `dst` if it exists (local: one atomic rename)."""
    FileSystems.rename([src], [dst])


def copy(src: str, dst: str) -> None:
    """Copies the file `src` to `dst`, replacing `dst` if it exists."""
    data = read_bytes(src)
    with create(dst) as f:
        f.write(data)


class Boundary:
    """Tells whether paths stay inside the directory `root` once symlinks and `..` are
    resolved: the data dir's boundary, which no input may cross unless the user allows it.

    Local paths are resolved as the operating system would open them (each parent directory
    once: a task's files share a class folder); remote ones (gs://, s3://), which have no
    symlinks, are normalised. Build it where it is used: it resolves `root` there.
    """

    def __init__(self, root: str):
        self._parents: dict[str, str] = {}
        self.root = self.resolve(root)

    def resolve(self, path: str) -> str:
        """The path that opening `path` reaches."""
        if "://" in path:
            scheme, rest = path.split("://", 1)
            return f"{scheme}://{posixpath.normpath(rest)}"
        parent, name = os.path.split(path)
        if name in ("", ".", "..") or os.path.islink(path):
            return os.path.realpath(path)
        if parent not in self._parents:
            self._parents[parent] = os.path.realpath(parent)
        return os.path.join(self._parents[parent], name)

    def outside(self, path: str) -> str | None:
        """Where `path` leads when that is outside `root`, else None."""
        resolved = self.resolve(path)
        inside = resolved == self.root or resolved.startswith(self.root.rstrip("/") + "/")
        return None if inside else resolved
