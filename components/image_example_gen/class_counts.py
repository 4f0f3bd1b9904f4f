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
from features import EVAL_SPLIT, TRAIN_SPLIT

FILE_SUFFIX = "-classes.json"


class TooFewClassesError(ValueError):
    """The training split has fewer than two classes with enough examples."""


class EmptySplitError(ValueError):
    """The eval split, which the Trainers validate on and the gate scores, got no example."""


# Output split -> label -> examples.
Counts = dict[str, dict[int, int]]


def read(report_dir: str) -> Counts:
    """Output split -> label -> examples, summed over the input splits' files in
    `report_dir` (the Examples artifact's `rejected/`)."""
    totals: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    for path in files.glob(base.join(report_dir, "*" + FILE_SUFFIX)):
        for split, counts in json.loads(files.read_text(path)).items():
            totals[split].update({int(label): n for label, n in counts.items()})
    return {split: dict(sorted(counts.items())) for split, counts in sorted(totals.items())}


def check(counts: Counts, class_names: Sequence[str], min_images: int) -> None:
    """Raises TooFewClassesError, one line, when the training split has fewer than two
    classes of at least `min_images` examples (an empty or missing one has none), and
    EmptySplitError when the eval split has no example."""
    train = counts.get(TRAIN_SPLIT, {})
    enough = [label for label, n in train.items() if n >= min_images]
    if len(enough) < 2:
        found = ", ".join(f"{class_names[label]} {n}" for label, n in train.items()) or "none"
        raise TooFewClassesError(
            f"the {TRAIN_SPLIT} split has {len(enough)} class(es) with at least {min_images} "
            f"examples (found: {found}); a classifier needs two or more "
            "(data.min_images_per_class sets the minimum)"
        )
    if not sum(counts.get(EVAL_SPLIT, {}).values()):
        raise EmptySplitError(
            f"the {EVAL_SPLIT} split got no example of the {sum(train.values())} read: nothing "
            f"to validate or gate on; give more images, or a larger {EVAL_SPLIT} share in "
            "data.split_ratios"
        )


# Up to this many classes, `describe` lists every class's count.
LISTED_CLASSES = 20


def describe(counts: Counts, class_names: Sequence[str]) -> list[str]:
    """The number of classes, then a line per split: its examples and every class's count
    (up to LISTED_CLASSES classes; else the classes with the fewest and the most)."""
    lines = [f"{len(class_names)} classes"]
    for split, split_counts in counts.items():
        count = [split_counts.get(label, 0) for label in range(len(class_names))]
        if len(class_names) <= LISTED_CLASSES:
            detail = ", ".join(f"{name} {n}" for name, n in zip(class_names, count, strict=True))
        else:
            fewest = min(range(len(count)), key=count.__getitem__)
            most = max(range(len(count)), key=count.__getitem__)
            detail = (
                f"fewest {class_names[fewest]} {count[fewest]}, "
                f"most {class_names[most]} {count[most]}"
            )
        lines.append(f"{split} {sum(count)} examples: {detail}")
    return lines


def warnings(counts: Counts, class_names: Sequence[str], min_images: int) -> list[str]:
    """One line per problem a user should see: classes with fewer than `min_images` training
    examples, and classes that some split lacks."""
    lines = []
    train = counts.get(TRAIN_SPLIT)
    if train is not None:
        thin = [
            f"{name} {train.get(label, 0)}"
            for label, name in enumerate(class_names)
            if train.get(label, 0) < min_images
        ]
        if thin:
            lines.append(
                f"{len(thin)} class(es) with fewer than {min_images} training examples: "
                + ", ".join(thin)
            )
    for split, split_counts in counts.items():
        missing = [name for label, name in enumerate(class_names) if not split_counts.get(label)]
        if missing and len(missing) < len(class_names):
            lines.append(f"split {split} has no example of: {', '.join(missing)}")
    return lines
