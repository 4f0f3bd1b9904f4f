"""One function per orchestrator; each builds the same pipeline from the same config."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from tfx import v1 as tfx

from pipeline.config import (
    REPO_ROOT,
    PipelineConfig,
    ResourceConfig,
    ResourcesConfig,
    parse_volume,
)
from pipeline.outputs import fail_abandoned_executions, open_store
from pipeline.pipeline import create_pipeline, runtime_parameters

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.cloud.aiplatform import PipelineJob

ParameterValue = int | float | str


def run_local(config: PipelineConfig) -> None:
    """Runs the pipeline in this process: LocalDagRunner, SQLite MLMD, Beam DirectRunner.

    Callers hold `pipeline.locking.pipeline_lock(config)` around it, so that two runs never
    write to one pipeline root and MLMD store at once. Executions that a killed run left
    running are marked failed first (and said so on stderr).
    """
    if config.cloud.model_registry:
        raise ValueError("cloud.model_registry works with --runner=vertex (Vertex AI Pipelines)")
    os.makedirs(os.path.dirname(config.metadata_path), exist_ok=True)
    if os.path.exists(config.metadata_path):
        abandoned = fail_abandoned_executions(open_store(config.metadata_path), config.name)
        if abandoned:
            print(
                f"marked {len(abandoned)} execution(s) a killed run left unfinished as failed: "
                f"{', '.join(sorted(set(abandoned)))}",
                file=sys.stderr,
            )
    pipeline = create_pipeline(
        config,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path
        ),
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)


def for_container(config: PipelineConfig) -> PipelineConfig:
    """The config as seen inside the pipeline image: this checkout's paths moved to
    `cloud.container_root` (where the Dockerfile copies the project)."""
    root = config.cloud.container_root

    def move(path: str) -> str:
        inside = os.path.relpath(path, REPO_ROOT)
        return path if inside.startswith("..") or "://" in path else os.path.join(root, inside)

    data = dataclasses.replace(config.data, data_dir=move(config.data.data_dir))
    return dataclasses.replace(config, data=data, project_root=root)


def compile_kubeflow_v2(config: PipelineConfig, *, runner: str, output_path: str) -> str:
    """Writes the Kubeflow Pipelines v2 / Vertex AI Pipelines spec of `config`; returns its path.

    JSON, or YAML when `output_path` ends in .yaml/.yml. Nothing is read from or written to
    the pipeline root: components are referenced by module path inside `cloud.image`. The
    runtime parameters (`pipeline.pipeline.runtime_parameters`) are declared with their types
    in root.inputDefinitions.

    `vertex`: a Vertex AI PipelineJob (schema 2.0.0), the parameters' defaults (the config's
    values) in its runtimeConfig, where Vertex AI takes a job's values from unless it is
    given others. `kubeflow`: a plain PipelineSpec of schema 2.1.0, as the KFP backend and the
    kfp client read it (`kubeflow_pipeline_spec`).

    `kubeflow` with `cloud.volume` ("PVC:MOUNT_PATH"): every step mounts the claim there, in
    a second YAML document, KFP's Kubernetes platform spec (`kubernetes_volume_spec`), so an
    output root under the mount path is shared by the pods.

    Raises ValueError when the image is missing, or the output root is neither gs:// nor
    under a mounted volume (the pipeline's steps run in separate pods, which share no local
    disk), or a volume is asked of Vertex AI or of a JSON spec.
    """
    if not config.cloud.image:
        raise ValueError(f"--runner={runner} needs an image with this project: --image IMAGE")
    if config.cloud.model_registry and runner != "vertex":
        raise ValueError("cloud.model_registry works with --runner=vertex (Vertex AI Pipelines)")
    volume = parse_volume(config.cloud.volume) if config.cloud.volume else None
    if volume and runner != "kubeflow":
        raise ValueError(
            "--volume works with --runner=kubeflow; Vertex AI Pipelines mounts no volume: "
            "use --output-root gs://BUCKET/PATH"
        )
    if not config.output_root.startswith("gs://"):
        if volume is None:
            raise ValueError(
                f"--runner={runner} needs --output-root gs://BUCKET/PATH (got "
                f"{config.output_root}): the steps run in separate pods, which share no local "
                "disk (with kubeflow, or mount a volume in every step: --volume PVC:PATH)"
            )
        if not _is_under(config.output_root, volume[1]):
            raise ValueError(
                f"--output-root {config.output_root} is not under the volume's mount path "
                f"{volume[1]}: the pods would not share it"
            )
    if volume and not output_path.endswith((".yaml", ".yml")):
        raise ValueError("--volume needs a .yaml --output: the mounts are a second YAML document")
    container_config = for_container(config)
    pipeline = create_pipeline(container_config, with_runtime_parameters=True)
    request_resources(pipeline, config.resources)
    defaults = {name: p.default for name, p in runtime_parameters(container_config).items()}
    dag_runner_config = tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
        default_image=config.cloud.image, use_pipeline_spec_2_1=runner == "kubeflow"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tfx.orchestration.experimental.KubeflowV2DagRunner(
            config=dag_runner_config, output_dir=tmp, output_filename="pipeline.json"
        ).run(pipeline, parameter_values=defaults, write_out=True)
        with open(os.path.join(tmp, "pipeline.json")) as f:
            spec = json.load(f)
    if runner == "kubeflow":
        spec = kubeflow_pipeline_spec(spec)
    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    with open(output_path, "w") as f:
        if output_path.endswith((".yaml", ".yml")):
            import yaml

            documents = [spec] + ([kubernetes_volume_spec(spec, *volume)] if volume else [])
            yaml.safe_dump_all(documents, f, sort_keys=False)
        else:
            json.dump(spec, f, indent=2)
    return output_path


def kubernetes_volume_spec(spec: dict, claim: str, mount_path: str) -> dict:
    """KFP's Kubernetes platform spec mounting persistent volume claim `claim` at `mount_path`
    in every executor of the PipelineSpec `spec` (the shape kfp-kubernetes' mount_pvc writes;
    the kfp client reads it as the second document of the pipeline YAML)."""
    mount = {"constant": claim, "mountPath": mount_path}
    executors = {name: {"pvcMount": [mount]} for name in spec["deploymentSpec"]["executors"]}
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}


def _is_under(path: str, directory: str) -> bool:
    path, directory = os.path.normpath(path), os.path.normpath(directory)
    return path == directory or path.startswith(directory.rstrip("/") + "/")


# Component id -> its section of `ResourcesConfig`.
RESOURCE_SECTIONS = {
    "Transform": "transform",
    "BaselineTrainer": "trainer",
    "CandidateTrainer": "trainer",
    "Evaluator": "evaluator",
}


def request_resources(pipeline: tfx.dsl.Pipeline, resources: ResourcesConfig) -> None:
    """Sets each heavy component's container resources (`RESOURCE_SECTIONS`), which the
    Kubeflow V2 compiler writes into the spec's executors."""
    from kfp.pipeline_spec import pipeline_spec_pb2

    resource_spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec
    for component in pipeline.components:
        section = RESOURCE_SECTIONS.get(component.id)
        if section is None:
            continue
        wanted: ResourceConfig = getattr(resources, section)
        spec = resource_spec(cpu_limit=wanted.cpu, memory_limit=wanted.memory)
        if wanted.accelerator_type:
            spec.accelerator.type = wanted.accelerator_type
            spec.accelerator.count = wanted.accelerator_count
        if spec.ByteSize():
            component.with_platform_config(spec)


def kubeflow_pipeline_spec(job: dict) -> dict:
    """The PipelineSpec inside a PipelineJob of schema 2.1.0, with what KFP ignores in the
    job's runtimeConfig moved into the spec: every runtime parameter's default
    (root.inputDefinitions.parameters.*.defaultValue) and the pipeline root
    (defaultPipelineRoot). The KFP backend and `kfp.client` read this document; the job
    wrapper they refuse ("no field named displayName")."""
    spec = dict(job["pipelineSpec"])
    runtime_config = job.get("runtimeConfig", {})
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    for name, value in runtime_config.get("parameterValues", {}).items():
        declared[name]["defaultValue"] = value
    spec["defaultPipelineRoot"] = runtime_config["gcsOutputDirectory"]
    return spec


def parameter_values(
    config: PipelineConfig, assignments: Sequence[str]
) -> dict[str, ParameterValue]:
    """`NAME=VALUE` assignments as values of the pipeline's runtime parameters, each converted
    to its parameter's type.

    Raises:
      ValueError: one line naming the parameters, when a name is unknown or a value does not
        convert.
    """
    declared = runtime_parameters(config)
    values = {}
    for assignment in assignments:
        name, equals, text = assignment.partition("=")
        name = name.strip()
        if not equals or name not in declared:
            raise ValueError(
                f"--param {assignment}: expected NAME=VALUE with NAME one of "
                f"{', '.join(sorted(declared))}"
            )
        ptype = declared[name].ptype
        try:
            values[name] = ptype(text)
        except ValueError:
            raise ValueError(f"--param {assignment}: not a {ptype.__name__}") from None
    return values


def vertex_pipeline_job(
    config: PipelineConfig,
    spec_path: str,
    values: Mapping[str, ParameterValue] | None = None,
    *,
    credentials: Credentials | None = None,
) -> PipelineJob:
    """The Vertex AI PipelineJob of a compiled spec, not submitted (built offline).

    `values` override the spec's defaults of its runtime parameters for this job; without
    `credentials`, the application-default ones.
    """
    from google.cloud import aiplatform

    return aiplatform.PipelineJob(
        display_name=config.name,
        template_path=spec_path,
        pipeline_root=config.pipeline_root,
        parameter_values=dict(values or {}),
        enable_caching=config.enable_cache,
        project=config.cloud.project or None,
        location=config.cloud.region,
        credentials=credentials,
    )


def submit_to_vertex(
    config: PipelineConfig, spec_path: str, values: Mapping[str, ParameterValue] | None = None
) -> str:
    """Submits a compiled spec as a Vertex AI PipelineJob with `values` for its runtime
    parameters (the rest keep their defaults); returns the job's resource name.

    Raises PermissionError with what to do when no Google Cloud credentials are found.
    """
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        google.auth.default()
    except DefaultCredentialsError as error:
        raise PermissionError(
            "no Google Cloud credentials: run `gcloud auth application-default login` or set "
            f"GOOGLE_APPLICATION_CREDENTIALS to a service-account key ({error})"
        ) from None
    job = vertex_pipeline_job(config, spec_path, values)
    job.submit(service_account=config.cloud.service_account or None)
    return job.resource_name
