"""Distillation loss math and the Distiller's training step."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from models.training.distillation import Distiller, distillation_loss


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_loss_matches_hand_computation():
    labels = np.eye(3, dtype="float32")[[0, 2]]
    student = np.array([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]], "float32")
    teacher = np.array([[1.0, 1.0, 0.0], [-1.0, 0.0, 2.0]], "float32")
    t, w = 2.0, 0.8
    p_t, p_s = _softmax(teacher / t), _softmax(student / t)
    kl = (p_t * np.log(p_t / p_s)).sum(-1)
    ce = -(labels * np.log(_softmax(student))).sum(-1)
    expected = np.mean(w * t**2 * kl + (1 - w) * ce)
    loss = distillation_loss(labels, student, teacher, temperature=t, weight=w)
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_student_equal_to_teacher_leaves_only_cross_entropy():
    labels = tf.one_hot([1], 4)
    logits = tf.constant([[0.3, 2.0, -1.0, 0.0]])
    loss = distillation_loss(labels, logits, logits, temperature=4.0, weight=0.8)
    ce = keras.losses.categorical_crossentropy(labels, logits, from_logits=True)
    assert float(loss) == pytest.approx(0.2 * float(ce[0]), rel=1e-5)


def test_distiller_trains_student_only():
    def mlp(name):
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Dense(3)(inputs), name=name)

    student, teacher = mlp("student"), mlp("teacher")
    teacher_weights = [w.numpy() for w in teacher.weights]
    distiller = Distiller(student, teacher, temperature=2.0, weight=0.8)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), metrics=["accuracy"])
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = tf.one_hot(np.arange(16) % 3, 3)
    losses = distiller.fit(x, y, epochs=5, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    for before, after in zip(teacher_weights, teacher.weights, strict=True):
        np.testing.assert_array_equal(before, after.numpy())
