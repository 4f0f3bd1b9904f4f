"""Accuracy of the VT vs the CNN on real data, at an equal training budget, over seeds.

Runs the real pipeline (`pipeline_runner.py`) once per seed on the same data; both models get
the same epochs, augmentation and data, and TFMA's top-1 accuracy on the eval split is read
back from the gating decision. Reruns reuse ExampleGen/Transform through the MLMD cache, so
only the two Trainers and the evaluation run again per seed.

    python -m bench.accuracy            # 3 seeds, CIFAR-10 subset, tiny models, 20 epochs
    python -m bench.accuracy --preset cifar10_full --dataset folder \
        --data-dir ../shared/data/cifar10-jpg       # the 50,000 training images, 3 seeds

Time to accuracy: every seed's row holds, per model, the eval accuracy after each epoch
against the training images seen and the wall seconds of its Trainer; the machine's measured
3x3-conv and matmul peak (`bench.peak`) is taken in the same run, before the first seed.
Prints a table and writes JSON (default outputs/bench/accuracy.json) after every seed. Resumable:
a seed already in that file from a run with the same preset, data set, data and epochs is kept,
not run again, so `--seeds 1 2 3` after an interrupted run trains only the missing seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from bench.results import write_result

REPO = Path(__file__).resolve().parents[1]
SHARED_CIFAR10 = REPO.parent / "shared" / "data" / "cifar10-subset" / "cifar-10-batches-py"
NAME = "bench-accuracy"
TRAINERS = {"candidate": "CandidateTrainer", "baseline": "BaselineTrainer"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default", help="pipeline preset (default: default)")
    parser.add_argument("--dataset", default=None, help="ExampleGen source (default: preset's)")
    parser.add_argument("--data-dir", default=str(SHARED_CIFAR10), help="the data set")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs for both models (default: 20 with the default preset, 3 seeds in under "
        "an hour on 2 CPU cores; the preset's otherwise)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a pipeline config field for every seed, as pipeline_runner's --set (repeatable)",
    )
    parser.add_argument("--output-root", default=str(REPO / "outputs" / "bench"))
    parser.add_argument(
        "--json", default=None, help="result file (default <output-root>/accuracy.json)"
    )
    return parser.parse_args(argv)


def run_seed(args: argparse.Namespace, seed: int) -> dict:
    import pipeline_runner
    from components.winner.component import read_decision
    from pipeline.outputs import latest_outputs, open_store

    flags = [
        f"--preset={args.preset}",
        f"--name={NAME}-{args.preset}",
        f"--data-dir={args.data_dir}",
        f"--output-root={args.output_root}",
        f"--seed={seed}",
        "--min-accuracy=0",
    ]
    if args.dataset:
        flags.append(f"--dataset={args.dataset}")
    for override in args.overrides:
        flags += ["--set", override]
    epochs = args.epochs or (20 if args.preset == "default" else None)
    if epochs:
        flags.append(f"--epochs={epochs}")
    start = time.perf_counter()
    status = pipeline_runner.main(flags)
    seconds = time.perf_counter() - start
    if status not in (0, 3):
        raise SystemExit(f"pipeline failed for seed {seed} (exit {status})")
    name = f"{NAME}-{args.preset}"
    store = open_store(os.path.join(args.output_root, "metadata", name, "metadata.db"))
    decision = read_decision(latest_outputs(store, name, "SelectWinner")["blessing"].uri)
    curves = {
        role: _curve(latest_outputs(store, name, node)["model_run"].uri)
        for role, node in TRAINERS.items()
    }
    return {
        "seed": seed,
        "baseline": decision.baseline.model,
        "candidate": decision.candidate.model,
        "baseline_accuracy": decision.baseline.accuracy,
        "candidate_accuracy": decision.candidate.accuracy,
        # What the gate pushed: nothing when the model an earlier seed pushed scores higher
        # than both (the runs share one pipeline, so that ExampleGen and Transform are cached).
        "pushed": decision.winner.model if decision.winner else None,
        "wall_seconds": seconds,
        "curves": curves,
    }


def _curve(model_run_uri: str) -> list[dict]:
    """Eval accuracy after each epoch of a Trainer, against training images seen and its
    wall seconds (summed epoch times: training and the epoch's validation)."""
    from features import HISTORY_FILE

    history = json.loads(Path(model_run_uri, HISTORY_FILE).read_text())
    images = seconds = 0.0
    curve = []
    for row in history:
        images += row["images_per_second"] * row["seconds"]
        seconds += row["seconds"]
        point = {
            "epoch": row["epoch"],
            "images_seen": round(images),
            "wall_seconds": round(seconds, 1),
            "eval_accuracy": row["val_accuracy"],
        }
        # A VT with a distillation token also scores its two heads alone.
        for head in ("class", "distillation"):
            if f"val_{head}_accuracy" in row:
                point[f"eval_{head}_head_accuracy"] = row[f"val_{head}_accuracy"]
        curve.append(point)
    return curve


def summarise(rows: list[dict]) -> dict:
    def stats(key: str) -> dict:
        values = [r[key] for r in rows]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return {"mean": statistics.fmean(values), "std": std}

    return {
        "baseline_accuracy": stats("baseline_accuracy"),
        "candidate_accuracy": stats("candidate_accuracy"),
        "wall_seconds": stats("wall_seconds"),
    }


def print_table(rows: list[dict], summary: dict) -> None:
    print()
    print(
        f"{'seed':>4}  {rows[0]['baseline']:>18}  {rows[0]['candidate']:>18}  {'gain':>7}  "
        f"{'better':>18}  {'pushed':>18}  {'wall s':>7}"
    )
    for r in rows:
        gain = r["candidate_accuracy"] - r["baseline_accuracy"]
        better = r["candidate"] if gain > 0 else r["baseline"]
        print(
            f"{r['seed']:>4}  {r['baseline_accuracy']:>18.4f}  {r['candidate_accuracy']:>18.4f}  "
            f"{gain:>+7.4f}  {better:>18}  {str(r['pushed']):>18}  {r['wall_seconds']:>7.0f}"
        )
    b, c = summary["baseline_accuracy"], summary["candidate_accuracy"]
    print(
        f"{'mean':>4}  {b['mean']:>11.4f} ± {b['std']:.4f}  {c['mean']:>11.4f} ± {c['std']:.4f}"
        f"  {c['mean'] - b['mean']:>+7.4f}"
    )
    total = sum(r["wall_seconds"] for r in rows)
    print(f"wall time in all: {total:.0f} s ({total / 60:.1f} min) for {len(rows)} seeds")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(args.data_dir).exists():
        print(f"error: no data at {args.data_dir}; pass --data-dir", file=sys.stderr)
        return 2
    import models  # noqa: F401 - selects Keras 2 (tf_keras) before TensorFlow loads
    from bench.peak import measure_peak

    peak = measure_peak()
    print(
        f"peak: 3x3 conv {peak['conv3x3_gflops']:.0f} GFLOP/s, matmul "
        f"{peak['matmul_gflops']:.0f} GFLOP/s ({peak['cpu']}, {peak['threads']} threads)"
    )
    path = Path(args.json or Path(args.output_root) / "accuracy.json")
    done = finished_seeds(path, args)
    if done:
        print(f"kept from {path}: seeds {sorted(done)}")
    rows = []
    for seed in args.seeds:
        rows.append(done.get(seed) or {**run_seed(args, seed), "peak": peak})
        result = {"args": vars(args), "peak": peak, "runs": rows, "summary": summarise(rows)}
        write_result(path, result)
    print_table(rows, result["summary"])
    return 0


# The arguments that make two runs' seeds comparable (not the seed list or output paths).
SAME_RUN = ("preset", "dataset", "data_dir", "epochs", "overrides")


def finished_seeds(path: Path, args: argparse.Namespace) -> dict[int, dict]:
    """The rows of `path` (an earlier run's result) by seed, when that run used the same
    preset, data set, data, epochs and config overrides as `args`; none otherwise."""
    if not path.exists():
        return {}
    earlier = json.loads(path.read_text())
    if any(earlier["args"].get(key, []) != getattr(args, key) for key in SAME_RUN):
        print(f"note: {path} is from a different run; its seeds are replaced")
        return {}
    return {row["seed"]: {"peak": earlier.get("peak"), **row} for row in earlier["runs"]}


if __name__ == "__main__":
    sys.exit(main())
