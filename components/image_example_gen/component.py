"""Builds the ImageExampleGen component: a FileBasedExampleGen with our executor."""

from collections.abc import Mapping

import tensorflow as tf
from tfx import v1 as tfx
from tfx.components import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec

import features
from components.image_example_gen import executor, sources
from components.image_example_gen.defaults import (
    DEFAULT_MAX_REJECTED_FRACTION,
    DEFAULT_SHARD_BYTES,
)
from components.image_example_gen.sources import base
from components.image_example_gen.splits import plan_splits


def hash_split_config(ratios: Mapping[str, int]) -> tfx.proto.SplitConfig:
    """Splits examples by a hash of their `source_id`, `ratios[name]` buckets per split
    (checked by `splits.plan_splits`), as TFX's ExampleGen does."""
    return tfx.proto.SplitConfig(
        splits=[
            tfx.proto.SplitConfig.Split(name=name, hash_buckets=count)
            for name, count in ratios.items()
        ],
        partition_feature_name=features.SOURCE_ID_KEY,
    )


def create_image_example_gen(
    data_dir: str,
    source: str,
    splits: dict[str, str] | None = None,
    *,
    split_ratios: Mapping[str, int] | None = None,
    max_per_class: int | None = None,
    max_rejected_fraction: float = DEFAULT_MAX_REJECTED_FRACTION,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    read_outside_data_dir: bool = False,
    min_images_per_class: int = 1,
    input_base: str | tfx.dsl.experimental.RuntimeParameter | None = None,
) -> FileBasedExampleGen:
    """Returns an ExampleGen turning the image data set in `data_dir` into examples.

    Building the component only checks which layout `data_dir` holds (no data is read);
    resolve a user's directory first with `resolve_data_dir`.

    Args:
      data_dir: directory the split patterns are relative to (local or gs://), as
        `resolve_data_dir` returns it.
      source: registry name of the layout, e.g. "cifar10" (see `sources`).
      splits: split name -> pattern relative to `data_dir`; defaults to the source's own.
      split_ratios: hash buckets per output split of the data set's train split (or only
        split) when it has no eval split of its own; None: 9:1 train/eval, or 8:1:1
        train/eval/test when it has no test split either (`splits.plan_splits`).
      max_per_class: read at most this many images per class and split (folder, imagenet).
      max_rejected_fraction: fail when a larger fraction of the inputs is rejected.
      shard_bytes: about this many bytes of serialized examples per output shard
        (`shards.WriteSplits`).
      read_outside_data_dir: read inputs that lead outside the data dir (symlinks, `..`,
        absolute manifest paths); by default they are rejected, unread.
      min_images_per_class: fail unless two classes or more have at least this many examples
        in the train split.
      input_base: the directory read at run time, default `data_dir`; a RuntimeParameter lets
        each run of a compiled pipeline read another directory of the same layout.

    Raises:
      ValueError: if `source` is unknown, an option does not apply to it, or `split_ratios`
        do not fit the data set's splits.
    """
    if shard_bytes < 1:
        raise ValueError(f"the output shard size must be positive, not {shard_bytes} bytes")
    reader = executor.ReaderConfig(
        source,
        max_per_class,
        max_rejected_fraction,
        shard_bytes,
        read_outside_data_dir,
        min_images_per_class,
    )
    input_splits = splits or reader.image_source().splits(data_dir)
    plan = plan_splits(list(input_splits), split_ratios)
    output_config = (
        tfx.proto.Output(split_config=hash_split_config(plan.ratios)) if plan.divided else None
    )
    return FileBasedExampleGen(
        input_base=data_dir if input_base is None else input_base,
        input_config=tfx.proto.Input(
            splits=[
                tfx.proto.Input.Split(name=name, pattern=pattern)
                for name, pattern in input_splits.items()
            ]
        ),
        output_config=output_config,
        custom_config=reader.to_proto(),
        custom_executor_spec=executor_spec.BeamExecutorSpec(executor.Executor),
    )


def read_class_names(data_dir: str, source: str) -> list[str]:
    """Returns the class names of the data set in `data_dir`, indexed by label.

    Also checks the layout: there are two classes or more, and every split of the source
    matches at least one file, each of which can be looked at (TFX's ExampleGen driver stats
    them: a symbolic link loop would stop it with a stack trace).

    Raises:
      FileNotFoundError, ValueError: one line naming what is wrong and the expected layout.
    """
    image_source = sources.get_source(source)
    class_names = image_source.class_names(data_dir)
    data_dir = image_source.resolve_data_dir(data_dir)
    if len(class_names) < 2:
        raise ValueError(
            f"{data_dir} holds {len(class_names)} class ({', '.join(class_names)}): a classifier "
            f"needs two or more; expected {image_source.layout}"
        )
    for split, pattern in image_source.splits(data_dir).items():
        matches = tf.io.gfile.glob(base.join(data_dir, pattern))
        if not matches:
            raise FileNotFoundError(
                f"no {split} files ({pattern}) in {data_dir}: expected {image_source.layout}"
            )
        for match in matches:
            try:
                tf.io.gfile.stat(match)
            except tf.errors.OpError as error:
                raise ValueError(
                    f"{match} cannot be read ({error.message}): remove it (a symbolic link "
                    "loop or a dangling link?) or point --data-dir elsewhere"
                ) from None
    return class_names


def resolve_data_dir(
    data_dir: str, source: str, cache_dir: str | None = None, download: bool = False
) -> str:
    """The directory holding the source's files, given it or (e.g. for CIFAR) its parent or
    official archive. For CIFAR, an empty `data_dir` (or, with `download`, one that does not
    exist) is the official archive in `cache_dir` (default `download.default_cache_dir()`),
    downloaded when missing.

    Raises FileNotFoundError naming the expected layout when there is none, when `data_dir`
    does not exist, or saying where to put the archive when it cannot be downloaded.
    """
    options = {"cache_dir": cache_dir, "download": download or None}
    return sources.get_source(source, **options).resolve_data_dir(data_dir)
