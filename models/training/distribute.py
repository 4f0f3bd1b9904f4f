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
    """Sets the global Keras policy (`precision_policy` on this machine); returns its name."""
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    policy = precision_policy(mixed_precision, has_gpu, cpu_flags())
    if mixed_precision and policy == "float32":
        logging.warning(
            "train.mixed_precision ignored: no GPU and no bfloat16 instructions on this CPU "
            "(AVX512_BF16 or AMX); training in float32"
        )
    keras.mixed_precision.set_global_policy(policy)
    return policy


def precision_policy(mixed_precision: bool, has_gpu: bool, flags: set[str]) -> str:
    """The Keras policy for `train.mixed_precision`: "mixed_float16" on a GPU, "mixed_bfloat16"
    on a CPU with bfloat16 instructions (oneDNN runs the convolutions and products in bfloat16,
    docs/benchmarks.md, "VT training speed"), else "float32" (float16 on a CPU is slower)."""
    if not mixed_precision:
        return "float32"
    if has_gpu:
        return "mixed_float16"
    return "mixed_bfloat16" if flags & BFLOAT16_FLAGS else "float32"


BFLOAT16_FLAGS = {"avx512_bf16", "amx_bf16"}  # /proc/cpuinfo's names


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (none where there is no such file)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()
