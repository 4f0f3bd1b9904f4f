"""The export for serving: the trained model behind the Transform graph, two signatures."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from features import IMAGE_KEY
from models.signatures import (
    CLASS_IDS_KEY,
    CLASSES_KEY,
    EXAMPLES_SIGNATURE,
    PROBABILITIES_KEY,
    RAW_BYTES_SIGNATURE,
    SCORES_KEY,
)


def export_serving_model(
    model: keras.Model,
    tf_transform_output: tft.TFTransformOutput,
    class_names: list[str],
    export_dir: str,
) -> None:
    """Saves `model` with two signatures that both apply the Transform graph first.

    serving_default    examples: serialized tf.Example [B] (what TFMA and TF Serving send)
    serving_raw_image  image_bytes: encoded JPEG/PNG [B]
    Both return probabilities [B,K], class_ids [B], classes (names) [B], scores [B].
    After `tf.saved_model.load`, `.transform_features(images [B,1])` runs the Transform graph
    alone and `.class_names` holds the label names.

    The model and the Transform graph are traced once, without autograph (none of their code
    branches on tensors in Python), and Keras' per-layer traces are not saved: the layers are
    registered and rebuilt from their configs by `keras.models.load_model`. That makes the
    export several times faster than tracing twice with autograph and saving every layer's
    call functions (`python -m bench.export`; docs/benchmarks.md).
    """
    model.tft_layer = tf_transform_output.transform_features_layer()
    # Label index -> name, readable after tf.saved_model.load as `.class_names` (for top-k).
    model.class_names = tf.Variable(class_names, trainable=False, name="class_names")
    image_spec = tf_transform_output.raw_feature_spec()[IMAGE_KEY]
    names = tf.constant(class_names)

    @tf.function(
        input_signature=[tf.TensorSpec([None, *image_spec.shape], tf.string)], autograph=False
    )
    def transform_features(raw_images: tf.Tensor) -> dict[str, tf.Tensor]:
        """Every transformed feature that does not need the label (the Evaluator's slices)."""
        return model.tft_layer({IMAGE_KEY: raw_images})

    model.transform_features = transform_features

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    def predict(encoded_images: tf.Tensor) -> dict[str, tf.Tensor]:
        transformed = transform_features(tf.reshape(encoded_images, [-1, *image_spec.shape]))
        probabilities = tf.nn.softmax(model(transformed[IMAGE_KEY], training=False))
        class_ids = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return {
            PROBABILITIES_KEY: probabilities,
            CLASS_IDS_KEY: class_ids,
            CLASSES_KEY: tf.gather(names, class_ids),
            SCORES_KEY: tf.reduce_max(probabilities, axis=-1),
        }

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.string, name="examples")], autograph=False
    )
    def serve_examples(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        parsed = tf.io.parse_example(serialized, {IMAGE_KEY: image_spec})
        return predict(tf.reshape(parsed[IMAGE_KEY], [-1]))

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")], autograph=False
    )
    def serve_raw_images(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        return predict(image_bytes)

    signatures = {EXAMPLES_SIGNATURE: serve_examples, RAW_BYTES_SIGNATURE: serve_raw_images}
    model.save(export_dir, save_format="tf", signatures=signatures, save_traces=False)
