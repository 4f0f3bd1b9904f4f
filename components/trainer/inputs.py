"""The Trainer's input pipeline: Transform's output as batches of (image, one-hot label).

Augmentation (models/training/augment.py) runs here, in tf.data, so every epoch sees new
draws; the draws are stateless functions of (seed, step), so a run is repeatable and a
resumed run sees the draws of an uninterrupted one.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from features import IMAGE_KEY, LABEL_KEY
from models.training.augment import augment_batch
from models.training.recipe import TrainConfig


def input_fn(
    file_pattern: list[str],
    data_accessor: tfx.components.DataAccessor,
    tf_transform_output: tft.TFTransformOutput,
    *,
    train: TrainConfig,
    num_classes: int,
    training: bool,
    first_step: int = 0,
    num_examples: int | None = None,
) -> tf.data.Dataset:
    """Batches of (transformed image [B,S,S,3], one-hot label [B,K]).

    Training data repeats forever (Keras' `steps_per_epoch` marks the epochs), is shuffled,
    and is augmented as `train.augment` asks; batch n's draws use the seed
    (train.seed, first_step + n). Evaluation data is one ordered pass.

    When the split's `num_examples` fit in `train.cache_max_mb` (`fits_in_memory`), the
    TFRecords are read and parsed once and the examples kept in memory, shuffled anew every
    epoch there; otherwise they are streamed from the files every epoch (tfxio's shuffle
    buffer). On small data, re-reading and parsing the gzipped records every epoch costs more
    CPU than training on a few cores can spare.
    """
    in_memory = num_examples is not None and fits_in_memory(
        num_examples, tf_transform_output.transformed_feature_spec(), train.cache_max_mb
    )
    streamed_training = training and not in_memory  # tfxio shuffles and repeats the files
    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=train.batch_size,
            shuffle=streamed_training,
            shuffle_seed=train.seed,
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
    if training and train.augment.enabled:
        seed = train.seed
        step_seeds = tf.data.Dataset.counter(start=first_step).map(
            lambda step: tf.stack([tf.cast(seed, tf.int64), step])
        )
        dataset = tf.data.Dataset.zip((dataset, step_seeds)).map(
            lambda batch, step_seed: augment_batch(*batch, step_seed, train.augment),
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
    examples: tf.data.Dataset, num_examples: int, train: TrainConfig
) -> tf.data.Dataset:
    """`examples` (one epoch, in memory) shuffled as a whole anew every epoch with the seed
    `train.seed`, repeated forever and batched by `train.batch_size`; like tfxio's streamed
    training input, a batch may span two epochs."""
    examples = examples.shuffle(num_examples, seed=train.seed, reshuffle_each_iteration=True)
    return examples.repeat().batch(train.batch_size, drop_remainder=True)


def count_records(file_pattern: list[str]) -> int:
    """Number of examples in gzipped TFRecord files (one pass, no parsing)."""
    files = [f for pattern in file_pattern for f in tf.io.gfile.glob(pattern)]
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
