"""Where training runs: the tf.distribute strategy and the precision policy, from config."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras
from absl import logging


def create_strategy(name: str) -> tf.distribute.Strategy:
    """ "default" (one device), "mirrored" (all local GPUs), "multi_worker_mirrored" (TF_CONFIG
    workers) or "tpu" (the TPU found by the cluster resolver)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(
        f"train.strategy must be default, mirrored, multi_worker_mirrored or tpu; got {name!r}."
    )


def set_precision(mixed_precision: bool) -> str:
    """Sets the global Keras policy: "mixed_float16" when asked for and a GPU is visible,
    else "float32" (float16 on CPU is slower, not faster). Returns the policy name."""
    policy = "float32"
    if mixed_precision:
        if tf.config.list_physical_devices("GPU"):
            policy = "mixed_float16"
        else:
            logging.warning("train.mixed_precision ignored: no GPU visible; training in float32")
    keras.mixed_precision.set_global_policy(policy)
    return policy
