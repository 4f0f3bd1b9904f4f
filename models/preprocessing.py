"""Transform's module: decode, resize and normalise images (`preprocessing_fn`).

Runs once over the data in Beam (TFX Transform) and again, as the same graph, inside every
exported model, so serving sees exactly the training-time preprocessing. The per-channel mean
and standard deviation are computed over the training split by tft analyzers.

Raw features in:  image (encoded PNG/JPEG bytes, [B, 1]), label (int64, [B, 1]).
Features out:     image (float32 [B, S, S, 3], zero mean and unit variance per channel),
                  label (int64 [B]),
                  brightness_bucket, contrast_bucket (int64 [B], 0 .. N-1): the quantile
                  bucket of the image's mean / standard deviation of grey intensity, with
                  boundaries computed over the training split (N = `property_buckets`).

The property buckets are for slicing the evaluation only (TFMA computes them with the Transform
graph inside the model); the models see `image`, and a serving request carries only `image`.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from features import BRIGHTNESS_BUCKET_KEY, CONTRAST_BUCKET_KEY, IMAGE_KEY, LABEL_KEY


def decode_and_resize(encoded: tf.Tensor, image_size: int) -> tf.Tensor:
    """Decodes a batch of encoded images to float32 [B, S, S, 3] in [0, 1].

    Grey images are expanded to three channels; any size is resized (bilinear) to S x S.
    """

    def decode_one(data: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
        image = tf.image.convert_image_dtype(image, tf.float32)
        image = tf.image.resize(image, [image_size, image_size])
        return tf.ensure_shape(image, [image_size, image_size, 3])

    return tf.map_fn(
        decode_one,
        tf.reshape(encoded, [-1]),
        fn_output_signature=tf.TensorSpec([image_size, image_size, 3], tf.float32),
    )


def normalize_channels(images: tf.Tensor) -> tf.Tensor:
    """Standardises each channel with its mean and deviation over the whole training split.

    The statistics are exact: integer sums of the 8-bit levels of the pixels (0..255; images
    resized from another size are rounded to the nearest level for the statistics only) and of
    their squares, which do not depend on the order in which Beam combines the batches. Float
    sums would, in their last bits, and those bits change what a seeded training learns: with
    exact sums the same data gives the same Transform output and the same models.
    """
    levels = tf.cast(tf.round(images * 255.0), tf.int64)
    level_sum = tft.sum(tf.reduce_sum(levels, axis=[1, 2]), reduce_instance_dims=False)
    square_sum = tft.sum(tf.reduce_sum(tf.square(levels), axis=[1, 2]), reduce_instance_dims=False)
    pixels = tf.cast(tft.size(levels[..., 0]), tf.float64)
    mean = tf.cast(level_sum, tf.float64) / pixels
    variance = tf.cast(square_sum, tf.float64) / pixels - tf.square(mean)
    std = tf.sqrt(tf.maximum(variance, 1e-6)) / 255.0
    return (images - tf.cast(mean / 255.0, tf.float32)) / tf.cast(std, tf.float32)


def image_properties(images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Brightness and contrast of [B, S, S, 3] images in [0, 1]: the mean and the standard
    deviation of grey intensity (ITU-R BT.601 luma), each float32 [B] in [0, 1]."""
    grey = tf.image.rgb_to_grayscale(images)
    return tf.reduce_mean(grey, axis=[1, 2, 3]), tf.math.reduce_std(grey, axis=[1, 2, 3])


def preprocessing_fn(
    inputs: dict[str, tf.Tensor], custom_config: dict[str, Any]
) -> dict[str, tf.Tensor]:
    """TFX Transform entry point. `custom_config` sets `image_size` and `property_buckets`
    (the pipeline passes `DataConfig.image_size` and `EvaluationConfig.property_buckets`)."""
    image_size = int(custom_config["image_size"])
    num_buckets = int(custom_config["property_buckets"])
    images = decode_and_resize(inputs[IMAGE_KEY], image_size)
    brightness, contrast = image_properties(images)
    return {
        IMAGE_KEY: normalize_channels(images),
        LABEL_KEY: tf.reshape(inputs[LABEL_KEY], [-1]),
        BRIGHTNESS_BUCKET_KEY: tft.bucketize(brightness, num_buckets, name="brightness"),
        CONTRAST_BUCKET_KEY: tft.bucketize(contrast, num_buckets, name="contrast"),
    }
