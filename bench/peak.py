"""This machine's measured compute peak: float32 GFLOP/s of a 3x3 convolution and a matmul.

    python -m bench.peak

Machines behind one name differ 4-5x here, so every benchmark section states the peak
measured on its machine. Each op is traced once, then timed `--repeats` times; the best time
counts (the peak, not the average). A 3x3 convolution of C channels on an HxW map costs
2 * 9 * C * C * H * W FLOPs per image; an NxN matmul 2 * N^3. Prints the two numbers and
writes JSON (default outputs/bench/peak.json).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from bench.results import RESULTS_DIR, write_result  # noqa: E402


def best_seconds(op: Callable[[], tf.Tensor], repeats: int) -> float:
    """The fastest of `repeats` timed calls of `op`, after one untimed call (tracing)."""
    op().numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        op().numpy()
        times.append(time.perf_counter() - start)
    return min(times)


def conv_gflops(batch: int, side: int, channels: int, repeats: int) -> float:
    images = tf.random.normal([batch, side, side, channels])
    kernel = tf.random.normal([3, 3, channels, channels])
    conv = tf.function(lambda: tf.nn.conv2d(images, kernel, strides=1, padding="SAME"))
    flops = 2 * 9 * channels * channels * side * side * batch
    return flops / best_seconds(conv, repeats) / 1e9


def matmul_gflops(size: int, repeats: int) -> float:
    a, b = tf.random.normal([size, size]), tf.random.normal([size, size])
    matmul = tf.function(lambda: tf.linalg.matmul(a, b))
    return 2 * size**3 / best_seconds(matmul, repeats) / 1e9


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown" elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if "model name" in line]
    except OSError:
        names = []
    return names[0] if names else "unknown"


def measure_peak(repeats: int = 10) -> dict:
    """This machine's float32 3x3-conv and matmul GFLOP/s (best of `repeats`), CPU and threads."""
    return {
        "conv3x3_gflops": conv_gflops(64, 16, 128, repeats),
        "matmul_gflops": matmul_gflops(2048, repeats),
        "cpu": cpu_model(),
        "threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--output", default=str(RESULTS_DIR / "peak.json"))
    args = parser.parse_args()
    result = measure_peak(args.repeats)
    print(
        f"{result['cpu']}: 3x3 conv {result['conv3x3_gflops']:.0f} GFLOP/s, "
        f"matmul {result['matmul_gflops']:.0f} GFLOP/s (float32, best of {args.repeats})"
    )
    write_result(args.output, result)


if __name__ == "__main__":
    main()
