"""Latency of the pushed model's raw-bytes signature, batch 1 and batch 64, p50/p95 in ms.

    python -m bench.serving_latency                       # newest version pushed by `make run`
    python -m bench.serving_latency --model outputs/serving/vt-vs-cnn/1 --requests 200

Sends real JPEG bytes of CIFAR-10 images from the embedded sample through `serving_raw_image`
(decode, resize and normalise in the Transform graph, then the model), in this process, as a
TF Serving server would run it. Prints a table and writes JSON
(default outputs/bench/serving_latency.json).
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import sys
import time
from pathlib import Path

import models  # noqa: F401 - selects Keras 2 (tf_keras) before TensorFlow loads

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from bench.results import write_result  # noqa: E402
from models.signatures import RAW_BYTES_SIGNATURE  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "cifar10-sample" / "cifar-10-batches-py" / "test_batch"


def sample_jpegs(count: int) -> list[bytes]:
    """`count` JPEG-encoded images of the embedded CIFAR-10 test batch."""
    with open(SAMPLE, "rb") as f:
        pixels = pickle.load(f, encoding="bytes")[b"data"][:count]
    images = pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    encoded = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=90)
        encoded.append(buffer.getvalue())
    return encoded


def latencies_ms(signature, images: list[bytes], batch: int, requests: int) -> np.ndarray:
    """Milliseconds per request of `batch` images, after 5 warm-up requests."""
    payload = tf.constant((images * (batch // len(images) + 1))[:batch])
    for _ in range(5):
        signature(image_bytes=payload)
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        signature(image_bytes=payload)["probabilities"].numpy()
        times.append((time.perf_counter() - start) * 1000)
    return np.array(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="SavedModel dir (default: newest pushed)")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--json", default=str(REPO / "outputs" / "bench" / "serving_latency.json"))
    args = parser.parse_args(argv)
    if args.model is None:
        from components.winner.serving import production_model_dir

        args.model = production_model_dir(str(REPO / "outputs" / "serving" / "vt-vs-cnn"))
        if args.model is None:
            print("error: nothing pushed yet: run `make run` or pass --model", file=sys.stderr)
            return 2
    signature = tf.saved_model.load(args.model).signatures[RAW_BYTES_SIGNATURE]
    images = sample_jpegs(64)
    rows = []
    print(f"model: {args.model}\n{'batch':>5}{'p50 ms':>9}{'p95 ms':>9}{'images/s':>10}")
    for batch in (1, 64):
        ms = latencies_ms(signature, images, batch, args.requests)
        p50, p95 = np.percentile(ms, [50, 95])
        rows.append(
            {"batch": batch, "p50_ms": p50, "p95_ms": p95, "images_per_s": batch / p50 * 1000}
        )
        print(f"{batch:>5}{p50:>9.2f}{p95:>9.2f}{batch / p50 * 1000:>10.0f}")
    write_result(args.json, {"model": args.model, "requests": args.requests, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
