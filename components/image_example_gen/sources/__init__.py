"""Registry of the image data sources ImageExampleGen can read."""

from components.image_example_gen.sources.base import ImageSource
from components.image_example_gen.sources.cifar import CIFAR10, CIFAR100

_SOURCES: dict[str, ImageSource] = {source.name: source for source in (CIFAR10, CIFAR100)}


def get_source(name: str) -> ImageSource:
    """Returns the source registered under `name`.

    Raises:
      ValueError: if no source has that name; the message lists known names.
    """
    try:
        return _SOURCES[name]
    except KeyError:
        raise ValueError(
            f"unknown image source {name!r}: known sources are {', '.join(sorted(_SOURCES))}"
        ) from None


__all__ = ["ImageSource", "get_source"]
