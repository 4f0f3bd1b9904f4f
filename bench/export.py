"""Seconds to export a model as the Trainer does, and to load it back, in a fresh process.

    python -m bench.export                                     # Transform graph of `make run`
    python -m bench.export --output-root outputs/bench --name bench-overhead

Exports both models of the default preset (untrained: the cost does not depend on the weights)
with the Trainer's `export_serving_model` and the newest Transform graph of a pipeline, twice
in the same process: the first round pays TensorFlow's one-time tracing work, as a pipeline's
first Trainer does. Then loads each export with `tf.saved_model.load` (what TFMA, the report
and serving do) and as a Keras model (what a distillation teacher does). Prints a table and
writes JSON (default outputs/bench/export.json).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import models  # noqa: F401 - selects Keras 2 (tf_keras) before TensorFlow loads

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from bench.results import write_result  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def seconds(function: Callable[..., object], *args: object) -> float:
    """Wall seconds of one call of `function(*args)`."""
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-root", default=str(REPO / "outputs"))
    parser.add_argument("--name", default="vt-vs-cnn", help="pipeline whose Transform to use")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", default=str(REPO / "outputs" / "bench" / "export.json"))
    args = parser.parse_args(argv)

    import tensorflow_transform as tft

    from models.training.distillation import load_teacher
    from models.training.export import export_serving_model
    from models.training.model import build_model
    from pipeline.config import get_preset
    from pipeline.outputs import latest_outputs, open_store

    database = Path(args.output_root) / "metadata" / args.name / "metadata.db"
    if not database.exists():
        print(f"error: no pipeline run at {database}: run `make run` first", file=sys.stderr)
        return 2
    transform_graph = latest_outputs(open_store(str(database)), args.name, "Transform")
    transform_output = tft.TFTransformOutput(transform_graph["transform_graph"].uri)
    config = get_preset("default")
    class_names = [f"class_{i}" for i in range(10)]

    rows = []
    print(f"{'round':>5}  {'model':<16}{'export s':>9}{'tf load s':>10}{'keras load s':>13}")
    for round_number in range(1, args.rounds + 1):
        for model_config in (config.baseline, config.candidate):
            model = build_model(
                model_config.name,
                overrides=model_config.overrides,
                train=model_config.train_config(config.train),
                image_size=config.data.image_size,
                num_classes=len(class_names),
            )
            with tempfile.TemporaryDirectory() as export_dir:
                export_s = seconds(
                    export_serving_model, model, transform_output, class_names, export_dir
                )
                tf_load_s = seconds(tf.saved_model.load, export_dir)
                keras_load_s = seconds(load_teacher, export_dir)
            row = {
                "round": round_number,
                "model": model_config.name,
                "export_s": export_s,
                "tf_load_s": tf_load_s,
                "keras_load_s": keras_load_s,
            }
            rows.append(row)
            print(
                f"{round_number:>5}  {model_config.name:<16}{export_s:>9.1f}"
                f"{tf_load_s:>10.1f}{keras_load_s:>13.1f}"
            )
    write_result(
        args.json, {"transform_graph": transform_graph["transform_graph"].uri, "rows": rows}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
