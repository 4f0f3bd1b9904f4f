"""CIFAR-10 and CIFAR-100 in the official python (pickled batch) layout.

Each batch file is a pickle (protocol 2, written by Python 2) of a dict with
bytes keys: `b'data'`, a uint8 array [N, 3072] holding per row the 1024 red, then
1024 green, then 1024 blue values of a row-major 32x32 image, and a list of N
int labels under a variant-specific key. `b'filenames'` is optional. A meta file
beside the batches lists the class names.

The two data sets differ only in file and key names, so one `CifarSource`
class reads both; `CIFAR10` and `CIFAR100` are instances of it. Pickles can run
arbitrary code when loaded: only read files from a trusted source.
"""

import dataclasses
import os
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from components.image_example_gen.sources import base

_SIDE = 32
_CHANNELS = 3
_DATA_KEY = b"data"
_FILENAMES_KEY = b"filenames"


@dataclasses.dataclass(frozen=True)
class CifarSource(base.ImageSource):
    """One variant of the CIFAR python layout.

    Attributes:
      name: registry name.
      layout: description of the expected layout, for error messages.
      subdir: directory the official archive unpacks to; the data dir may be
        this directory or its parent.
      meta_file: name of the file holding the class names.
      label_names_key: key of the class names in the meta file.
      labels_key: key of the labels in each batch file.
      splits: (split name, file pattern) pairs of the default splits.
    """

    name: str
    layout: str
    subdir: str
    meta_file: str
    label_names_key: bytes
    labels_key: bytes
    splits: tuple[tuple[str, str], ...]

    def resolve_data_dir(self, data_dir: str) -> str:
        """Returns `data_dir` or its `subdir`, whichever holds the meta file."""
        for candidate in (data_dir, os.path.join(data_dir, self.subdir)):
            if tf.io.gfile.exists(os.path.join(candidate, self.meta_file)):
                return candidate
        raise FileNotFoundError(
            f"found no {self.meta_file} in {data_dir} nor in "
            f"{os.path.join(data_dir, self.subdir)}: expected {self.layout}"
        )

    def default_splits(self) -> dict[str, str]:
        return dict(self.splits)

    def class_names(self, data_dir: str) -> list[str]:
        meta_path = os.path.join(self.resolve_data_dir(data_dir), self.meta_file)
        meta = self._load(meta_path, (self.label_names_key,))
        return [name.decode() for name in meta[self.label_names_key]]

    def read(self, path: str) -> Iterator[tf.train.Example]:
        batch = self._load(path, (_DATA_KEY, self.labels_key))
        data = np.asarray(batch[_DATA_KEY])
        labels = batch[self.labels_key]
        if data.dtype != np.uint8 or data.shape != (len(labels), _SIDE * _SIDE * _CHANNELS):
            raise ValueError(
                f"{path}: {_DATA_KEY!r} is {data.dtype} {data.shape} but must be uint8 "
                f"({len(labels)}, {_SIDE * _SIDE * _CHANNELS}), one row per label: "
                f"expected {self.layout}"
            )
        class_names = self.class_names(os.path.dirname(path))
        if len(labels) and not 0 <= min(labels) <= max(labels) < len(class_names):
            raise ValueError(
                f"{path}: labels span {min(labels)}..{max(labels)}, but {self.meta_file} "
                f"names {len(class_names)} classes"
            )
        filenames = batch.get(_FILENAMES_KEY)
        file_name = os.path.basename(path)
        images = data.reshape(-1, _CHANNELS, _SIDE, _SIDE).transpose(0, 2, 3, 1)
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            source_id = filenames[index].decode() if filenames else f"{file_name}:{index}"
            yield base.image_example(image, int(label), class_names[label], source_id)

    def _load(self, path: str, required_keys: tuple[bytes, ...]) -> dict[bytes, Any]:
        """Unpickles one file of the layout and checks it has `required_keys`."""
        with tf.io.gfile.GFile(path, "rb") as f:
            serialized = f.read()
        try:
            content = pickle.loads(serialized, encoding="bytes")
        except Exception as e:  # Unpickling garbage raises any of a dozen types.
            raise ValueError(f"{path} is not a pickle ({e!r}): expected {self.layout}") from e
        if not isinstance(content, dict) or not all(key in content for key in required_keys):
            found = sorted(content) if isinstance(content, dict) else type(content).__name__
            raise ValueError(
                f"{path} lacks keys {list(required_keys)} (found {found}): expected {self.layout}"
            )
        return content


CIFAR10 = CifarSource(
    name="cifar10",
    layout=(
        "a CIFAR-10 python layout (cifar-10-batches-py/ with data_batch_1..5, test_batch, "
        "batches.meta, as unpacked from https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz)"
    ),
    subdir="cifar-10-batches-py",
    meta_file="batches.meta",
    label_names_key=b"label_names",
    labels_key=b"labels",
    splits=(("train", "data_batch_*"), ("eval", "test_batch")),
)

CIFAR100 = CifarSource(
    name="cifar100",
    layout=(
        "a CIFAR-100 python layout (cifar-100-python/ with train, test, meta, as unpacked "
        "from https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz)"
    ),
    subdir="cifar-100-python",
    meta_file="meta",
    label_names_key=b"fine_label_names",
    labels_key=b"fine_labels",
    splits=(("train", "train"), ("eval", "test")),
)
