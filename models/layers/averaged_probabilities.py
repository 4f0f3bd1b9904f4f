"""Averaging classifiers' probabilities, with logits out."""

from __future__ import annotations

import math

import tensorflow as tf
import tf_keras as keras


def average_probabilities(logits: list[tf.Tensor]) -> tf.Tensor:
    """log(mean_i softmax(z_i)): logits [B, K] each -> logits [B, K]."""
    log_probabilities = tf.stack([tf.nn.log_softmax(z) for z in logits])
    return tf.reduce_logsumexp(log_probabilities, axis=0) - math.log(len(logits))


@keras.saving.register_keras_serializable(package="vt")
class AveragedProbabilities(keras.layers.Layer):
    """Logits whose softmax is the mean of the inputs' softmaxes: log(mean_i softmax(z_i)).

    How DeiT's class and distillation heads answer together at inference. The output is a
    logit vector like any classifier's, so serving, evaluation and the loss read it unchanged.

    Inputs: a list of logits [B, K]. Output: logits [B, K], float32.
    """

    def __init__(self, **kwargs):
        kwargs["dtype"] = "float32"  # under any mixed-precision policy, as the heads
        super().__init__(**kwargs)

    def call(self, logits: list[tf.Tensor]) -> tf.Tensor:
        return average_probabilities(logits)
