"""How many examples of each class each split got, and what is wrong with that.

The read tasks count the examples per (output split, class); `rejects.write_rejects` writes
each input split's counts as `rejected/<input split>-classes.json` beside its rejects. After
the pipeline, `read` sums them, `check` stops a run whose training split has fewer than two
classes of at least `min_images` examples (no classifier can be trained or compared on it),
and `warnings` says which classes are thin or missing from a split, for the run summary and
the report.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Sequence

from components.image_example_gen import files
from components.image_example_gen.sources import base

FILE_SUFFIX = "-classes.json"
TRAIN_SPLIT = "train"


class TooFewClassesError(ValueError):
    """The training split has fewer than two classes with enough examples."""


def read(report_dir: str) -> dict[str, dict[str, int]]:
    """Output split -> class name -> examples, summed over the input splits' files in
    `report_dir` (the Examples artifact's `rejected/`)."""
    totals: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for path in files.glob(base.join(report_dir, "*" + FILE_SUFFIX)):
        for split, counts in json.loads(files.read_text(path)).items():
            totals[split].update(counts)
    return {split: dict(sorted(counts.items())) for split, counts in sorted(totals.items())}


def check(counts: dict[str, dict[str, int]], min_images: int) -> None:
    """Raises TooFewClassesError, one line, when the training split has fewer than two
    classes of at least `min_images` examples (an empty or missing one has none)."""
    train = counts.get(TRAIN_SPLIT, {})
    enough = sorted(name for name, n in train.items() if n >= min_images)
    if len(enough) < 2:
        found = ", ".join(f"{name} {n}" for name, n in train.items()) or "none"
        raise TooFewClassesError(
            f"the {TRAIN_SPLIT} split has {len(enough)} class(es) with at least {min_images} "
            f"examples (found: {found}); a classifier needs two or more "
            "(data.min_images_per_class sets the minimum)"
        )


# Up to this many classes, `describe` lists every class's count.
LISTED_CLASSES = 20


def describe(counts: dict[str, dict[str, int]], class_names: Sequence[str]) -> list[str]:
    """The number of classes, then a line per split: its examples and every class's count
    (up to LISTED_CLASSES classes; else the classes with the fewest and the most)."""
    lines = [f"{len(class_names)} classes"]
    for split, split_counts in counts.items():
        count = {name: split_counts.get(name, 0) for name in class_names}
        if len(class_names) <= LISTED_CLASSES:
            detail = ", ".join(f"{name} {n}" for name, n in count.items())
        else:
            fewest, most = min(count, key=count.get), max(count, key=count.get)
            detail = f"fewest {fewest} {count[fewest]}, most {most} {count[most]}"
        lines.append(f"{split} {sum(count.values())} examples: {detail}")
    return lines


def warnings(
    counts: dict[str, dict[str, int]], class_names: Sequence[str], min_images: int
) -> list[str]:
    """One line per problem a user should see: classes with fewer than `min_images` training
    examples, and classes that some split lacks."""
    lines = []
    train = counts.get(TRAIN_SPLIT)
    if train is not None:
        thin = [
            f"{name} {train.get(name, 0)}"
            for name in class_names
            if train.get(name, 0) < min_images
        ]
        if thin:
            lines.append(
                f"{len(thin)} class(es) with fewer than {min_images} training examples: "
                + ", ".join(thin)
            )
    for split, split_counts in counts.items():
        missing = [name for name in class_names if not split_counts.get(name)]
        if missing and len(missing) < len(class_names):
            lines.append(f"split {split} has no example of: {', '.join(missing)}")
    return lines
