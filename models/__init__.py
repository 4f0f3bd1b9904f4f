"""Keras models compared by the pipeline.

Importing this package selects Keras 2 (tf_keras) for TensorFlow and the libraries built on it
(TFT, TFMA): the one place that sets TF_USE_LEGACY_KERAS. Entry points (pipeline_runner.py,
bench/, tests/conftest.py) import it before anything imports TensorFlow.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
