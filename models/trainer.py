"""Trainer module shared by every model: `run_fn` (TFX Trainer entry point) and its parts.

`run_fn` reads everything from `fn_args` (files, Transform output, serving dir, base model) and
from `fn_args.custom_config`, a JSON-able dict made by `trainer_custom_config`:

    model            registered model name (models/registry.py)
    model_overrides  builder keyword arguments
    train            TrainConfig fields (optimizer, schedule, augmentation, distillation, ...)
    image_size       side of the square images Transform produces
    checkpoint_root  stable directory for epoch checkpoints, or None (no resume)

The class names (label index -> human-readable name, exported with the model; their count
sizes the classifier) are not in that config: the Trainer (`components/trainer`) reads them
at run time from ImageExampleGen's Examples artifact (`dataset_class_names(fn_args)`).

Augmentation (models/augment.py) runs in the tf.data input pipeline, so every epoch sees new
draws; the draws are stateless functions of (seed, step), so a run is repeatable.

Checkpoints and resume: TFX gives every execution a new `model_run_dir`, so a re-run of an
interrupted Trainer could not find its checkpoints there. They live under `checkpoint_root`
(the pipeline passes <pipeline_root>/checkpoints/<component id>) in a sub-directory named by a
hash of the custom config and the input artifacts, so only an identical re-run resumes: it
restores weights, optimizer state (hence the step and the learning rate) and the epoch, and
continues at the next epoch. An epoch is checkpointed once `checkpoint_every_seconds` (a
TrainConfig field) have passed since the last checkpoint. The directory is deleted once
training completes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402
import tensorflow_transform as tft  # noqa: E402
import tf_keras as keras  # noqa: E402
from absl import logging  # noqa: E402
from tfx import v1 as tfx  # noqa: E402
from tfx_bsl.public import tfxio  # noqa: E402

from components.trainer.dataset import dataset_class_names  # noqa: E402
from models import registry  # noqa: E402
from models.augment import augment_batch  # noqa: E402
from models.distillation import Distiller, load_teacher  # noqa: E402
from models.distribute import create_strategy, set_precision  # noqa: E402
from models.preprocessing import IMAGE_KEY, LABEL_KEY  # noqa: E402
from models.schedules import build_schedule  # noqa: E402
from models.signatures import EXAMPLES_SIGNATURE, RAW_BYTES_SIGNATURE  # noqa: E402

HISTORY_FILE = "history.json"
BASELINE_TEACHER = "baseline"


def trainer_custom_config(
    *,
    model: str,
    model_overrides: dict[str, Any],
    train: dict[str, Any],
    image_size: int,
    checkpoint_root: str | None = None,
) -> dict[str, Any]:
    """The `custom_config` dict `run_fn` expects (one place that knows its keys)."""
    return {
        "model": model,
        "model_overrides": dict(model_overrides),
        "train": dict(train),
        "image_size": int(image_size),
        "checkpoint_root": checkpoint_root,
    }


def input_fn(
    file_pattern: list[str],
    data_accessor: tfx.components.DataAccessor,
    tf_transform_output: tft.TFTransformOutput,
    *,
    train: dict[str, Any],
    num_classes: int,
    training: bool,
    first_step: int = 0,
    num_examples: int | None = None,
) -> tf.data.Dataset:
    """Batches of (transformed image [B,S,S,3], one-hot label [B,K]).

    Training data repeats forever (Keras' `steps_per_epoch` marks the epochs), is shuffled,
    and is augmented as `train` (TrainConfig fields) asks; batch n's draws use the seed
    (train["seed"], first_step + n). Evaluation data is one ordered pass.

    When the split's `num_examples` fit in train["cache_max_mb"] (`fits_in_memory`), the
    TFRecords are read and parsed once and the examples kept in memory, shuffled anew every
    epoch there; otherwise they are streamed from the files every epoch (tfxio's shuffle
    buffer). On small data, re-reading and parsing the gzipped records costs more CPU per
    epoch than training on 2 cores can spare.
    """
    in_memory = num_examples is not None and fits_in_memory(
        num_examples, tf_transform_output.transformed_feature_spec(), train["cache_max_mb"]
    )
    streamed_training = training and not in_memory  # tfxio shuffles and repeats the files
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=train["batch_size"],
            shuffle=streamed_training,
            shuffle_seed=train["seed"],
            num_epochs=None if streamed_training else 1,
        ),
        tf_transform_output.transformed_metadata.schema,
    )
    dataset = dataset.map(
        lambda f: (f[IMAGE_KEY], tf.one_hot(tf.reshape(f[LABEL_KEY], [-1]), num_classes))
    )
    if in_memory:
        dataset = dataset.cache()
        if training:
            dataset = shuffled_batches(dataset.unbatch(), num_examples, train)
    if training and train["augment"]:
        seed = train["seed"]
        step_seeds = tf.data.Dataset.counter(start=first_step).map(
            lambda step: tf.stack([tf.cast(seed, tf.int64), step])
        )
        dataset = tf.data.Dataset.zip((dataset, step_seeds)).map(
            lambda batch, step_seed: augment_batch(*batch, step_seed, train),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def fits_in_memory(
    num_examples: int, feature_spec: dict[str, tf.io.FixedLenFeature], max_mb: float
) -> bool:
    """Whether `num_examples` examples of the transformed `feature_spec` (image and label),
    held twice (the cache and the shuffle buffer), take at most `max_mb` MiB."""
    example_bytes = sum(
        math.prod(feature.shape) * feature.dtype.size
        for feature in (feature_spec[IMAGE_KEY], feature_spec[LABEL_KEY])
    )
    return 2 * num_examples * example_bytes <= max_mb * 2**20


def shuffled_batches(
    examples: tf.data.Dataset, num_examples: int, train: dict[str, Any]
) -> tf.data.Dataset:
    """`examples` (one epoch, in memory) shuffled as a whole anew every epoch with the seed
    train["seed"], repeated forever and batched by train["batch_size"]; like tfxio's
    streamed training input, a batch may span two epochs."""
    examples = examples.shuffle(num_examples, seed=train["seed"], reshuffle_each_iteration=True)
    return examples.repeat().batch(train["batch_size"], drop_remainder=True)


def count_records(file_pattern: list[str]) -> int:
    """Number of examples in gzipped TFRecord files (one pass, no parsing)."""
    files = [f for pattern in file_pattern for f in tf.io.gfile.glob(pattern)]
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def build_optimizer(
    train: dict[str, Any], learning_rate: keras.optimizers.schedules.LearningRateSchedule
) -> keras.optimizers.Optimizer:
    """AdamW, SGD or RMSProp from TrainConfig fields, with an EMA of the weights when
    `ema_decay` is set (Keras swaps the average into the model when `fit` ends)."""
    common = {
        "learning_rate": learning_rate,
        "weight_decay": train["weight_decay"] or None,
        "use_ema": train["ema_decay"] is not None,
        "ema_momentum": train["ema_decay"] or 0.99,
    }
    if train["optimizer"] == "adamw":
        return keras.optimizers.AdamW(**common)
    if train["optimizer"] == "sgd":
        return keras.optimizers.SGD(
            momentum=train["momentum"], nesterov=train["nesterov"], **common
        )
    if train["optimizer"] == "rmsprop":
        return keras.optimizers.RMSprop(momentum=train["momentum"], epsilon=1e-3, **common)
    raise ValueError(f"train.optimizer must be adamw, sgd or rmsprop; got {train['optimizer']!r}.")


class LearningRateLog(keras.callbacks.Callback):
    """Adds the learning rate at the end of each epoch to the logs (for TensorBoard and the
    history); list it before the callbacks that read the logs."""

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = optimizer.learning_rate
        if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
            lr = lr(optimizer.iterations)
        logs["learning_rate"] = float(keras.backend.get_value(lr))


class ValidateWithAverage(keras.callbacks.Callback):
    """With an EMA of the weights, validation scores the average (what is evaluated and
    exported once `fit` ends) rather than the raw weights, so the per-epoch lines and the
    learning curves show the model that ships; the raw weights are put back for training."""

    def __init__(self):
        super().__init__()
        self._raw: list[Any] | None = None

    def on_test_begin(self, logs=None):
        optimizer = self.model.optimizer
        if not getattr(optimizer, "use_ema", False):
            return
        variables = self.model.trainable_variables
        self._raw = [tf.identity(v) for v in variables]
        optimizer.finalize_variable_values(variables)  # assigns the averages

    def on_test_end(self, logs=None):
        if self._raw is None:
            return
        for variable, raw in zip(self.model.trainable_variables, self._raw, strict=True):
            variable.assign(raw)
        self._raw = None


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves `checkpoint` (model, optimizer, epoch counter) through `manager` at the end of an
    epoch once `every_seconds` have passed since the last save (0: every epoch), so that
    short epochs do not pay for a save each (about 3% of a 1.5-second epoch here)."""

    def __init__(
        self, manager: tf.train.CheckpointManager, epoch: tf.Variable, every_seconds: float
    ):
        super().__init__()
        self.manager = manager
        self.epoch = epoch
        self.every_seconds = every_seconds
        self._last_save = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if time.monotonic() - self._last_save < self.every_seconds:
            return
        self.epoch.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)
        self._last_save = time.monotonic()


class EpochLog(keras.callbacks.Callback):
    """Logs one line per epoch (metrics, images/s) and keeps the history for learning curves.

    The history (one row per epoch) is rewritten to every path in `history_paths` after each
    epoch; a resumed run passes the rows of the epochs it restored as `history`.
    """

    def __init__(
        self,
        model_name: str,
        images_per_epoch: int,
        history_paths: list[str],
        history: list[dict[str, float]] | None = None,
    ):
        super().__init__()
        self.model_name = model_name
        self.images_per_epoch = images_per_epoch
        self.history_paths = history_paths
        self.history: list[dict[str, float]] = list(history or [])
        self._start = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        row = {"epoch": epoch + 1, "seconds": seconds, **{k: float(v) for k, v in logs.items()}}
        row["images_per_second"] = self.images_per_epoch / seconds
        self.history.append(row)
        for path in self.history_paths:
            with tf.io.gfile.GFile(path, "w") as f:
                json.dump(self.history, f, indent=1)
        metrics = " ".join(f"{k}={v:.4g}" for k, v in sorted(logs.items()))
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
    After `tf.saved_model.load`, `.transform_features(images [B,1])` runs the Transform graph
    alone and `.class_names` holds the label names.

    The model and the Transform graph are traced once, without autograph (none of their code
    branches on tensors in Python), and Keras' per-layer traces are not saved: the layers are
    registered and rebuilt from their configs by `keras.models.load_model`. That makes the
    export take 2-3 s instead of the 14-37 s of tracing twice with autograph and saving
    every layer's call functions (`python -m bench.export`).
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
            "probabilities": probabilities,
            "class_ids": class_ids,
            "classes": tf.gather(names, class_ids),
            "scores": tf.reduce_max(probabilities, axis=-1),
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


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """TFX Trainer entry point: train the configured model and export it for serving."""
    config = fn_args.custom_config
    train = config["train"]
    class_names = dataset_class_names(fn_args)
    keras.utils.set_random_seed(train["seed"])
    tf.config.experimental.enable_op_determinism()
    set_precision(train["mixed_precision"])
    strategy = create_strategy(train["strategy"])

    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    with strategy.scope():
        model = build_model(config, num_classes=len(class_names))
    epochs = train["epochs"]
    if epochs > 0:
        num_train = count_records(fn_args.train_files)
        num_eval = count_records(fn_args.eval_files)
        steps_per_epoch = train["steps_per_epoch"] or math.ceil(num_train / train["batch_size"])
        with strategy.scope():
            trainable = _with_teacher(model, train, fn_args.base_model)

        def dataset(files: list[str], training: bool, first_step: int = 0) -> tf.data.Dataset:
            return input_fn(
                files,
                fn_args.data_accessor,
                tf_transform_output,
                train=train,
                num_classes=len(class_names),
                training=training,
                first_step=first_step,
                num_examples=num_train if training else num_eval,
            )

        fit(
            trainable,
            lambda first_step: dataset(fn_args.train_files, True, first_step),
            dataset(fn_args.eval_files, False),
            train=train,
            model_name=config["model"],
            steps_per_epoch=steps_per_epoch,
            run_dir=fn_args.model_run_dir,
            checkpoint_directory=checkpoint_dir(config, fn_args),
            strategy=strategy,
        )
    else:
        logging.info("[%s] epochs=0: exporting the untrained model", config["model"])
    export_serving_model(model, tf_transform_output, class_names, fn_args.serving_model_dir)


def build_model(config: dict[str, Any], num_classes: int) -> keras.Model:
    """The registered model with the TrainConfig's regularisation (dropout, stochastic depth)."""
    train, size = config["train"], config["image_size"]
    regularisation = {"dropout": train["dropout"]} if train["dropout"] else {}
    if train["survival_prob"] < 1.0:
        regularisation["survival_prob"] = train["survival_prob"]
    return registry.build_model(
        config["model"],
        input_shape=(size, size, 3),
        num_classes=num_classes,
        **{**config["model_overrides"], **regularisation},
    )


def _with_teacher(model: keras.Model, train: dict[str, Any], base_model: str | None) -> keras.Model:
    """`model`, or a `Distiller` around it when `train["teacher"]` names a teacher."""
    teacher = train["teacher"]
    if not teacher:
        return model
    if teacher == BASELINE_TEACHER:
        if not base_model:
            raise ValueError(
                "train.teacher='baseline' needs the baseline Trainer's model as base_model; "
                "set it on the candidate only."
            )
        teacher = base_model
    return Distiller(
        model,
        load_teacher(teacher),
        temperature=train["distill_temperature"],
        weight=train["distill_weight"],
        label_smoothing=train["label_smoothing"],
    )


def checkpoint_dir(config: dict[str, Any], fn_args: tfx.components.FnArgs) -> str | None:
    """<checkpoint_root>/<hash of the custom config and input artifacts>, or None.

    Two executions share the directory only when they would train the same model on the
    same data, so a re-run resumes and a changed run starts afresh.
    """
    if not config.get("checkpoint_root") or not config["train"]["resume"]:
        return None
    key = {
        "config": {k: v for k, v in config.items() if k != "checkpoint_root"},
        "train_files": fn_args.train_files,
        "eval_files": fn_args.eval_files,
        "transform_output": fn_args.transform_output,
        "base_model": fn_args.base_model,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return os.path.join(config["checkpoint_root"], digest)


def fit(
    model: keras.Model,
    train_dataset: Callable[[int], tf.data.Dataset],
    eval_dataset: tf.data.Dataset,
    *,
    train: dict[str, Any],
    model_name: str,
    steps_per_epoch: int,
    run_dir: str,
    checkpoint_directory: str | None,
    strategy: tf.distribute.Strategy | None = None,
) -> list[dict[str, float]]:
    """Compiles and trains `model` for train["epochs"] epochs; returns the history rows.

    `train_dataset(first_step)` gives the (augmented) training batches from global step
    `first_step` on. With a `checkpoint_directory`, epochs are checkpointed there and an
    interrupted run resumes from its last checkpointed epoch (weights, optimizer state, hence
    the learning rate, and the epoch); an epoch is checkpointed once
    train["checkpoint_every_seconds"] have passed since the last checkpoint. TensorBoard
    scalars (incl. the learning rate) and history.json go to `run_dir`.
    """
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        optimizer = build_optimizer(train, build_schedule(train, steps_per_epoch))
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.CategoricalCrossentropy(
                from_logits=True, label_smoothing=train["label_smoothing"]
            ),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        )
        optimizer.build(model.trainable_variables)
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    history: list[dict[str, float]] = []
    callbacks: list[keras.callbacks.Callback] = [LearningRateLog(), ValidateWithAverage()]
    history_paths = [os.path.join(run_dir, HISTORY_FILE)]
    if checkpoint_directory:
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch)
        manager = tf.train.CheckpointManager(checkpoint, checkpoint_directory, max_to_keep=2)
        tf.io.gfile.makedirs(checkpoint_directory)  # history.json goes there from epoch 1
        if manager.latest_checkpoint:
            checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
            saved_history = os.path.join(checkpoint_directory, HISTORY_FILE)
            history = _read_history(saved_history, int(epoch))
            logging.info(
                "[%s] resuming after epoch %d from %s",
                model_name,
                int(epoch),
                checkpoint_directory,
            )
        callbacks.append(EpochCheckpoint(manager, epoch, train["checkpoint_every_seconds"]))
        history_paths.append(os.path.join(checkpoint_directory, HISTORY_FILE))
    initial_epoch = int(epoch)
    epoch_log = EpochLog(model_name, steps_per_epoch * train["batch_size"], history_paths, history)
    callbacks += [epoch_log, keras.callbacks.TensorBoard(log_dir=run_dir)]
    model.fit(
        train_dataset(initial_epoch * steps_per_epoch),
        epochs=train["epochs"],
        initial_epoch=initial_epoch,
        steps_per_epoch=steps_per_epoch,
        validation_data=eval_dataset,
        callbacks=callbacks,
        verbose=0,
    )
    if checkpoint_directory:
        tf.io.gfile.rmtree(checkpoint_directory)
    return epoch_log.history


def _read_history(path: str, epochs: int) -> list[dict[str, float]]:
    """The rows of the first `epochs` epochs saved at `path` (none if it is missing)."""
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        return [row for row in json.load(f) if row["epoch"] <= epochs]
