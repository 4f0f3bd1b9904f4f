"""Every registered model builds, matches reference sizes, round-trips through saving and learns."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from models.registry import build_model, list_models

NUM_CLASSES = 10


def _small_input_shape(name: str) -> tuple[int, int, int]:
    small = name == "simple_cnn" or name.endswith(("_tiny", "_cifar"))
    return (32, 32, 3) if small else (64, 64, 3)


def _images(n: int, shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype("float32")


@pytest.mark.parametrize("name", list_models())
def test_registered_model_builds_and_outputs_logits(name):
    shape = _small_input_shape(name)
    model = build_model(name, input_shape=shape, num_classes=NUM_CLASSES)
    assert model.name == name
    assert model.input_names == ["image"]
    assert model.layers[-1].name == "logits"
    assert model.layers[-1].activation is keras.activations.linear
    assert model(_images(2, shape), training=False).shape == (2, NUM_CLASSES)


def test_unknown_name_lists_known_models():
    with pytest.raises(ValueError, match="vt_resnet_tiny"):
        build_model("resnet9000", input_shape=(32, 32, 3), num_classes=NUM_CLASSES)


def test_overrides_change_builder_arguments():
    model = build_model(
        "vt_resnet_tiny", input_shape=(32, 32, 3), num_classes=NUM_CLASSES, num_tokens=8
    )
    assert model.get_layer("vt1").num_tokens == 8
    assert model.get_layer("vt2").recurrent
    assert model.get_layer("token_pool").input_shape == (None, 8, 160)


@pytest.mark.parametrize(
    "name, torchvision_params", [("resnet18", 11_689_512), ("resnet50", 25_557_032)]
)
def test_resnet_param_count_matches_torchvision(name, torchvision_params):
    model = build_model(name, input_shape=(224, 224, 3), num_classes=1000)
    # torchvision counts BN running statistics as buffers, Keras as non-trainable weights.
    params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert params == pytest.approx(torchvision_params, rel=0.01)


@pytest.mark.parametrize("filename", ["saved_model", "model.keras"])
def test_vt_resnet_tiny_save_load_round_trip(tmp_path, filename):
    model = build_model("vt_resnet_tiny", input_shape=(32, 32, 3), num_classes=NUM_CLASSES)
    images = _images(4, (32, 32, 3))
    expected = model(images, training=False)

    path = str(tmp_path / filename)
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(restored(images, training=False), expected)


@pytest.mark.parametrize("name", ["resnet_tiny", "vt_resnet_tiny"])
def test_tiny_model_overfits_random_labels(name):
    keras.utils.set_random_seed(0)
    images = _images(32, (32, 32, 3))
    labels = np.random.default_rng(1).integers(0, NUM_CLASSES, size=32)
    model = build_model(name, input_shape=(32, 32, 3), num_classes=NUM_CLASSES)
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    # Up to 300 full-batch steps; accuracy is measured in inference mode (BN moving stats).
    for _ in range(12):
        model.fit(images, labels, batch_size=32, epochs=25, verbose=0)
        accuracy = model.evaluate(images, labels, verbose=0)[1]
        if accuracy > 0.95:
            break
    assert accuracy > 0.95
    assert tf.math.is_finite(model.evaluate(images, labels, verbose=0)[0])
