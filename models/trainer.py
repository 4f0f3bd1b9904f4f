"""Trainer module shared by every model: `run_fn` (TFX Trainer entry point) and its parts.

`run_fn` reads everything from `fn_args` (files, Transform output, serving dir) and from
`fn_args.custom_config`, a JSON-able dict made by `trainer_custom_config`:

    model            registered model name (models/registry.py)
    model_overrides  builder keyword arguments
    train            TrainConfig fields (epochs, batch_size, learning_rate, seed, ...)
    image_size       side of the square images Transform produces
    class_names      label index -> human-readable name, exported with the model

Augmentation (random flip + pad-and-crop) runs in the tf.data input pipeline, so every epoch
sees new draws; the draws are stateless functions of (seed, step), so a run is repeatable.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
import tensorflow_transform as tft  # noqa: E402
import tf_keras as keras  # noqa: E402
from absl import logging  # noqa: E402
from tfx import v1 as tfx  # noqa: E402
from tfx_bsl.public import tfxio  # noqa: E402

from models import registry  # noqa: E402
from models.preprocessing import IMAGE_KEY, LABEL_KEY  # noqa: E402
from models.signatures import EXAMPLES_SIGNATURE, RAW_BYTES_SIGNATURE  # noqa: E402

HISTORY_FILE = "history.json"


def trainer_custom_config(
    *,
    model: str,
    model_overrides: dict[str, Any],
    train: dict[str, Any],
    image_size: int,
    class_names: list[str],
) -> dict[str, Any]:
    """The `custom_config` dict `run_fn` expects (one place that knows its keys)."""
    return {
        "model": model,
        "model_overrides": dict(model_overrides),
        "train": dict(train),
        "image_size": int(image_size),
        "class_names": list(class_names),
    }


def augment(images: tf.Tensor, seed: tf.Tensor, pad: int) -> tf.Tensor:
    """Random horizontal flip and pad-and-crop of a batch [B, H, W, C], one draw per image.

    `seed` is a stateless seed (shape [2]); the same seed gives the same batch.
    """
    seeds = tf.random.experimental.stateless_split(seed, num=tf.shape(images)[0])
    size = tf.shape(images)[1:]
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])

    def augment_one(args: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        image, image_seed = args
        flip_seed, crop_seed = tf.unstack(tf.random.experimental.stateless_split(image_seed, 2))
        image = tf.image.stateless_random_flip_left_right(image, flip_seed)
        return tf.image.stateless_random_crop(image, size, crop_seed)

    return tf.map_fn(augment_one, (padded, seeds), fn_output_signature=images.dtype)


def input_fn(
    file_pattern: list[str],
    data_accessor: tfx.components.DataAccessor,
    tf_transform_output: tft.TFTransformOutput,
    *,
    batch_size: int,
    training: bool,
    augment_pad: int | None,
    seed: int,
) -> tf.data.Dataset:
    """Batches of (transformed image [B,S,S,3], label [B]).

    Training data repeats forever (Keras' `steps_per_epoch` marks the epochs), is shuffled,
    and is augmented when `augment_pad` is set; evaluation data is one ordered pass.
    """
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=batch_size,
            shuffle=training,
            shuffle_seed=seed,
            num_epochs=None if training else 1,
        ),
        tf_transform_output.transformed_metadata.schema,
    )
    dataset = dataset.map(lambda f: (f[IMAGE_KEY], tf.reshape(f[LABEL_KEY], [-1])))
    if training and augment_pad is not None:
        step_seeds = tf.data.Dataset.counter().map(lambda step: tf.stack([seed, step]))
        dataset = tf.data.Dataset.zip((dataset, step_seeds)).map(
            lambda batch, step_seed: (augment(batch[0], step_seed, augment_pad), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def count_records(file_pattern: list[str]) -> int:
    """Number of examples in gzipped TFRecord files (one pass, no parsing)."""
    files = [f for pattern in file_pattern for f in tf.io.gfile.glob(pattern)]
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak` over `warmup_steps`, then cosine decay to 0."""

    def __init__(self, peak: float, warmup_steps: int, total_steps: int):
        super().__init__()
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = self.peak * step / max(self.warmup_steps, 1)
        progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
        cosine = 0.5 * self.peak * (1.0 + tf.cos(math.pi * tf.clip_by_value(progress, 0.0, 1.0)))
        return tf.where(step < self.warmup_steps, warmup, cosine)

    def get_config(self) -> dict[str, Any]:
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
        }


class EpochLog(keras.callbacks.Callback):
    """Logs one line per epoch (metrics, images/s) and keeps the history for learning curves."""

    def __init__(self, model_name: str, images_per_epoch: int, history_path: str):
        super().__init__()
        self.model_name = model_name
        self.images_per_epoch = images_per_epoch
        self.history_path = history_path
        self.history: list[dict[str, float]] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        row = {"epoch": epoch + 1, "seconds": seconds, **{k: float(v) for k, v in logs.items()}}
        row["images_per_second"] = self.images_per_epoch / seconds
        self.history.append(row)
        with tf.io.gfile.GFile(self.history_path, "w") as f:
            json.dump(self.history, f, indent=1)
        metrics = " ".join(f"{k}={v:.4f}" for k, v in sorted(logs.items()) if k != "lr")
        logging.info(
            "[%s] epoch %d: %s (%.0f images/s)",
            self.model_name,
            epoch + 1,
            metrics,
            row["images_per_second"],
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
    """
    model.tft_layer = tf_transform_output.transform_features_layer()
    # Label index -> name, readable after tf.saved_model.load as `.class_names` (for top-k).
    model.class_names = tf.Variable(class_names, trainable=False, name="class_names")
    image_spec = tf_transform_output.raw_feature_spec()[IMAGE_KEY]
    names = tf.constant(class_names)

    def predict(encoded_images: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = {IMAGE_KEY: tf.reshape(encoded_images, [-1, *image_spec.shape])}
        transformed = model.tft_layer(raw)
        probabilities = tf.nn.softmax(model(transformed[IMAGE_KEY], training=False))
        class_ids = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return {
            "probabilities": probabilities,
            "class_ids": class_ids,
            "classes": tf.gather(names, class_ids),
            "scores": tf.reduce_max(probabilities, axis=-1),
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        parsed = tf.io.parse_example(serialized, {IMAGE_KEY: image_spec})
        return predict(parsed[IMAGE_KEY])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_raw_images(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        return predict(image_bytes)

    signatures = {EXAMPLES_SIGNATURE: serve_examples, RAW_BYTES_SIGNATURE: serve_raw_images}
    model.save(export_dir, save_format="tf", signatures=signatures)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """TFX Trainer entry point: train the configured model and export it for serving."""
    config = fn_args.custom_config
    train = config["train"]
    class_names = config["class_names"]
    image_size = config["image_size"]
    keras.utils.set_random_seed(train["seed"])
    tf.config.experimental.enable_op_determinism()

    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    model = registry.build_model(
        config["model"],
        input_shape=(image_size, image_size, 3),
        num_classes=len(class_names),
        **config["model_overrides"],
    )
    epochs = train["epochs"]
    if epochs > 0:
        num_train = count_records(fn_args.train_files)
        steps_per_epoch = train["steps_per_epoch"] or math.ceil(num_train / train["batch_size"])
        _fit(model, fn_args, tf_transform_output, train, steps_per_epoch, config["model"])
    else:
        logging.info("[%s] epochs=0: exporting the untrained model", config["model"])
    export_serving_model(model, tf_transform_output, class_names, fn_args.serving_model_dir)


def _fit(
    model: keras.Model,
    fn_args: tfx.components.FnArgs,
    tf_transform_output: tft.TFTransformOutput,
    train: dict[str, Any],
    steps_per_epoch: int,
    model_name: str,
) -> None:
    batch_size = train["batch_size"]
    train_ds, eval_ds = (
        input_fn(
            files,
            fn_args.data_accessor,
            tf_transform_output,
            batch_size=batch_size,
            training=training,
            augment_pad=train["pad"] if training and train["augment"] else None,
            seed=train["seed"],
        )
        for files, training in ((fn_args.train_files, True), (fn_args.eval_files, False))
    )
    schedule = WarmupCosine(
        peak=train["learning_rate"],
        warmup_steps=train["warmup_epochs"] * steps_per_epoch,
        total_steps=train["epochs"] * steps_per_epoch,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=schedule, weight_decay=train["weight_decay"]
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    epoch_log = EpochLog(
        model_name,
        images_per_epoch=steps_per_epoch * batch_size,
        history_path=os.path.join(fn_args.model_run_dir, HISTORY_FILE),
    )
    model.fit(
        train_ds,
        epochs=train["epochs"],
        steps_per_epoch=steps_per_epoch,
        validation_data=eval_ds,
        callbacks=[epoch_log, keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)],
        verbose=0,
    )
