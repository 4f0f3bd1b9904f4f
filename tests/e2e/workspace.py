"""Shared pieces of the end-to-end tests: a tiny generated data set and running the CLI."""

from __future__ import annotations

from pathlib import Path

import pipeline_runner
from tests.fixtures.cifar import write_cifar10_python


def make_workspace(root: Path, images_per_batch: int, num_train_batches: int) -> dict[str, Path]:
    """A generated CIFAR-10 layout under `root` and an output root beside it."""
    data_dir = write_cifar10_python(root / "data", images_per_batch, num_train_batches)
    return {"data_dir": data_dir, "output_root": root / "outputs"}


def run_smoke(workspace: dict[str, Path], *flags: str) -> int:
    """`pipeline_runner.py --preset=smoke` on the workspace's data, in this process."""
    return pipeline_runner.main(
        [
            "--preset=smoke",
            f"--data-dir={workspace['data_dir']}",
            f"--output-root={workspace['output_root']}",
            *flags,
        ]
    )
