"""Does the VT learn more from the CNN than from the labels? No distillation, logit KD and
DeiT's distillation token, over seeds, through the real pipeline (`bench.accuracy`).

    python -m bench.distillation                       # CIFAR-10 subset, 3 seeds, 20 epochs
    python -m bench.distillation --preset cifar10_full --dataset folder \\
        --data-dir ../shared/data/cifar10-jpg          # the 50,000 training images

Each method is a `bench.accuracy` run with its `--set` overrides, on one pipeline: the CNN
(the teacher) of a seed trains once and is reused from the MLMD cache by the other methods,
which retrain the VT only. The teacher is always the run's own CNN, scored on the same eval
split. Resumable per method and seed (outputs/bench/distillation_<preset>_<method>.json).
Prints, per method, the VT's eval top-1 (mean +- sd over seeds), the teacher's, their
difference, and with the token the class and distillation heads alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from bench import accuracy
from bench.results import RESULTS_DIR

DISTILLED = ["candidate.teacher=baseline"]
TOKEN = [*DISTILLED, "train.distillation.token=true", "train.distillation.weight=0.5"]  # DeiT's
METHODS = {
    "none": [],
    "logits": DISTILLED,  # the paper's: 0.8 KL on the logits + 0.2 cross-entropy
    "token": TOKEN,
    "token_hard": [*TOKEN, "train.distillation.hard=true"],
}


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--preset", default="default")
    # Everything else (--dataset, --data-dir, --seeds, --epochs, --output-root) goes to
    # bench.accuracy as it is.
    return parser.parse_known_args(argv)


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} +- {sd:.4f}"


def final_head_accuracies(row: dict) -> dict[str, float]:
    """The VT's last-epoch eval accuracy of each head, when it has a distillation token."""
    last = row["curves"]["candidate"][-1]
    return {k: v for k, v in last.items() if k.endswith("_head_accuracy")}


def main(argv: list[str] | None = None) -> int:
    args, rest = parse_args(argv)
    results = {}
    for method in args.methods:
        path = RESULTS_DIR / f"distillation_{args.preset}_{method}.json"
        overrides = [flag for value in METHODS[method] for flag in ("--set", value)]
        status = accuracy.main([f"--preset={args.preset}", f"--json={path}", *overrides, *rest])
        if status:
            return status
        results[method] = json.loads(Path(path).read_text())["runs"]
    print(f"\n{'method':>10}  {'VT eval top-1':>17}  {'teacher (CNN)':>17}  {'VT - CNN':>8}  heads")
    for method, rows in results.items():
        vt = [r["candidate_accuracy"] for r in rows]
        cnn = [r["baseline_accuracy"] for r in rows]
        gap = statistics.fmean(vt) - statistics.fmean(cnn)
        heads = [final_head_accuracies(r) for r in rows]
        head_text = ", ".join(
            f"{name.removeprefix('eval_').removesuffix('_accuracy')} "
            f"{mean_sd([h[name] for h in heads])}"
            for name in sorted(heads[0])
        )
        print(f"{method:>10}  {mean_sd(vt):>17}  {mean_sd(cnn):>17}  {gap:>+8.4f}  {head_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
