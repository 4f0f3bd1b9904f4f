"""The label index -> class name map of a data set, stored with its Examples artifact.

ImageExampleGen writes the map its source read from the data set's metadata (CIFAR's meta
file, the class folders, the wnid list...) in two places:

- `<examples uri>/class_names.json`: `{"format_version": 1, "class_names": [name, ...]}`,
  name i being the name of label i (what downstream components read);
- custom properties of the Examples artifact in ML Metadata: `class_names` (the list) and
  `num_classes` (for people and tools browsing MLMD).

So the pipeline is built without reading any data: the Trainers read the names at run time
(see `components/trainer`) and export them inside the serving model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import tensorflow as tf
from tfx import types

from features import CLASS_NAMES_FILE

FORMAT_VERSION = 1
NAMES_PROPERTY = "class_names"
COUNT_PROPERTY = "num_classes"


def write(examples: types.Artifact, class_names: Sequence[str]) -> None:
    """Writes `class_names` into the Examples artifact `examples` (file and properties)."""
    names = [str(name) for name in class_names]
    with tf.io.gfile.GFile(os.path.join(examples.uri, CLASS_NAMES_FILE), "w") as f:
        json.dump({"format_version": FORMAT_VERSION, "class_names": names}, f, indent=1)
    examples.set_json_value_custom_property(NAMES_PROPERTY, names)
    examples.set_int_custom_property(COUNT_PROPERTY, len(names))


def read(examples_uri: str) -> list[str]:
    """The class names stored in the Examples artifact at `examples_uri`, indexed by label.

    Raises:
      FileNotFoundError: the artifact holds no map (not written by ImageExampleGen).
      ValueError: the file has a format version this code does not know.
    """
    path = os.path.join(examples_uri, CLASS_NAMES_FILE)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(
            f"no {CLASS_NAMES_FILE} in {examples_uri}: the examples must come from ImageExampleGen"
        )
    with tf.io.gfile.GFile(path) as f:
        content = json.load(f)
    if content.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has format_version {content.get('format_version')!r}; this code reads "
            f"version {FORMAT_VERSION}"
        )
    return list(content["class_names"])
