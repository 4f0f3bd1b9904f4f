"""Draws the project's embedded default data set from the real CIFAR-10 subset.

Writes a class-balanced, deterministic sample in the official CIFAR-10 python
layout: data_batch_1 and data_batch_2 with 100 images per class each (drawn from
all five training files of the subset), test_batch with 50 images per class
(from its test_batch), and the official batches.meta, copied as is.

Usage (from the repository root):
  .venv/bin/python scripts/make_default_sample.py
"""

import argparse
import hashlib
import pickle
import shutil
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared/data/cifar10-subset/cifar-10-batches-py"
DEFAULT_OUTPUT = REPO / "data/cifar10-sample/cifar-10-batches-py"
SEED = 20090408  # Publication date of Krizhevsky's tech report.
NUM_CLASSES = 10
TRAIN_FILES = [f"data_batch_{number}" for number in range(1, 6)]
TRAIN_BATCHES = 2
TRAIN_PER_CLASS_PER_BATCH = 100
TEST_PER_CLASS = 50


def _load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Returns the (data [N, 3072] uint8, labels [N]) of one batch file."""
    with path.open("rb") as f:
        batch = pickle.load(f, encoding="bytes")
    return np.asarray(batch[b"data"], np.uint8), np.asarray(batch[b"labels"], np.int64)


def _draw(
    rng: np.random.Generator, labels: np.ndarray, per_class: int, num_batches: int
) -> list[np.ndarray]:
    """Returns `num_batches` shuffled index arrays holding `per_class` images of each class."""
    chosen = [
        rng.choice(np.flatnonzero(labels == label), per_class * num_batches, replace=False)
        for label in range(NUM_CLASSES)
    ]
    return [
        rng.permutation(np.concatenate([c[b * per_class : (b + 1) * per_class] for c in chosen]))
        for b in range(num_batches)
    ]


def _write(path: Path, batch_label: str, data: np.ndarray, labels: np.ndarray) -> None:
    batch = {
        b"batch_label": batch_label.encode(),
        b"labels": [int(label) for label in labels],
        b"data": np.ascontiguousarray(data),
    }
    with path.open("wb") as f:
        # Python 3 writes bytes under protocol 2 as latin-1 text, 1.45 times their size.
        pickle.dump(batch, f, protocol=4)


def make_sample(source: Path, output: Path) -> None:
    """Writes the sample drawn from the CIFAR-10 python layout in `source` to `output`."""
    rng = np.random.default_rng(SEED)
    train = [_load(source / name) for name in TRAIN_FILES]
    train_data = np.concatenate([data for data, _ in train])
    train_labels = np.concatenate([labels for _, labels in train])
    test_data, test_labels = _load(source / "test_batch")

    output.mkdir(parents=True, exist_ok=True)
    for number, indices in enumerate(
        _draw(rng, train_labels, TRAIN_PER_CLASS_PER_BATCH, TRAIN_BATCHES), start=1
    ):
        _write(
            output / f"data_batch_{number}",
            f"training batch {number} of {TRAIN_BATCHES} (sample)",
            train_data[indices],
            train_labels[indices],
        )
    (indices,) = _draw(rng, test_labels, TEST_PER_CLASS, 1)
    _write(
        output / "test_batch",
        "testing batch 1 of 1 (sample)",
        test_data[indices],
        test_labels[indices],
    )
    shutil.copyfile(source / "batches.meta", output / "batches.meta")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="cifar-10-batches-py dir"
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the sample"
    )
    args = parser.parse_args()
    make_sample(args.source, args.output)
    for path in sorted(args.output.iterdir()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{digest}  {path.relative_to(args.output.parent)}")


if __name__ == "__main__":
    main()
