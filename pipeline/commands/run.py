"""`pipeline_runner.py [run]`: run the pipeline locally, or compile (and submit) it for
Kubeflow Pipelines / Vertex AI Pipelines."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from pipeline.cli import EXIT_USAGE, add_config_flags, config_from_args
from pipeline.config import BEAM_MODES, PipelineConfig

EXIT_NOTHING_PUSHED = 3

# Flags of this command only: flag -> dotted config field.
CLOUD_FLAG_FIELDS = {
    "image": "cloud.image",
    "project": "cloud.project",
    "region": "cloud.region",
    "service_account": "cloud.service_account",
    "volume": "cloud.volume",
    "beam": "beam",
}


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
    parser.add_argument("--print-config", action="store_true", help="print config and exit")
    parser.add_argument("--verbose", action="store_true", help="show all library logs")
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="if another run of this pipeline is under way, wait at most this long (default: "
        "wait until it ends)",
    )
    beam = parser.add_argument_group("Beam")
    beam.add_argument(
        "--beam",
        choices=BEAM_MODES,
        help="DirectRunner in one process (default), DirectRunner on every core, Beam's "
        "portable runner on its embedded job server, or Dataflow (docs/runners.md)",
    )
    beam.add_argument(
        "--beam-arg",
        action="append",
        default=[],
        metavar="FLAG",
        help="extra Beam pipeline option, e.g. --beam-arg=--runner=FlinkRunner (repeatable)",
    )
    cloud = parser.add_argument_group("Kubeflow / Vertex AI (--runner=vertex|kubeflow)")
    cloud.add_argument("--image", help="container image with this project (see Dockerfile)")
    cloud.add_argument(
        "--output",
        help="pipeline spec file, .json or .yaml (default outputs/<runner>/pipeline.json)",
    )
    cloud.add_argument("--submit", action="store_true", help="submit to Vertex AI Pipelines")
    cloud.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="value of a pipeline parameter for the submitted run: data_dir, "
        "min_gain_over_production (repeatable; default: the config's values)",
    )
    cloud.add_argument("--project", help="Google Cloud project")
    cloud.add_argument("--region", help="Google Cloud region (default us-central1)")
    cloud.add_argument("--service-account", help="service account of the pipeline job")
    cloud.add_argument(
        "--volume",
        metavar="PVC:PATH",
        help="kubeflow: mount this persistent volume claim at PATH in every step, for an "
        "--output-root under PATH instead of gs://",
    )
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> PipelineConfig:
    for flag, field in CLOUD_FLAG_FIELDS.items():
        if getattr(args, flag) is not None:
            args.overrides.append(f"{field}={getattr(args, flag)}")
    if args.no_cache:
        args.overrides.append("enable_cache=false")
    config = config_from_args(args)
    if args.beam_arg:
        config = dataclasses.replace(config, beam_args=config.beam_args + tuple(args.beam_arg))
    return config


def resolve_data(config: PipelineConfig, runner: str) -> PipelineConfig:
    """The config with the data set's directory resolved (e.g. CIFAR's batches directory,
    downloaded into `data.cache_dir` when missing).

    The pipeline needs nothing else from the data when it is built: the class names travel
    with the examples. A local run still checks the layout and builds both models once for
    its classes, to fail in one line before TFX starts; a cluster run over remote data is
    compiled offline, the directory taken as given.
    """
    from components.image_example_gen.component import read_class_names, resolve_data_dir

    data = config.data
    if runner != "local" and "://" in data.data_dir:
        return config
    data_dir = resolve_data_dir(data.data_dir, data.source, data.cache_dir, data.download)
    if runner == "local":
        check_models(config, len(read_class_names(data_dir, data.source)))
    return dataclasses.replace(config, data=dataclasses.replace(data, data_dir=data_dir))


def check_models(config: PipelineConfig, num_classes: int) -> None:
    """Builds both models once at the run's image size: options or values their builders
    refuse fail here, in one line, instead of in a Trainer after ingestion."""
    from models.registry import build_model

    size = config.data.image_size
    for role, model in (("candidate", config.candidate), ("baseline", config.baseline)):
        try:
            build_model(
                model.name, input_shape=(size, size, 3), num_classes=num_classes, **model.overrides
            )
        except (ValueError, TypeError) as error:
            message = " ".join(str(error).split())
            raise ValueError(
                f"{role} {model.name} cannot be built for {size}x{size} images and "
                f"{num_classes} classes: {message}"
            ) from None


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    config = build_config(args)
    if args.param and not (args.runner == "vertex" and args.submit):
        print(
            "error: --param sets values of a run submitted with --runner=vertex --submit "
            "(elsewhere change the config: --data-dir, --set)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.print_config:
        print(config.to_json())
        return 0

    print("Loading TFX, TensorFlow and Beam (about half a minute)...", file=sys.stderr)
    from pipeline.evaluation import resolve_top_k
    from pipeline.locking import pipeline_lock
    from pipeline.logs import show_progress
    from pipeline.report import print_run_summary
    from pipeline.runners import run_local

    show_progress(verbose=args.verbose)
    evaluation = resolve_top_k(config.evaluation, config.schema_dir)
    config = dataclasses.replace(config, evaluation=evaluation)
    config = resolve_data(config, args.runner)
    if args.runner != "local":
        return compile_and_submit(config, args)
    with pipeline_lock(config, timeout=args.lock_timeout):
        run_local(config)
    pushed = print_run_summary(config)
    return 0 if pushed else EXIT_NOTHING_PUSHED


def compile_and_submit(config: PipelineConfig, args) -> int:
    from pipeline.runners import compile_kubeflow_v2, parameter_values, submit_to_vertex

    if args.submit and args.runner != "vertex":
        raise ValueError("--submit works with --runner=vertex; submit Kubeflow specs with kfp")
    values = parameter_values(config, args.param)
    output = args.output or os.path.join("outputs", args.runner, "pipeline.json")
    compile_kubeflow_v2(config, runner=args.runner, output_path=output)
    print(f"pipeline spec written to {output}")
    if args.submit:
        print(f"submitted: {submit_to_vertex(config, output, values)}")
    return 0
