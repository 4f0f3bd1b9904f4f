"""Keras callbacks of the fit loop: the learning-rate log, validation of the weight average,
VT health, epoch checkpoints and the per-epoch log line and history."""

from __future__ import annotations

import json
import time
from typing import Any

import tensorflow as tf
import tf_keras as keras
from absl import logging

from models.vt_health import vt_health


class LearningRateLog(keras.callbacks.Callback):
    """Adds the learning rate at the end of each epoch to the logs (for TensorBoard and the
    history); list it before the callbacks that read the logs."""

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = optimizer.learning_rate
        if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
            lr = lr(optimizer.iterations)
        logs["learning_rate"] = float(keras.backend.get_value(lr))


class ValidateWithAverage(keras.callbacks.Callback):
    """With an EMA of the weights, validation scores the average (what is evaluated and
    exported once `fit` ends) rather than the raw weights, so the per-epoch lines and the
    learning curves show the model that ships; the raw weights are put back for training."""

    def __init__(self):
        super().__init__()
        self._raw: list[Any] | None = None

    def on_test_begin(self, logs=None):
        optimizer = self.model.optimizer
        if not getattr(optimizer, "use_ema", False):
            return
        variables = self.model.trainable_variables
        self._raw = [tf.identity(v) for v in variables]
        optimizer.finalize_variable_values(variables)  # assigns the averages

    def on_test_end(self, logs=None):
        if self._raw is None:
            return
        for variable, raw in zip(self.model.trainable_variables, self._raw, strict=True):
            variable.assign(raw)
        self._raw = None


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves `checkpoint` (model, optimizer, epoch counter) through `manager` at the end of an
    epoch once `every_seconds` have passed since the last save (0: every epoch), so that
    short epochs do not each pay for a save. With several workers, the chief's clock decides
    for all (`agree_with_chief`): a save is collective."""

    def __init__(
        self, manager: tf.train.CheckpointManager, epoch: tf.Variable, every_seconds: float
    ):
        super().__init__()
        self.manager = manager
        self.epoch = epoch
        self.every_seconds = every_seconds
        self._last_save = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        due = time.monotonic() - self._last_save >= self.every_seconds
        if not agree_with_chief(self.model.distribute_strategy, due):
            return
        self.epoch.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)
        self._last_save = time.monotonic()


class EpochLog(keras.callbacks.Callback):
    """Logs one line per epoch (metrics, images/s) and keeps the history for learning curves.

    The history (one row per epoch) is rewritten to every path in `history_paths` after each
    epoch; a resumed run passes the rows of the epochs it restored as `history`.
    """

    def __init__(
        self,
        model_name: str,
        images_per_epoch: int,
        history_paths: list[str],
        history: list[dict[str, float]] | None = None,
    ):
        super().__init__()
        self.model_name = model_name
        self.images_per_epoch = images_per_epoch
        self.history_paths = history_paths
        self.history: list[dict[str, float]] = list(history or [])
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        row = {"epoch": epoch + 1, "seconds": seconds, **{k: float(v) for k, v in logs.items()}}
        row["images_per_second"] = self.images_per_epoch / seconds
        self.history.append(row)
        for path in self.history_paths:
            with tf.io.gfile.GFile(path, "w") as f:
                json.dump(self.history, f, indent=1)
        logging.info(
            "[%s] epoch %d: %s (%.0f images/s)",
            self.model_name,
            epoch + 1,
            _line(logs),
            row["images_per_second"],
        )


class VTHealthLog(keras.callbacks.Callback):
    """Adds `models.vt_health` numbers of `classifier` on fixed `images` to each epoch's logs
    (hence TensorBoard, the history and the epoch line); list it before the callbacks that read
    the logs. `classifier` is the model being trained (not a distillation wrapper)."""

    def __init__(self, classifier: keras.Model, images: tf.Tensor):
        super().__init__()
        self.classifier = classifier
        self.images = images

    def on_epoch_end(self, epoch, logs=None):
        logs.update(vt_health(self.classifier, self.images))


def _line(values: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in sorted(values.items()))


def agree_with_chief(strategy: tf.distribute.Strategy, decision: bool) -> bool:
    """The chief's `decision`, on every worker of a MultiWorkerMirroredStrategy (`decision`
    under other strategies).

    Workers that must do something together (a checkpoint save all-reduces the batch-norm
    statistics) cannot each decide by their own clock: one that saves while another trains on
    waits forever. This is an all-reduce too, so every worker must call it at the same point,
    and no worker returns before the chief has called it.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return decision
    vote = 1.0 if decision and strategy.extended.should_checkpoint else 0.0
    votes = strategy.reduce(
        tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(vote)), axis=None
    )
    return float(votes) > 0
