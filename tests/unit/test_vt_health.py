"""VT health numbers, and what they say about a freshly built VT (issue 19, item 2).

Measured on real CIFAR-10 images from the embedded sample, with the layers before the VT
modules in training mode (BatchNorm on batch statistics), as the first training step sees them.
"""

import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from components.image_example_gen import safe_pickle
from models.registry import build_model
from models.vt_health import attention_entropy, mixing_entropy, token_cosine, vt_health

SAMPLE = Path(__file__).resolve().parents[2] / "data/cifar10-sample/cifar-10-batches-py"
NUM_CLASSES = 10
# The small-data VT: LayerNormed tokenizer input, pre-norm, zero-initialised branches and head.
STABLE = {"tokenizer_norm": True, "vt_norm": True, "gain_init": 0.0, "zero_head": True}


@pytest.fixture(scope="module")
def cifar() -> tuple[tf.Tensor, np.ndarray]:
    """128 standardised CIFAR-10 images [128, 32, 32, 3] and their labels."""
    batch = safe_pickle.loads((SAMPLE / "data_batch_1").read_bytes())
    pixels = np.asarray(batch[b"data"][:128], np.float32).reshape(-1, 3, 32, 32) / 255.0
    images = pixels.transpose(0, 2, 3, 1)
    images = (images - images.mean((0, 1, 2))) / images.std((0, 1, 2))
    return tf.constant(images), np.asarray(batch[b"labels"][:128])


def _fresh(overrides: dict) -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_model(
        "vt_resnet_tiny", input_shape=(32, 32, 3), num_classes=NUM_CLASSES, **overrides
    )


def test_token_cosine_is_one_for_identical_tokens_and_zero_for_orthogonal_ones():
    same = tf.ones([2, 4, 8])
    assert token_cosine(same) == pytest.approx(1.0)
    orthogonal = tf.eye(4, batch_shape=[2])
    assert token_cosine(orthogonal) == pytest.approx(0.0)


def test_attention_entropy_is_one_for_a_uniform_pool_and_zero_for_one_pixel():
    uniform = tf.fill([1, 16, 3], 1 / 16)
    assert attention_entropy(uniform) == pytest.approx(1.0)
    one_pixel = tf.one_hot([[0, 5, 9]], 16, axis=1)
    assert attention_entropy(one_pixel) == pytest.approx(0.0, abs=1e-6)


def test_mixing_entropy_is_one_for_uniform_mixing_and_zero_for_one_token():
    assert mixing_entropy(tf.fill([2, 1, 4, 4], 0.25)) == pytest.approx(1.0)
    one_token = tf.one_hot(tf.zeros([2, 1, 4], tf.int32), 4)
    assert mixing_entropy(one_token) == pytest.approx(0.0, abs=1e-6)


def test_a_cnn_has_no_vt_health():
    model = build_model("resnet_tiny", input_shape=(32, 32, 3), num_classes=NUM_CLASSES)
    assert vt_health(model, tf.zeros([2, 32, 32, 3])) == {}


def test_the_paper_vt_starts_with_collapsed_tokens_and_a_high_loss(cifar):
    """What the small-data variant fixes: Wu et al.'s equations on post-ReLU features."""
    images, labels = cifar
    model = _fresh({})
    health = vt_health(model, images, training=True)
    assert health["vt2_token_cosine"] > 0.99
    assert health["vt1_map_update"] > 1.0  # the projector's update outweighs the map
    loss = keras.losses.sparse_categorical_crossentropy(
        labels, model(images, training=True), from_logits=True
    )
    assert float(tf.reduce_mean(loss)) > math.log(NUM_CLASSES) + 2


def test_a_fresh_stable_vt_has_distinct_tokens(cifar):
    images, _ = cifar
    health = vt_health(_fresh(STABLE), images, training=True)
    assert health["vt1_token_cosine"] < 0.8
    assert health["vt2_token_cosine"] < 0.8  # the tokens the head reads


def test_a_fresh_stable_vt_starts_at_chance_loss(cifar):
    images, labels = cifar
    logits = _fresh(STABLE)(images, training=True)
    loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    assert abs(float(tf.reduce_mean(loss)) - math.log(NUM_CLASSES)) < 0.5


@pytest.mark.parametrize("gain_init", [0.0, 0.1])
def test_a_fresh_stable_vt_updates_start_small(cifar, gain_init):
    images, _ = cifar
    health = vt_health(_fresh({**STABLE, "gain_init": gain_init}), images, training=True)
    updates = {k: v for k, v in health.items() if k.endswith("_update")}
    assert set(updates) == {"vt1_token_update", "vt1_map_update", "vt2_token_update"}
    # The paper's modules start with updates 1.3-2 times what they update.
    assert all(v <= gain_init * 5 for v in updates.values()), updates
