"""What the TFX pipeline costs over a plain script doing the same work, and where it goes.

    python -m bench.pipeline_overhead                    # the embedded default data set
    python -m bench.pipeline_overhead --epochs 60        # a run where training dominates

1. Runs the whole pipeline (`pipeline_runner.py --no-cache`, in this process, so imports are
   not counted) and reads each component's wall time from ML Metadata.
2. Runs a plain script on the same TFRecords the pipeline's ExampleGen wrote: decode, resize
   and normalise with the same functions as Transform (statistics over the training split),
   train both models with the Trainer's own `fit` (same models, recipe, epochs, augmentation),
   and evaluate top-1 accuracy on the eval split. It runs in a fresh process, timed after its
   imports like the pipeline: in the pipeline's process it would find TensorFlow's and Keras'
   one-time work (tracing and autograph conversion of Keras' training code, the first
   SavedModel machinery) already done by the first Trainer, and look faster than it is.
Prints both, the ratio and the per-component breakdown; writes JSON
(default outputs/bench/pipeline_overhead.json).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.results import write_result

REPO = Path(__file__).resolve().parents[1]
NAME = "bench-overhead"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="training epochs of both models")
    parser.add_argument("--data-dir", default=None, help="default: the embedded CIFAR-10 sample")
    parser.add_argument("--output-root", default=str(REPO / "outputs" / "bench"))
    parser.add_argument("--json", default=None, help="default <output-root>/pipeline_overhead.json")
    # Internal: run only the plain script on these TFRecords, print its result as JSON.
    parser.add_argument("--plain-only", metavar="EXAMPLES_DIR", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_pipeline(args: argparse.Namespace) -> tuple[float, dict[str, float], str]:
    """Wall seconds of a full, uncached pipeline run, seconds per component, and the folder of
    the TFRecords its ExampleGen wrote."""
    import pipeline_runner
    from pipeline.outputs import executed_nodes, latest_execution, latest_outputs, open_store

    flags = [f"--name={NAME}", f"--output-root={args.output_root}", f"--epochs={args.epochs}"]
    flags += ["--no-cache", "--min-accuracy=0"] + (
        [f"--data-dir={args.data_dir}"] if args.data_dir else []
    )
    start = time.perf_counter()
    status = pipeline_runner.main(flags)
    seconds = time.perf_counter() - start
    if status not in (0, 3):
        raise SystemExit(f"the pipeline failed (exit {status})")
    store = open_store(os.path.join(args.output_root, "metadata", NAME, "metadata.db"))
    components = {}
    for node in executed_nodes(store, NAME):
        newest = latest_execution(store, NAME, node)
        elapsed_ms = newest.last_update_time_since_epoch - newest.create_time_since_epoch
        components[node] = elapsed_ms / 1000
    examples = latest_outputs(store, NAME, "FileBasedExampleGen")["examples"].uri
    return seconds, components, examples


def run_plain_script(args: argparse.Namespace, examples: str) -> tuple[float, dict[str, float]]:
    """The same work outside TFX; returns wall seconds and top-1 accuracy per model."""
    import tensorflow as tf
    import tf_keras as keras

    from components.trainer.inputs import shuffled_batches
    from features import IMAGE_KEY, LABEL_KEY, split_folder
    from models.preprocessing import decode_and_resize
    from models.training.augment import augment_batch
    from models.training.fit import fit
    from models.training.model import build_model
    from pipeline.config import get_preset

    config = get_preset("default")
    start = time.perf_counter()

    def load(split: str) -> tuple[tf.Tensor, tf.Tensor]:
        files = glob.glob(os.path.join(examples, split_folder(split), "*.gz"))
        spec = {
            IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
            LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
        }
        dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(256)
        dataset = dataset.map(lambda s: tf.io.parse_example(s, spec))
        batches = [
            (decode_and_resize(b[IMAGE_KEY], config.data.image_size), b[LABEL_KEY]) for b in dataset
        ]
        return tf.concat([b[0] for b in batches], 0), tf.concat([b[1] for b in batches], 0)

    train_images, train_labels = load("train")
    eval_images, eval_labels = load("eval")
    mean = tf.reduce_mean(train_images, axis=[0, 1, 2])
    std = tf.math.reduce_std(train_images, axis=[0, 1, 2])
    train_images, eval_images = (train_images - mean) / std, (eval_images - mean) / std
    num_classes = int(tf.reduce_max(train_labels)) + 1

    accuracy = {}
    for model_config in (config.baseline, config.candidate):
        train = dataclasses.replace(model_config.train_config(config.train), epochs=args.epochs)
        keras.utils.set_random_seed(train.seed)
        model = build_model(
            model_config.name,
            overrides=model_config.overrides,
            train=train,
            image_size=config.data.image_size,
            num_classes=num_classes,
        )
        steps_per_epoch = math.ceil(len(train_labels) / train.batch_size)

        def train_dataset(first_step: int, train=train) -> tf.data.Dataset:
            pairs = tf.data.Dataset.from_tensor_slices(
                (train_images, tf.one_hot(train_labels, num_classes))
            )
            steps = tf.data.Dataset.counter(start=first_step)
            seed = tf.cast(train.seed, tf.int64)

            def augment(batch, step):
                return augment_batch(*batch, tf.stack([seed, step]), train.augment)

            pairs = shuffled_batches(pairs, len(train_labels), train)
            batches = tf.data.Dataset.zip((pairs, steps))
            return batches.map(augment).prefetch(tf.data.AUTOTUNE)

        eval_dataset = tf.data.Dataset.from_tensor_slices(
            (eval_images, tf.one_hot(eval_labels, num_classes))
        ).batch(train.batch_size)
        with tempfile.TemporaryDirectory() as run_dir:
            fit(
                model,
                train_dataset,
                eval_dataset,
                train=train,
                model_name=f"plain {model_config.name}",
                steps_per_epoch=steps_per_epoch,
                run_dir=run_dir,
                checkpoint_directory=None,
            )
        predictions = tf.argmax(model.predict(eval_images, batch_size=256, verbose=0), axis=-1)
        hits = tf.cast(predictions == eval_labels, tf.float32)
        accuracy[model_config.name] = float(tf.reduce_mean(hits))
    return time.perf_counter() - start, accuracy


def run_plain_script_in_new_process(
    args: argparse.Namespace, examples: str
) -> tuple[float, dict[str, float]]:
    """`run_plain_script` in a fresh Python process (its progress goes to stderr)."""
    command = [sys.executable, "-m", "bench.pipeline_overhead", "--plain-only", examples]
    command += [f"--epochs={args.epochs}"]
    done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["seconds"], result["accuracy"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.plain_only:
        from pipeline.logs import quiet_tensorflow, show_progress

        quiet_tensorflow()
        show_progress()
        seconds, accuracy = run_plain_script(args, args.plain_only)
        print(json.dumps({"seconds": seconds, "accuracy": accuracy}))
        return 0
    pipeline_seconds, components, examples = run_pipeline(args)
    plain_seconds, accuracy = run_plain_script_in_new_process(args, examples)
    print(f"\n{'component':<22}{'seconds':>9}{'share':>8}")
    for name, seconds in sorted(components.items(), key=lambda kv: -kv[1]):
        print(f"{name:<22}{seconds:>9.1f}{seconds / pipeline_seconds:>8.1%}")
    print(f"\npipeline (TFX, no cache)   {pipeline_seconds:8.1f} s")
    print(f"plain script (same work)   {plain_seconds:8.1f} s   accuracy {accuracy}")
    print(f"ratio                      {pipeline_seconds / plain_seconds:8.2f} x")
    result = {
        "epochs": args.epochs,
        "pipeline_seconds": pipeline_seconds,
        "plain_seconds": plain_seconds,
        "ratio": pipeline_seconds / plain_seconds,
        "components": components,
        "plain_accuracy": accuracy,
    }
    write_result(args.json or Path(args.output_root) / "pipeline_overhead.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
