"""Training and inference images/s of a CNN and its VT counterpart, and the FLOP/s they reach
against this machine's measured peak, on this CPU.

    python -m bench.train_throughput     # tiny pairs and R18 at 32 px (batch 128), R18 at 224 px
    python -m bench.train_throughput --cases 32:resnet_tiny:vt_resnet_tiny:128
    python -m bench.train_throughput --precision mixed_bfloat16     # both models in bfloat16

Each measurement runs a few warm-up steps (graph tracing), then times `--steps` steps of
random images: a training step (forward, backward, SGD update) and an inference step. The
paper reports VT-R18 needing 13% fewer MACs than R18 at 224 px; the table shows whether that
becomes speed here. Achieved FLOP/s count 2 FLOPs per MAC and a training step as three
forward passes (the backward pass computes two products per forward one); the peak is
`bench.peak`'s 3x3 convolution, measured in the same run. Prints a table and writes JSON
(default outputs/bench/train_throughput.json).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import models  # noqa: F401 - selects Keras 2 (tf_keras) before TensorFlow loads

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from bench.peak import measure_peak  # noqa: E402
from bench.results import write_result  # noqa: E402
from models.costs import count_macs  # noqa: E402
from models.registry import build_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# SIZE:CNN:VT:BATCH: CIFAR-stem models at 32 px, ImageNet-stem ones at 224 px.
DEFAULT_CASES = (
    "32:resnet_tiny:vt_resnet_tiny:128",
    "32:resnet_tiny:vt_resnet_tiny_prenorm:128",
    "32:resnet18_cifar:vt_resnet18_cifar:128",
    "224:resnet18:vt_resnet18:32",
)
TRAIN_FORWARDS = 3  # a training step costs about three forward passes (forward + backward)


def images_per_second(
    name: str, size: int, batch: int, steps: int, warmup: int, peak_gflops: float
) -> dict:
    """Timed training and inference steps of one model on random data, and the fraction of
    `peak_gflops` they reach."""
    num_classes = 1000 if size == 224 else 10
    keras.utils.set_random_seed(0)
    model = build_model(name, input_shape=(size, size, 3), num_classes=num_classes)
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    images = tf.random.normal([batch, size, size, 3])
    labels = tf.random.uniform([batch], maxval=num_classes, dtype=tf.int32)

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def infer_step():
        return model(images, training=False)

    def timed(step) -> float:
        for _ in range(warmup):
            step().numpy()
        start = time.perf_counter()
        for _ in range(steps):
            step().numpy()
        return batch * steps / (time.perf_counter() - start)

    gmacs = count_macs(model) / 1e9
    train, infer = timed(train_step), timed(infer_step)
    train_gflops, infer_gflops = 2 * TRAIN_FORWARDS * gmacs * train, 2 * gmacs * infer
    return {
        "model": name,
        "image_size": size,
        "batch": batch,
        "gmacs": gmacs,
        "train_images_per_s": train,
        "infer_images_per_s": infer,
        "train_gflops": train_gflops,
        "infer_gflops": infer_gflops,
        "train_of_peak": train_gflops / peak_gflops,
        "infer_of_peak": infer_gflops / peak_gflops,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cases",
        nargs="+",
        default=list(DEFAULT_CASES),
        metavar="SIZE:CNN:VT:BATCH",
        help="image size, the two registered models and the batch size",
    )
    parser.add_argument(
        "--precision",
        choices=["float32", "mixed_bfloat16"],
        default="float32",
        help="Keras' compute policy for both models (bfloat16 needs AVX512_BF16 or AMX to pay)",
    )
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--json", default=str(REPO / "outputs" / "bench" / "train_throughput.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    peak = measure_peak()
    print(f"peak: 3x3 conv {peak['conv3x3_gflops']:.0f} GFLOP/s ({peak['cpu']})")
    keras.mixed_precision.set_global_policy(args.precision)
    rows, pairs = [], []
    for case in args.cases:
        size, cnn, vt, batch = case.split(":")
        pair = [
            images_per_second(
                name, int(size), int(batch), args.steps, args.warmup, peak["conv3x3_gflops"]
            )
            for name in (cnn, vt)
        ]
        rows += pair
        pairs.append(
            {
                "image_size": int(size),
                "cnn": cnn,
                "vt": vt,
                "macs_ratio": pair[1]["gmacs"] / pair[0]["gmacs"],
                "train_speed_ratio": pair[1]["train_images_per_s"] / pair[0]["train_images_per_s"],
                "infer_speed_ratio": pair[1]["infer_images_per_s"] / pair[0]["infer_images_per_s"],
            }
        )
    print(
        f"{'model':<24}{'size':>5}{'batch':>6}{'GMACs':>9}{'train img/s':>13}{'of peak':>9}"
        f"{'infer img/s':>13}{'of peak':>9}"
    )
    for r in rows:
        print(
            f"{r['model']:<24}{r['image_size']:>5}{r['batch']:>6}{r['gmacs']:>9.3f}"
            f"{r['train_images_per_s']:>13.1f}{r['train_of_peak']:>9.2f}"
            f"{r['infer_images_per_s']:>13.1f}{r['infer_of_peak']:>9.2f}"
        )
    print(f"\n{'VT / CNN':<34}{'MACs':>8}{'train speed':>13}{'infer speed':>13}")
    for p in pairs:
        print(
            f"{p['vt'] + ' / ' + p['cnn']:<30}{p['image_size']:>4}{p['macs_ratio']:>8.3f}"
            f"{p['train_speed_ratio']:>13.3f}{p['infer_speed_ratio']:>13.3f}"
        )
    machine = {"cpu_count": os.cpu_count(), "platform": platform.platform(), "tf": tf.__version__}
    print()
    result = {"machine": machine, "peak": peak, "precision": args.precision, "rows": rows}
    write_result(args.json, {**result, "pairs": pairs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
