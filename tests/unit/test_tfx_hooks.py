"""Canary for the private TFX / TFMA internals the product code relies on.

One test per row of docs/architecture.md#private-tfx-hooks: each checks that the hook still
exists with the signature, the caller or the behaviour we rely on, and fails naming the hook.
Run it first after changing the TFX pin. Imports and object construction only: no pipeline.
Modules are imported inside the tests, so that a module TFX moved fails one test, by name.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from tfx import v1 as tfx

ROOT = Path(__file__).resolve().parents[2]
DOC = "docs/architecture.md#private-tfx-hooks"
PRODUCT = ["components", "pipeline", "models", "pipeline_runner.py"]
# Imports that are public API: TFX's v1 namespace, tfx-bsl's public one, TFMA's and TFT's
# top-level packages, ML Metadata's client.
PUBLIC = ("tfx.v1", "tfx_bsl.public", "ml_metadata")
WATCHED = ("tfx", "tfx_bsl", "tensorflow_model_analysis.", "tensorflow_transform.")


def _changed(hook: str, what: str) -> str:
    return f"TFX hook {hook} changed: {what}. See its row in {DOC} and adapt our code."


def _module(path: str) -> ModuleType:
    try:
        return importlib.import_module(path)
    except ImportError as error:
        pytest.fail(_changed(path, f"it cannot be imported ({error})"))


def _get(owner: Any, name: str) -> Any:
    if not hasattr(owner, name):
        pytest.fail(_changed(f"{getattr(owner, '__name__', owner)}.{name}", "it is gone"))
    return getattr(owner, name)


def _params(owner: Any, name: str) -> list[str]:
    return list(inspect.signature(_get(owner, name)).parameters)


def _calls(owner: Any, name: str) -> set[str]:
    """The global and attribute names the body of `owner.name` uses (what it calls, roughly)."""
    return set(_get(owner, name).__code__.co_names)


def _imports(source: str) -> set[tuple[str, str | None]]:
    """(module, imported name or None) of each absolute import in `source`."""
    found: set[tuple[str, str | None]] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {(alias.name, None) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {(node.module, alias.name) for alias in node.names}
    return found


def _private_imports() -> set[tuple[str, str | None]]:
    """The imports of non-public TFX / TFMA modules in the product code."""
    files = [p for top in PRODUCT for p in sorted((ROOT / top).rglob("*.py")) or [ROOT / top]]
    found = set().union(*(_imports(p.read_text()) for p in files))
    return {
        (module, name)
        for module, name in found
        if module.startswith(WATCHED) and not f"{module}.{name or ''}".startswith(PUBLIC)
    }


def test_every_private_import_is_documented_and_still_there() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    undocumented = set()
    for module, name in sorted(_private_imports(), key=str):
        owner = _module(module)
        if name and not hasattr(owner, name):
            _module(f"{module}.{name}")  # a submodule its package does not import, or gone
        is_module = name is not None and inspect.ismodule(getattr(owner, name))
        path = f"{module}.{name}" if is_module else module
        if path not in doc:
            undocumented.add(path)
    assert not undocumented, (
        f"product code imports non-public modules {sorted(undocumented)}: add each to the "
        f"table in {DOC} and a check here, or use the tfx.v1 API"
    )


def test_base_example_gen_executor_methods_we_override() -> None:
    base = _module("tfx.components.example_gen.base_example_gen_executor").BaseExampleGenExecutor
    executor = _module("components.image_example_gen.executor")
    hook = "BaseExampleGenExecutor"
    assert base.__abstractmethods__ == {"GetInputSourceToExamplePTransform"}, _changed(
        hook, f"its abstract methods are now {sorted(base.__abstractmethods__)}"
    )
    assert _params(base, "GenerateExamplesByBeam") == ["self", "pipeline", "exec_properties"], (
        _changed(f"{hook}.GenerateExamplesByBeam", "its parameters differ")
    )
    assert _params(base, "Do") == ["self", "input_dict", "output_dict", "exec_properties"], (
        _changed(f"{hook}.Do", "its parameters differ")
    )
    with pytest.raises(NotImplementedError):
        executor.Executor().GetInputSourceToExamplePTransform()


# What TFX 1.16's BaseExampleGenExecutor.Do uses; our Executor.Do replaces it and must do the
# same to the Examples artifact (split names, payload and file format properties).
BASE_DO_USES = {
    "EXAMPLES_KEY", "FILE_FORMAT_UNSPECIFIED", "GenerateExamplesByBeam", "INPUT_CONFIG_KEY",
    "Input", "OUTPUT_CONFIG_KEY", "OUTPUT_DATA_FORMAT_KEY", "OUTPUT_FILE_FORMAT_KEY", "Output",
    "WriteSplit", "_log_startup", "_make_beam_pipeline", "artifact_utils", "encode_split_names",
    "example_gen_pb2", "examples_utils", "format", "generate_output_split_names", "get",
    "get_single_instance", "get_split_uri", "info", "items", "json_to_proto", "logging",
    "proto_utils", "set_file_format", "set_payload_format", "split_names",
    "standard_component_specs", "to_file_format_str", "utils", "write_split",
}  # fmt: skip


def test_base_example_gen_do_still_does_what_our_do_redoes() -> None:
    base = _module("tfx.components.example_gen.base_example_gen_executor").BaseExampleGenExecutor
    used = _calls(base, "Do")
    assert used == BASE_DO_USES, _changed(
        "BaseExampleGenExecutor.Do",
        f"it now also uses {sorted(used - BASE_DO_USES)} and no longer "
        f"{sorted(BASE_DO_USES - used)}; port that to image_example_gen Executor.Do, "
        "then update BASE_DO_USES",
    )


def test_beam_executor_private_members() -> None:
    beam_executor = _module("tfx.dsl.components.base.base_beam_executor").BaseBeamExecutor
    base_executor = _module("tfx.dsl.components.base.base_executor").BaseExecutor
    executor = _module("components.image_example_gen.executor")
    hook = "BaseBeamExecutor._beam_pipeline_args"
    assert _params(beam_executor, "_make_beam_pipeline") == ["self"], _changed(
        "BaseBeamExecutor._make_beam_pipeline", "its parameters differ"
    )
    assert hasattr(executor.Executor(), "_beam_pipeline_args"), _changed(hook, "it is gone")
    assert _params(base_executor, "_log_startup") == [
        "self", "inputs", "outputs", "exec_properties"
    ], _changed("BaseExecutor._log_startup", "its parameters differ")  # fmt: skip


def test_hash_split_matches_tfx_partition_fn() -> None:
    partition_fn = _get(
        _module("tfx.components.example_gen.base_example_gen_executor"), "_PartitionFn"
    )
    example_gen_pb2 = _module("tfx.proto.example_gen_pb2")
    reading = _module("components.image_example_gen.reading")
    key = _module("features").SOURCE_ID_KEY
    config = example_gen_pb2.SplitConfig(partition_feature_name=key)
    for i in range(200):
        example = tf.train.Example()
        example.features.feature[key].bytes_list.value.append(b"b:%d" % i)
        ours = reading.hash_split_index(example, [9, 10], key)
        assert ours == partition_fn(example, 2, [9, 10], config), _changed(
            "base_example_gen_executor._PartitionFn", f"it splits source_id b:{i} otherwise"
        )


def test_file_based_example_gen_and_executor_specs() -> None:
    example_gen = _get(_module("tfx.components"), "FileBasedExampleGen")
    executor_spec = _module("tfx.dsl.components.base.executor_spec")
    wanted = {"input_base", "input_config", "output_config", "custom_config"}
    wanted.add("custom_executor_spec")
    missing = wanted - set(_params(example_gen, "__init__"))
    assert not missing, _changed("tfx.components.FileBasedExampleGen", f"no {sorted(missing)}")
    for name in ("BeamExecutorSpec", "ExecutorClassSpec"):
        _get(executor_spec, name)


def _channel(artifact_type: type) -> tfx.dsl.Channel:
    return tfx.dsl.Channel(type=artifact_type)


def test_example_validator_validate_is_called_per_split() -> None:
    base = _module("tfx.components.example_validator.executor").Executor
    labels = _module("tfx.components.example_validator.labels")
    validation = _module("components.image_example_gen.validation")
    hook = "ExampleValidator Executor._Validate"
    assert _params(base, "_Validate") == ["self", "inputs", "outputs"], _changed(hook, "params")
    assert {"_Validate", "SCHEMA_DIFF_PATH", "get_split_uri"} <= _calls(base, "Do"), _changed(
        hook, "Do no longer passes each split's folder to it"
    )
    _get(labels, "SCHEMA_DIFF_PATH")
    component = validation.StrictExampleValidator(
        statistics=_channel(tfx.types.standard_artifacts.ExampleStatistics),
        schema=_channel(tfx.types.standard_artifacts.Schema),
    )
    assert component.executor_spec.executor_class is validation.Executor, _changed(
        "ExampleValidator.EXECUTOR_SPEC", "the class attribute no longer picks the executor"
    )


def test_trainer_get_fn_args_and_vertex_get_executor_class() -> None:
    base = _module("tfx.components.trainer.executor").GenericExecutor
    vertex = _module("tfx.extensions.google_cloud_ai_platform.trainer.executor").GenericExecutor
    hook = "trainer GenericExecutor._GetFnArgs"
    assert _params(base, "_GetFnArgs") == [
        "self",
        "input_dict",
        "output_dict",
        "exec_properties",
    ], _changed(hook, "its parameters differ")
    assert "_GetFnArgs" in _calls(base, "Do"), _changed(hook, "Do no longer calls it")
    hook = "Vertex trainer GenericExecutor._GetExecutorClass"
    assert _params(vertex, "_GetExecutorClass") == ["self"], _changed(hook, "params")
    assert "_GetExecutorClass" in _calls(vertex, "Do"), _changed(hook, "Do no longer calls it")


@pytest.mark.parametrize("vertex_training", [False, True])
def test_trainer_spec_inputs_extended_per_instance(vertex_training: bool) -> None:
    trainer = _module("components.trainer.component")
    compiler = _module("tfx.dsl.compiler.node_inputs_compiler")
    hook = "Trainer spec.INPUTS (instance override)"
    examples = tfx.types.standard_artifacts.Examples
    component = trainer.create_trainer(
        dataset=_channel(examples),
        vertex_training=vertex_training,
        examples=_channel(examples),
        run_fn="components.trainer.module.run_fn",
        train_args=tfx.proto.TrainArgs(),
        eval_args=tfx.proto.EvalArgs(),
    )
    assert trainer.DATASET_KEY in component.inputs, _changed(hook, "the input is not kept")
    assert trainer.DATASET_KEY not in type(component.spec).INPUTS, _changed(hook, "class changed")
    assert "tfx_node.spec.INPUTS[" in inspect.getsource(compiler), _changed(
        hook, "the compiler no longer reads the instance's INPUTS"
    )
    expected = trainer.VertexExecutor if vertex_training else trainer.Executor
    assert component.executor_spec.executor_class is expected, _changed(
        "Trainer.EXECUTOR_SPEC", "the class attribute no longer picks the executor"
    )


def test_artifact_folder_layouts() -> None:
    artifact_utils = _module("tfx.types.artifact_utils")
    path_utils = _module("tfx.utils.path_utils")
    outputs_utils = _module("tfx.orchestration.portable.outputs_utils")
    pipeline_pb2 = _module("tfx.proto.orchestration.pipeline_pb2")
    examples = tfx.types.standard_artifacts.Examples()
    examples.uri = "/root/ImageExampleGen/examples/7"
    examples.split_names = artifact_utils.encode_split_names(["train"])
    split_uri = _get(artifact_utils, "get_split_uri")([examples], "train")
    assert split_uri == f"{examples.uri}/{_module('features').split_folder('train')}", _changed(
        "artifact_utils.get_split_uri", f"a split's folder is now {split_uri}"
    )
    serving = _get(path_utils, "serving_model_path")("/m/1")
    assert serving == "/m/1/Format-Serving", _changed("path_utils.serving_model_path", serving)
    spec = pipeline_pb2.OutputSpec()
    spec.artifact_spec.type.name = examples.TYPE_NAME
    artifacts = _get(outputs_utils, "generate_output_artifacts")(7, {"examples": spec}, "/root/N")
    [made] = artifacts["examples"]
    assert made.uri == "/root/N/examples/7", _changed(
        "outputs_utils.generate_output_artifacts", f"outputs go to {made.uri}"
    )


def test_mlmd_names_of_runs_nodes_and_events() -> None:
    constants = _module("tfx.dsl.compiler.constants")
    compiler_utils = _module("tfx.dsl.compiler.compiler_utils")
    event_lib = _module("tfx.orchestration.portable.mlmd.event_lib")
    metadata_store_pb2 = _module("ml_metadata.proto.metadata_store_pb2")
    outputs = _module("pipeline.outputs")
    hook = "TFX's MLMD contexts and events"
    names = (constants.PIPELINE_CONTEXT_TYPE_NAME, constants.NODE_CONTEXT_TYPE_NAME)
    assert names == ("pipeline", "node"), _changed(hook, f"context types are {names}")
    assert constants.PIPELINE_RUN_CONTEXT_TYPE_NAME == outputs.PIPELINE_RUN, _changed(
        hook, "the run context type is renamed"
    )
    node_context = _get(compiler_utils, "node_context_name")("p", "n")
    assert node_context == "p.n", _changed(hook, f"a node context is named {node_context}")
    event = _get(event_lib, "generate_event")(metadata_store_pb2.Event.OUTPUT, "model", 0)
    assert event.path.steps[0].key == "model", _changed(hook, "steps[0] is not the key")


def test_tfma_metric_internals() -> None:
    tfma = _module("tensorflow_model_analysis")
    metric_types = _module("tensorflow_model_analysis.metrics.metric_types")
    metric_util = _module("tensorflow_model_analysis.metrics.metric_util")
    mcm = _module("tensorflow_model_analysis.metrics.multi_class_confusion_matrix_metrics")
    hook = "TFMA metric_types / multi_class_confusion_matrices"
    assert _params(metric_types, "register_metric") == ["cls"], _changed(hook, "register_metric")
    assert "flatten" in _params(metric_util, "to_label_prediction_example_weight"), _changed(
        hook, "to_label_prediction_example_weight"
    )
    computations = _get(mcm, "multi_class_confusion_matrices")(
        eval_config=tfma.EvalConfig(), model_name="", output_name="", example_weighted=False
    )
    combiner = computations[-1].combiner
    inputs = metric_types.StandardMetricInputs(
        labels=np.array([1]), predictions=np.array([0.1, 0.9]), example_weights=np.array([1.0])
    )
    result = combiner.extract_output(combiner.add_input(combiner.create_accumulator(), inputs))
    matrices = result.get(computations[-1].keys[-1], {})
    assert list(matrices) == [0.0], _changed(hook, f"the default thresholds are {list(matrices)}")
    [entry] = matrices[0.0]
    assert (entry.actual_class_id, entry.predicted_class_id) == (1, 1), _changed(hook, "entries")


def test_tfma_features_stage_and_evaluator_udf() -> None:
    features_extractor = _module("tensorflow_model_analysis.extractors.features_extractor")
    evaluator = _module("tfx.components.evaluator.executor")
    extractors = _module("components.evaluator.extractors")
    stage = _get(features_extractor, "_FEATURES_EXTRACTOR_STAGE_NAME")
    assert stage == extractors.FEATURES_EXTRACTOR_STAGE, _changed(
        "TFMA features extractor stage name", f"it is {stage!r}"
    )
    source = inspect.getsource(evaluator.Executor.Do)
    for keyword in (
        "'custom_extractors'",
        *inspect.signature(extractors.custom_extractors).parameters,
    ):
        assert keyword in source, _changed("Evaluator custom_extractors", f"no {keyword}")
