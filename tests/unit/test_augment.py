"""Augmentation draws: exact crops, repeatable for a seed, different across steps."""

import numpy as np
import tensorflow as tf

from models.training.augment import flip, pad_crop

IMAGES = tf.random.stateless_uniform([6, 8, 8, 3], seed=[0, 1])


def windows(image: np.ndarray, pad: int) -> list[np.ndarray]:
    padded = np.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    size = image.shape[0]
    return [
        padded[a : a + size, b : b + size] for a in range(2 * pad + 1) for b in range(2 * pad + 1)
    ]


def test_pad_crop_copies_an_exact_window_of_the_padded_image():
    cropped = pad_crop(IMAGES, tf.constant([3, 4], tf.int64), pad=2).numpy()
    for image, crop in zip(IMAGES.numpy(), cropped, strict=True):
        assert any(np.array_equal(crop, window) for window in windows(image, 2))


def test_draws_repeat_for_a_seed_and_change_with_the_step():
    seed, next_step = tf.constant([7, 0], tf.int64), tf.constant([7, 1], tf.int64)
    for augment in (lambda x, s: pad_crop(x, s, pad=4), flip):
        np.testing.assert_array_equal(augment(IMAGES, seed), augment(IMAGES, seed))
        assert not np.array_equal(augment(IMAGES, seed), augment(IMAGES, next_step))


def test_flip_mirrors_or_keeps_each_image():
    flipped = flip(IMAGES, tf.constant([1, 2], tf.int64)).numpy()
    for image, out in zip(IMAGES.numpy(), flipped, strict=True):
        assert np.array_equal(out, image) or np.array_equal(out, image[:, ::-1])
