"""CIFAR-10 and CIFAR-100, in the official python (pickled) and binary layouts.

Python layout: each batch file is a pickle (protocol 2, written by Python 2) of a dict with
bytes keys: `b'data'`, a uint8 array [N, 3072] holding per row the 1024 red, then 1024 green,
then 1024 blue values of a row-major 32x32 image, and N int labels under a variant-specific
key (CIFAR-100 adds the coarse labels). `b'filenames'` is optional. A meta pickle beside the
batches lists the class names.

Binary layout: each `.bin` file is a sequence of records of 1 label byte (CIFAR-100: coarse
then fine, 2 bytes) and the same 3072 pixel bytes; text files beside them list the names.

A batch file that cannot be read (not a pickle, missing keys, misshapen array, partial
record) is one `Rejected` record standing for the images it was meant to hold, so that the
rejected fraction counts images: the number of labels when they are readable, else the count
of the official file of that name (CIFAR-10: 10,000 per batch; CIFAR-100: 50,000 in `train`,
10,000 in `test`; 10,000 for a name the layout does not define) and, for a binary file, at
least the records its size starts (a truncated file held at least those).

The data dir may be the batches directory, its parent, or an official `.tar.gz` (unpacked
into the cache dir). An empty data dir means the official python archive in the cache dir:
unpacked there by an earlier run or put there by hand, else downloaded, checked against its
published MD5 and unpacked. A data dir that does not exist is an error (a mistyped path must
not start a download) unless the source is told to `download`: then the cache is used too.
Both variants are `CifarSource` instances: they differ in names, not in code. The pickles
are untrusted input: they are loaded by `safe_pickle.loads`, which runs none of their code
and refuses any pickle that names more than numpy arrays.
"""

import dataclasses
import itertools
import operator
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from absl import logging

from components.image_example_gen import download, files, safe_pickle
from components.image_example_gen.sources import base

_SIDE = 32
_CHANNELS = 3
_PIXELS = _SIDE * _SIDE * _CHANNELS
_DATA_KEY = b"data"
_FILENAMES_KEY = b"filenames"
_BINARY_SUFFIX = ".bin"
# Images per batch file of the official layouts, unless the layout says otherwise.
_OFFICIAL_BATCH_IMAGES = 10_000
COARSE_LABEL_KEY = "coarse_label"
COARSE_LABEL_NAME_KEY = "coarse_label_name"


@dataclasses.dataclass(frozen=True)
class CifarLayout:
    """One on-disk format of a CIFAR variant.

    Attributes:
      subdir: directory the official archive unpacks to.
      meta_file: file listing the (fine) class names; its presence identifies the layout.
      coarse_meta_file: binary layout only: file listing the coarse class names.
      splits: (split name, file pattern) pairs.
      images_per_file: (file name, images) of the official files that do not hold the usual
        10,000 images.
    """

    subdir: str
    meta_file: str
    splits: tuple[tuple[str, str], ...]
    coarse_meta_file: str = ""
    images_per_file: tuple[tuple[str, int], ...] = ()

    def official_images(self, file_name: str) -> int:
        """Images the official file `file_name` holds (10,000 for names it does not list)."""
        return dict(self.images_per_file).get(file_name, _OFFICIAL_BATCH_IMAGES)


@dataclasses.dataclass(frozen=True)
class CifarSource(base.ImageSource):
    """One CIFAR variant in both layouts.

    Attributes:
      name: registry name; layout: description for error messages.
      python, binary: the two layouts.
      label_names_key, labels_key: keys of the class names (python meta) and labels (batches).
      coarse_names_key, coarse_labels_key: CIFAR-100's superclass keys; empty for CIFAR-10.
      archive: the official python-layout archive, downloaded when no local copy exists.
      cache_dir: where archives are downloaded and unpacked; None is
        `download.default_cache_dir()`.
      download: a data dir that does not exist means the official archive in the cache dir
        (downloaded if missing), as an empty one always does.
    """

    name: str
    layout: str
    python: CifarLayout
    binary: CifarLayout
    label_names_key: bytes
    labels_key: bytes
    archive: download.Archive
    coarse_names_key: bytes = b""
    coarse_labels_key: bytes = b""
    cache_dir: str | None = None
    download: bool = False

    def resolve_data_dir(self, data_dir: str) -> str:
        """The batches directory in `data_dir`, its sub-directory, an archive, or the cache
        (see the module docstring).

        Raises FileNotFoundError naming the layout when an existing `data_dir` holds neither
        layout, when it does not exist (unless `download`), or when the official archive
        cannot be downloaded.
        """
        if data_dir.endswith(".tar.gz") and files.exists(data_dir):
            return self._unpack(data_dir)
        found = self._find_layout(data_dir) if data_dir else None
        if found:
            return found
        if data_dir and (files.isdir(data_dir) or files.exists(data_dir)):
            raise FileNotFoundError(
                f"found no {self.python.meta_file} nor {self.binary.meta_file} in {data_dir} "
                f"nor in its {self.python.subdir}/ or {self.binary.subdir}/: "
                f"expected {self.layout}"
            )
        cache_dir = self._cache_dir()
        if data_dir and not self.download:
            raise FileNotFoundError(
                f"{data_dir} does not exist: check --data-dir, or pass --download to use the "
                f"official {self.archive.file_name} in {cache_dir} (downloaded when missing)"
            )
        # A copy unpacked by an earlier run, or put in the cache by the user.
        cached = self._find_layout(self._unpacked_dir(self.archive.file_name)) or (
            self._find_layout(cache_dir)
        )
        if cached:
            logging.info("using the copy of %s in %s", self.archive.file_name, cached)
            return cached
        logging.warning("downloading %s into %s", self.archive.url, cache_dir)
        return self._unpack(download.fetch(self.archive, cache_dir))

    def splits(self, data_dir: str) -> dict[str, str]:
        return base.available_splits(data_dir, dict(self._layout_of(data_dir).splits))

    def class_names(self, data_dir: str) -> list[str]:
        return self._names(self.resolve_data_dir(data_dir))[0]

    def read(
        self, item: base.InputFile, class_names: Sequence[str]
    ) -> Iterator[base.Example | base.Rejected]:
        data_dir = os.path.dirname(item.path)
        try:
            coarse_names = self._names(data_dir)[1]
            if item.path.endswith(_BINARY_SUFFIX):
                images, labels, coarse_labels, filenames = self._load_binary(item.path)
            else:
                images, labels, coarse_labels, filenames = self._load_python(item.path)
        except base.InvalidInputError as e:
            rejected = e.rejected(item.source_id, self._official_images(item.path))
            detail = f"{rejected.detail}; counts as {rejected.count} rejected images"
            yield dataclasses.replace(rejected, detail=detail)
            return
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            source_id = filenames[index] if filenames else f"{item.source_id}:{index}"
            extra = {}
            rejected = base.check_label(label, class_names, source_id)
            if coarse_labels is not None:
                coarse = coarse_labels[index]
                rejected = rejected or base.check_label(coarse, coarse_names, source_id)
                if not rejected:
                    extra = {COARSE_LABEL_KEY: coarse, COARSE_LABEL_NAME_KEY: coarse_names[coarse]}
            yield rejected or base.image_example(image, label, class_names[label], source_id, extra)

    def input_paths(self, item: base.InputFile) -> list[str]:
        data_dir = os.path.dirname(item.path)
        layout = self._layout_of(data_dir)
        metas = (layout.meta_file, layout.coarse_meta_file)
        return [item.path] + [base.join(data_dir, meta) for meta in metas if meta]

    def nominal_images(self, item: base.InputFile) -> int:
        return self._official_images(item.path)

    def _official_images(self, path: str) -> int:
        """Images the official batch file named like `path` holds."""
        layout = self.binary if path.endswith(_BINARY_SUFFIX) else self.python
        return layout.official_images(os.path.basename(path))

    def _find_layout(self, data_dir: str) -> str | None:
        for layout in (self.python, self.binary):
            for candidate in (data_dir, base.join(data_dir, layout.subdir)):
                if files.exists(base.join(candidate, layout.meta_file)):
                    return candidate
        return None

    def _cache_dir(self) -> str:
        return self.cache_dir or download.default_cache_dir()

    def _unpacked_dir(self, archive_name: str) -> str:
        """Where the archive `archive_name` (`<stem>.tar.gz`) is unpacked: cache_dir/<stem>."""
        return os.path.join(self._cache_dir(), archive_name[: -len(".tar.gz")])

    def _unpack(self, archive_path: str) -> str:
        dest = self._unpacked_dir(os.path.basename(archive_path))
        if not self._find_layout(dest):
            download.extract(archive_path, dest)
        found = self._find_layout(dest)
        if not found:
            raise FileNotFoundError(f"{archive_path} unpacks to no {self.layout}")
        return found

    def _layout_of(self, data_dir: str) -> CifarLayout:
        """The binary layout when its meta file is in `data_dir`, else the python layout."""
        is_binary = files.exists(base.join(data_dir, self.binary.meta_file))
        return self.binary if is_binary else self.python

    def _names(self, data_dir: str) -> tuple[list[str], list[str]]:
        """Fine and coarse (CIFAR-100; else empty) class names of the batches in `data_dir`."""
        layout = self._layout_of(data_dir)
        meta_path = base.join(data_dir, layout.meta_file)
        if layout is self.binary:
            coarse_file = layout.coarse_meta_file
            coarse = base.read_names(base.join(data_dir, coarse_file)) if coarse_file else []
            return base.read_names(meta_path), coarse
        keys = tuple(key for key in (self.label_names_key, self.coarse_names_key) if key)
        try:
            meta = self._load(meta_path, keys)
            fine = self._column(meta, self.label_names_key, _text, "a class name")
            coarse = (
                self._column(meta, self.coarse_names_key, _text, "a class name")
                if self.coarse_names_key
                else []
            )
        except base.InvalidInputError as e:
            raise ValueError(f"{meta_path}: {e.detail}") from None
        return fine, coarse

    def _load_python(self, path: str) -> tuple[np.ndarray, list[int], list[int] | None, list[str]]:
        keys = (_DATA_KEY, self.labels_key) + (
            (self.coarse_labels_key,) if self.coarse_labels_key else ()
        )
        batch = self._load(path, keys)
        labels = self._column(batch, self.labels_key, operator.index, "an integer")
        data = batch[_DATA_KEY]
        if not (
            isinstance(data, np.ndarray)
            and data.dtype == np.uint8
            and data.shape == (len(labels), _PIXELS)
        ):
            found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data)
            raise base.InvalidInputError(
                base.UNREADABLE_FILE,
                f"{_DATA_KEY!r} is {found} but must be uint8 "
                f"({len(labels)}, {_PIXELS}), one row per label: expected {self.layout}",
                count=len(labels) or None,
            )
        coarse = (
            self._column(batch, self.coarse_labels_key, operator.index, "an integer", len(labels))
            if self.coarse_labels_key
            else None
        )
        filenames = (
            self._column(batch, _FILENAMES_KEY, _text, "a file name", len(labels))
            if _FILENAMES_KEY in batch
            else []
        )
        return _to_hwc(data), labels, coarse, filenames

    def _column(
        self,
        batch: dict[bytes, Any],
        key: bytes,
        convert: Callable[[Any], Any],
        what: str,
        images: int | None = None,
    ) -> list[Any]:
        """`batch[key]`, one value per image (`images` of them, when known), each converted by
        `convert`, which raises TypeError or ValueError for a value that is not a `what`.

        Raises:
          base.InvalidInputError: UNREADABLE_FILE, counting `images` (else the official
            file's), when a value does not convert or the count differs.
        """
        try:
            values = [convert(value) for value in batch[key]]
        except (TypeError, ValueError, UnicodeDecodeError) as e:
            raise base.InvalidInputError(
                base.UNREADABLE_FILE,
                f"{key!r} holds a value that is not {what} ({e}): expected {self.layout}",
                count=images,
            ) from None
        if images is not None and len(values) != images:
            raise base.InvalidInputError(
                base.UNREADABLE_FILE,
                f"{key!r} has {len(values)} values for {images} images: expected {self.layout}",
                count=images,
            )
        return values

    def _load_binary(self, path: str) -> tuple[np.ndarray, list[int], list[int] | None, list[str]]:
        label_bytes = 2 if self.coarse_labels_key else 1
        raw = np.frombuffer(base.read_input(path), np.uint8)
        record = label_bytes + _PIXELS
        if raw.size == 0 or raw.size % record:
            started = -(-raw.size // record)  # the records the bytes start, the last partial
            raise base.InvalidInputError(
                base.UNREADABLE_FILE,
                f"{raw.size} bytes is not a whole number of {record}-byte records: "
                f"expected {self.layout}",
                count=max(started, self._official_images(path)),
            )
        records = raw.reshape(-1, record)
        labels = records[:, label_bytes - 1].tolist()
        coarse = records[:, 0].tolist() if label_bytes == 2 else None
        return _to_hwc(records[:, label_bytes:]), labels, coarse, []

    def _load(self, path: str, required_keys: tuple[bytes, ...]) -> dict[bytes, Any]:
        """Unpickles one file of the python layout, running none of its code, and checks it
        has `required_keys`."""
        serialized = base.read_input(path)
        try:
            content = safe_pickle.loads(serialized)
        except safe_pickle.UnsafePickleError as e:
            raise base.InvalidInputError(
                base.UNREADABLE_FILE, f"unsafe pickle, not loaded: {e}: expected {self.layout}"
            ) from None
        except Exception as e:  # Unpickling garbage raises any of a dozen types.
            raise base.InvalidInputError(
                base.UNREADABLE_FILE,
                f"not a pickle ({type(e).__name__}: {safe_pickle.brief(str(e))}): "
                f"expected {self.layout}",
            ) from None
        if not isinstance(content, dict) or not all(key in content for key in required_keys):
            found = (
                sorted(safe_pickle.brief(key) for key in itertools.islice(content, 20))
                if isinstance(content, dict)
                else type(content).__name__
            )
            raise base.InvalidInputError(
                base.UNREADABLE_FILE,
                f"lacks keys {list(required_keys)} (found {found}): expected {self.layout}",
            )
        return content


def _text(value: Any) -> str:
    """A pickled file or class name (bytes, as in the official files, or str) as str."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    raise TypeError(f"{safe_pickle.brief(value)} is neither bytes nor str")


def _to_hwc(rows: np.ndarray) -> np.ndarray:
    """[N, 3072] rows of 1024 red, green, blue values -> uint8 [N, 32, 32, 3]."""
    return rows.reshape(-1, _CHANNELS, _SIDE, _SIDE).transpose(0, 2, 3, 1)


_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"

CIFAR10 = CifarSource(
    name="cifar10",
    layout=(
        "a CIFAR-10 python layout (cifar-10-batches-py/ with data_batch_1..5, test_batch, "
        "batches.meta) or binary layout (cifar-10-batches-bin/ with data_batch_1..5.bin, "
        f"test_batch.bin, batches.meta.txt), as unpacked from {_CIFAR_URL}cifar-10-python.tar.gz "
        "or cifar-10-binary.tar.gz"
    ),
    python=CifarLayout(
        "cifar-10-batches-py", "batches.meta", (("train", "data_batch_*"), ("test", "test_batch"))
    ),
    binary=CifarLayout(
        "cifar-10-batches-bin",
        "batches.meta.txt",
        (("train", "data_batch_*.bin"), ("test", "test_batch.bin")),
    ),
    label_names_key=b"label_names",
    labels_key=b"labels",
    archive=download.Archive(
        f"{_CIFAR_URL}cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"
    ),
)

CIFAR100 = CifarSource(
    name="cifar100",
    layout=(
        "a CIFAR-100 python layout (cifar-100-python/ with train, test, meta) or binary "
        "layout (cifar-100-binary/ with train.bin, test.bin, fine_label_names.txt, "
        f"coarse_label_names.txt), as unpacked from {_CIFAR_URL}cifar-100-python.tar.gz or "
        "cifar-100-binary.tar.gz"
    ),
    python=CifarLayout(
        "cifar-100-python",
        "meta",
        (("train", "train"), ("test", "test")),
        images_per_file=(("train", 50_000),),
    ),
    binary=CifarLayout(
        "cifar-100-binary",
        "fine_label_names.txt",
        (("train", "train.bin"), ("test", "test.bin")),
        coarse_meta_file="coarse_label_names.txt",
        images_per_file=(("train.bin", 50_000),),
    ),
    label_names_key=b"fine_label_names",
    labels_key=b"fine_labels",
    coarse_names_key=b"coarse_label_names",
    coarse_labels_key=b"coarse_labels",
    archive=download.Archive(
        f"{_CIFAR_URL}cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"
    ),
)
