"""`pipeline_runner.py slices`: the TFMA slice metrics of a run as a terminal table.

    python pipeline_runner.py slices                               # top-1 accuracy, by slice
    python pipeline_runner.py slices --metric loss --sort gap      # largest VT-CNN gap first

Reads the Evaluator output with `tfma.load_eval_result`.
"""

from __future__ import annotations

import argparse

from pipeline.cli import add_config_flags, config_from_args

SORT_KEYS = {
    "slice": lambda row: (row.slice_name != "Overall", row.slice_name),
    "gap": lambda row: -abs(row.gap),
    "candidate": lambda row: -row.candidate,
    "baseline": lambda row: -row.baseline,
    "count": lambda row: -row.example_count,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pipeline_runner.py slices",
        description="Print TFMA slice metrics of a run, candidate vs baseline.",
    )
    parser.add_argument(
        "--metric",
        help="a scalar TFMA metric, e.g. loss, top_k_accuracy, expected_calibration_error "
        "(default: top-1 accuracy, sparse_categorical_accuracy; an unknown name lists the "
        "available ones)",
    )
    parser.add_argument(
        "--sort", choices=sorted(SORT_KEYS), default="slice", help="row order (default slice)"
    )
    parser.add_argument("--run", default="latest", help="'latest' (default) or a run id")
    add_config_flags(parser)
    return parser.parse_args(argv)


def format_table(rows, metric: str, candidate: str, baseline: str) -> str:
    """Rows of `components.report.slices.SliceRow` as aligned text."""
    width = max([len("slice")] + [len(r.slice_name) for r in rows])
    lines = [
        f"{'slice':<{width}}  {'examples':>8}  {candidate:>14}  {baseline:>14}  {'gap':>8}",
    ]
    for r in rows:
        lines.append(
            f"{r.slice_name:<{width}}  {r.example_count:>8}  {r.candidate:>14.4f}  "
            f"{r.baseline:>14.4f}  {r.gap:>+8.4f}"
        )
    return f"{metric} (gap = candidate - baseline)\n" + "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    config = config_from_args(args)
    from components.evaluator.keys import ACCURACY, BASELINE, CANDIDATE
    from components.report.slices import slice_rows
    from pipeline.report import find_run_outputs

    metric = args.metric or ACCURACY
    outputs = find_run_outputs(config, args.run)
    rows = sorted(slice_rows(outputs.evaluation_uri, metric), key=SORT_KEYS[args.sort])
    print(f"run {outputs.run_id}: {outputs.evaluation_uri}")
    print(format_table(rows, metric, outputs.names[CANDIDATE], outputs.names[BASELINE]))
    return 0
