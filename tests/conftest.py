"""Test-wide set-up: Keras 2 and quiet TensorFlow before anything imports TensorFlow."""

import os
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# CI runs the same examples every time (a failure there must be reproducible); locally each
# run draws new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets beside the clone (`../shared/data`); skips the test when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (only on the project's machines)")
    return SHARED_DATA
