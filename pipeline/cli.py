"""Command-line plumbing shared by the subcommands: config flags and error exits."""

from __future__ import annotations

import argparse

from models.registry import list_models
from pipeline.config import PRESETS, PipelineConfig, apply_overrides, get_preset
from pipeline.locking import PipelineBusyError

EXIT_USAGE = 2
# What a user's mistake raises: `pipeline_runner.main` prints it in one line and exits with
# EXIT_USAGE, for every command; anything else is a bug and keeps its stack trace.
USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, PipelineBusyError)

# Named flags: flag -> dotted config field. Any other field: --set FIELD=VALUE.
FLAG_FIELDS = {
    "dataset": "data.source",
    "data_dir": "data.data_dir",
    "cache_dir": "data.cache_dir",
    "download": "data.download",
    "max_per_class": "data.max_per_class",
    "read_outside_data_dir": "data.read_outside_data_dir",
    "image_size": "data.image_size",
    "output_root": "output_root",
    "name": "name",
    "candidate": "candidate.name",
    "baseline": "baseline.name",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "learning_rate": "train.optimizer.learning_rate",
    "seed": "train.seed",
    "min_accuracy": "gate.min_accuracy",
    "min_gain": "gate.min_gain",
}


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that select and change a `PipelineConfig` (every subcommand reads one)."""
    group = parser.add_argument_group("configuration (see pipeline/config.py)")
    group.add_argument(
        "--preset", choices=sorted(PRESETS), default="default", help="base configuration"
    )
    group.add_argument("--dataset", help="ExampleGen source name (e.g. cifar10)")
    group.add_argument("--data-dir", help="directory of the data set in the source's layout")
    group.add_argument(
        "--cache-dir",
        help="where CIFAR archives are downloaded and unpacked (default "
        "$XDG_CACHE_HOME/vt-tfx/datasets, i.e. ~/.cache/vt-tfx/datasets)",
    )
    group.add_argument(
        "--download",
        action="store_true",
        default=None,
        help="CIFAR: when --data-dir does not exist, use the official archive in --cache-dir, "
        "downloaded if missing (without it a missing --data-dir is an error)",
    )
    group.add_argument(
        "--max-per-class",
        type=int,
        help="read at most this many images per class and split, the first by file name "
        "(folder, imagenet): a subset",
    )
    group.add_argument(
        "--read-outside-data-dir",
        action="store_true",
        default=None,
        help="read inputs that lead outside --data-dir (symlinks, '..', absolute manifest "
        "paths) instead of rejecting them",
    )
    group.add_argument("--image-size", type=int, help="side in pixels the models see")
    group.add_argument(
        "--output-root", help="where pipelines, MLMD and the serving dir go (default ./outputs)"
    )
    group.add_argument("--name", help="pipeline name (separates runs under --output-root)")
    group.add_argument(
        "--candidate",
        help=f"candidate model, one of: {', '.join(list_models())} "
        "(default vt_resnet_tiny_prenorm)",
    )
    group.add_argument("--baseline", help="baseline model, as --candidate (default resnet_tiny)")
    group.add_argument("--epochs", type=int, help="training epochs for both models")
    group.add_argument("--batch-size", type=int, help="training batch size")
    group.add_argument("--learning-rate", type=float, help="peak learning rate")
    group.add_argument("--seed", type=int, help="seed of weights, shuffling, augmentation")
    group.add_argument("--min-accuracy", type=float, help="accuracy floor for any push")
    group.add_argument(
        "--min-gain", type=float, help="VT accuracy minus CNN accuracy needed to push the VT"
    )
    group.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override any config field, e.g. --set train.schedule.warmup_epochs=0 (repeatable)",
    )


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """The preset named by `--preset` with the flags' changes; ValueError on a bad value."""
    overrides = {
        field: str(getattr(args, flag))
        for flag, field in FLAG_FIELDS.items()
        if getattr(args, flag, None) is not None
    }
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects FIELD=VALUE, got {item!r}")
        overrides[key.strip()] = value
    return apply_overrides(get_preset(args.preset), overrides)
