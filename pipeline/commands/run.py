"""`pipeline_runner.py [run]`: run the pipeline locally or compile it for Kubeflow / Vertex."""

from __future__ import annotations

import argparse
import os
import sys

from pipeline.cli import EXIT_USAGE, add_config_flags, config_from_args

EXIT_NOTHING_PUSHED = 3


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pipeline_runner.py [run]",
        description="Train a Visual Transformer (VT-ResNet) and a CNN baseline in a TFX "
        "pipeline, evaluate them with TFMA and push the winner.",
    )
    parser.add_argument(
        "--runner",
        choices=("local", "vertex", "kubeflow"),
        default="local",
        help="local: run here (LocalDagRunner, SQLite MLMD, Beam DirectRunner); vertex / "
        "kubeflow: compile a Kubeflow V2 pipeline spec (default: local)",
    )
    add_config_flags(parser)
    parser.add_argument("--no-cache", action="store_true", help="rerun every component")
    parser.add_argument(
        "--image", default="", help="container image with this project (vertex/kubeflow)"
    )
    parser.add_argument(
        "--output", help="pipeline spec path (vertex/kubeflow; default outputs/<runner>/...)"
    )
    parser.add_argument("--print-config", action="store_true", help="print config and exit")
    parser.add_argument("--verbose", action="store_true", help="show all library logs")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.no_cache:
        args.overrides.append("enable_cache=false")
    try:
        config = config_from_args(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.print_config:
        print(config.to_json())
        return 0
    if args.runner != "local" and not args.image:
        print(
            f"error: --runner={args.runner} needs --image (a container with this project)",
            file=sys.stderr,
        )
        return EXIT_USAGE

    print("Loading TFX, TensorFlow and Beam (about half a minute)...", file=sys.stderr)
    from components.image_example_gen.component import read_class_names
    from pipeline.logs import show_progress
    from pipeline.report import print_run_summary
    from pipeline.runners import compile_kubeflow_v2, run_local

    show_progress(verbose=args.verbose)
    try:
        class_names = read_class_names(config.data.data_dir, config.data.source)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE

    if args.runner != "local":
        output = args.output or os.path.join("outputs", args.runner, "pipeline.json")
        os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
        compile_kubeflow_v2(config, class_names, output_path=output, image=args.image)
        print(f"pipeline spec written to {output}")
        return 0

    run_local(config, class_names)
    pushed = print_run_summary(config)
    return 0 if pushed else EXIT_NOTHING_PUSHED
