"""Beam options for the pipeline's Beam-powered components, from `PipelineConfig.beam`."""

from __future__ import annotations

from pipeline.config import PipelineConfig

# Beam's portable runner on its embedded job server (Python, in this process: Beam 2.61's
# "embed" endpoint starts no Java and downloads nothing), whose SDK worker runs in this
# process too (LOOPBACK). The pipeline still goes through the Job and Fn APIs as on Flink or
# Spark, so a transform that only the DirectRunner supports fails here (docs/runners.md).
# A worker started this way needs no list of this environment's packages: the experiment
# skips the `pip freeze` Beam would run for every pipeline (the project venv has no pip).
PORTABLE_ARGS = (
    "--runner=PortableRunner",
    "--job_endpoint=embed",
    "--environment_type=LOOPBACK",
    "--experiments=disable_logging_submission_environment",
)


def beam_pipeline_args(config: PipelineConfig) -> list[str]:
    """The preset's Beam flags followed by `config.beam_args` (which may override them).

    Raises ValueError for a Dataflow run without project, temp location or image.
    """
    if config.beam == "in_memory":
        # One in-process worker: on 2 cores, worker processes take seconds to start and pay off
        # only on data sets far larger than the default (docs/benchmarks.md#beam-worker-processes).
        preset = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    elif config.beam == "multi_processing":
        preset = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]
    elif config.beam == "portable":
        preset = list(PORTABLE_ARGS)
    else:  # "dataflow", the last of BEAM_MODES (PipelineConfig checks the mode)
        cloud = config.cloud
        missing = [
            name
            for name, value in (
                ("cloud.project", cloud.project),
                ("cloud.temp_location", cloud.temp_location),
                ("cloud.image", cloud.image),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"beam=dataflow needs {', '.join(missing)} (set with --set)")
        preset = [
            "--runner=DataflowRunner",
            f"--project={cloud.project}",
            f"--region={cloud.region}",
            f"--temp_location={cloud.temp_location}",
            f"--machine_type={cloud.dataflow_machine_type}",
            f"--sdk_container_image={cloud.image}",
            "--experiments=use_runner_v2",
        ]
        if cloud.service_account:
            preset.append(f"--service_account_email={cloud.service_account}")
    return preset + list(config.beam_args)
