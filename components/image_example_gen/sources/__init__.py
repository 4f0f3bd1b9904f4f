"""Registry of the image data sources ImageExampleGen can read.

Adding a data set: a source module (or an instance of an existing source class) registered
here, a curated schema in `schemas/<name>/`, and a preset in `pipeline/config.py`.
"""

import dataclasses
from typing import Any

from components.image_example_gen.sources.base import ImageSource, InputFile, Rejected
from components.image_example_gen.sources.cifar import CIFAR10, CIFAR100
from components.image_example_gen.sources.folder import FOLDER
from components.image_example_gen.sources.idx import FASHION_MNIST, KMNIST, MNIST
from components.image_example_gen.sources.imagenet import IMAGENET

_SOURCES: dict[str, ImageSource] = {
    source.name: source
    for source in (CIFAR10, CIFAR100, FOLDER, IMAGENET, MNIST, FASHION_MNIST, KMNIST)
}


def get_source(name: str, **options: Any) -> ImageSource:
    """Returns the source registered under `name`, with `options` (fields of the source such
    as `max_per_class` or `cache_dir`) set where not None.

    Raises:
      ValueError: if no source has that name (the message lists known names), or if the
        source has no such option.
    """
    try:
        source = _SOURCES[name]
    except KeyError:
        raise ValueError(
            f"unknown image source {name!r}: known sources are {', '.join(sorted(_SOURCES))}"
        ) from None
    options = {key: value for key, value in options.items() if value is not None}
    for key in options:
        if key not in _field_names(source):
            takers = sorted(s.name for s in _SOURCES.values() if key in _field_names(s))
            raise ValueError(
                f"source {name!r} has no option {key!r}; it applies to: {', '.join(takers)}"
            )
    return dataclasses.replace(source, **options) if options else source


def _field_names(source: ImageSource) -> set[str]:
    return {field.name for field in dataclasses.fields(source)}


__all__ = ["ImageSource", "InputFile", "Rejected", "get_source"]
