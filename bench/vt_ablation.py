"""Which change makes the VT learn on small data: an ablation of VT-ResNet-tiny variants.

    python -m bench.vt_ablation                       # every variant, seeds 1-3, CIFAR-10 subset
    python -m bench.vt_ablation --variants paper stable --seeds 1 --epochs 5
    python -m bench.vt_ablation --at-init             # health of the untrained variants only

Runs the pipeline once with untrained models to get the Transform output of the data (train
and eval splits carved by hash, as in every run), then trains each variant with the Trainer's
own `run_fn` (the same input pipeline, recipe, augmentation and export as in the pipeline)
outside TFX orchestration, one seed at a time. Reads the accuracy on the eval split (never the
test split) and the VT health numbers of the last epoch from the Trainer's history.

`--at-init` trains nothing: it prints each variant's VT health and loss on 128 training
images as the first training step sees them (BatchNorm on the batch's statistics).

Every variant but `paper` and `cnn` keeps MACs within 5% of the CNN's (printed). Resumable:
(variant, seed) rows already in the result file are kept. Prints a table (mean, sd and a 95%
t-interval over seeds) and writes JSON (default outputs/bench/vt_ablation.json).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.results import write_result

REPO = Path(__file__).resolve().parents[1]
SHARED_CIFAR10 = REPO.parent / "shared" / "data" / "cifar10-subset" / "cifar-10-batches-py"
NAME = "bench-vt-ablation"

# The VT changes of docs/models.md ("VT variants for small data"), each on top of `stable`
# unless its name says otherwise; widths chosen so MACs stay within 5% of resnet_tiny's.
# Name -> (model, builder overrides[, recipe overrides as `--set` takes them]).
_STABLE = {"tokenizer_norm": True, "vt_norm": True, "gain_init": 0.0, "zero_head": True}
_DECAY = {"train.regularisation.weight_decay": "0.05"}  # lr * wd = 1e-4 per step at lr 2e-3
VARIANTS: dict[str, tuple] = {
    "cnn": ("resnet_tiny", {}),
    "paper": ("vt_resnet_tiny", {}),
    "paper+tokenizer_norm": ("vt_resnet_tiny", {"tokenizer_norm": True}),
    "paper+norm": ("vt_resnet_tiny", {"tokenizer_norm": True, "vt_norm": True}),
    "stable": ("vt_resnet_tiny", _STABLE),
    "stable+gain0.1": ("vt_resnet_tiny", {**_STABLE, "gain_init": 0.1}),
    "stable+dropout": ("vt_resnet_tiny", {**_STABLE, "vt_dropout": 0.1}),
    "stable+4heads": ("vt_resnet_tiny", {**_STABLE, "num_heads": 4, "token_channels": 128}),
    "stable+16x16": ("vt_resnet_tiny", {**_STABLE, "replaced_stages": 2, "token_channels": 240}),
    "stable+8tokens": ("vt_resnet_tiny", {**_STABLE, "num_tokens": 8, "token_channels": 224}),
    "cnn+decay": ("resnet_tiny", {}, _DECAY),
    "stable+decay": ("vt_resnet_tiny", _STABLE, _DECAY),
    "stable+qk_norm": ("vt_resnet_tiny", {**_STABLE, "qk_norm": True}),
}
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}  # Student t, two-sided 95%


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(SHARED_CIFAR10), help="CIFAR-10 python layout")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=30, help="epochs per run (default 30)")
    parser.add_argument("--at-init", action="store_true", help="untrained health only")
    parser.add_argument("--output-root", default=str(REPO / "outputs" / "bench"))
    parser.add_argument("--json", default=None, help="default <output-root>/vt_ablation.json")
    return parser.parse_args(argv)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """The artifacts of the pipeline run that every variant trains on."""

    examples: Any  # Transform's transformed_examples (a tfx Examples artifact)
    transform_graph: Any
    dataset_uri: str  # ImageExampleGen's examples (class names)


def prepare(args: argparse.Namespace) -> Prepared:
    """Runs the pipeline with untrained models (ingestion and Transform are cached after the
    first time) and returns its Transform outputs."""
    import pipeline_runner
    from pipeline.outputs import latest_outputs, open_store

    flags = [
        f"--name={NAME}",
        f"--data-dir={args.data_dir}",
        f"--output-root={args.output_root}",
        "--epochs=0",
        "--min-accuracy=0",
    ]
    status = pipeline_runner.main(flags)
    if status not in (0, 3):
        raise SystemExit(f"the data preparation run failed (exit {status})")
    store = open_store(os.path.join(args.output_root, "metadata", NAME, "metadata.db"))
    transform = latest_outputs(store, NAME, "Transform")
    example_gen = latest_outputs(store, NAME, "FileBasedExampleGen")
    return Prepared(
        examples=_tfx_artifact("Examples", transform["transformed_examples"]),
        transform_graph=_tfx_artifact("TransformGraph", transform["transform_graph"]),
        dataset_uri=example_gen["examples"].uri,
    )


def _tfx_artifact(type_name: str, stored) -> Any:
    """A tfx artifact of `type_name` for an MLMD artifact (its uri and split names)."""
    from tfx.v1.types import standard_artifacts

    artifact = getattr(standard_artifacts, type_name)()
    artifact.uri = stored.uri
    if "split_names" in stored.properties:
        artifact.split_names = stored.properties["split_names"].string_value
    return artifact


def train_variant(
    prepared: Prepared, variant: str, seed: int, epochs: int, work_dir: Path
) -> dict[str, Any]:
    """Trains one variant with the Trainer's `run_fn`; returns its row of the result."""
    import tf_keras as keras
    from tfx.components.trainer.fn_args_utils import get_common_fn_args

    from components.trainer.dataset import DATASET_URI_KEY
    from components.trainer.module import run_fn, trainer_custom_config
    from features import EVAL_SPLIT, HISTORY_FILE, MODEL_INFO_FILE, TRAIN_SPLIT
    from pipeline.config import apply_overrides, get_preset

    model, overrides, *recipe = VARIANTS[variant]
    config = apply_overrides(get_preset("default"), recipe[0] if recipe else {})
    train = dataclasses.replace(config.train, epochs=epochs, seed=seed)
    custom_config = trainer_custom_config(
        model=model, model_overrides=overrides, train=train, image_size=32
    )
    custom_config[DATASET_URI_KEY] = prepared.dataset_uri
    fn_args = get_common_fn_args(
        {"examples": [prepared.examples], "transform_graph": [prepared.transform_graph]},
        {
            "train_args": json.dumps({"splits": [TRAIN_SPLIT]}),
            "eval_args": json.dumps({"splits": [EVAL_SPLIT]}),
            "custom_config": json.dumps(custom_config),
        },
    )
    run_dir = work_dir / f"{variant}-seed{seed}"
    fn_args.model_run_dir = str(run_dir / "run")
    fn_args.serving_model_dir = str(run_dir / "serving")
    keras.backend.clear_session()
    start = time.perf_counter()
    run_fn(fn_args)
    seconds = time.perf_counter() - start
    history = json.loads((run_dir / "run" / HISTORY_FILE).read_text())
    info = json.loads((run_dir / "run" / MODEL_INFO_FILE).read_text())
    last = history[-1]
    return {
        "variant": variant,
        "seed": seed,
        "model": model,
        "overrides": overrides,
        "recipe_overrides": recipe[0] if recipe else {},
        "epochs": epochs,
        "params": info["params"],
        "macs": info["macs"],
        "eval_accuracy": last["val_accuracy"],
        "train_accuracy": last["accuracy"],
        "health": {k: v for k, v in last.items() if k.startswith("vt")},
        "seconds": seconds,
    }


def health_at_init(data_dir: str, variants: list[str], images: int = 128) -> None:
    """Prints each variant's initial loss and VT health on the first training images."""
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from components.image_example_gen import safe_pickle
    from models.registry import build_model
    from models.vt_health import vt_health

    batch = safe_pickle.loads((Path(data_dir) / "data_batch_1").read_bytes())
    pixels = np.asarray(batch[b"data"][:images], np.float32).reshape(-1, 3, 32, 32) / 255.0
    pixels = pixels.transpose(0, 2, 3, 1)
    standardised = tf.constant((pixels - pixels.mean((0, 1, 2))) / pixels.std((0, 1, 2)))
    labels = np.asarray(batch[b"labels"][:images])
    print(f"initial loss (ln 10 = {math.log(10):.3f}) and VT health of the untrained models")
    for variant in variants:
        name, overrides, *_ = VARIANTS[variant]
        keras.utils.set_random_seed(0)
        model = build_model(name, input_shape=(32, 32, 3), num_classes=10, **overrides)
        logits = model(standardised, training=True)
        loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        health = vt_health(model, standardised, training=True)
        numbers = " ".join(f"{k}={v:.3f}" for k, v in health.items())
        print(f"{variant:<22} loss {float(tf.reduce_mean(loss)):.3f}  {numbers}")


def summarise(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per variant: mean, sd and 95% t-interval half-width of the eval accuracy over seeds."""
    summary = {}
    for variant in dict.fromkeys(r["variant"] for r in rows):
        values = [r["eval_accuracy"] for r in rows if r["variant"] == variant]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        half = T_975.get(len(values) - 1, 2.0) * sd / math.sqrt(len(values)) if sd else 0.0
        summary[variant] = {
            "mean": statistics.fmean(values),
            "sd": sd,
            "ci95_half_width": half,
            "seeds": len(values),
        }
    return summary


def print_table(rows: list[dict], summary: dict) -> None:
    by_variant = {r["variant"]: r for r in rows}
    print(
        f"\n{'variant':<22} {'MMACs':>6} {'params':>8} {'eval top-1 (mean ± sd)':>24}  "
        f"{'95% CI':>15}  {'seeds':>5}  {'head token cos':>14}"
    )
    for variant, s in summary.items():
        row = by_variant[variant]
        cosines = [v for k, v in row["health"].items() if k.endswith("token_cosine")]
        cosine = f"{cosines[-1]:.3f}" if cosines else "-"
        low, high = s["mean"] - s["ci95_half_width"], s["mean"] + s["ci95_half_width"]
        print(
            f"{variant:<22} {row['macs'] / 1e6:>6.2f} {row['params']:>8,} "
            f"{s['mean']:>15.4f} ± {s['sd']:.4f}  {low:.3f}-{high:.3f}  {s['seeds']:>5}  "
            f"{cosine:>14}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(args.data_dir).exists():
        print(f"error: no data at {args.data_dir}; pass --data-dir", file=sys.stderr)
        return 2
    if args.at_init:
        health_at_init(args.data_dir, args.variants)
        return 0
    result_path = Path(args.json or Path(args.output_root) / "vt_ablation.json")
    rows = json.loads(result_path.read_text())["runs"] if result_path.exists() else []
    done = {(r["variant"], r["seed"], r["epochs"]) for r in rows}
    prepared = prepare(args)
    work_dir = Path(args.output_root) / "vt_ablation"
    todo = [
        (variant, seed)
        for seed in args.seeds
        for variant in args.variants
        if (variant, seed, args.epochs) not in done
    ]
    for i, (variant, seed) in enumerate(todo, start=1):
        print(f"[{i}/{len(todo)}] {variant} seed {seed}", flush=True)
        rows.append(train_variant(prepared, variant, seed, args.epochs, work_dir))
        print(f"    eval accuracy {rows[-1]['eval_accuracy']:.4f} in {rows[-1]['seconds']:.0f} s")
        write_result(result_path, {"args": vars(args), "runs": rows, "summary": summarise(rows)})
    selected = [r for r in rows if r["variant"] in args.variants and r["epochs"] == args.epochs]
    print_table(selected, summarise(selected))
    return 0


if __name__ == "__main__":
    sys.exit(main())
