"""Knowledge distillation (Hinton et al. 2015) as used by Wu et al. 2020 for VT-ResNets.

loss = w * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - w) * CE(labels, student)

with w = 0.8 in the paper. The T^2 factor keeps the soft term's gradients at the scale of the
hard term's when the temperature T changes.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras


def distillation_loss(
    labels: tf.Tensor,
    student_logits: tf.Tensor,
    teacher_logits: tf.Tensor,
    *,
    temperature: float,
    weight: float,
    label_smoothing: float = 0.0,
) -> tf.Tensor:
    """Mean over the batch: labels one-hot [B, K], logits [B, K] -> scalar."""
    teacher_log = tf.nn.log_softmax(teacher_logits / temperature)
    student_log = tf.nn.log_softmax(student_logits / temperature)
    kl = tf.reduce_sum(tf.exp(teacher_log) * (teacher_log - student_log), axis=-1)
    hard = keras.losses.categorical_crossentropy(
        labels, student_logits, from_logits=True, label_smoothing=label_smoothing
    )
    return tf.reduce_mean(weight * temperature**2 * kl + (1.0 - weight) * hard)


class Distiller(keras.Model):
    """Trains `student` against the labels and a frozen `teacher`; calls are the student's.

    Compile it with metrics only (no loss); `compute_loss` is the distillation loss. Export
    `distiller.student`, which holds the trained weights.
    """

    def __init__(
        self,
        student: keras.Model,
        teacher: keras.Model,
        *,
        temperature: float,
        weight: float,
        label_smoothing: float = 0.0,
        **kwargs,
    ):
        super().__init__(name=f"{student.name}_distilled", **kwargs)
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.temperature = temperature
        self.weight = weight
        self.label_smoothing = label_smoothing
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, images: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        return self.student(images, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        teacher_logits = self.teacher(x, training=False)
        loss = distillation_loss(
            y,
            y_pred,
            teacher_logits,
            temperature=self.temperature,
            weight=self.weight,
            label_smoothing=self.label_smoothing,
        )
        if self.student.losses:  # weight regularisers, if a builder adds any
            loss += tf.add_n(self.student.losses)
        self.loss_tracker.update_state(loss)
        return loss


def load_teacher(path: str) -> keras.Model:
    """A teacher from a SavedModel directory (e.g. another Trainer's serving model).

    Raises ValueError naming the path when it holds no loadable Keras model.
    """
    if not tf.io.gfile.exists(path):
        raise ValueError(
            f"train.distillation.teacher: no SavedModel at {path!r}; give a model directory."
        )
    # The Trainer's exports keep no per-layer traces: Keras rebuilds the model from the
    # layers' configs, which needs the project's layers registered.
    import models.layers  # noqa: F401

    return keras.models.load_model(path, compile=False)
