"""Stochastic depth (Huang et al. 2016): drop a residual branch per example while training."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras


@keras.saving.register_keras_serializable(package="vt")
class StochasticDepth(keras.layers.Layer):
    """Keeps each example's residual branch with probability `survival_prob` while training.

    Kept branches are scaled by 1 / survival_prob so the expected output equals the inference
    output, which is the branch unchanged. Input and output: any [B, ...] tensor.
    """

    def __init__(self, survival_prob: float, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < survival_prob <= 1.0:
            raise ValueError(f"survival_prob must be in (0, 1], got {survival_prob}.")
        self.survival_prob = survival_prob

    def call(self, branch: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        if not training or self.survival_prob == 1.0:
            return branch
        shape = [tf.shape(branch)[0]] + [1] * (branch.shape.rank - 1)
        keep = tf.cast(tf.random.uniform(shape) < self.survival_prob, branch.dtype)
        return branch * keep / self.survival_prob

    def get_config(self) -> dict:
        return {**super().get_config(), "survival_prob": self.survival_prob}
