"""The serving directory: numbered versions (1, 2, 3, ... as TF Serving expects), the model
in production (the newest one), scoring it, and pushing a new version atomically."""

from __future__ import annotations

import os
import uuid

import numpy as np
import tensorflow as tf
from tfx.utils import io_utils

from models.signatures import EXAMPLES_SIGNATURE

TEMP_PREFIX = ".pushing-"


def numbered_versions(serving_dir: str) -> list[int]:
    """Version numbers under `serving_dir`, ascending. Only all-digit folder names count (as in
    TF Serving), so a half-written temporary folder is never taken for a version."""
    if not tf.io.gfile.isdir(serving_dir):
        return []
    names = (name.rstrip("/") for name in tf.io.gfile.listdir(serving_dir))
    return sorted(int(name) for name in names if name.isdigit())


def production_model_dir(serving_dir: str) -> str | None:
    """The newest pushed version (what TF Serving serves), or None when nothing was pushed."""
    versions = numbered_versions(serving_dir)
    return os.path.join(serving_dir, str(versions[-1])) if versions else None


def push_version(model_dir: str, serving_dir: str) -> str:
    """Copies `model_dir` to `serving_dir/<newest + 1>` and returns that path.

    The copy is written to a hidden temporary folder and renamed into place, so a reader never
    sees a half-written version (rename is atomic on local and POSIX file systems; on object
    stores such as GCS it is a copy, still invisible to TF Serving until it is complete).
    """
    versions = numbered_versions(serving_dir)
    version = (versions[-1] if versions else 0) + 1
    destination = os.path.join(serving_dir, str(version))
    temporary = os.path.join(serving_dir, f"{TEMP_PREFIX}{version}-{uuid.uuid4().hex}")
    io_utils.copy_dir(model_dir, temporary)
    tf.io.gfile.rename(temporary, destination, overwrite=False)
    return destination


def classify_examples(
    model, example_files: list[str], batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Labels [N] and predicted probabilities [N, K] of an exported model (as returned by
    `tf.saved_model.load`) on gzipped tf.Example files (raw `image`, `label`), through its
    `serving_default` signature, exactly as TF Serving would call it. Raises ValueError when
    the files hold no example."""
    classify = model.signatures[EXAMPLES_SIGNATURE]
    label_spec = {"label": tf.io.FixedLenFeature([1], tf.int64)}
    dataset = tf.data.TFRecordDataset(example_files, compression_type="GZIP").batch(batch_size)
    labels, probabilities = [], []
    for serialized in dataset:
        labels.append(tf.io.parse_example(serialized, label_spec)["label"].numpy().reshape(-1))
        probabilities.append(classify(examples=serialized)["probabilities"].numpy())
    if not labels:
        raise ValueError(f"no examples in {example_files}")
    return np.concatenate(labels), np.concatenate(probabilities)


def accuracy_on_examples(model_dir: str, example_files: list[str]) -> float:
    """Top-1 accuracy of a pushed SavedModel on gzipped tf.Example files."""
    labels, probabilities = classify_examples(tf.saved_model.load(model_dir), example_files)
    return float(np.mean(np.argmax(probabilities, axis=-1) == labels))
