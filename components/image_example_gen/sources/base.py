"""The interface every image data source implements, and the records it produces.

A source knows one on-disk layout of an image data set. ImageExampleGen asks it, in the
driver, for the splits, the class names and the list of `InputFile`s of each split (cheap:
file names only), then calls `read` on each `InputFile` in parallel on Beam workers. `read`
yields one example per image, or a `Rejected` record for every input it cannot turn into an
example, so that bad data is counted and reported, never silently dropped. Examples are
`example_proto.Example`s: tf.train.Examples to every reader of their bytes, built without
TensorFlow, which `read` must not import (it runs on Beam workers; see `example_proto`).
"""

import abc
import dataclasses
import io
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
from PIL import Image

from components.image_example_gen import files
from components.image_example_gen.example_proto import Example
from features import (
    CHANNELS_KEY,
    HEIGHT_KEY,
    IMAGE_KEY,
    LABEL_KEY,
    LABEL_NAME_KEY,
    SOURCE_ID_KEY,
    WIDTH_KEY,
)

# Why an input was rejected: the `reason` of a `Rejected` record.
EMPTY_FILE = "empty_file"
NOT_AN_IMAGE = "not_an_image"
CORRUPT_IMAGE = "corrupt_image"
IMAGE_TOO_LARGE = "image_too_large"
UNREADABLE_FILE = "unreadable_file"
LABEL_OUT_OF_RANGE = "label_out_of_range"
UNKNOWN_CLASS = "unknown_class"
OUTSIDE_DATA_DIR = "outside_data_dir"


@dataclasses.dataclass(frozen=True)
class InputFile:
    """One unit of work for a Beam worker: a file and, for one-image files, its class.

    Attributes:
      path: absolute path (local or gs://) of the file.
      source_id: the file's id in the data set (its path relative to the data dir).
      label: class index; None for files that carry their own labels (batch files) and for
        files whose class is not one of the data set's (then `class_key` says which).
      class_key: the class as the layout names it (folder name, wnid, manifest label).
    """

    path: str
    source_id: str
    label: int | None = None
    class_key: str = ""


@dataclasses.dataclass(frozen=True)
class Rejected:
    """An input that produced no example, and why.

    Attributes:
      source_id: the file, or `<file>:<index>` for one image of a batch file.
      reason: one of the reason constants of this module, e.g. `CORRUPT_IMAGE`.
      detail: a human-readable explanation.
      count: the images lost: 1, or for a whole unreadable batch file the images it was
        meant to hold (so the rejected fraction counts images, not files).
    """

    source_id: str
    reason: str
    detail: str
    count: int = 1


class InvalidInputError(Exception):
    """Raised by the shared readers for an input that must become a `Rejected` record.

    `count`: the images the input held, when the reader knows it (e.g. a batch file whose
    labels are readable); None leaves it to the caller of `rejected`.
    """

    def __init__(self, reason: str, detail: str, count: int | None = None):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.count = count

    def rejected(self, source_id: str, default_count: int = 1) -> Rejected:
        """The record of the input `source_id`, standing for `self.count` images when known,
        else `default_count`."""
        return Rejected(source_id, self.reason, self.detail, self.count or default_count)


class ImageSource(abc.ABC):
    """Reads one layout of a labelled image data set.

    Attributes:
      name: registry name of the source, e.g. "cifar10".
      layout: human description of the expected layout, used in error messages.
    """

    name: str
    layout: str

    def resolve_data_dir(self, data_dir: str) -> str:
        """Returns the directory the split patterns are relative to.

        Raises FileNotFoundError naming `layout` when `data_dir` does not hold the data set.
        """
        if not files.isdir(data_dir):
            raise FileNotFoundError(f"{data_dir} is not a directory: expected {self.layout}")
        return data_dir

    @abc.abstractmethod
    def splits(self, data_dir: str) -> dict[str, str]:
        """Returns split name -> glob pattern relative to the resolved `data_dir`.

        A single entry means the data set defines no splits: ImageExampleGen then splits its
        examples by a hash of their `source_id`.
        """

    @abc.abstractmethod
    def class_names(self, data_dir: str) -> list[str]:
        """Returns the class names, indexed by label; raises ValueError or FileNotFoundError
        naming the expected layout when `data_dir` does not follow it."""

    def list_inputs(
        self, data_dir: str, pattern: str, class_names: Sequence[str]
    ) -> list[InputFile]:
        """Returns the units of work of one split (default: every file matching `pattern`)."""
        return [
            InputFile(path, relative_id(data_dir, path))
            for path in sorted(files.glob(join(data_dir, pattern)))
        ]

    @abc.abstractmethod
    def read(self, item: InputFile, class_names: Sequence[str]) -> Iterator[Example | Rejected]:
        """Yields an example (see `make_example`) per image of `item`, or a `Rejected`
        record for each image or file that cannot become one. Runs on Beam workers: must
        only read `input_paths(item)`."""

    def input_paths(self, item: InputFile) -> list[str]:
        """The files `read` opens for `item`: its own, and any metadata beside it."""
        return [item.path]

    def nominal_images(self, item: InputFile) -> int:
        """The images `item` stands for when it cannot be read at all: 1 for an image file,
        the official count for a batch file (so that a lost file weighs as what it held)."""
        del item
        return 1


def available_splits(data_dir: str, splits: Mapping[str, str]) -> dict[str, str]:
    """`splits` (name -> pattern relative to `data_dir`) without those matching no file. A
    data set that holds one of them alone, e.g. the test set without the training set, is
    one pool (`{"all": pattern}`), which ImageExampleGen splits by hash. When none matches,
    or the directory cannot be listed here (a remote one, compiled offline for a cluster),
    `splits` as given, for the layout check to name what is missing (driver only)."""
    try:
        present = {name: p for name, p in splits.items() if files.glob(join(data_dir, p))}
    except Exception:  # tf.io.gfile's errors for an unreachable gs:// or s3:// directory
        return dict(splits)
    if len(present) == 1:
        return {"all": next(iter(present.values()))}
    return present or dict(splits)


def read_input(path: str) -> bytes:
    """The bytes of the input file `path`.

    Raises:
      InvalidInputError: UNREADABLE_FILE when it cannot be read (missing, a directory, no
        permission).
    """
    try:
        return files.read_bytes(path)
    except OSError as e:
        raise InvalidInputError(UNREADABLE_FILE, f"cannot read {path}: {e}") from None


def read_names(path: str) -> list[str]:
    """The non-blank lines of a names file (class names, one per line), stripped."""
    return [line.strip() for line in files.read_lines(path) if line.strip()]


def join(data_dir: str, relative: str) -> str:
    """`data_dir`/`relative`, for local paths and URLs (gs://) alike."""
    return f"{data_dir.rstrip('/')}/{relative}" if relative else data_dir


def relative_id(data_dir: str, path: str) -> str:
    """The id of `path` inside `data_dir`: its relative path with forward slashes."""
    prefix = data_dir.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else path


def make_example(
    image_png_or_jpeg: bytes,
    height: int,
    width: int,
    channels: int,
    label: int,
    label_name: str,
    source_id: str,
    extra: Mapping[str, int | str] | None = None,
) -> Example:
    """Builds the example that every source yields for one image.

    Args:
      image_png_or_jpeg: the encoded image.
      height, width, channels: its shape in pixels.
      label: class index; label_name: its name.
      source_id: where the image came from, see `InputFile.source_id`.
      extra: further scalar features of the source, e.g. CIFAR-100's `coarse_label`.
    """
    values: dict[str, bytes | str | int] = {
        IMAGE_KEY: image_png_or_jpeg,
        LABEL_KEY: label,
        LABEL_NAME_KEY: label_name,
        HEIGHT_KEY: height,
        WIDTH_KEY: width,
        CHANNELS_KEY: channels,
        SOURCE_ID_KEY: source_id,
        **(extra or {}),
    }
    example = Example()
    features = example.features.feature
    for key, value in values.items():
        # Filling the fields in place takes a third of the time of nested constructors.
        if isinstance(value, int):
            features[key].int64_list.value.append(value)
        else:
            features[key].bytes_list.value.append(
                value.encode() if isinstance(value, str) else value
            )
    return example


def encode_png(image: np.ndarray) -> bytes:
    """Encodes a uint8 [height, width, channels] array (1 or 3 channels) as PNG.

    With PIL, not tf.io.encode_png, which would import TensorFlow (see `example_proto`) and
    is not faster on every machine (docs/benchmarks.md#workers-without-tensorflow); the
    bytes differ, the pixels they decode to do not.
    """
    out = io.BytesIO()
    Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).save(out, format="PNG")
    return out.getvalue()


def image_example(
    image: np.ndarray,
    label: int,
    label_name: str,
    source_id: str,
    extra: Mapping[str, int | str] | None = None,
) -> Example:
    """PNG-encodes a uint8 [height, width, channels] array into an example."""
    height, width, channels = image.shape
    return make_example(
        encode_png(image), height, width, channels, label, label_name, source_id, extra
    )


def check_label(label: int, class_names: Sequence[str], source_id: str) -> Rejected | None:
    """A `LABEL_OUT_OF_RANGE` record when `label` is not an index of `class_names`."""
    if 0 <= label < len(class_names):
        return None
    return Rejected(
        source_id,
        LABEL_OUT_OF_RANGE,
        f"label {label} is outside 0..{len(class_names) - 1} ({len(class_names)} classes)",
    )
