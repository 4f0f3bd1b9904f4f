"""Shared logic of the sources whose inputs are one image per file (folder, imagenet).

Listing class folders, checking and (re-)encoding image bytes, and reading one image file
into an example or a `Rejected` record live here, once.
"""

import dataclasses
import io
import os
import urllib.parse
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from components.image_example_gen import files
from components.image_example_gen.sources import base

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
_KEPT_MODES = {"L": 1, "RGB": 3}


@dataclasses.dataclass(frozen=True)
class EncodedImage:
    """Image bytes ready for an example, with the shape they decode to (pixels)."""

    data: bytes
    height: int
    width: int
    channels: int


def encode_image(data: bytes, keep_formats: frozenset[str], target_format: str) -> EncodedImage:
    """Checks that `data` is a complete image and returns it in a format Transform decodes.

    Bytes in one of `keep_formats` (PIL names, e.g. "JPEG") with grey or RGB pixels are kept
    as they are. Anything else — CMYK JPEGs, PNGs named .JPEG where only JPEG is kept,
    palette, alpha, BMP, GIF (first frame), WebP — is converted to RGB (or grey) and
    re-encoded as `target_format` (JPEG at quality 95, or lossless PNG).

    Raises:
      base.InvalidInputError: EMPTY_FILE, NOT_AN_IMAGE (unknown format), CORRUPT_IMAGE
        (truncated or damaged data) or IMAGE_TOO_LARGE (more pixels than PIL's
        decompression-bomb limit, `Image.MAX_IMAGE_PIXELS`: a small file could otherwise
        decode to gigabytes).
    """
    if not data:
        raise base.InvalidInputError(base.EMPTY_FILE, "the file has zero bytes")
    try:
        with Image.open(io.BytesIO(data)) as image:
            _check_pixels(image.width, image.height)
            image.load()
            if image.format in keep_formats and image.mode in _KEPT_MODES:
                return EncodedImage(data, image.height, image.width, _KEPT_MODES[image.mode])
            converted = _to_8_bit(image)
    except UnidentifiedImageError as e:
        raise base.InvalidInputError(base.NOT_AN_IMAGE, str(e)) from None
    except Image.DecompressionBombError as e:  # PIL's own check, at twice the limit
        raise base.InvalidInputError(base.IMAGE_TOO_LARGE, str(e)) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise base.InvalidInputError(base.CORRUPT_IMAGE, str(e)) from None
    out = io.BytesIO()
    converted.save(
        out, format=target_format, **({"quality": 95} if target_format == "JPEG" else {})
    )
    return EncodedImage(
        out.getvalue(), converted.height, converted.width, _KEPT_MODES[converted.mode]
    )


def _check_pixels(width: int, height: int) -> None:
    """Refuses images above PIL's decompression-bomb limit, which PIL itself only warns of
    up to twice the limit."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > limit:
        raise base.InvalidInputError(
            base.IMAGE_TOO_LARGE,
            f"{width}x{height} is {width * height:,} pixels, more than the limit of {limit:,} "
            "(PIL's Image.MAX_IMAGE_PIXELS)",
        )


def _to_8_bit(image: Image.Image) -> Image.Image:
    """`image` as 8-bit grey ("L") or RGB pixels. 16-bit grey (PNG) is scaled to 8 bits:
    PIL's own conversion would clip every value above 255 to white."""
    if image.mode.startswith("I"):  # "I;16" (16-bit PNG), or "I" (32-bit integers)
        high_bytes = np.asarray(image).astype(np.int64) >> 8
        return Image.fromarray(np.clip(high_bytes, 0, 255).astype(np.uint8))
    return image.convert("L" if image.mode in ("1", "L", "LA") else "RGB")


def read_image_file(
    item: base.InputFile,
    class_names: Sequence[str],
    keep_formats: frozenset[str],
    target_format: str,
) -> Iterator[base.Example | base.Rejected]:
    """Yields the example of the one-image file `item`, or why it has none."""
    if item.label is None:
        detail = (
            f"class {item.class_key!r} is not one of the {len(class_names)} known classes"
            if item.class_key
            else "the file is not inside a class folder"
        )
        yield base.Rejected(item.source_id, base.UNKNOWN_CLASS, detail)
        return
    rejected = base.check_label(item.label, class_names, item.source_id)
    if rejected:
        yield rejected
        return
    if not item.path.lower().endswith(IMAGE_EXTENSIONS):
        yield base.Rejected(
            item.source_id, base.NOT_AN_IMAGE, f"extension is not one of {IMAGE_EXTENSIONS}"
        )
        return
    try:  # unreadable: e.g. a folder inside a class folder
        image = encode_image(base.read_input(item.path), keep_formats, target_format)
    except base.InvalidInputError as e:
        yield e.rejected(item.source_id)
        return
    yield base.make_example(
        image.data,
        image.height,
        image.width,
        image.channels,
        item.label,
        class_names[item.label],
        item.source_id,
    )


def class_of_folder(folder_name: str) -> str:
    """The class a folder stands for: its name, percent-decoded, so that a class name holds
    any character, even one no folder name can (`T-shirt%2Ftop` is the class `T-shirt/top`,
    `50%25` is `50%`)."""
    return urllib.parse.unquote(folder_name, errors="strict")


def list_class_dirs(root: str) -> list[str]:
    """Sorted class names (`class_of_folder`) of the sub-directories of `root`.

    Raises:
      ValueError: when a folder name does not decode, or two decode to one class.
    """
    folders = [
        name.rstrip("/")
        for name in files.listdir(root)
        if files.isdir(base.join(root, name.rstrip("/")))
    ]
    classes: dict[str, str] = {}
    for folder in sorted(folders):
        try:
            name = class_of_folder(folder)
        except UnicodeDecodeError:
            raise ValueError(
                f"{base.join(root, folder)}: a percent-encoded folder name must decode to "
                "UTF-8 (class names are the folder names, percent-decoded)"
            ) from None
        if name in classes:
            raise ValueError(
                f"{base.join(root, classes[name])} and {base.join(root, folder)} are both the "
                f"class {name!r} (class names are the folder names, percent-decoded)"
            )
        classes[name] = folder
    return sorted(classes)


def class_folder_inputs(
    data_dir: str,
    pattern: str,
    class_index: dict[str, int],
    max_per_class: int | None,
) -> list[base.InputFile]:
    """Lists `data_dir`/`pattern`, where each match is a class folder (or a stray file).

    Entries of a class folder get that folder's label (None when it is not in
    `class_index`); files matching `pattern` directly are listed without a class, so that
    they are rejected, not lost. At most `max_per_class` entries per folder, first by name.
    """
    inputs = []
    for match in sorted(files.glob(base.join(data_dir, pattern))):
        if not files.isdir(match):
            inputs.append(base.InputFile(match, base.relative_id(data_dir, match)))
            continue
        class_key = class_of_folder(os.path.basename(match.rstrip("/")))
        # No stat per file: ImageNet has 1.28M of them, and on gs:// each stat is a request.
        # Nested folders are listed as inputs too, and rejected by `read_image_file`.
        names = sorted(name.rstrip("/") for name in files.listdir(match))
        for name in names[:max_per_class]:
            path = base.join(match, name)
            inputs.append(
                base.InputFile(
                    path, base.relative_id(data_dir, path), class_index.get(class_key), class_key
                )
            )
    return inputs
