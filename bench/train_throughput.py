"""Training and inference images/s of a CNN and its VT counterpart at equal depth, on this CPU.

    python -m bench.train_throughput              # R18 vs VT-R18 at 32 px (CIFAR stem), 224 px
    python -m bench.train_throughput --cases 32:resnet_tiny:vt_resnet_tiny

Each measurement runs a few warm-up steps (graph tracing), then times `--steps` steps of
random images: a training step (forward, backward, SGD update) and an inference step. The
paper reports VT-R18 needing 13% fewer MACs than R18 at 224 px; the table shows whether that
becomes speed here. Prints a table and writes JSON (default outputs/bench/train_throughput.json).
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

from bench.results import write_result  # noqa: E402
from models.costs import count_macs  # noqa: E402
from models.registry import build_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# (image size, CNN, VT): CIFAR-stem models at 32 px, ImageNet-stem ones at 224 px.
DEFAULT_CASES = ((32, "resnet18_cifar", "vt_resnet18_cifar"), (224, "resnet18", "vt_resnet18"))


def images_per_second(name: str, size: int, batch: int, steps: int, warmup: int) -> dict:
    """Timed training and inference steps of one model on random data."""
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

    return {
        "model": name,
        "image_size": size,
        "batch": batch,
        "gmacs": count_macs(model) / 1e9,
        "train_images_per_s": timed(train_step),
        "infer_images_per_s": timed(infer_step),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cases",
        nargs="+",
        default=[f"{s}:{c}:{v}" for s, c, v in DEFAULT_CASES],
        metavar="SIZE:CNN:VT",
        help="image size and the two registered models (default: R18 pairs at 32 and 224)",
    )
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--json", default=str(REPO / "outputs" / "bench" / "train_throughput.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows, pairs = [], []
    for case in args.cases:
        size, cnn, vt = case.split(":")
        pair = [
            images_per_second(name, int(size), args.batch, args.steps, args.warmup)
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
    print(f"{'model':<20}{'size':>5}{'GMACs':>9}{'train img/s':>13}{'infer img/s':>13}")
    for r in rows:
        print(
            f"{r['model']:<20}{r['image_size']:>5}{r['gmacs']:>9.3f}"
            f"{r['train_images_per_s']:>13.1f}{r['infer_images_per_s']:>13.1f}"
        )
    print(f"\n{'VT / CNN':<34}{'MACs':>8}{'train speed':>13}{'infer speed':>13}")
    for p in pairs:
        print(
            f"{p['vt'] + ' / ' + p['cnn']:<30}{p['image_size']:>4}{p['macs_ratio']:>8.3f}"
            f"{p['train_speed_ratio']:>13.3f}{p['infer_speed_ratio']:>13.3f}"
        )
    machine = {"cpu_count": os.cpu_count(), "platform": platform.platform(), "tf": tf.__version__}
    print()
    write_result(args.json, {"machine": machine, "rows": rows, "pairs": pairs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
