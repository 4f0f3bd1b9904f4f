"""Fetching an official data set archive once into a cache dir, MD5-checked, and unpacking it.

Runs in the driver (when the pipeline is built), never on Beam workers and never in tests
against the network: tests use file:// URLs.
"""

import dataclasses
import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.request

_CACHE_SUBDIR = os.path.join("vt-tfx", "datasets")
_CHUNK_BYTES = 1 << 20


def default_cache_dir() -> str:
    """Where archives go unless `data.cache_dir` says otherwise: `vt-tfx/datasets` in the
    user's cache directory, `$XDG_CACHE_HOME` or else `~/.cache` (XDG base directories)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, _CACHE_SUBDIR)


@dataclasses.dataclass(frozen=True)
class Archive:
    """An official archive of a data set.

    Attributes:
      url: where it is published (http(s):// or file://).
      md5: its published MD5, hex.
    """

    url: str
    md5: str

    @property
    def file_name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


def md5_of(path: str) -> str:
    """Hex MD5 of the file at `path`, read in 1 MiB chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(archive: Archive, cache_dir: str) -> str:
    """Returns the path of `archive` in `cache_dir`, downloading it first if needed. Either
    way its MD5 is checked: the file may have been put there by hand, as the message of a
    failed download suggests.

    Raises:
      FileNotFoundError: the download failed (e.g. offline); says where to put the file.
      ValueError: the file's MD5 is not the published one (a download is deleted, a file
        found in the cache is left for the user to replace).
    """
    path = os.path.join(cache_dir, archive.file_name)
    if os.path.exists(path):
        actual = md5_of(path)
        if actual != archive.md5:
            raise ValueError(
                f"{path} has MD5 {actual}, but the published MD5 of {archive.url} is "
                f"{archive.md5}: replace it with the official archive, or delete it to download "
                "it again"
            )
        return path
    os.makedirs(cache_dir, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache_dir, suffix=".part", delete=False) as tmp:
        try:
            with urllib.request.urlopen(archive.url, timeout=60) as response:
                for chunk in iter(lambda: response.read(_CHUNK_BYTES), b""):
                    tmp.write(chunk)
        except (urllib.error.URLError, OSError) as e:
            os.unlink(tmp.name)
            reason = getattr(e, "reason", e)
            raise FileNotFoundError(
                f"could not download {archive.url} ({reason}): download it elsewhere and put "
                f"{archive.file_name} (or the directory it unpacks to) in {cache_dir}, or pass "
                "--data-dir to it (--cache-dir chooses the cache)"
            ) from None
    actual = md5_of(tmp.name)
    if actual != archive.md5:
        os.unlink(tmp.name)
        raise ValueError(
            f"{archive.url} downloaded with MD5 {actual}, but the published MD5 is "
            f"{archive.md5}: the download is damaged, run again"
        )
    os.replace(tmp.name, path)
    return path


def extract(archive_path: str, dest_dir: str) -> None:
    """Unpacks a .tar.gz into `dest_dir`, refusing members that would land outside it."""
    try:
        with tarfile.open(archive_path, "r:gz") as tar:
            tar.extractall(dest_dir, filter="data")
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ValueError(f"{archive_path} is not a readable .tar.gz ({e})") from None
