"""Keras models compared by the pipeline; importing this package selects Keras 2 (tf_keras)."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
