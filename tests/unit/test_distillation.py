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


def test_hard_distillation_learns_the_teachers_top_class():
    labels = tf.one_hot([0, 1], 3)
    student = tf.constant([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    teacher = tf.constant([[0.0, 5.0, 0.0], [0.0, 0.0, 1.0]])  # top classes 1 and 2
    loss = distillation_loss(labels, student, teacher, temperature=4.0, weight=1.0, hard=True)
    expected = keras.losses.categorical_crossentropy(
        tf.one_hot([1, 2], 3), student, from_logits=True
    )
    assert float(loss) == pytest.approx(float(tf.reduce_mean(expected)), rel=1e-6)


def test_a_distillation_head_learns_the_teacher_and_the_class_head_the_labels():
    labels = tf.one_hot([0, 2], 3)
    class_logits = tf.constant([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    head = tf.constant([[0.1, 0.2, 0.3], [1.0, -1.0, 0.0]])
    teacher = tf.constant([[1.0, 1.0, 0.0], [-1.0, 0.0, 2.0]])
    options = {"temperature": 2.0, "weight": 0.5}
    loss = distillation_loss(labels, class_logits, teacher, distillation_logits=head, **options)
    soft = distillation_loss(labels, head, teacher, **{**options, "weight": 1.0})
    hard = distillation_loss(labels, class_logits, teacher, **{**options, "weight": 0.0})
    assert float(loss) == pytest.approx(0.5 * float(soft) + 0.5 * float(hard), rel=1e-6)


def _token_student():
    from models import registry

    return registry.build_model(
        "vt_resnet_tiny_prenorm",
        input_shape=(32, 32, 3),
        num_classes=3,
        distillation_token=True,
        widths=(4, 8, 8, 8),
        token_channels=8,
    )


def test_a_vt_answers_with_its_two_heads_averaged_probabilities():
    from models.vt_resnet import distillation_heads

    student = _token_student()
    images = tf.random.stateless_normal([4, 32, 32, 3], seed=[0, 1])
    class_logits, distillation_logits = distillation_heads(student)(images)
    averaged = (tf.nn.softmax(class_logits) + tf.nn.softmax(distillation_logits)) / 2
    np.testing.assert_allclose(tf.nn.softmax(student(images)), averaged, atol=1e-6)


def test_the_distillation_token_learns_from_the_teacher_and_both_heads_are_logged():
    student = _token_student()
    teacher_inputs = keras.Input((32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(teacher_inputs)
    teacher = keras.Model(teacher_inputs, keras.layers.Dense(3)(pooled), name="teacher")
    teacher_weights = [w.numpy() for w in teacher.weights]
    token = student.get_layer("vt1").new_token.token
    head = student.get_layer("distillation_logits").kernel
    token_before, head_before = token.numpy(), head.numpy()
    distiller = Distiller(student, teacher, temperature=1.0, weight=0.5, hard=True)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    images = tf.random.stateless_normal([16, 32, 32, 3], seed=[0, 2])
    labels = tf.one_hot(np.arange(16) % 3, 3)
    logs = distiller.fit(images, labels, epochs=2, batch_size=8, verbose=0).history
    assert {"loss", "accuracy", "class_accuracy", "distillation_accuracy"} <= set(logs)
    # The teacher's term reaches the token and its head; the teacher itself stays frozen.
    assert not np.array_equal(token.numpy(), token_before)
    assert not np.array_equal(head.numpy(), head_before)
    for before, after in zip(teacher_weights, teacher.weights, strict=True):
        np.testing.assert_array_equal(before, after.numpy())
