"""Learning-rate schedules, stepped per optimizer step and defined in epochs."""

from __future__ import annotations

import math
from typing import Any

import tensorflow as tf
import tf_keras as keras

from models.training.recipe import TrainConfig


class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from `start` to `peak` over `warmup_steps`, then cosine decay to 0."""

    def __init__(self, peak: float, warmup_steps: int, total_steps: int, start: float = 0.0):
        super().__init__()
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.start = start

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = _linear_warmup(step, self.start, self.peak, self.warmup_steps)
        progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
        cosine = 0.5 * self.peak * (1.0 + tf.cos(math.pi * tf.clip_by_value(progress, 0.0, 1.0)))
        return tf.where(step < self.warmup_steps, warmup, cosine)

    def get_config(self) -> dict[str, Any]:
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "start": self.start,
        }


class WarmupExponential(keras.optimizers.schedules.LearningRateSchedule):
    """The VT paper's schedule: linear warm-up from `start` to `peak` over `warmup_steps`,
    then the LR is multiplied by `decay` once per epoch (0.9875 in Wu et al. 2020).

    lr(step) = peak * decay ** floor((step - warmup_steps) / steps_per_epoch) after warm-up.
    """

    def __init__(
        self, peak: float, warmup_steps: int, steps_per_epoch: int, decay: float, start: float
    ):
        super().__init__()
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.steps_per_epoch = steps_per_epoch
        self.decay = decay
        self.start = start

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = _linear_warmup(step, self.start, self.peak, self.warmup_steps)
        epochs_after = tf.floor((step - self.warmup_steps) / self.steps_per_epoch)
        decayed = self.peak * tf.pow(self.decay, tf.maximum(epochs_after, 0.0))
        return tf.where(step < self.warmup_steps, warmup, decayed)

    def get_config(self) -> dict[str, Any]:
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "steps_per_epoch": self.steps_per_epoch,
            "decay": self.decay,
            "start": self.start,
        }


def _linear_warmup(step: tf.Tensor, start: float, peak: float, warmup_steps: int) -> tf.Tensor:
    return start + (peak - start) * step / max(warmup_steps, 1)


def build_schedule(
    train: TrainConfig, steps_per_epoch: int
) -> keras.optimizers.schedules.LearningRateSchedule:
    """The schedule `train.schedule` names ("cosine" or "paper").

    The peak (`train.optimizer.learning_rate`) and the warm-up start are scaled by
    batch_size / lr_reference_batch when `train.optimizer.lr_reference_batch` is set (linear
    scaling rule; the paper uses 0.16 at batch 2048).
    """
    optimizer, schedule = train.optimizer, train.schedule
    scale = 1.0
    if optimizer.lr_reference_batch:
        scale = train.batch_size / optimizer.lr_reference_batch
    peak, start = optimizer.learning_rate * scale, schedule.warmup_start_lr * scale
    warmup_steps = schedule.warmup_epochs * steps_per_epoch
    if schedule.name == "paper":
        return WarmupExponential(peak, warmup_steps, steps_per_epoch, schedule.lr_decay, start)
    return WarmupCosine(peak, warmup_steps, train.epochs * steps_per_epoch, start)
