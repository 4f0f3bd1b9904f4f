"""The exported SavedModel's serving contract and the `predict` command that uses it.

A real Transform graph (tf.Transform on a few images) and a real tiny model are exported with
the Trainer's `export_serving_model`; no TFX pipeline run is needed for these checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

import pipeline_runner
from models import preprocessing, registry
from models.signatures import EXAMPLES_SIGNATURE, OUTPUT_KEYS, RAW_BYTES_SIGNATURE
from models.training.distillation import load_teacher
from models.training.export import export_serving_model
from tests.fixtures.images import encode

CLASS_NAMES = ["red", "green", "blue"]
COLOURS = np.array([[220, 20, 20], [20, 220, 20], [20, 20, 220]], dtype=np.uint8)


def solid(label: int, size: int = 16) -> np.ndarray:
    return np.broadcast_to(COLOURS[label], (size, size, 3)).copy()


@pytest.fixture(scope="module")
def transform_output(tmp_path_factory):
    """A real Transform graph (16x16 images) and the raw metadata, as the Transform writes them."""
    import tensorflow_transform as tft

    root = tmp_path_factory.mktemp("transform")
    feature_spec = {
        "image": tf.io.FixedLenFeature([1], tf.string),
        "label": tf.io.FixedLenFeature([1], tf.int64),
    }
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(feature_spec))
    raw = [{"image": [encode(solid(i % 3), "PNG")], "label": [i % 3]} for i in range(6)]
    transform_dir = str(root / "transform")
    with tft_beam.Context(temp_dir=str(root / "tmp")):
        _, transform_fn = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing.preprocessing_fn(
                inputs, {"image_size": 16, "property_buckets": 4}
            ),
            output_record_batches=False,
        )
        _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
    # The Transform component also writes the raw metadata (serving parses with it).
    metadata_io.write_metadata(metadata, str(Path(transform_dir) / "metadata"))
    return tft.TFTransformOutput(transform_dir)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, transform_output) -> Path:
    """A SavedModel exported exactly as the Trainer exports it, with a real Transform graph."""
    model = registry.build_model("simple_cnn", input_shape=(16, 16, 3), num_classes=3)
    export_dir = tmp_path_factory.mktemp("serving") / "model" / "1"
    export_serving_model(model, transform_output, CLASS_NAMES, str(export_dir))
    return export_dir


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("resnet_tiny", {}),
        ("vt_resnet_tiny", {}),
        ("vt_resnet_tiny", {"survival_prob": 0.8, "dropout": 0.1}),
        ("vt_resnet_tiny_prenorm", {"distillation_token": True}),
    ],
)
def test_exported_model_serves_and_reloads_in_keras(transform_output, tmp_path, name, overrides):
    """The export traces without autograph and saves no per-layer traces: the signatures must
    still compute the model, and Keras (a distillation teacher) must rebuild it from configs."""
    model = registry.build_model(name, input_shape=(16, 16, 3), num_classes=3, **overrides)
    export_dir = str(tmp_path / "model")
    export_serving_model(model, transform_output, CLASS_NAMES, export_dir)

    images = [encode(solid(label), "PNG") for label in range(3)]
    transformed = transform_output.transform_features_layer()(
        {"image": tf.constant(images, shape=[3, 1])}
    )["image"]
    expected = tf.nn.softmax(model(transformed, training=False))
    loaded = tf.saved_model.load(export_dir)
    served = loaded.signatures[RAW_BYTES_SIGNATURE]
    # float32 round-off only: the eager call and the saved graph may run other (fused,
    # multi-threaded) kernels; seen up to 2.5e-6 on probabilities near 0.9 (Intel AVX-512).
    same_model = {"rtol": 1e-5, "atol": 1e-5}
    np.testing.assert_allclose(
        served(image_bytes=tf.constant(images))["probabilities"], expected, **same_model
    )
    # What the Evaluator's slice extractor calls.
    features = loaded.transform_features(tf.constant(images, shape=[3, 1]))
    np.testing.assert_allclose(features["image"], transformed, atol=1e-6)
    restored = load_teacher(export_dir)
    np.testing.assert_allclose(
        tf.nn.softmax(restored(transformed, training=False)), expected, **same_model
    )


def test_signatures_match_what_tf_serving_and_tfma_send(model_dir):
    model = tf.saved_model.load(str(model_dir))
    examples = model.signatures[EXAMPLES_SIGNATURE]
    raw_bytes = model.signatures[RAW_BYTES_SIGNATURE]

    [examples_input] = examples.structured_input_signature[1].values()
    assert examples_input.name == "examples" and examples_input.dtype == tf.string
    [bytes_input] = raw_bytes.structured_input_signature[1].values()
    assert bytes_input.name == "image_bytes" and bytes_input.dtype == tf.string
    for signature in (examples, raw_bytes):
        assert set(signature.structured_outputs) == set(OUTPUT_KEYS)

    image = encode(solid(2), "PNG")
    example = tf.train.Example(
        features=tf.train.Features(
            feature={"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))}
        )
    )
    by_example = examples(examples=tf.constant([example.SerializeToString()]))
    by_bytes = raw_bytes(image_bytes=tf.constant([image]))
    np.testing.assert_allclose(by_example["probabilities"], by_bytes["probabilities"], atol=1e-6)
    assert by_bytes["classes"].numpy()[0].decode() in CLASS_NAMES
    assert [n.decode() for n in model.class_names.numpy()] == CLASS_NAMES


def test_predict_prints_top_k_names_for_jpeg_and_png(model_dir, tmp_path, capsys):
    jpeg, png = tmp_path / "a.jpg", tmp_path / "b.png"
    jpeg.write_bytes(encode(solid(0, size=40), "JPEG"))
    png.write_bytes(encode(solid(1, size=8), "PNG"))

    status = pipeline_runner.main(
        ["predict", "--model", str(model_dir), "--top-k", "2", str(jpeg), str(png)]
    )

    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"model: {model_dir}"
    for line, path in zip(lines[1:], (jpeg, png), strict=True):
        name, scores = line.split(": ", 1)
        assert name == str(path)
        fields = scores.split()
        assert len(fields) == 4 and {fields[0], fields[2]} <= set(CLASS_NAMES)
        assert float(fields[1]) >= float(fields[3])


def test_predict_latest_picks_the_highest_numbered_version(model_dir, tmp_path, capsys):
    serving = tmp_path / "serving" / "smoke"
    serving.mkdir(parents=True)
    (serving / "2").symlink_to(model_dir, target_is_directory=True)
    (serving / "10").symlink_to(model_dir, target_is_directory=True)
    (serving / ".tmp-11").mkdir()
    image = tmp_path / "x.png"
    image.write_bytes(encode(solid(2), "PNG"))

    status = pipeline_runner.main(
        ["predict", "--preset=smoke", f"--output-root={tmp_path}", str(image)]
    )

    assert status == 0
    assert capsys.readouterr().out.splitlines()[0] == f"model: {serving / '10'}"


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "not a readable"), (b"GIF89a broken", "not a readable")],
)
def test_predict_rejects_non_images_with_one_line(model_dir, tmp_path, capsys, content, message):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    assert pipeline_runner.main(["predict", "--model", str(model_dir), str(bad)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(bad) in err and err.count("\n") == 1


def test_predict_without_a_pushed_model_says_what_to_do(tmp_path, capsys):
    status = pipeline_runner.main(["predict", f"--output-root={tmp_path}", "x.png"])
    assert status == 2
    assert "no pushed model under" in capsys.readouterr().err
