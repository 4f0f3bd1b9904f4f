"""What a residual branch adds to its input, with the regularisers of modern transformers."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from models.layers.stochastic_depth import StochasticDepth


@keras.saving.register_keras_serializable(package="vt")
class ResidualBranch(keras.layers.Layer):
    """update -> dropout -> x learned per-channel gain -> stochastic depth, added by the caller.

    With the defaults the update passes unchanged: the paper's plain residual, x + f(x).

    Args:
        gain_init: None (no gain), or the initial value of a learned per-channel gain on the
            update (LayerScale, Touvron et al. 2021, "Going deeper with image transformers");
            0 starts the branch switched off (ReZero), so a deep stack starts as the identity.
        dropout: dropout rate on the update while training.
        survival_prob: keep probability of the whole update per example while training
            (stochastic depth, `StochasticDepth`).

    Input and output: update [B, ..., C].
    """

    def __init__(
        self,
        gain_init: float | None = None,
        dropout: float = 0.0,
        survival_prob: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.gain_init = gain_init
        self.dropout = dropout
        self.survival_prob = survival_prob
        self.drop = keras.layers.Dropout(dropout) if dropout else None
        self.stochastic_depth = StochasticDepth(survival_prob) if survival_prob < 1 else None

    def build(self, input_shape):
        self.gain = None
        if self.gain_init is not None:
            self.gain = self.add_weight(
                name="gain",
                shape=(input_shape[-1],),
                initializer=keras.initializers.Constant(self.gain_init),
            )
        super().build(input_shape)

    def call(self, update: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        if self.drop is not None:
            update = self.drop(update, training=training)
        if self.gain is not None:
            update = update * self.gain
        if self.stochastic_depth is not None:
            update = self.stochastic_depth(update, training=training)
        return update

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "gain_init": self.gain_init,
            "dropout": self.dropout,
            "survival_prob": self.survival_prob,
        }
