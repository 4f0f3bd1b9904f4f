"""Accuracy of VT-ResNet vs the CNN on real data, at an equal training budget, over seeds.

Runs the real pipeline (`pipeline_runner.py`) once per seed on the same data; both models get
the same epochs, augmentation and data, and TFMA's top-1 accuracy on the test split is read
back from the gating decision. Reruns reuse ExampleGen/Transform through the MLMD cache, so
only the two Trainers and the evaluation run again per seed.

    python -m bench.accuracy            # 3 seeds, CIFAR-10 subset, tiny models, 20 epochs
    python -m bench.accuracy --full --data-dir ~/data/cifar-10-batches-py   # GPU users

Prints a table and writes JSON (default outputs/bench/accuracy.json).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from bench.results import write_result

REPO = Path(__file__).resolve().parents[1]
SHARED_CIFAR10 = REPO.parent / "shared" / "data" / "cifar10-subset" / "cifar-10-batches-py"
NAME = "bench-accuracy"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(SHARED_CIFAR10), help="CIFAR-10 python layout")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--epochs",
        type=int,
        default=20,
        help="epochs for both models (default 20: 3 seeds in under an hour on 2 CPU cores)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="the cifar10 preset (ResNet-18 vs VT-ResNet-18, 100 epochs): for a GPU",
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
        f"--preset={'cifar10' if args.full else 'default'}",
        f"--name={NAME}",
        f"--data-dir={args.data_dir}",
        f"--output-root={args.output_root}",
        f"--seed={seed}",
        "--min-accuracy=0",
    ]
    if not args.full:
        flags.append(f"--epochs={args.epochs}")
    start = time.perf_counter()
    status = pipeline_runner.main(flags)
    seconds = time.perf_counter() - start
    if status not in (0, 3):
        raise SystemExit(f"pipeline failed for seed {seed} (exit {status})")
    store = open_store(os.path.join(args.output_root, "metadata", NAME, "metadata.db"))
    decision = read_decision(latest_outputs(store, NAME, "SelectWinner")["blessing"].uri)
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
    }


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
    rows = [run_seed(args, seed) for seed in args.seeds]
    summary = summarise(rows)
    print_table(rows, summary)
    result = {"args": vars(args), "runs": rows, "summary": summary}
    print()
    write_result(args.json or Path(args.output_root) / "accuracy.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
