"""Training-time augmentation on batches of transformed (normalised) images, in tf.data.

Every function is stateless: its draws are a function of `seed` (shape [2], e.g. (run seed,
step)), so a run is repeatable and a resumed run sees the draws of an uninterrupted one.
Images are [B, H, W, C] float tensors as Transform outputs them (per-channel normalised).
"""

from __future__ import annotations

import math

import tensorflow as tf

from models.training.recipe import AugmentConfig

_RANDAUGMENT_OPS = ("identity", "rotate", "shear_x", "shear_y", "translate_x", "translate_y")
_RANDAUGMENT_OPS += ("brightness", "contrast")


def _split(seed: tf.Tensor, num: int) -> list[tf.Tensor]:
    return tf.unstack(tf.random.experimental.stateless_split(seed, num))


def flip(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Horizontal flip of each image with probability 1/2."""
    coins = tf.random.stateless_uniform([tf.shape(images)[0], 1, 1, 1], seed) < 0.5
    return tf.where(coins, tf.reverse(images, axis=[2]), images)


def pad_crop(images: tf.Tensor, seed: tf.Tensor, pad: int) -> tf.Tensor:
    """Zero-pads `pad` pixels on each side and crops back to [H, W] at a random offset.

    An exact pixel copy: rows, then columns, are gathered at each image's own offset.
    """
    batch, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    offsets = tf.random.stateless_uniform([batch, 2], seed, 0, 2 * pad + 1, dtype=tf.int32)
    rows = offsets[:, :1] + tf.range(height)[None, :]  # [B, H]
    cols = offsets[:, 1:] + tf.range(width)[None, :]  # [B, W]
    cropped = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(cropped, cols, axis=2, batch_dims=1)


def random_resized_crop(
    images: tf.Tensor,
    seed: tf.Tensor,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tf.Tensor:
    """Inception-style crop: a box of `scale` of the area and `ratio` aspect, resized back."""
    batch, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    area_seed, ratio_seed, y_seed, x_seed = _split(seed, 4)
    area = tf.random.stateless_uniform([batch], area_seed, *scale)
    log_ratio = tf.random.stateless_uniform(
        [batch], ratio_seed, math.log(ratio[0]), math.log(ratio[1])
    )
    aspect = tf.exp(log_ratio)  # box width / height, in pixels
    box_h = tf.minimum(tf.sqrt(area / aspect * width / height), 1.0)
    box_w = tf.minimum(tf.sqrt(area * aspect * height / width), 1.0)
    y0 = tf.random.stateless_uniform([batch], y_seed) * (1.0 - box_h)
    x0 = tf.random.stateless_uniform([batch], x_seed) * (1.0 - box_w)
    boxes = tf.stack([y0, x0, y0 + box_h, x0 + box_w], axis=1)
    return tf.image.crop_and_resize(images, boxes, tf.range(batch), [height, width])


def rand_augment(
    images: tf.Tensor, seed: tf.Tensor, num_layers: int, magnitude: float
) -> tf.Tensor:
    """RandAugment (Cubuk et al. 2020): `num_layers` ops drawn uniformly per image, each at
    `magnitude` (0..10) with a random sign.

    Only the ops defined on normalised images are used: identity, rotate (30 deg at 10),
    shear x/y (0.3), translate x/y (45% of the side), brightness (shift of 0.9 standard
    deviations) and contrast (factor 1 +- 0.9). Posterize, solarize, equalize, autocontrast
    and colour need 0..255 pixels, which Transform has already normalised away.
    """
    strength = magnitude / 10.0
    batch = tf.shape(images)[0]
    for layer_seed in _split(seed, num_layers):
        op_seed, sign_seed = _split(layer_seed, 2)
        ops = tf.random.stateless_uniform(
            [batch], op_seed, 0, len(_RANDAUGMENT_OPS), dtype=tf.int32
        )
        signs = tf.where(tf.random.stateless_uniform([batch], sign_seed) < 0.5, -1.0, 1.0)
        images = tf.map_fn(
            lambda args: _apply_op(args[0], args[1], args[2] * strength),
            (images, ops, signs),
            fn_output_signature=images.dtype,
        )
    return images


def _apply_op(image: tf.Tensor, op: tf.Tensor, level: tf.Tensor) -> tf.Tensor:
    """One RandAugment op on one image [H, W, C]; level in [-1, 1]."""
    height, width = image.shape[0], image.shape[1]
    angle = level * math.pi / 6
    cos, sin = tf.cos(angle), tf.sin(angle)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    # Output -> input pixel maps [a0, a1, a2, b0, b1, b2]: x_in = a0 x + a1 y + a2, etc.
    affine = {
        "rotate": [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy],
        "shear_x": [1.0, 0.3 * level, -0.3 * level * cy, 0.0, 1.0, 0.0],
        "shear_y": [1.0, 0.0, 0.0, 0.3 * level * cx, 1.0, -0.3 * level * cx],
        "translate_x": [1.0, 0.0, 0.45 * level * width, 0.0, 1.0, 0.0],
        "translate_y": [1.0, 0.0, 0.0, 0.0, 1.0, 0.45 * level * height],
    }
    mean = tf.reduce_mean(image, axis=[0, 1], keepdims=True)
    branches = {
        "identity": lambda: image,
        "brightness": lambda: image + 0.9 * level,
        "contrast": lambda: (image - mean) * (1.0 + 0.9 * level) + mean,
    }
    for name, params in affine.items():
        branches[name] = lambda params=params: _affine(image, params)
    return tf.switch_case(op, [branches[name] for name in _RANDAUGMENT_OPS])


def _affine(image: tf.Tensor, params: list) -> tf.Tensor:
    transform = tf.reshape(tf.stack([tf.cast(p, tf.float32) for p in params] + [0.0, 0.0]), [1, 8])
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis],
        transforms=transform,
        output_shape=tf.shape(image)[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )[0]


def mix_batch(
    images: tf.Tensor,
    labels: tf.Tensor,
    seed: tf.Tensor,
    mixup_alpha: float,
    cutmix_alpha: float,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Mixup (Zhang et al. 2018) or CutMix (Yun et al. 2019) of the batch with its reverse.

    labels are one-hot (or soft) [B, K] and are mixed in the proportion of the images. One
    lambda ~ Beta(alpha, alpha) per batch; with both alphas set, each batch picks one method
    with probability 1/2.
    """
    choice_seed, mixup_seed, cutmix_seed = _split(seed, 3)
    use_cutmix = tf.constant(cutmix_alpha > 0)
    if mixup_alpha > 0 and cutmix_alpha > 0:
        use_cutmix = tf.random.stateless_uniform([], choice_seed) < 0.5
    other_images, other_labels = tf.reverse(images, [0]), tf.reverse(labels, [0])

    def mixup() -> tuple[tf.Tensor, tf.Tensor]:
        lam = _beta(mixup_seed, mixup_alpha)
        return lam * images + (1 - lam) * other_images, lam * labels + (1 - lam) * other_labels

    def cutmix() -> tuple[tf.Tensor, tf.Tensor]:
        mask = _cutmix_mask(tf.shape(images)[1:3], cutmix_seed, cutmix_alpha)
        lam = 1.0 - tf.reduce_mean(mask)  # the area actually kept
        mixed = images * (1 - mask[..., None]) + other_images * mask[..., None]
        return mixed, lam * labels + (1 - lam) * other_labels

    if mixup_alpha <= 0:
        return cutmix()
    if cutmix_alpha <= 0:
        return mixup()
    return tf.cond(use_cutmix, cutmix, mixup)


def _beta(seed: tf.Tensor, alpha: float) -> tf.Tensor:
    """One draw of Beta(alpha, alpha) from two Gamma(alpha) draws."""
    a_seed, b_seed = _split(seed, 2)
    a = tf.random.stateless_gamma([], a_seed, alpha)
    b = tf.random.stateless_gamma([], b_seed, alpha)
    return a / (a + b)


def _cutmix_mask(size: tf.Tensor, seed: tf.Tensor, alpha: float) -> tf.Tensor:
    """[H, W] mask, 1 inside a box of area (1 - lambda) at a random centre (clipped)."""
    lam_seed, y_seed, x_seed = _split(seed, 3)
    cut = tf.sqrt(1.0 - _beta(lam_seed, alpha))
    size_f = tf.cast(size, tf.float32)
    centre_y = tf.random.stateless_uniform([], y_seed) * size_f[0]
    centre_x = tf.random.stateless_uniform([], x_seed) * size_f[1]
    ys = tf.range(size_f[0])[:, None]
    xs = tf.range(size_f[1])[None, :]
    inside_y = tf.abs(ys + 0.5 - centre_y) < cut * size_f[0] / 2
    inside_x = tf.abs(xs + 0.5 - centre_x) < cut * size_f[1] / 2
    return tf.cast(tf.logical_and(inside_y, inside_x), tf.float32)


def augment_batch(
    images: tf.Tensor, labels: tf.Tensor, seed: tf.Tensor, augment: AugmentConfig
) -> tuple[tf.Tensor, tf.Tensor]:
    """The augmentation `augment` asks for: crop, flip, RandAugment, mixup/cutmix.

    images [B, H, W, C], one-hot labels [B, K] -> same shapes.
    """
    crop_seed, flip_seed, randaugment_seed, mix_seed = _split(seed, 4)
    if augment.crop == "resized":
        images = random_resized_crop(images, crop_seed)
    else:
        images = pad_crop(images, crop_seed, augment.pad)
    images = flip(images, flip_seed)
    if augment.randaugment_layers:
        images = rand_augment(
            images, randaugment_seed, augment.randaugment_layers, augment.randaugment_magnitude
        )
    if augment.mixup_alpha > 0 or augment.cutmix_alpha > 0:
        images, labels = mix_batch(
            images, labels, mix_seed, augment.mixup_alpha, augment.cutmix_alpha
        )
    return images, labels
