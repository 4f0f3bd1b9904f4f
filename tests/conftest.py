"""Test-wide set-up: Keras 2 and quiet TensorFlow before anything imports TensorFlow."""

import os
import re
from pathlib import Path

import pytest
from hypothesis import settings

import models  # noqa: F401 - selects Keras 2 (tf_keras) before TensorFlow loads
from pipeline.logs import KNOWN_WARNINGS

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


def pytest_configure(config: pytest.Config) -> None:
    """The pinned stack's known warnings are silenced by name (pipeline/logs.py); every other
    warning shows in the summary, so that an upgrade sees its deprecations."""
    for message, category in KNOWN_WARNINGS:
        line = f"ignore:{re.escape(message)}:{category.__name__}"
        config.addinivalue_line("filterwarnings", line)
