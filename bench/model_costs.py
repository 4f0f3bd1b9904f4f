"""Parameters and multiply-accumulates of every registered model, checked against the paper.

    python -m bench.model_costs                 # table, and JSON in outputs/bench/model_costs.json
    python -m bench.model_costs --json          # the JSON on stdout instead of the table
    python -m bench.model_costs --sizes 224 --models resnet18 vt_resnet18

MACs are counted analytically per layer (models/costs.py), per image, for 1000 classes at
224 px (the paper's ImageNet setting) and 10 classes at smaller sizes. Rows with a Table 8
entry of Wu et al. 2020 show the relative difference from it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import models  # noqa: F401 - selects Keras 2 (tf_keras) before TensorFlow loads

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from models.costs import count_macs, count_params  # noqa: E402
from models.registry import build_model, list_models  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# Wu et al. 2020, Table 8 (224 x 224, 1000 classes): (GMACs, M params).
PAPER_TABLE_8 = {
    "resnet18": (1.814, 11.7),
    "vt_resnet18": (1.569, 11.7),
    "resnet34": (3.664, 21.8),
    "vt_resnet34": (3.236, 19.2),
    "resnet50": (4.089, 25.5),
    "vt_resnet50": (3.412, 21.4),
    "resnet101": (7.802, 44.4),
    "vt_resnet101": (7.129, 41.5),
}
PAPER_SIZE = 224


def model_cost(name: str, size: int) -> dict:
    """One row: params, MACs and, at the paper's size, the paper's numbers and our deviation."""
    num_classes = 1000 if size == PAPER_SIZE else 10
    model = build_model(name, input_shape=(size, size, 3), num_classes=num_classes)
    row = {
        "model": name,
        "image_size": size,
        "num_classes": num_classes,
        "params": count_params(model),
        "macs": count_macs(model),
    }
    if size == PAPER_SIZE and name in PAPER_TABLE_8:
        paper_gmacs, paper_mparams = PAPER_TABLE_8[name]
        row["paper_macs"] = int(paper_gmacs * 1e9)
        row["paper_params"] = int(paper_mparams * 1e6)
        row["macs_vs_paper"] = row["macs"] / row["paper_macs"] - 1
        row["params_vs_paper"] = row["params"] / row["paper_params"] - 1
    return row


def format_table(rows: list[dict]) -> str:
    lines = [
        f"{'model':<18} {'size':>4} {'params':>12} {'GMACs':>8} {'paper':>14} {'diff':>14}",
    ]
    for row in rows:
        paper = diff = ""
        if "paper_macs" in row:
            paper = f"{row['paper_macs'] / 1e9:.3f}/{row['paper_params'] / 1e6:.1f}M"
            diff = f"{row['macs_vs_paper']:+.1%}/{row['params_vs_paper']:+.1%}"
        lines.append(
            f"{row['model']:<18} {row['image_size']:>4} {row['params']:>12,} "
            f"{row['macs'] / 1e9:>8.3f} {paper:>14} {diff:>14}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list_models(), choices=list_models())
    parser.add_argument("--sizes", nargs="+", type=int, default=[32, PAPER_SIZE])
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument(
        "--output", default=str(REPO / "outputs" / "bench" / "model_costs.json"), help="JSON file"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = [model_cost(name, size) for size in args.sizes for name in args.models]
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(rows, indent=2))
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
