"""TensorBoard, which reads the Trainers' logs, starts from the environment (`make venv`)."""

import subprocess
import sys
from pathlib import Path


def test_tensorboard_starts_from_the_venv() -> None:
    # TensorBoard 2.16 imports pkg_resources: the setuptools pin must keep it (pyproject.toml).
    tensorboard = Path(sys.executable).parent / "tensorboard"

    done = subprocess.run(
        [str(tensorboard), "--version"], capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().startswith("2.16")
