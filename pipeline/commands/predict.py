"""`pipeline_runner.py predict`: classify image files with a pushed model.

    python pipeline_runner.py predict IMAGE [IMAGE ...]                 # latest pushed model
    python pipeline_runner.py predict --model outputs/serving/vt-vs-cnn/3 --top-k 5 cat.jpg

Uses the SavedModel's `serving_raw_image` signature (encoded JPEG/PNG bytes in, the Transform
graph and the model inside), exactly what a TF Serving client would call.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from models.signatures import PROBABILITIES_KEY, RAW_BYTES_SIGNATURE
from pipeline.cli import add_config_flags, config_from_args


@dataclass(frozen=True)
class Prediction:
    """Top-k classes of one image, most probable first."""

    path: str
    top: list[tuple[str, float]]


def latest_version(serving_dir: str) -> str:
    """The newest pushed version under a serving directory (what TF Serving would serve).

    Raises FileNotFoundError when nothing was pushed there.
    """
    from components.winner.serving import production_model_dir

    model_dir = production_model_dir(serving_dir)
    if model_dir is None:
        raise FileNotFoundError(
            f"no pushed model under {serving_dir}: run the pipeline first "
            "(python pipeline_runner.py), or pass --model PATH"
        )
    return model_dir


def predict_files(model_dir: str, paths: list[str], top_k: int) -> list[Prediction]:
    """Classifies `paths` in one batch. Raises ValueError naming any file that is not an image."""
    import numpy as np
    import tensorflow as tf

    images, unreadable = [], []
    for path in paths:
        try:
            data = tf.io.gfile.GFile(path, "rb").read()
            tf.io.decode_image(data, channels=3, expand_animations=False)
        except (OSError, tf.errors.OpError):
            unreadable.append(path)
            continue
        images.append(data)
    if unreadable:
        raise ValueError(f"not a readable JPEG/PNG/GIF/BMP image: {', '.join(unreadable)}")

    model = tf.saved_model.load(model_dir)
    outputs = model.signatures[RAW_BYTES_SIGNATURE](image_bytes=tf.constant(images))
    probabilities = outputs[PROBABILITIES_KEY].numpy()
    names = [name.decode() for name in model.class_names.numpy()]
    predictions = []
    for path, row in zip(paths, probabilities, strict=True):
        best = np.argsort(-row)[:top_k]
        predictions.append(Prediction(path, [(names[i], float(row[i])) for i in best]))
    return predictions


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pipeline_runner.py predict",
        description="Print the top-k classes of image files from a pushed model.",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG or PNG files")
    parser.add_argument(
        "--model",
        default="latest",
        help="a SavedModel directory, or 'latest': the newest version pushed by the "
        "configured pipeline (default)",
    )
    parser.add_argument("--top-k", type=int, default=3, help="classes to print per image")
    add_config_flags(parser)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    config = config_from_args(args)
    model_dir = latest_version(config.serving_dir) if args.model == "latest" else args.model
    predictions = predict_files(model_dir, args.images, args.top_k)
    print(f"model: {model_dir}")
    for prediction in predictions:
        classes = "  ".join(f"{name} {probability:.3f}" for name, probability in prediction.top)
        print(f"{prediction.path}: {classes}")
    return 0
