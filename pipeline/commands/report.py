"""`pipeline_runner.py report`: write a run's HTML report (PNG plots) to its output folder.

    python pipeline_runner.py report                      # the latest run of the default preset
    python pipeline_runner.py report --run 2026-11-25T07:45:34.916802 --preset smoke

Sections: gating decision, models (params, images/s), learning curves, confusion matrices,
misclassified images, where the models disagree, the TFMA slice table.
"""

from __future__ import annotations

import argparse

from pipeline.cli import add_config_flags, config_from_args


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pipeline_runner.py report",
        description="Write the HTML report of a pipeline run (read back from ML Metadata).",
    )
    parser.add_argument(
        "--run", default="latest", help="'latest' (default) or a run id recorded in MLMD"
    )
    add_config_flags(parser)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    config = config_from_args(args)
    from pipeline.report import write_run_report

    path = write_run_report(config, args.run)
    print(f"report written to {path}")
    return 0
