"""The interface every image data source implements, and helpers they share.

A source knows one on-disk layout of an image data set. ImageExampleGen asks it
for the default split patterns, globs them under the data dir and calls `read`
on each matching file in parallel, so `read` must only look at the file it is
given (and small metadata files beside it).
"""

import abc
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

# Feature keys of the tf.train.Examples written by ImageExampleGen.
IMAGE_KEY = "image"
LABEL_KEY = "label"
LABEL_NAME_KEY = "label_name"
HEIGHT_KEY = "height"
WIDTH_KEY = "width"
CHANNELS_KEY = "channels"
SOURCE_ID_KEY = "source_id"


class ImageSource(abc.ABC):
    """Reads one on-disk layout of a labelled image data set.

    Attributes:
      name: registry name of the source, e.g. "cifar10".
      layout: human description of the expected layout, used in error messages.
    """

    name: str
    layout: str

    def resolve_data_dir(self, data_dir: str) -> str:
        """Returns the directory the split patterns are relative to.

        Sources whose archives unpack into a fixed sub-directory override this
        to also accept the parent directory. Raises FileNotFoundError naming
        `layout` when `data_dir` does not hold the data set.
        """
        if not tf.io.gfile.isdir(data_dir):
            raise FileNotFoundError(f"{data_dir} is not a directory: expected {self.layout}")
        return data_dir

    @abc.abstractmethod
    def default_splits(self) -> dict[str, str]:
        """Returns split name -> file pattern relative to the resolved data dir."""

    @abc.abstractmethod
    def class_names(self, data_dir: str) -> list[str]:
        """Returns the class names, indexed by label."""

    @abc.abstractmethod
    def read(self, path: str) -> Iterator[tf.train.Example]:
        """Yields one tf.train.Example (see `make_example`) per image of one file."""


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int64_feature(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def make_example(
    image_png_or_jpeg: bytes,
    height: int,
    width: int,
    channels: int,
    label: int,
    label_name: str,
    source_id: str,
) -> tf.train.Example:
    """Builds the tf.train.Example that every source yields for one image."""
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                IMAGE_KEY: _bytes_feature(image_png_or_jpeg),
                LABEL_KEY: _int64_feature(label),
                LABEL_NAME_KEY: _bytes_feature(label_name.encode()),
                HEIGHT_KEY: _int64_feature(height),
                WIDTH_KEY: _int64_feature(width),
                CHANNELS_KEY: _int64_feature(channels),
                SOURCE_ID_KEY: _bytes_feature(source_id.encode()),
            }
        )
    )


def encode_png(image: np.ndarray) -> bytes:
    """Encodes a uint8 [height, width, channels] array as PNG.

    tf.io.encode_png beats PIL on 32x32 RGB images: about 94 vs 102 us per
    CIFAR-10 image and 74 vs 119 us per random-noise image (2 cores, one thread).
    """
    return tf.io.encode_png(image).numpy()


def image_example(
    image: np.ndarray, label: int, label_name: str, source_id: str
) -> tf.train.Example:
    """PNG-encodes a uint8 [height, width, channels] array into an example."""
    height, width, channels = image.shape
    return make_example(encode_png(image), height, width, channels, label, label_name, source_id)
