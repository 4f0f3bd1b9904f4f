"""Builds the ImageExampleGen component: a FileBasedExampleGen with our executor."""

from tfx import v1 as tfx
from tfx.components import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec

from components.image_example_gen import executor, sources


def create_image_example_gen(
    data_dir: str, source: str, splits: dict[str, str] | None = None
) -> FileBasedExampleGen:
    """Returns an ExampleGen turning the image data set in `data_dir` into examples.

    Building the component reads nothing, so a pipeline over remote data can be compiled
    offline; resolve a user's directory first with `resolve_data_dir`.

    Args:
      data_dir: directory the split patterns are relative to (local or gs://), e.g. a
        `cifar-10-batches-py/` as `resolve_data_dir` returns it.
      source: registry name of the layout, e.g. "cifar10" (see `sources`).
      splits: split name -> file pattern relative to the resolved data dir;
        defaults to the source's own splits (e.g. train and eval).

    Raises:
      ValueError: if `source` is unknown.
    """
    image_source = sources.get_source(source)
    input_config = tfx.proto.Input(
        splits=[
            tfx.proto.Input.Split(name=name, pattern=pattern)
            for name, pattern in (splits or image_source.default_splits()).items()
        ]
    )
    return FileBasedExampleGen(
        input_base=data_dir,
        input_config=input_config,
        custom_config=executor.make_custom_config(source),
        custom_executor_spec=executor_spec.BeamExecutorSpec(executor.Executor),
    )


def read_class_names(data_dir: str, source: str) -> list[str]:
    """Returns the class names of the data set in `data_dir`, indexed by label."""
    return sources.get_source(source).class_names(data_dir)


def resolve_data_dir(data_dir: str, source: str) -> str:
    """The directory holding the source's files, given it or (e.g. for CIFAR) its parent.

    Raises FileNotFoundError naming the expected layout when there is none.
    """
    return sources.get_source(source).resolve_data_dir(data_dir)
