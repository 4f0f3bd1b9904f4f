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
    # TensorFlow's Python deprecation notices (e.g. from TFMA's readers).
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


class _ProgressFilter(logging.Filter):
    """Keeps errors, TFX's component start/finish lines and this project's own log lines."""

    def __init__(self, project_dirs: tuple[str, ...]):
        super().__init__()
        self._project_dirs = project_dirs

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR or record.pathname.startswith(self._project_dirs):
            return True
        return record.levelno == logging.INFO and bool(_PROGRESS.match(record.getMessage()))


def show_progress(verbose: bool = False) -> None:
    """Logs to stderr as `HH:MM:SS message`, filtered to progress lines unless `verbose`.

    absl (TFX's logger) writes through Python logging's "absl" logger; the filter sits on that
    logger, and the other libraries' loggers are raised to ERROR.
    """
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.INFO)
    absl_logging.use_python_logging(quiet=True)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    if verbose:
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    project_dirs = tuple(os.path.join(root, package, "") for package in PROJECT_PACKAGES)
    logging.getLogger("absl").addFilter(_ProgressFilter(project_dirs))
    for name in ("apache_beam", "tensorflow", "tfx", "ml_metadata", "root"):
        logging.getLogger(name).setLevel(logging.ERROR)
