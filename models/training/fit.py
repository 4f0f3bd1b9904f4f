"""The fit loop: compile, resume from the last epoch checkpoint, train, log every epoch."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable

import tensorflow as tf
import tf_keras as keras
from absl import logging

from features import HISTORY_FILE
from models.training.callbacks import (
    EpochCheckpoint,
    EpochLog,
    LearningRateLog,
    ValidateWithAverage,
    VTHealthLog,
)
from models.training.distillation import Distiller
from models.training.optimizers import build_optimizer
from models.training.recipe import TrainConfig
from models.training.schedules import build_schedule
from models.vt_health import vt_modules

HEALTH_IMAGES = 64  # eval images the VT health numbers are measured on, the same every epoch


def fit(
    model: keras.Model,
    train_dataset: Callable[[int], tf.data.Dataset],
    eval_dataset: tf.data.Dataset,
    *,
    train: TrainConfig,
    model_name: str,
    steps_per_epoch: int,
    run_dir: str,
    checkpoint_directory: str | None,
    strategy: tf.distribute.Strategy | None = None,
) -> list[dict[str, float]]:
    """Compiles and trains `model` for `train.epochs` epochs; returns the history rows.

    `train_dataset(first_step)` gives the (augmented) training batches from global step
    `first_step` on. With a `checkpoint_directory`, epochs are checkpointed there and an
    interrupted run resumes from its last checkpointed epoch (weights, optimizer state, hence
    the learning rate, and the epoch); an epoch is checkpointed once
    `train.checkpoint.every_seconds` have passed since the last checkpoint. The directory is
    deleted once training completes. TensorBoard scalars (incl. the learning rate) and
    history.json go to `run_dir`. A VT's health numbers (`models.vt_health`) on the first
    eval images join every epoch's logs.

    Under MultiWorkerMirroredStrategy every worker runs this; only the chief writes to
    `run_dir` and `checkpoint_directory`.
    """
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        optimizer = build_optimizer(
            train, build_schedule(train, steps_per_epoch), model.trainable_variables
        )
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.CategoricalCrossentropy(
                from_logits=True, label_smoothing=train.regularisation.label_smoothing
            ),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        )
        optimizer.build(model.trainable_variables)
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    history: list[dict[str, float]] = []
    callbacks: list[keras.callbacks.Callback] = [LearningRateLog(), ValidateWithAverage()]
    classifier = model.student if isinstance(model, Distiller) else model
    if vt_modules(classifier):
        images, _ = next(iter(eval_dataset))
        callbacks.append(VTHealthLog(classifier, images[:HEALTH_IMAGES]))
    # Keras' TensorBoard callback writes only on the chief already (the other workers into
    # scratch directories it deletes).
    chief = strategy.extended.should_checkpoint
    history_paths = [os.path.join(run_dir, HISTORY_FILE)] if chief else []
    if checkpoint_directory:
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch)
        # Every worker saves (a save all-reduces the batch-norm statistics), but only the chief
        # into `checkpoint_directory`, the others into a local scratch directory deleted with
        # it. All restore from the chief's.
        write_directory = checkpoint_directory if chief else tempfile.mkdtemp(prefix="ckpt-")
        manager = tf.train.CheckpointManager(checkpoint, write_directory, max_to_keep=2)
        tf.io.gfile.makedirs(write_directory)  # the chief's history.json goes there from epoch 1
        latest = tf.train.latest_checkpoint(checkpoint_directory)
        if latest:
            checkpoint.restore(latest).assert_existing_objects_matched()
            saved_history = os.path.join(checkpoint_directory, HISTORY_FILE)
            history = _read_history(saved_history, int(epoch.numpy()))
            logging.info(
                "[%s] resuming after epoch %d from %s",
                model_name,
                int(epoch.numpy()),
                checkpoint_directory,
            )
        callbacks.append(EpochCheckpoint(manager, epoch, train.checkpoint.every_seconds))
        if chief:
            history_paths.append(os.path.join(checkpoint_directory, HISTORY_FILE))
    initial_epoch = int(epoch.numpy())  # int() does not take a strategy's MirroredVariable
    epoch_log = EpochLog(model_name, steps_per_epoch * train.batch_size, history_paths, history)
    callbacks += [epoch_log, keras.callbacks.TensorBoard(log_dir=run_dir)]
    model.fit(
        train_dataset(initial_epoch * steps_per_epoch),
        epochs=train.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps_per_epoch,
        validation_data=eval_dataset,
        callbacks=callbacks,
        verbose=0,
    )
    if checkpoint_directory:
        tf.io.gfile.rmtree(write_directory)
    return epoch_log.history


def _read_history(path: str, epochs: int) -> list[dict[str, float]]:
    """The rows of the first `epochs` epochs saved at `path` (none if it is missing)."""
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        return [row for row in json.load(f) if row["epoch"] <= epochs]
