"""Quiet, readable console output: progress lines, not thousands of library log lines.

Call `quiet_tensorflow()` before TensorFlow is imported and `show_progress()` after.
"""

from __future__ import annotations

import logging
import os
import re
import warnings

PROJECT_PACKAGES = ("models", "components", "pipeline")
_PROGRESS = re.compile(r"^Component .* is (running|finished)\.$|^A cached execution")


def quiet_tensorflow() -> None:
    """Environment for TF and Google libraries; effective only before they are imported."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Child processes (Beam workers) inherit these.
    os.environ.setdefault(
        "PYTHONWARNINGS", "ignore::FutureWarning,ignore::DeprecationWarning,ignore::UserWarning"
    )
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category)


class _ProgressFilter(logging.Filter):
    """Keeps warnings and errors, TFX's component start/finish lines and this project's logs."""

    def __init__(self, root: str):
        super().__init__()
        self._root = root

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        if record.pathname.startswith(self._root):
            return True
        return record.levelno == logging.INFO and bool(_PROGRESS.match(record.getMessage()))


def show_progress(verbose: bool = False) -> None:
    """Routes absl/Python logging to stderr, filtered to progress unless `verbose`."""
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.INFO)
    absl_logging.use_python_logging()
    handler = absl_logging.get_absl_handler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    if not verbose:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        handler.addFilter(_ProgressFilter(os.path.join(root, "")))
        for name in ("apache_beam", "tensorflow", "tfx", "root"):
            logging.getLogger(name).setLevel(logging.ERROR)
