"""`pipeline_runner.py clean`: remove old runs' outputs and what killed runs left behind.

    python pipeline_runner.py clean --keep 3          # keep the newest 3 runs' outputs
    python pipeline_runner.py clean --keep 1 --dry-run

Pushed versions (the serving directory) and the Trainers' resume checkpoints are never
touched; see `pipeline/cleaning.py` for what is kept.
"""

from __future__ import annotations

import argparse

from pipeline.cli import add_config_flags, config_from_args


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pipeline_runner.py clean",
        description="Remove the outputs of all but the newest runs of a pipeline, and the "
        "folders killed runs left; pushed versions are never touched.",
    )
    parser.add_argument(
        "--keep", type=int, default=1, help="keep the outputs of this many newest runs (>= 1)"
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be removed")
    add_config_flags(parser)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    config = config_from_args(args)
    from pipeline.cleaning import clean, plan_clean
    from pipeline.locking import pipeline_lock

    with pipeline_lock(config, timeout=0):
        plan = plan_clean(config, args.keep)
        size = plan.bytes()
        if not args.dry_run:
            clean(config, plan)
    verb = "would remove" if args.dry_run else "removed"
    for folder in plan.folders:
        print(f"{verb} {folder}")
    print(
        f"{verb} {len(plan.folders)} folders ({size / 2**20:.1f} MiB) of "
        f"{len(plan.removed_runs)} older runs and killed ones; kept the newest "
        f"{len(plan.kept_runs)} run(s); pushed versions in {config.serving_dir} untouched"
    )
    return 0
