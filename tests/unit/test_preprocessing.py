"""preprocessing_fn run through real tf.Transform (Beam analysis + transform)."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from features import IMAGE_KEY, PROPERTY_BUCKET_KEYS
from models import preprocessing
from tests.fixtures.images import encode


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(6)]


def analyze_and_transform(raw, tmp_path, image_size):
    feature_spec = {
        "image": tf.io.FixedLenFeature([1], tf.string),
        "label": tf.io.FixedLenFeature([1], tf.int64),
    }
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(feature_spec))
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (transformed, _), transform_fn = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing.preprocessing_fn(
                inputs, {"image_size": image_size, "property_buckets": 4}
            ),
            output_record_batches=False,
        )
    return transformed, transform_fn


def test_images_are_normalised_with_training_split_channel_statistics(images, tmp_path):
    raw = [{"image": [encode(px)], "label": [i % 3]} for i, px in enumerate(images)]
    transformed, _ = analyze_and_transform(raw, tmp_path, image_size=8)

    pixels = np.stack(images).astype(np.float32) / 255.0
    mean = pixels.mean(axis=(0, 1, 2))
    std = pixels.std(axis=(0, 1, 2))
    out = np.stack([np.asarray(t["image"]).reshape(8, 8, 3) for t in transformed])
    np.testing.assert_allclose(out, (pixels - mean) / std, atol=1e-4)
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1.0, atol=1e-4)
    assert [int(np.asarray(t["label"]).reshape(-1)[0]) for t in transformed] == [0, 1, 2, 0, 1, 2]


def test_statistics_do_not_depend_on_the_order_of_the_data(tmp_path):
    rng = np.random.default_rng(1)
    pixels = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(40)]
    raw = [{"image": [encode(px)], "label": [0]} for px in pixels]
    order = rng.permutation(len(raw))

    forward, _ = analyze_and_transform(raw, tmp_path / "forward", image_size=8)
    shuffled, _ = analyze_and_transform([raw[i] for i in order], tmp_path / "shuffled", 8)

    # Bit for bit: float sums of the statistics would differ in their last bits.
    forward_images = np.stack([np.asarray(t["image"]) for t in forward])
    shuffled_images = np.stack([np.asarray(t["image"]) for t in shuffled])
    np.testing.assert_array_equal(forward_images[order], shuffled_images)


def test_jpeg_grey_and_odd_sizes_are_decoded_to_rgb_at_the_model_size(tmp_path):
    grey = np.full((20, 10), 128, dtype=np.uint8)
    colour = np.zeros((5, 7, 3), dtype=np.uint8)
    raw = [
        {"image": [encode(grey, "JPEG")], "label": [0]},
        {"image": [encode(colour)], "label": [1]},
    ]
    transformed, _ = analyze_and_transform(raw, tmp_path, image_size=16)
    for example in transformed:
        assert np.asarray(example["image"]).size == 16 * 16 * 3


def test_transform_graph_applies_the_same_statistics_at_serving_time(images, tmp_path):
    raw = [{"image": [encode(px)], "label": [0]} for px in images]
    transformed, transform_fn = analyze_and_transform(raw, tmp_path / "tmp", image_size=8)
    output_dir = str(tmp_path / "transform_fn")
    _ = transform_fn | tft_beam.WriteTransformFn(output_dir)

    layer = tft.TFTransformOutput(output_dir).transform_features_layer()
    served = layer({"image": tf.constant([[encode(images[0])]])})
    assert set(served) == {IMAGE_KEY, *PROPERTY_BUCKET_KEYS}, (
        "a serving request without a label must still transform"
    )
    np.testing.assert_allclose(
        served["image"].numpy().reshape(8, 8, 3),
        np.asarray(transformed[0]["image"]).reshape(8, 8, 3),
        atol=1e-5,
    )


def test_brightness_and_contrast_are_bucketed_into_training_split_quartiles(tmp_path):
    # Eight flat grey images of rising brightness (no contrast), then eight of rising contrast.
    levels = np.linspace(10, 240, 8).astype(np.uint8)
    flat = [np.full((8, 8, 3), level, dtype=np.uint8) for level in levels]
    checker = (np.indices((8, 8)).sum(axis=0) % 2).astype(bool)
    striped = [
        np.where(checker[..., None], 128 + d, 128 - d).astype(np.uint8).repeat(3, axis=2)
        for d in np.linspace(5, 120, 8).astype(int)
    ]
    raw = [{"image": [encode(px)], "label": [0]} for px in flat + striped]
    transformed, _ = analyze_and_transform(raw, tmp_path, image_size=8)

    def buckets(key, examples):
        return [int(np.asarray(t[key]).reshape(-1)[0]) for t in examples]

    brightness = buckets("brightness_bucket", transformed[:8])
    assert brightness == sorted(brightness) and brightness[0] == 0 and brightness[-1] == 3
    contrast = buckets("contrast_bucket", transformed)
    # Flat images tie at zero contrast: one bucket, the lowest of all.
    assert set(contrast[:8]) == {min(contrast)}
    assert contrast[8:] == sorted(contrast[8:]) and contrast[-1] == 3
    assert set(buckets("brightness_bucket", transformed) + contrast) <= {0, 1, 2, 3}


def test_property_buckets_follow_the_configured_count(images, tmp_path):
    raw = [{"image": [encode(px)], "label": [0]} for px in images]
    feature_spec = {
        "image": tf.io.FixedLenFeature([1], tf.string),
        "label": tf.io.FixedLenFeature([1], tf.int64),
    }
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(feature_spec))
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (transformed, _), _ = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing.preprocessing_fn(
                inputs, {"image_size": 8, "property_buckets": 2}
            ),
            output_record_batches=False,
        )
    values = {int(np.asarray(t["brightness_bucket"]).reshape(-1)[0]) for t in transformed}
    assert values == {0, 1}
