"""Builds the ImageExampleGen component: a FileBasedExampleGen with our executor."""

from tfx import v1 as tfx
from tfx.components import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec

from components.image_example_gen import executor, sources


def create_image_example_gen(
    data_dir: str, source: str, splits: dict[str, str] | None = None
) -> FileBasedExampleGen:
    """Returns an ExampleGen turning the image data set in `data_dir` into examples.

    Args:
      data_dir: directory of the data set, e.g. a `cifar-10-batches-py/` or the
        directory containing it (local or gs://).
      source: registry name of the layout, e.g. "cifar10" (see `sources`).
      splits: split name -> file pattern relative to the resolved data dir;
        defaults to the source's own splits (e.g. train and eval).

    Raises:
      ValueError: if `source` is unknown.
      FileNotFoundError: if `data_dir` does not hold the source's layout.
    """
    image_source = sources.get_source(source)
    input_config = tfx.proto.Input(
        splits=[
            tfx.proto.Input.Split(name=name, pattern=pattern)
            for name, pattern in (splits or image_source.default_splits()).items()
        ]
    )
    return FileBasedExampleGen(
        input_base=image_source.resolve_data_dir(data_dir),
        input_config=input_config,
        custom_config=executor.make_custom_config(source),
        custom_executor_spec=executor_spec.BeamExecutorSpec(executor.Executor),
    )


def read_class_names(data_dir: str, source: str) -> list[str]:
    """Returns the class names of the data set in `data_dir`, indexed by label."""
    return sources.get_source(source).class_names(data_dir)
