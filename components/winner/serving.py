"""The serving directory: numbered versions (1, 2, 3, ... as TF Serving expects), the model
in production (the newest one), scoring models, and pushing the run's winner: checked against
production as it is at that moment, at most once per model, atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import tensorflow as tf
from tfx.utils import io_utils

from components.evaluator.intervals import paired_gain
from components.winner.decision import ModelScore, PushRecord, push_verdict
from features import LABEL_KEY
from models.signatures import EXAMPLES_SIGNATURE, PROBABILITIES_KEY

TEMP_PREFIX = ".pushing-"
LOCK_SUFFIX = ".push.lock"
# Records that travel inside a pushed version; not part of the model (`content_digest`).
RECORDS_DIR = "assets.extra"
DECISION_PATH = os.path.join(RECORDS_DIR, "gating_decision.json")
PUSH_RECORD_PATH = os.path.join(RECORDS_DIR, "push_record.json")
WINNER = "winner"
PRODUCTION = "production"


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


def push_version(
    model_dir: str, serving_dir: str, extra_files: Mapping[str, str] | None = None
) -> str:
    """Copies `model_dir`, plus `extra_files` (relative path -> text), to
    `serving_dir/<newest + 1>` and returns that path.

    The copy is written to a hidden temporary folder and renamed into place, so a reader never
    sees a half-written version (rename is atomic on local and POSIX file systems; on object
    stores such as GCS it is a copy, still invisible to TF Serving until it is complete).
    """
    versions = numbered_versions(serving_dir)
    version = (versions[-1] if versions else 0) + 1
    destination = os.path.join(serving_dir, str(version))
    temporary = os.path.join(serving_dir, f"{TEMP_PREFIX}{version}-{uuid.uuid4().hex}")
    io_utils.copy_dir(model_dir, temporary)
    for relative, text in (extra_files or {}).items():
        io_utils.write_string_file(os.path.join(temporary, relative), text)
    tf.io.gfile.rename(temporary, destination, overwrite=False)
    return destination


def content_digest(model_dir: str) -> str:
    """SHA-256 of a SavedModel's files, their relative paths and bytes, without the records
    under `assets.extra/` (a decision, a push record), which differ between pushes of one
    model. Two exports of the same trained model have the same digest."""
    digest = hashlib.sha256()
    root = model_dir.rstrip("/")
    for directory, _, names in sorted(tf.io.gfile.walk(root)):
        relative_dir = os.path.relpath(directory, root)
        if relative_dir == RECORDS_DIR or relative_dir.startswith(RECORDS_DIR + os.sep):
            continue
        for name in sorted(names):
            with tf.io.gfile.GFile(os.path.join(directory, name), "rb") as f:
                content = hashlib.sha256(f.read()).digest()
            digest.update(os.path.join(relative_dir, name).encode() + b"\0" + content)
    return digest.hexdigest()


def version_digest(version_dir: str) -> str:
    """The content digest a pushed version recorded, computed for versions that have none."""
    record_path = os.path.join(version_dir, PUSH_RECORD_PATH)
    if tf.io.gfile.exists(record_path):
        with tf.io.gfile.GFile(record_path) as f:
            recorded = PushRecord.from_json(f.read()).content_sha256
        if recorded:
            return recorded
    return content_digest(version_dir)


def version_name(version_dir: str) -> str:
    """`<model> (version N)`, the model's name from the decision pushed with it."""
    name = f"version {os.path.basename(version_dir.rstrip('/'))}"
    decision_path = os.path.join(version_dir, DECISION_PATH)
    if tf.io.gfile.exists(decision_path):
        with tf.io.gfile.GFile(decision_path) as f:
            name = f"{json.load(f)['winner']['model']} ({name})"
    return name


@contextlib.contextmanager
def push_lock(serving_dir: str) -> Iterator[None]:
    """Holds `serving_dir`'s push lock (a file beside it, `<serving_dir>.push.lock`, so that
    the directory holds versions only) for the `with` block, so that no two pushes read
    production and write a version at once. Local directories only: on gs:// there is no
    lock, and two runs of one pipeline must not push at once (docs/evaluation.md)."""
    if "://" in serving_dir:
        yield
        return
    os.makedirs(serving_dir, exist_ok=True)
    with open(serving_dir.rstrip("/") + LOCK_SUFFIX, "a+") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def remove_unfinished_pushes(serving_dir: str) -> list[str]:
    """Deletes the temporary folders of pushes that were killed before their rename (call it
    under `push_lock`: then no push is under way); returns their paths."""
    if not tf.io.gfile.isdir(serving_dir):
        return []
    names = [name.rstrip("/") for name in tf.io.gfile.listdir(serving_dir)]
    unfinished = [os.path.join(serving_dir, n) for n in names if n.startswith(TEMP_PREFIX)]
    for path in unfinished:
        tf.io.gfile.rmtree(path)
    return unfinished


def push_winner(
    model_dir: str,
    serving_dir: str,
    winner_name: str,
    hits: Callable[[str], np.ndarray],
    min_gain_over_production: float,
    confidence: float,
) -> PushRecord:
    """Pushes the run's winner unless it is already pushed or does not beat production.

    Under `push_lock`: the winner's content digest is looked up among the pushed versions
    (the same model is never pushed twice); else the winner and the newest version are
    scored now by `hits` (a model dir -> which examples of this run's eval split it gets
    right, in order), their paired gain measured at `confidence`, and compared by
    `decision.push_verdict`; a pushed version carries its record (`PUSH_RECORD_PATH`).
    """
    with push_lock(serving_dir):
        remove_unfinished_pushes(serving_dir)
        digest = content_digest(model_dir)
        versions = numbered_versions(serving_dir)
        for version in reversed(versions):
            if version_digest(os.path.join(serving_dir, str(version))) == digest:
                newest = version == versions[-1]
                where = "in production" if newest else f"production is version {versions[-1]}"
                reason = f"{winner_name} is already version {version} ({where}): not pushed again"
                return PushRecord(False, newest, reason, version=version, content_sha256=digest)
        winner_hits = hits(model_dir)
        winner = ModelScore(WINNER, winner_name, float(np.mean(winner_hits)))
        production, gain = None, None
        if versions:
            production_dir = os.path.join(serving_dir, str(versions[-1]))
            production_hits = hits(production_dir)
            name = version_name(production_dir)
            production = ModelScore(PRODUCTION, name, float(np.mean(production_hits)))
            gain = paired_gain(winner_hits, production_hits, confidence)
        pushed, reason = push_verdict(winner, production, min_gain_over_production, gain)
        record = PushRecord(
            pushed, pushed, reason, winner, production, min_gain_over_production, None, digest, gain
        )
        if not pushed:
            return record
        destination = push_version(model_dir, serving_dir, {PUSH_RECORD_PATH: record.to_json()})
        return dataclasses.replace(record, version=int(os.path.basename(destination)))


def classify_examples(
    model, example_files: list[str], batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Labels [N] and predicted probabilities [N, K] of an exported model (as returned by
    `tf.saved_model.load`) on gzipped tf.Example files (raw `image`, `label`), through its
    `serving_default` signature, exactly as TF Serving would call it. Raises ValueError when
    the files hold no example."""
    classify = model.signatures[EXAMPLES_SIGNATURE]
    label_spec = {LABEL_KEY: tf.io.FixedLenFeature([1], tf.int64)}
    dataset = tf.data.TFRecordDataset(example_files, compression_type="GZIP").batch(batch_size)
    labels, probabilities = [], []
    for serialized in dataset:
        labels.append(tf.io.parse_example(serialized, label_spec)[LABEL_KEY].numpy().reshape(-1))
        probabilities.append(classify(examples=serialized)[PROBABILITIES_KEY].numpy())
    if not labels:
        raise ValueError(f"no examples in {example_files}")
    return np.concatenate(labels), np.concatenate(probabilities)


def hits_on_examples(model_dir: str, example_files: list[str]) -> np.ndarray:
    """Whether an exported SavedModel's top-1 class is right, per example of gzipped
    tf.Example files, in file order (bool [N])."""
    labels, probabilities = classify_examples(tf.saved_model.load(model_dir), example_files)
    return np.argmax(probabilities, axis=-1) == labels
