"""Knowledge distillation: on the student's logits (Hinton et al. 2015, as Wu et al. 2020 use
for VT-ResNets) or through its distillation token (DeiT, Touvron et al. 2021).

loss = w * teacher_term + (1 - w) * CE(labels, class logits)

teacher_term is T^2 * KL(softmax(teacher / T) || softmax(student / T)) (soft; the T^2 factor
keeps its gradients at the scale of the hard term's when T changes) or CE(argmax teacher,
student) (hard, DeiT's best). It is on the class logits, or on the distillation head's logits
for a VT built with a distillation token; the paper's logit distillation has w = 0.8, DeiT's
token w = 0.5.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from models.layers.averaged_probabilities import average_probabilities
from models.vt_resnet import distillation_heads


def teacher_term(
    teacher_logits: tf.Tensor, student_logits: tf.Tensor, *, temperature: float, hard: bool
) -> tf.Tensor:
    """Per example [B]: how far the student is from the teacher (logits [B, K] both)."""
    if hard:
        teacher_labels = tf.one_hot(tf.argmax(teacher_logits, axis=-1), teacher_logits.shape[-1])
        return keras.losses.categorical_crossentropy(
            teacher_labels, student_logits, from_logits=True
        )
    teacher_log = tf.nn.log_softmax(teacher_logits / temperature)
    student_log = tf.nn.log_softmax(student_logits / temperature)
    kl = tf.reduce_sum(tf.exp(teacher_log) * (teacher_log - student_log), axis=-1)
    return temperature**2 * kl


def distillation_loss(
    labels: tf.Tensor,
    student_logits: tf.Tensor,
    teacher_logits: tf.Tensor,
    *,
    temperature: float,
    weight: float,
    hard: bool = False,
    label_smoothing: float = 0.0,
    distillation_logits: tf.Tensor | None = None,
) -> tf.Tensor:
    """Mean over the batch: labels one-hot [B, K], logits [B, K] -> scalar.

    `distillation_logits` (a distillation head's) learn from the teacher in place of
    `student_logits`, which then learn from the labels only.
    """
    learner = student_logits if distillation_logits is None else distillation_logits
    soft = teacher_term(teacher_logits, learner, temperature=temperature, hard=hard)
    labelled = keras.losses.categorical_crossentropy(
        labels, student_logits, from_logits=True, label_smoothing=label_smoothing
    )
    return tf.reduce_mean(weight * soft + (1.0 - weight) * labelled)


class Distiller(keras.Model):
    """Trains `student` against the labels and a frozen `teacher`; calls are the student's.

    A student with a distillation token (`models.vt_resnet.distillation_heads`) learns from the
    teacher through its distillation head; its calls here give both heads' logits, and the
    metrics score their averaged probabilities (what the student answers) and log each head's
    accuracy ("class_accuracy", "distillation_accuracy").

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
        hard: bool = False,
        label_smoothing: float = 0.0,
        **kwargs,
    ):
        super().__init__(name=f"{student.name}_distilled", **kwargs)
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.heads = distillation_heads(student)
        self.temperature = temperature
        self.weight = weight
        self.hard = hard
        self.label_smoothing = label_smoothing
        self.loss_tracker = keras.metrics.Mean(name="loss")
        if self.heads is not None:
            self.class_accuracy = keras.metrics.CategoricalAccuracy(name="class_accuracy")
            self.distillation_accuracy = keras.metrics.CategoricalAccuracy(
                name="distillation_accuracy"
            )

    def call(self, images: tf.Tensor, training: bool | None = None):
        if self.heads is not None:
            return self.heads(images, training=training)
        return self.student(images, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        teacher_logits = self.teacher(x, training=False)
        student_logits, distillation_logits = y_pred if self.heads else (y_pred, None)
        loss = distillation_loss(
            y,
            student_logits,
            teacher_logits,
            temperature=self.temperature,
            weight=self.weight,
            hard=self.hard,
            label_smoothing=self.label_smoothing,
            distillation_logits=distillation_logits,
        )
        if self.student.losses:  # weight regularisers, if a builder adds any
            loss += tf.add_n(self.student.losses)
        self.loss_tracker.update_state(loss)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight):
        if self.heads is not None:
            class_logits, distillation_logits = y_pred
            self.class_accuracy.update_state(y, class_logits, sample_weight)
            self.distillation_accuracy.update_state(y, distillation_logits, sample_weight)
            y_pred = average_probabilities([class_logits, distillation_logits])
        return super().compute_metrics(x, y, y_pred, sample_weight)


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
