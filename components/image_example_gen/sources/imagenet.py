"""ImageNet (ILSVRC2012) in its official layout.

- `train/<wnid>/*.JPEG`: 1,281,167 images in 1,000 class folders named by WordNet id.
- `val/`: 50,000 images, either sorted into `val/<wnid>/` folders, or flat
  (`val/ILSVRC2012_val_00000001.JPEG` ...) with the devkit's
  `ILSVRC2012_validation_ground_truth.txt` (one ILSVRC2012_ID per line, line n for image n)
  and `meta.mat` (ILSVRC2012_ID -> wnid), found in the data dir or in
  `ILSVRC2012_devkit_t12/data/`.
- Optional `LOC_synset_mapping.txt` or `synset_words.txt` (`n01440764 tench, Tinca tinca`):
  class names become the first synonym; without it, the first synonym of meta.mat's `words`
  when the devkit is there, else the wnids.

Labels follow the standard 1,000-class index: the sorted wnids of `train/`. About 20 files
are not RGB JPEGs (one CMYK JPEG family, and a PNG named .JPEG): they are re-encoded as RGB
JPEG, not dropped. The official `val` images form the `test` split, which only
`pipeline_runner.py evaluate` reads; `eval` is carved from `train` by hash.
"""

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from components.image_example_gen import files
from components.image_example_gen.sources import base, image_files

DEVKIT_DATA_DIR = "ILSVRC2012_devkit_t12/data"
GROUND_TRUTH_FILE = "ILSVRC2012_validation_ground_truth.txt"
META_FILE = "meta.mat"
SYNSET_MAPPING_FILES = ("LOC_synset_mapping.txt", "synset_words.txt")
_WNID = re.compile(r"^n\d{8}$")
_VAL_NUMBER = re.compile(r"_(\d+)\.[A-Za-z]+$")
# The devkit's meta.mat (1,860 synsets) reads in a fraction of this limit
# (docs/benchmarks.md#current-numbers); a reader still busy at the limit is stuck.
_READ_SYNSETS_SECONDS = 120


class Synset(NamedTuple):
    """One record of the devkit's meta.mat `synsets`."""

    ilsvrc2012_id: int
    wnid: str
    words: str


def _load_synsets(devkit_dir: str) -> list[Synset]:
    """The `synsets` records of the devkit's meta.mat, read by scipy in another process
    (`read_synsets.py`): a damaged MAT file can crash scipy's C reader (a fuzz test found a
    SIGBUS), and the data is untrusted.

    Raises:
      ValueError: one line, when the file is not such a MAT file (damaged, or another one).
    """
    path = base.join(devkit_dir, META_FILE)
    reader = os.path.join(os.path.dirname(os.path.abspath(__file__)), "read_synsets.py")
    try:
        result = subprocess.run(
            [sys.executable, reader],
            input=files.read_bytes(path),
            capture_output=True,
            timeout=_READ_SYNSETS_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        result = None
    if result is None or result.returncode != 0:
        why = "timed out" if result is None else _one_line(result.stderr.decode(errors="replace"))
        raise ValueError(
            f"{path} holds no readable synsets ({why or f'exit {result.returncode}'}): "
            "expected the ILSVRC2012 devkit's meta.mat"
        )
    return [Synset(*json.loads(line)) for line in result.stdout.decode().splitlines()]


def load_devkit_labels(devkit_dir: str) -> list[str]:
    """The wnid of every validation image, in image-number order (index 0 = image 1).

    Raises:
      ValueError: one line, naming the first value of the ground truth that is not an
        ILSVRC2012_ID of meta.mat.
    """
    wnid_of_id = {synset.ilsvrc2012_id: synset.wnid for synset in _load_synsets(devkit_dir)}
    path = base.join(devkit_dir, GROUND_TRUTH_FILE)
    try:
        ids = files.read_text(path).split()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not text ({e}): expected one ILSVRC2012_ID per line") from None
    wnids = []
    for number, value in enumerate(ids, start=1):
        wnid = wnid_of_id.get(int(value)) if value.isdecimal() and len(value) < 10 else None
        if wnid is None:
            raise ValueError(
                f"{path}: value {number} ({value[:20]!r}) is not an ILSVRC2012_ID of {META_FILE}"
            )
        wnids.append(wnid)
    return wnids


def _one_line(text: str) -> str:
    return " ".join(text.split())[-200:]


def _first_synonym(words: str) -> str:
    """`tench` of `tench, Tinca tinca`; empty when there are no words."""
    return words.split(",")[0].strip()


def _find_devkit_file(data_dir: str, name: str) -> str | None:
    """The directory, the data dir or its ILSVRC2012_devkit_t12/data/, holding file `name`."""
    return next(
        (
            d
            for d in (data_dir, base.join(data_dir, DEVKIT_DATA_DIR))
            if files.exists(base.join(d, name))
        ),
        None,
    )


@dataclasses.dataclass(frozen=True)
class ImageNetSource(base.ImageSource):
    """ILSVRC2012 (see the module docstring).

    Attributes:
      max_per_class: read at most this many images per class and split (first by name).
    """

    name: str = "imagenet"
    layout: str = (
        "the ILSVRC2012 layout: train/<wnid>/*.JPEG (e.g. train/n01440764/), and val/ as "
        f"val/<wnid>/ folders or flat with the devkit's {GROUND_TRUTH_FILE} and {META_FILE} "
        f"(in the data dir or {DEVKIT_DATA_DIR}/)"
    )
    max_per_class: int | None = None

    def resolve_data_dir(self, data_dir: str) -> str:
        if not files.isdir(base.join(data_dir, "train")):
            raise FileNotFoundError(f"found no train/ in {data_dir}: expected {self.layout}")
        return data_dir

    def splits(self, data_dir: str) -> dict[str, str]:
        splits = {"train": "train/*"}
        if files.isdir(base.join(data_dir, "val")):
            splits["test"] = "val/*"  # the official validation set: held out for `evaluate`
        return splits

    def wnids(self, data_dir: str) -> list[str]:
        """The sorted wnids of train/: index = label. Raises ValueError on other folders."""
        wnids = image_files.list_class_dirs(base.join(self.resolve_data_dir(data_dir), "train"))
        strays = [name for name in wnids if not _WNID.match(name)]
        if strays or not wnids:
            raise ValueError(
                f"train/ in {data_dir} holds {len(wnids)} folders, {strays[:3]} not named like "
                f"a wnid: expected {self.layout}"
            )
        return wnids

    def class_names(self, data_dir: str) -> list[str]:
        """The first synonym of each wnid, from a synset mapping file, else from the
        devkit's meta.mat; the wnids themselves when there is neither."""
        wnids = self.wnids(data_dir)
        names: dict[str, str] = {}
        mapping = next(
            (
                base.join(data_dir, name)
                for name in SYNSET_MAPPING_FILES
                if files.exists(base.join(data_dir, name))
            ),
            None,
        )
        if mapping:
            for line in files.read_lines(mapping):
                wnid, _, words = line.strip().partition(" ")
                names[wnid] = _first_synonym(words)
        elif devkit_dir := _find_devkit_file(data_dir, META_FILE):
            for synset in _load_synsets(devkit_dir):
                names[synset.wnid] = _first_synonym(synset.words)
        return [names.get(wnid) or wnid for wnid in wnids]

    def list_inputs(
        self, data_dir: str, pattern: str, class_names: Sequence[str]
    ) -> list[base.InputFile]:
        class_index = {wnid: index for index, wnid in enumerate(self.wnids(data_dir))}
        matches = files.glob(base.join(data_dir, pattern))
        if any(files.isdir(match) for match in matches):
            return image_files.class_folder_inputs(
                data_dir, pattern, class_index, self.max_per_class
            )
        return self._flat_val_inputs(data_dir, sorted(matches), class_index)

    def _flat_val_inputs(
        self, data_dir: str, paths: list[str], class_index: dict[str, int]
    ) -> list[base.InputFile]:
        """Labels flat val/ images by their number in the devkit's ground truth."""
        devkit_dir = _find_devkit_file(data_dir, GROUND_TRUTH_FILE)
        if devkit_dir is None or not files.exists(base.join(devkit_dir, META_FILE)):
            missing = GROUND_TRUTH_FILE if devkit_dir is None else f"{META_FILE} (beside it)"
            raise FileNotFoundError(
                f"val/ in {data_dir} is flat but {missing} is missing: expected {self.layout}"
            )
        wnid_of_image = load_devkit_labels(devkit_dir)
        taken: dict[str, int] = {}
        inputs = []
        for path in paths:
            number = _VAL_NUMBER.search(os.path.basename(path))
            index = int(number.group(1)) - 1 if number else -1
            wnid = wnid_of_image[index] if 0 <= index < len(wnid_of_image) else ""
            taken[wnid] = taken.get(wnid, 0) + 1
            if self.max_per_class is not None and wnid and taken[wnid] > self.max_per_class:
                continue
            class_key = wnid or f"(no line {index + 1} in {GROUND_TRUTH_FILE})"
            inputs.append(
                base.InputFile(
                    path, base.relative_id(data_dir, path), class_index.get(wnid), class_key
                )
            )
        return inputs

    def read(
        self, item: base.InputFile, class_names: Sequence[str]
    ) -> Iterator[base.Example | base.Rejected]:
        return image_files.read_image_file(item, class_names, frozenset({"JPEG"}), "JPEG")


IMAGENET = ImageNetSource()
