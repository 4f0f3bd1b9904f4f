"""MNIST-style data sets in the IDX format: `<prefix>-images-idx3-ubyte.gz` with
`<prefix>-labels-idx1-ubyte.gz` beside it (prefix `train` and `t10k`).

IDX: a big-endian header (two zero bytes, type byte 0x08 = uint8, number of dimensions, then
one uint32 size per dimension) followed by the values. Images are [N, rows, cols] grey
pixels; labels are [N]. Each image becomes a 1-channel PNG. MNIST, Fashion-MNIST and
Kuzushiji-MNIST share the format and differ in their class names only.
"""

import dataclasses
import gzip
from collections.abc import Iterator, Sequence

import numpy as np

from components.image_example_gen.sources import base

IMAGES_SUFFIX = "-images-idx3-ubyte.gz"
LABELS_SUFFIX = "-labels-idx1-ubyte.gz"
_UBYTE = 0x08


def parse_idx(data: bytes, dims: int) -> np.ndarray:
    """The uint8 array of an uncompressed IDX file with `dims` dimensions.

    Raises:
      base.InvalidInputError: UNREADABLE_FILE when the header or the size is wrong.
    """
    header_size = 4 + 4 * dims
    if len(data) < header_size or data[:2] != b"\0\0" or data[2] != _UBYTE or data[3] != dims:
        raise base.InvalidInputError(
            base.UNREADABLE_FILE, f"no IDX header of {dims}-dimensional uint8 data"
        )
    shape = tuple(int(n) for n in np.frombuffer(data[4:header_size], ">u4"))
    values = np.frombuffer(data, np.uint8, offset=header_size)
    if values.size != int(np.prod(shape)):
        raise base.InvalidInputError(
            base.UNREADABLE_FILE, f"header says {shape} but {values.size} values follow"
        )
    return values.reshape(shape)


def _read_idx(path: str, dims: int) -> np.ndarray:
    compressed = base.read_input(path)
    try:
        data = gzip.decompress(compressed)
    except (OSError, EOFError) as e:
        detail = f"not a complete gzip file ({e})"
        raise base.InvalidInputError(base.UNREADABLE_FILE, detail) from None
    return parse_idx(data, dims)


def _labels_path(images_path: str) -> str:
    """The labels file beside the images file `images_path`."""
    return images_path[: -len(IMAGES_SUFFIX)] + LABELS_SUFFIX


# Images in the official files of each prefix: MNIST, Fashion-MNIST and KMNIST alike.
_OFFICIAL_IMAGES = {"train": 60_000, "t10k": 10_000}


def _official_images(images_path: str) -> int:
    """Images the official file named like `images_path` holds (1 for another name)."""
    prefix = images_path.rsplit("/", 1)[-1][: -len(IMAGES_SUFFIX)]
    return _OFFICIAL_IMAGES.get(prefix, 1)


@dataclasses.dataclass(frozen=True)
class IdxSource(base.ImageSource):
    """One IDX data set: its name, its class names and the expected layout."""

    name: str
    layout: str
    names: tuple[str, ...]

    def splits(self, data_dir: str) -> dict[str, str]:
        splits = {"train": f"train{IMAGES_SUFFIX}", "test": f"t10k{IMAGES_SUFFIX}"}
        return base.available_splits(data_dir, splits)

    def class_names(self, data_dir: str) -> list[str]:
        self.resolve_data_dir(data_dir)
        return list(self.names)

    def input_paths(self, item: base.InputFile) -> list[str]:
        return [item.path, _labels_path(item.path)]

    def nominal_images(self, item: base.InputFile) -> int:
        return _official_images(item.path)

    def read(
        self, item: base.InputFile, class_names: Sequence[str]
    ) -> Iterator[base.Example | base.Rejected]:
        labels_path = _labels_path(item.path)
        images = None
        try:
            images = _read_idx(item.path, 3)
            labels = _read_idx(labels_path, 1)
        except base.InvalidInputError as e:
            # A lost file weighs in the rejected fraction as the images it held.
            held = len(images) if images is not None else _official_images(item.path)
            yield e.rejected(item.source_id, held)
            return
        if len(images) != len(labels):
            yield base.Rejected(
                item.source_id,
                base.UNREADABLE_FILE,
                f"{len(images)} images but {len(labels)} labels in {labels_path}",
                count=len(images),
            )
            return
        for index, (image, label) in enumerate(zip(images, labels.tolist(), strict=True)):
            source_id = f"{item.source_id}:{index}"
            yield base.check_label(label, class_names, source_id) or base.image_example(
                image[:, :, None], label, class_names[label], source_id
            )


def _layout(title: str) -> str:
    return (
        f"the {title} IDX files train{IMAGES_SUFFIX}, train{LABELS_SUFFIX}, "
        f"t10k{IMAGES_SUFFIX} and t10k{LABELS_SUFFIX} in one directory"
    )


MNIST = IdxSource("mnist", _layout("MNIST"), tuple(str(digit) for digit in range(10)))
FASHION_MNIST = IdxSource(
    "fashion_mnist",
    _layout("Fashion-MNIST"),
    (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
)
KMNIST = IdxSource(
    "kmnist",
    _layout("Kuzushiji-MNIST"),
    ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
)
