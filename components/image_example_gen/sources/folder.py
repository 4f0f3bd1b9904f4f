"""Any labelled image set as class folders, or as a CSV manifest of `path,label` rows.

Layouts of the data dir, tried in this order:

- `manifest.csv` with rows `path,label` (optional header `path,label`; paths relative to the
  data dir, or absolute; each path once: a repeated one fails the run naming both lines).
  A path that leads outside the data dir is rejected unread (`OUTSIDE_DATA_DIR`) unless the
  reader is told to read outside it (`data.read_outside_data_dir`).
  The classes are the lines of `classes.txt` beside it when present (then another label is
  an error naming its row: a typo must not become a class, nor be dropped), else the sorted
  distinct labels.
- `train/<class>/*` plus `val/<class>/*` and/or `test/<class>/*`: the data set's own splits.
  `val/` becomes the `eval` split and `test/` the `test` split, which only
  `pipeline_runner.py evaluate` reads; with no `val/`, `eval` is carved from `train/` by hash
  (`splits.plan_splits`).
- `<class>/*`, or one of `train/<class>/*`, `val/<class>/*`, `test/<class>/*` alone (a test
  set on its own, say): one pool of images, split by a hash of each file's path relative to
  the data dir. `val/` and `test/` without `train/` is an error naming what to do.

Classes are the sorted folder names (of `train/` when present), percent-decoded
(`image_files.class_of_folder`: `T-shirt%2Ftop/` holds the class `T-shirt/top`). Images are
JPEG, PNG, BMP, GIF or WebP; JPEG and PNG bytes are kept, the others re-encoded as lossless
PNG.
"""

import csv
import dataclasses
import io
import os
from collections.abc import Iterator, Sequence

from components.image_example_gen import files
from components.image_example_gen.sources import base, image_files

MANIFEST_FILE = "manifest.csv"
CLASSES_FILE = "classes.txt"
_MANIFEST_HEADER = ["path", "label"]
SPLIT_FOLDERS = ("train", "val", "test")


def parse_manifest(text: str, origin: str = MANIFEST_FILE) -> list[tuple[str, str]]:
    """Returns the (path, label) rows of a manifest's CSV `text`; blank lines are skipped.

    Raises:
      ValueError: naming `origin` and the line of the first row that is not `path,label`
        (or not CSV at all), or that lists a path again (an image twice, perhaps with two
        labels).
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _manifest_rows(reader, origin)
    except csv.Error as e:
        raise ValueError(f"{origin}:{reader.line_num}: not CSV ({e})") from None


def _manifest_rows(reader: Iterator[list[str]], origin: str) -> list[tuple[str, str]]:
    rows = []
    first_line: dict[str, int] = {}
    for line, row in enumerate(reader, start=1):
        if not row or (line == 1 and row == _MANIFEST_HEADER):
            continue
        if len(row) != 2 or not row[0] or not row[1]:
            raise ValueError(
                f"{origin}:{line}: expected two non-empty CSV fields path,label, got {row!r}"
            )
        if row[0] in first_line:
            raise ValueError(
                f"{origin}:{line}: {row[0]!r} is listed again (first on line "
                f"{first_line[row[0]]}): each image once, with one label"
            )
        first_line[row[0]] = line
        rows.append((row[0], row[1]))
    return rows


@dataclasses.dataclass(frozen=True)
class FolderSource(base.ImageSource):
    """Class-folder trees and CSV manifests (see the module docstring).

    Attributes:
      max_per_class: read at most this many files per class (first by name); None for all.
    """

    name: str = "folder"
    layout: str = (
        "class folders <data_dir>/<class>/*.{jpg,jpeg,png,bmp,gif,webp}, optionally under "
        "train/ and val/ (or test/), or a <data_dir>/manifest.csv of path,label rows"
    )
    max_per_class: int | None = None
    keep_formats: frozenset[str] = frozenset({"JPEG", "PNG"})
    target_format: str = "PNG"

    def splits(self, data_dir: str) -> dict[str, str]:
        """The split folders present (see the module docstring); one of them alone (a test
        set, say) is a pool split by hash, like class folders at the top.

        Raises:
          ValueError: when there are val/ and test/ but no train/, naming what to do.
        """
        if files.exists(base.join(data_dir, MANIFEST_FILE)):
            return {"all": MANIFEST_FILE}
        present = self._split_folders(data_dir)
        if len(present) <= 1:
            return {"all": f"{present[0]}/*" if present else "*"}
        if "train" not in present:
            raise ValueError(
                f"{data_dir} holds val/ and test/ but no train/: add train/, or pass one of "
                f"them as --data-dir ({base.join(data_dir, 'test')}) to split it by hash"
            )
        splits = {"train": "train/*"}
        if "val" in present:
            splits["eval"] = "val/*"
        if "test" in present:
            splits["test"] = "test/*"
        return splits

    def class_names(self, data_dir: str) -> list[str]:
        data_dir = self.resolve_data_dir(data_dir)
        if files.exists(base.join(data_dir, MANIFEST_FILE)):
            classes_path = base.join(data_dir, CLASSES_FILE)
            if files.exists(classes_path):
                names = base.read_names(classes_path)
            else:
                names = sorted({label for _, label in self._manifest(data_dir)})
        else:
            present = self._split_folders(data_dir)
            root = base.join(data_dir, present[0]) if present else data_dir
            names = image_files.list_class_dirs(root)
        if not names:
            raise ValueError(f"{data_dir} holds no classes: expected {self.layout}")
        return names

    def list_inputs(
        self, data_dir: str, pattern: str, class_names: Sequence[str]
    ) -> list[base.InputFile]:
        class_index = {name: index for index, name in enumerate(class_names)}
        if pattern != MANIFEST_FILE:
            return image_files.class_folder_inputs(
                data_dir, pattern, class_index, self.max_per_class
            )
        taken: dict[str, int] = {}
        inputs = []
        for path, label in self._manifest(data_dir):
            if label not in class_index:
                raise ValueError(
                    f"{base.join(data_dir, MANIFEST_FILE)}: {path!r} has label {label!r}, which "
                    f"{CLASSES_FILE} does not list: fix the label or add the class"
                )
            taken[label] = taken.get(label, 0) + 1
            if self.max_per_class is not None and taken[label] > self.max_per_class:
                continue
            absolute = path if os.path.isabs(path) or "://" in path else base.join(data_dir, path)
            inputs.append(base.InputFile(absolute, path, class_index[label], label))
        return inputs

    def read(
        self, item: base.InputFile, class_names: Sequence[str]
    ) -> Iterator[base.Example | base.Rejected]:
        return image_files.read_image_file(item, class_names, self.keep_formats, self.target_format)

    @staticmethod
    def _split_folders(data_dir: str) -> list[str]:
        """Those of train/, val/, test/ that `data_dir` holds, in that order."""
        return [name for name in SPLIT_FOLDERS if files.isdir(base.join(data_dir, name))]

    def _manifest(self, data_dir: str) -> list[tuple[str, str]]:
        path = base.join(data_dir, MANIFEST_FILE)
        return parse_manifest(files.read_text(path), origin=path)


FOLDER = FolderSource()
