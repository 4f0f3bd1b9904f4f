"""Run the VT-vs-CNN TFX pipeline.

    python pipeline_runner.py --runner=local                 # embedded CIFAR-10 sample
    python pipeline_runner.py --preset cifar10 --data-dir ~/data/cifar-10-batches-py
    python pipeline_runner.py --runner=vertex --image gcr.io/P/vt-tfx:latest \
        --output-root gs://BUCKET/vt-tfx                      # compile a pipeline spec

Exit status: 0 when a model was pushed (or a spec compiled), 2 for a usage or data error,
3 when no model cleared the gate (nothing pushed).
"""

from __future__ import annotations

import argparse
import os
import sys

from pipeline.logs import quiet_tensorflow

quiet_tensorflow()

EXIT_USAGE = 2
EXIT_NOTHING_PUSHED = 3

# Named flags: flag -> dotted config field. Any other field: --set FIELD=VALUE.
FLAG_FIELDS = {
    "dataset": "data.source",
    "data_dir": "data.data_dir",
    "image_size": "data.image_size",
    "output_root": "output_root",
    "name": "name",
    "candidate": "candidate.name",
    "baseline": "baseline.name",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "learning_rate": "train.learning_rate",
    "seed": "train.seed",
    "min_accuracy": "gate.min_accuracy",
    "min_gain": "gate.min_gain",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from pipeline.config import PRESETS

    parser = argparse.ArgumentParser(
        description="Train a Visual Transformer (VT-ResNet) and a CNN baseline in a TFX "
        "pipeline, evaluate them with TFMA and push the winner.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Every config field can be set with --set, e.g. --set train.warmup_epochs=0 "
        "--set candidate.overrides='{\"num_tokens\": 8}'. See pipeline/config.py.",
    )
    parser.add_argument(
        "--runner",
        choices=("local", "vertex", "kubeflow"),
        default="local",
        help="local: run here (LocalDagRunner, SQLite MLMD, Beam DirectRunner); vertex / "
        "kubeflow: compile a Kubeflow V2 pipeline spec (default: local)",
    )
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), default="default", help="base configuration"
    )
    parser.add_argument("--dataset", help="ExampleGen source name (e.g. cifar10)")
    parser.add_argument("--data-dir", help="directory of the data set in the source's layout")
    parser.add_argument("--image-size", type=int, help="side in pixels the models see")
    parser.add_argument(
        "--output-root", help="where pipelines, MLMD and the serving dir go (default ./outputs)"
    )
    parser.add_argument("--name", help="pipeline name (separates runs under --output-root)")
    parser.add_argument("--candidate", help="candidate model name (default vt_resnet_tiny)")
    parser.add_argument("--baseline", help="baseline model name (default resnet_tiny)")
    parser.add_argument("--epochs", type=int, help="training epochs for both models")
    parser.add_argument("--batch-size", type=int, help="training batch size")
    parser.add_argument("--learning-rate", type=float, help="peak learning rate")
    parser.add_argument("--seed", type=int, help="seed of weights, shuffling, augmentation")
    parser.add_argument("--min-accuracy", type=float, help="accuracy floor for any push")
    parser.add_argument(
        "--min-gain", type=float, help="VT accuracy minus CNN accuracy needed to push the VT"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override any config field (repeatable)",
    )
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


def build_config(args: argparse.Namespace):
    from pipeline.config import apply_overrides, get_preset

    overrides = {
        field: str(getattr(args, flag))
        for flag, field in FLAG_FIELDS.items()
        if getattr(args, flag) is not None
    }
    if args.no_cache:
        overrides["enable_cache"] = "false"
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects FIELD=VALUE, got {item!r}")
        overrides[key.strip()] = value
    return apply_overrides(get_preset(args.preset), overrides)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = build_config(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.print_config:
        print(config.to_json())
        return 0

    print("Loading TFX, TensorFlow and Beam (about half a minute)...", file=sys.stderr)
    from components.image_example_gen.component import read_class_names
    from pipeline.logs import show_progress

    show_progress(verbose=args.verbose)
    try:
        class_names = read_class_names(config.data.data_dir, config.data.source)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE

    if args.runner != "local":
        from pipeline.runners import compile_kubeflow_v2

        if not args.image:
            print(
                f"error: --runner={args.runner} needs --image (a container with this project)",
                file=sys.stderr,
            )
            return EXIT_USAGE

        output = args.output or os.path.join("outputs", args.runner, "pipeline.json")
        os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
        compile_kubeflow_v2(config, class_names, output_path=output, image=args.image)
        print(f"pipeline spec written to {output}")
        return 0

    from pipeline.report import print_run_summary
    from pipeline.runners import run_local

    run_local(config, class_names)
    pushed = print_run_summary(config)
    return 0 if pushed else EXIT_NOTHING_PUSHED


if __name__ == "__main__":
    sys.exit(main())
