"""TFX's Trainer, also given ImageExampleGen's Examples artifact to read the class names from.

The Trainers train on Transform's `transformed_examples`, which do not carry the data set's
label index -> name map that ImageExampleGen stores with its own Examples artifact
(`components/image_example_gen/class_names.py`). TFX's TrainerSpec has no slot for a second
Examples input, so this module adds one, `dataset`, and an executor that passes its URI to
`run_fn` as `fn_args.custom_config[DATASET_URI_KEY]` (read the names with
`components.trainer.dataset.dataset_class_names`).
The compiled pipeline holds no class names: they are read when the Trainer runs.

`create_trainer` builds TFX's Trainer, or its Vertex AI Training variant, with that input.
"""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf
from tfx import v1 as tfx
from tfx.components.trainer import executor as trainer_executor
from tfx.dsl.components.base import executor_spec
from tfx.extensions.google_cloud_ai_platform.trainer import executor as vertex_executor
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter

from components.trainer.dataset import DATASET_URI_KEY
from features import MODEL_INFO_FILE

DATASET_KEY = "dataset"


class Executor(trainer_executor.GenericExecutor):
    """TFX's Trainer executor; `run_fn` also gets the URI of the `dataset` input, and the
    Model artifact carries what `run_fn` trained (`record_model_info`)."""

    def Do(  # noqa: N802 - TFX API.
        self,
        input_dict: dict[str, list[Any]],
        output_dict: dict[str, list[Any]],
        exec_properties: dict[str, Any],
    ) -> None:
        super().Do(input_dict, output_dict, exec_properties)
        record_model_info(
            artifact_utils.get_single_instance(output_dict["model"]),
            artifact_utils.get_single_uri(output_dict["model_run"]),
        )

    def _GetFnArgs(  # noqa: N802 - TFX API.
        self,
        input_dict: dict[str, list[Any]],
        output_dict: dict[str, list[Any]],
        exec_properties: dict[str, Any],
    ) -> tfx.components.FnArgs:
        fn_args = super()._GetFnArgs(input_dict, output_dict, exec_properties)
        dataset_uri = artifact_utils.get_single_uri(input_dict[DATASET_KEY])
        fn_args.custom_config = {**(fn_args.custom_config or {}), DATASET_URI_KEY: dataset_uri}
        return fn_args


def record_model_info(model: Any, model_run_uri: str) -> None:
    """Copies `run_fn`'s model_info.json into the Model artifact's custom properties, so that
    ML Metadata's lineage says what was trained: model_name, params, macs, recipe (JSON)."""
    path = os.path.join(model_run_uri, MODEL_INFO_FILE)
    if not tf.io.gfile.exists(path):  # a run_fn that is not ours
        return
    with tf.io.gfile.GFile(path) as f:
        info = json.load(f)
    model.set_string_custom_property("model_name", info["model_name"])
    model.set_int_custom_property("params", info["params"])
    model.set_int_custom_property("macs", info["macs"])
    model.set_string_custom_property("model_overrides", json.dumps(info["model_overrides"]))
    model.set_string_custom_property("recipe", json.dumps(info["recipe"], sort_keys=True))


class VertexExecutor(vertex_executor.GenericExecutor):
    """Runs `Executor` (not TFX's) in the Vertex AI Training job."""

    def _GetExecutorClass(self) -> type[Executor]:  # noqa: N802 - TFX API.
        return Executor


class _WithDataset:
    """Adds the `dataset` input (an Examples channel) to a Trainer component."""

    def __init__(self, *, dataset: tfx.dsl.Channel, **trainer_args: Any):
        super().__init__(**trainer_args)
        # TrainerSpec has no such input: extend this instance's spec (the compiler checks
        # inputs against spec.INPUTS).
        self.spec.INPUTS = {
            **self.spec.INPUTS,
            DATASET_KEY: ChannelParameter(type=standard_artifacts.Examples),
        }
        self.spec.inputs[DATASET_KEY] = dataset


class Trainer(_WithDataset, tfx.components.Trainer):
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)


class VertexTrainer(_WithDataset, tfx.extensions.google_cloud_ai_platform.Trainer):
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(VertexExecutor)


def create_trainer(
    *, dataset: tfx.dsl.Channel, vertex_training: bool = False, **trainer_args: Any
) -> tfx.components.Trainer:
    """A Trainer (a Vertex AI Training one when `vertex_training`) whose `run_fn` can read
    the class names of `dataset`, ImageExampleGen's `examples` output, with
    `components.trainer.dataset.dataset_class_names`. `trainer_args` are TFX Trainer's."""
    trainer_class = VertexTrainer if vertex_training else Trainer
    return trainer_class(dataset=dataset, **trainer_args)
