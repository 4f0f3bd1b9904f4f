"""Compiling the pipeline for Vertex AI / Kubeflow (offline), Beam presets, the run lock.

Regenerate the golden spec after an intended pipeline change with
`UPDATE_GOLDEN=1 make unit PYTEST_ARGS="-k golden"` and review its diff.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from pathlib import Path

import kfp.components
import pytest
import tomli
import yaml
from google.protobuf import json_format
from kfp.client import client as kfp_client

import pipeline_runner
from pipeline.beam import beam_pipeline_args
from pipeline.config import REPO_ROOT, CloudConfig, apply_overrides, get_preset
from pipeline.locking import PipelineBusyError, pipeline_lock

GOLDEN = Path(__file__).parent.parent / "golden" / "kubeflow_v2_pipeline.json"
IMAGE = "europe-docker.pkg.dev/acme/ml/vt-tfx:1.0"
# The pipeline parameters (pipeline.pipeline.runtime_parameters): name -> (type, task, input).
RUNTIME_PARAMETERS = {
    "data_dir": ("STRING", "FileBasedExampleGen", "input_base"),
    "min_gain_over_production": ("DOUBLE", "Pusher", "min_gain_over_production"),
}
EMBEDDED_DATA_IN_IMAGE = "/pipeline/data/cifar10-sample/cifar-10-batches-py"
COMPONENT_ORDER = [
    ("FileBasedExampleGen", "StatisticsGen"),
    ("StatisticsGen", "ExampleValidator"),
    ("ImportSchemaGen", "Transform"),
    ("FileBasedExampleGen", "Transform"),
    ("Transform", "BaselineTrainer"),
    ("Transform", "CandidateTrainer"),
    ("BaselineTrainer", "Evaluator"),
    ("CandidateTrainer", "Evaluator"),
    ("Evaluator", "SelectWinner"),
    ("SelectWinner", "Pusher"),
    ("SelectWinner", "RunReport"),
    ("Pusher", "RunReport"),
]


def compile_spec(
    tmp_path: Path, runner: str, *extra: str, output: str = "spec.json", documents: int = 1
) -> dict:
    path = tmp_path / output
    status = pipeline_runner.main(
        [
            f"--runner={runner}",
            f"--image={IMAGE}",
            "--output-root=gs://acme-ml/vt-tfx",
            f"--output={path}",
            *extra,
        ]
    )
    assert status == 0
    with open(path) as f:
        if not output.endswith(".yaml"):
            return json.load(f)
        loaded = list(yaml.safe_load_all(f))
    assert len(loaded) == documents
    return loaded[0]


def pipeline_spec(spec: dict) -> dict:
    """The PipelineSpec of a compiled file: Vertex's PipelineJob wraps it, KFP's is it."""
    return spec.get("pipelineSpec", spec)


def tasks(spec: dict) -> dict:
    return pipeline_spec(spec)["root"]["dag"]["tasks"]


def executor_args(spec: dict, component: str) -> list[str]:
    executors = pipeline_spec(spec)["deploymentSpec"]["executors"]
    return executors[f"{component}_executor"]["container"]["args"]


@pytest.mark.parametrize("runner", ["vertex", "kubeflow"])
def test_compiled_spec_has_every_component_in_order_on_the_image(tmp_path, runner):
    spec = compile_spec(tmp_path, runner)

    graph = tasks(spec)
    assert set(graph) == {name for edge in COMPONENT_ORDER for name in edge}
    for upstream, downstream in COMPONENT_ORDER:
        assert upstream in graph[downstream]["dependentTasks"]
    executors = pipeline_spec(spec)["deploymentSpec"]["executors"].values()
    assert {e["container"]["image"] for e in executors} == {IMAGE}
    root = "gs://acme-ml/vt-tfx/pipelines/vt-vs-cnn"
    if runner == "vertex":
        assert spec["runtimeConfig"]["gcsOutputDirectory"] == root
    else:
        assert spec["defaultPipelineRoot"] == root
    text = json.dumps(spec)
    assert "/pipeline/schemas/cifar10/schema.pbtxt" in text, "paths must be the image's"
    assert "/pipeline/data/cifar10-sample" in text
    assert str(Path(__file__).parents[2]) not in text, "no path of this checkout may leak"


def test_trainers_read_the_class_names_from_the_examples_not_the_spec(tmp_path):
    spec = compile_spec(tmp_path, "vertex")
    for trainer in ("BaselineTrainer", "CandidateTrainer"):
        inputs = tasks(spec)[trainer]["inputs"]
        value = inputs["parameters"]["custom_config"]["runtimeValue"]
        assert "class_names" not in json.loads(value["constantValue"]["stringValue"])
        dataset = inputs["artifacts"]["dataset"]["taskOutputArtifact"]
        assert dataset == {"outputArtifactKey": "examples", "producerTask": "FileBasedExampleGen"}
    assert "airplane" not in json.dumps(spec), "no class name is compiled in"


def test_a_test_split_is_read_by_neither_the_trainers_nor_the_gate(tmp_path):
    spec = compile_spec(tmp_path, "vertex")

    def parameter(task: str, name: str):
        value = tasks(spec)[task]["inputs"]["parameters"][name]["runtimeValue"]["constantValue"]
        return json.loads(value["stringValue"])

    for trainer in ("BaselineTrainer", "CandidateTrainer"):
        assert parameter(trainer, "train_args") == {"splits": ["train"]}
        assert parameter(trainer, "eval_args") == {"splits": ["eval"]}
    assert parameter("Evaluator", "example_splits") == ["eval"]


def test_beam_preset_and_extra_args_reach_every_beam_component(tmp_path):
    spec = compile_spec(tmp_path, "vertex", "--beam=multi_processing", "--beam-arg=--num_workers=4")
    for component in ("FileBasedExampleGen", "StatisticsGen", "Transform", "Evaluator"):
        args = executor_args(spec, component)
        assert "--direct_running_mode=multi_processing" in args
        assert args[-1] == "--num_workers=4"


def test_vertex_training_switch_runs_both_trainers_as_gpu_jobs(tmp_path):
    spec = compile_spec(
        tmp_path,
        "vertex",
        "--project=acme",
        "--set=cloud.vertex_training=true",
        "--set=cloud.accelerator_type=NVIDIA_TESLA_T4",
    )
    executors = spec["pipelineSpec"]["deploymentSpec"]["executors"]
    for trainer in ("BaselineTrainer", "CandidateTrainer"):
        args = executors[f"{trainer}_executor"]["container"]["args"]
        # TFX's Vertex AI Training executor, running our Trainer executor in the job.
        assert "components.trainer.component.VertexExecutor" in " ".join(args)
        value = tasks(spec)[trainer]["inputs"]["parameters"]["custom_config"]["runtimeValue"]
        config = json.loads(value["constantValue"]["stringValue"])
        [pool] = config["ai_platform_training_args"]["worker_pool_specs"]
        assert pool["machine_spec"]["accelerator_type"] == "NVIDIA_TESLA_T4"
        assert pool["container_spec"]["image_uri"] == IMAGE


def test_the_model_registry_gets_only_what_push_winner_pushed(tmp_path):
    serving_image = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
    spec = compile_spec(
        tmp_path,
        "vertex",
        "--project=acme",
        "--set=cloud.model_registry=true",
        f"--set=cloud.serving_image={serving_image}",
    )
    vertex_pusher = tasks(spec)["VertexPusher"]
    artifacts = vertex_pusher["inputs"]["artifacts"]
    # Blessed by PushWinner (only when it pushed a version now), the model SelectWinner chose.
    assert artifacts["model_blessing"]["taskOutputArtifact"] == {
        "outputArtifactKey": "push_blessing",
        "producerTask": "Pusher",
    }
    assert artifacts["model"]["taskOutputArtifact"]["producerTask"] == "SelectWinner"
    value = vertex_pusher["inputs"]["parameters"]["custom_config"]["runtimeValue"]
    config = json.loads(value["constantValue"]["stringValue"])
    assert config["ai_platform_vertex_container_image_uri"] == serving_image
    assert config["ai_platform_serving_args"]["endpoint_name"] == "vt-vs-cnn"
    assert "VertexPusher" not in tasks(compile_spec(tmp_path, "vertex")), "off by default"


def test_compiled_spec_declares_runtime_parameters_and_wires_them(tmp_path):
    # Vertex's PipelineJob; the KFP spec's defaults: test_the_kubeflow_spec_is_what_...
    spec = compile_spec(tmp_path, "vertex", "--set=gate.min_gain_over_production=0.05")

    declared = spec["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]
    assert declared == {name: {"type": kind} for name, (kind, _, _) in RUNTIME_PARAMETERS.items()}
    # TFX 1.16 puts the defaults (the config's values) in the job's runtimeConfig.
    assert spec["runtimeConfig"]["parameters"] == {
        "data_dir": {"stringValue": EMBEDDED_DATA_IN_IMAGE},
        "min_gain_over_production": {"doubleValue": 0.05},
    }
    wired = {
        (task, key): value["componentInputParameter"]
        for task, body in tasks(spec).items()
        for key, value in body["inputs"].get("parameters", {}).items()
        if "componentInputParameter" in value
    }
    assert wired == {(task, key): name for name, (_, task, key) in RUNTIME_PARAMETERS.items()}
    components = spec["pipelineSpec"]["components"]
    for kind, task, key in RUNTIME_PARAMETERS.values():
        assert components[task]["inputDefinitions"]["parameters"][key] == {"type": kind}


def test_param_values_reach_the_vertex_job_typed_and_defaults_stay(tmp_path):
    from google.auth.credentials import AnonymousCredentials

    from pipeline.runners import parameter_values, vertex_pipeline_job

    spec_path = tmp_path / "spec.json"
    compile_spec(tmp_path, "vertex")
    config = apply_overrides(
        get_preset("default"), {"output_root": "gs://acme-ml/vt-tfx", "cloud.project": "acme"}
    )
    values = parameter_values(config, ["min_gain_over_production=0.02"])
    assert values == {"min_gain_over_production": 0.02}

    def runtime_config(values):  # the request Vertex AI would get, built offline
        job = vertex_pipeline_job(
            config, str(spec_path), values, credentials=AnonymousCredentials()
        )
        return job._gca_resource.runtime_config

    submitted = runtime_config(values)
    assert submitted.parameters["min_gain_over_production"].double_value == 0.02
    assert submitted.parameters["data_dir"].string_value == EMBEDDED_DATA_IN_IMAGE
    assert submitted.gcs_output_directory == "gs://acme-ml/vt-tfx/pipelines/vt-vs-cnn"
    other_data = runtime_config(parameter_values(config, ["data_dir=gs://acme-ml/cifar-10"]))
    assert other_data.parameters["data_dir"].string_value == "gs://acme-ml/cifar-10"
    assert other_data.parameters["min_gain_over_production"].double_value == 0.0


def test_yaml_output_by_extension(tmp_path):
    spec = compile_spec(tmp_path, "kubeflow", output="spec.yaml")
    assert "Pusher" in tasks(spec)


def test_the_kubeflow_spec_is_what_the_kfp_client_uploads(tmp_path):
    compile_spec(tmp_path, "kubeflow", output="pipeline.yaml")
    path = str(tmp_path / "pipeline.yaml")

    # What `kfp.Client().upload_pipeline` parses before sending the file to the KFP backend.
    spec = kfp_client._extract_pipeline_yaml(path).pipeline_spec
    assert spec.schema_version == "2.1.0", "the KFP backend wants PipelineSpec 2.1"
    assert spec.default_pipeline_root == "gs://acme-ml/vt-tfx/pipelines/vt-vs-cnn"
    defaults = spec.root.input_definitions.parameters
    assert defaults["data_dir"].default_value.string_value == EMBEDDED_DATA_IN_IMAGE
    assert defaults["min_gain_over_production"].default_value.number_value == 0.0
    # ... and as a component of another pipeline.
    assert kfp.components.load_component_from_file(path).name == "vt-vs-cnn"


def test_a_kubeflow_spec_mounts_a_volume_in_every_step(tmp_path):
    path = tmp_path / "pipeline.yaml"
    extra = ["--output-root=/mnt/pipelines/vt", "--volume=pipelines-pvc:/mnt/pipelines"]
    compile_spec(tmp_path, "kubeflow", *extra, output="pipeline.yaml", documents=2)

    # The kfp client reads the mounts as the pipeline's Kubernetes platform spec.
    document = kfp_client._extract_pipeline_yaml(str(path))
    assert document.pipeline_spec.default_pipeline_root == "/mnt/pipelines/vt/pipelines/vt-vs-cnn"
    kubernetes = document.platform_spec.platforms["kubernetes"].deployment_spec.executors
    executors = document.pipeline_spec.deployment_spec["executors"]
    assert set(kubernetes) == set(executors) and len(executors) >= 10
    for name in executors:
        mounts = json_format.MessageToDict(kubernetes[name])["pvcMount"]
        assert mounts == [{"constant": "pipelines-pvc", "mountPath": "/mnt/pipelines"}], name


def test_compiled_spec_matches_the_golden_file(tmp_path):
    spec = compile_spec(tmp_path, "vertex", "--name=golden")
    spec.pop("labels")  # TFX and Python versions
    spec["pipelineSpec"].pop("sdkVersion")
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n")
    assert spec == json.loads(GOLDEN.read_text())


VERTEX_SUBMIT = ["--runner=vertex", f"--image={IMAGE}", "--output-root=gs://b/x", "--submit"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runner=vertex", "--output-root=gs://b/x"], "needs an image"),
        (["--runner=vertex", f"--image={IMAGE}", "--output-root=/tmp/x"], "gs://BUCKET/PATH"),
        (["--runner=kubeflow", f"--image={IMAGE}", "--output-root=/mnt/x"], "--volume PVC:PATH"),
        (
            ["--runner=kubeflow", f"--image={IMAGE}", "--output-root=/mnt/x", "--volume=p:/data"],
            "not under the volume's mount path /data",
        ),
        (
            ["--runner=kubeflow", f"--image={IMAGE}", "--output-root=/mnt/x", "--volume=p:/mnt"],
            "needs a .yaml --output",
        ),
        (["--runner=vertex", f"--image={IMAGE}", "--volume=p:/mnt"], "Vertex AI Pipelines"),
        (["--runner=kubeflow", f"--image={IMAGE}", "--volume=/mnt"], "PVC_NAME:/MOUNT/PATH"),
        (
            ["--runner=kubeflow", f"--image={IMAGE}", "--set=cloud.model_registry=true"],
            "works with --runner=vertex",
        ),
        (
            [*VERTEX_SUBMIT[:3], "--project=acme", "--set=cloud.model_registry=true"],
            "needs cloud.serving_image",
        ),
        (["--set=cloud.model_registry=true"], "works with --runner=vertex"),
        (["--runner=kubeflow", f"--image={IMAGE}", "--submit"], "--submit works with"),
        (["--runner=kubeflow", "--param=data_dir=gs://b/d"], "--runner=vertex --submit"),
        (["--param=data_dir=gs://b/d"], "--runner=vertex --submit"),
        (
            [*VERTEX_SUBMIT, "--param=epochs=3"],
            "NAME one of data_dir, min_gain_over_production",
        ),
        ([*VERTEX_SUBMIT, "--param=min_gain_over_production=high"], "not a float"),
    ],
)
def test_cluster_runner_mistakes_give_one_line(tmp_path, capsys, args, message):
    assert pipeline_runner.main([*args, f"--output={tmp_path / 's.json'}"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_submit_without_credentials_says_how_to_log_in(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # never probe a metadata server
    status = pipeline_runner.main(
        [
            "--runner=vertex",
            f"--image={IMAGE}",
            "--output-root=gs://acme-ml/vt-tfx",
            f"--output={tmp_path / 's.json'}",
            "--submit",
        ]
    )
    assert status == 2
    assert "no Google Cloud credentials" in capsys.readouterr().err
    assert (tmp_path / "s.json").exists(), "the spec is still compiled"


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuations joined."""
    text = (Path(REPO_ROOT) / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [tuple(line.split(None, 1)) for line in joined.splitlines() if line.strip()]


def locked_version(package: str) -> str:
    [version] = re.findall(
        rf"^{package}==(\S+)", (Path(REPO_ROOT) / "requirements.lock").read_text(), re.M
    )
    return version


def test_image_holds_every_path_and_module_the_compiled_spec_names(tmp_path):
    """What can be checked of the Dockerfile without a Docker engine."""
    spec = compile_spec(tmp_path, "vertex")
    instructions = dockerfile()
    [beam, base] = [args for op, args in instructions if op == "FROM"]
    assert base == f"gcr.io/tfx-oss-public/tfx:{locked_version('tfx')}", "TFX as locked"
    # Dataflow workers start Beam's launcher, of the Beam version the image installs.
    assert beam == f"apache/beam_python3.10_sdk:{locked_version('apache-beam')} AS beam"
    assert ("COPY", "--from=beam /opt/apache/beam /opt/apache/beam") in instructions
    assert instructions[-1] == ("ENTRYPOINT", '["/opt/apache/beam/boot"]')
    [*_, workdir] = [args for op, args in instructions if op == "WORKDIR"]
    assert workdir == CloudConfig().container_root
    copied = {
        source.rstrip("/")
        for op, args in instructions
        if op == "COPY" and not args.startswith("--from")
        for source in args.split()[:-1]
    }
    runs = [args for op, args in instructions if op == "RUN"]
    env = " ".join(args for op, args in instructions if op == "ENV")
    assert "TF_USE_LEGACY_KERAS=1" in env, "the models are tf_keras models"

    # Files: every path of the image the spec names is copied there from this checkout.
    root = CloudConfig().container_root + "/"
    for path in set(re.findall(rf"{root}[\w./-]+", json.dumps(spec))):
        inside = path.removeprefix(root)
        assert inside.split("/")[0] in copied, f"{path}: not copied into the image"
        assert (Path(REPO_ROOT) / inside).exists(), f"{path}: not in this checkout"

    # Code: every module path resolves to a package the image copies and installs.
    executors = spec["pipelineSpec"]["deploymentSpec"]["executors"].values()
    names = {
        e["container"]["args"][e["container"]["args"].index("--executor_class_path") + 1]
        for e in executors
    }
    names |= {
        parameter["runtimeValue"]["constantValue"]["stringValue"]
        for task in tasks(spec).values()
        for key, parameter in task["inputs"].get("parameters", {}).items()
        if key in ("run_fn", "preprocessing_fn", "module_path")
    }
    project = tomli.loads((Path(REPO_ROOT) / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied
    ours = {name for name in names if not name.startswith("tfx.")}
    assert {name.split(".")[0] for name in ours} <= packages
    for name in ours:
        module, _, attribute = name.rpartition(".")
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            assert hasattr(importlib.import_module(module), attribute), name

    # Installs: the lock with its hashes into the interpreter the spec's commands run, then
    # the project itself (editable, so module paths import from the copied sources).
    for executor in executors:
        assert executor["container"]["command"][:2] == ["python", "-m"]
    assert any(
        "python -m pip install" in r and "--require-hashes -r requirements.lock" in r for r in runs
    )
    assert any(re.search(r"python -m pip install .*--no-deps .*-e \.$", r) for r in runs)
    assert {"pyproject.toml", "requirements.lock"} <= copied


def test_dataflow_preset_needs_its_settings_and_builds_runner_flags():
    config = get_preset("default")
    with pytest.raises(ValueError, match="cloud.project, cloud.temp_location, cloud.image"):
        beam_pipeline_args(apply_overrides(config, {"beam": "dataflow"}))
    dataflow = apply_overrides(
        config,
        {
            "beam": "dataflow",
            "cloud.project": "acme",
            "cloud.temp_location": "gs://acme/tmp",
            "cloud.image": IMAGE,
            "beam_args": "--max_num_workers=50",
        },
    )
    args = beam_pipeline_args(dataflow)
    assert "--runner=DataflowRunner" in args
    assert f"--sdk_container_image={IMAGE}" in args
    assert "--experiments=use_runner_v2" in args
    assert args[-1] == "--max_num_workers=50"


def test_second_run_of_a_pipeline_waits_then_fails_clearly(tmp_path):
    config = apply_overrides(get_preset("smoke"), {"output_root": str(tmp_path)})
    busy = pytest.raises(PipelineBusyError, match=r"pipeline 'smoke' is being run by pid \d+")
    with pipeline_lock(config), busy, pipeline_lock(config, timeout=0.1):
        pass
    with pipeline_lock(config, timeout=0.1):
        pass  # released after the first run


def test_resources_per_component_reach_the_compiled_executors(tmp_path):
    spec = compile_spec(
        tmp_path,
        "kubeflow",
        "--set=resources.trainer.accelerator_type=NVIDIA_TESLA_T4",
        "--set=resources.transform.memory=64",
    )

    executors = pipeline_spec(spec)["deploymentSpec"]["executors"]

    def resources(component: str) -> dict:
        return executors[f"{component}_executor"]["container"].get("resources", {})

    for trainer in ("BaselineTrainer", "CandidateTrainer"):
        assert resources(trainer) == {
            "cpuLimit": 8.0,
            "memoryLimit": 32.0,
            "accelerator": {"type": "NVIDIA_TESLA_T4", "count": "1"},
        }
    assert resources("Transform") == {"cpuLimit": 4.0, "memoryLimit": 64.0}
    assert resources("Evaluator") == {"cpuLimit": 4.0, "memoryLimit": 16.0}
    assert resources("StatisticsGen") == {}, "light components keep the cluster's default"
