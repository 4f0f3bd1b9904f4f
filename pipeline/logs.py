"""Quiet, readable console output: progress lines, not thousands of library log lines.

Call `quiet_tensorflow()` before TensorFlow is imported and `show_progress()` after.
"""

from __future__ import annotations

import logging
import os
import re
import warnings

import models  # noqa: F401 - selects Keras 2 (tf_keras) before TensorFlow loads

PROJECT_PACKAGES = ("models", "components", "pipeline")
_PROGRESS = re.compile(r"^Component .* is (running|finished)\.$|^A cached execution")


# Warnings of the pinned stack that tell a user of this project nothing to act on, silenced
# by message and category; any other warning, including a deprecation a TFX upgrade would
# need to see, is shown. Messages are matched from their start; none may hold ':' or ','
# (the PYTHONWARNINGS syntax Beam's worker processes inherit).
KNOWN_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # Python 3.10 is past end of life: README, "Requirements and the Python 3.10 caveat".
    ("You are using a non-supported Python version", FutureWarning),
    # Pins held by TFX 1.16 / Beam 2.61 (google-cloud-storage 2, grpcio, pyparsing 3.1).
    ("Support for google-cloud-storage < 3.0.0 will be removed", FutureWarning),
    ("grpcio < 1.83.0 does not support Post-Quantum Cryptography", FutureWarning),
    ("'setName' deprecated", DeprecationWarning),
    ("'setParseAction' deprecated", DeprecationWarning),
    ("'addParseAction' deprecated", DeprecationWarning),
    ("'leaveWhitespace' deprecated", DeprecationWarning),
    ("'delimitedList' deprecated", DeprecationWarning),
    # TFMA 0.47's multi-class confusion matrix with NumPy 1.26.
    ("Conversion of an array with ndim > 0 to a scalar is deprecated", DeprecationWarning),
    # tf_keras 2.16 draws its seeds with random.randint(1, 1e9).
    ("non-integer arguments to randrange() have been deprecated", DeprecationWarning),
    # TFX 1.16 about its own constant, read by its own code.
    ("DEFAULT_FILE_NAME will be deprecated soon", DeprecationWarning),
)


def ignore_known_warnings() -> None:
    """Silences `KNOWN_WARNINGS` in this process and in the processes it starts."""
    for message, category in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(message), category=category)
    inherited = [f"ignore:{message}:{category.__name__}" for message, category in KNOWN_WARNINGS]
    current = [option for option in os.environ.get("PYTHONWARNINGS", "").split(",") if option]
    os.environ["PYTHONWARNINGS"] = ",".join(dict.fromkeys([*inherited, *current]))


def quiet_tensorflow() -> None:
    """Environment for TF and Google libraries; effective only before they are imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    ignore_known_warnings()
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
