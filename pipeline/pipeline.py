"""`create_pipeline`: wires the TFX components of a VT-vs-CNN run; no I/O, no globals.

ImageExampleGen -> StatisticsGen -> ImportSchemaGen -> ExampleValidator
               -> Transform -> Trainer (CNN baseline) + Trainer (VT candidate)
               -> Evaluator (VT vs CNN) -> SelectWinner -> Pusher (vs production, at push time)
                                                                   -> RunReport (HTML + PNG)
"""

from __future__ import annotations

import json
import os

from tfx import v1 as tfx
from tfx.v1.dsl.experimental import RuntimeParameter

from components.evaluator.extractors import EVALUATOR_MODULE
from components.image_example_gen.component import create_image_example_gen
from components.image_example_gen.validation import StrictExampleValidator
from components.report.component import RunReport
from components.trainer.component import create_trainer
from components.trainer.module import trainer_custom_config
from components.winner.component import PushWinner, SelectWinner
from features import EVAL_SPLIT, TRAIN_SPLIT
from models.training.recipe import BASELINE_TEACHER
from pipeline.beam import beam_pipeline_args
from pipeline.cloud_serving import vertex_pusher
from pipeline.cloud_training import vertex_training_config
from pipeline.config import ModelConfig, PipelineConfig
from pipeline.evaluation import build_eval_config

PREPROCESSING_FN = "models.preprocessing.preprocessing_fn"
RUN_FN = "components.trainer.module.run_fn"
# The Trainers fit on the train split and validate on the eval split, which the Evaluator's
# gate also scores; the `test` split, which every data set has (components/image_example_gen/
# splits.py), is read by none of them (`pipeline_runner.py evaluate` scores it when asked).

# Pipeline parameters: what each run of a compiled pipeline may change without recompiling.
DATA_DIR_PARAMETER = "data_dir"
MIN_GAIN_OVER_PRODUCTION_PARAMETER = "min_gain_over_production"


def runtime_parameters(config: PipelineConfig) -> dict[str, RuntimeParameter]:
    """The pipeline's RuntimeParameters by name, each defaulting to `config`'s value.

    data_dir: the data set ExampleGen reads (same source layout and classes as compiled).
    min_gain_over_production: the margin the Pusher needs to replace the model in production.

    Kubeflow / Vertex AI Pipelines take their values per run (`--param NAME=VALUE` with
    `--submit`). TFX's KubeflowV2DagRunner binds a runtime value only to a whole str / int /
    float parameter of a component, never to a field of a proto or of a custom_config dict: so
    the training recipe (the Trainers' custom_config) and the Evaluator's thresholds
    (min_accuracy, min_gain in its eval_config) are compiled in. Local runs use constants:
    TFX 1.16's IR compiler drops a falsy default (0.0, ""), which LocalDagRunner then leaves
    unresolved.
    """
    values = {
        DATA_DIR_PARAMETER: config.data.data_dir,
        MIN_GAIN_OVER_PRODUCTION_PARAMETER: float(config.gate.min_gain_over_production),
    }
    return {
        name: RuntimeParameter(name=name, ptype=type(value), default=value)
        for name, value in values.items()
    }


def create_pipeline(
    config: PipelineConfig,
    *,
    metadata_connection_config=None,
    with_runtime_parameters: bool = False,
) -> tfx.dsl.Pipeline:
    """The TFX pipeline for `config`. Reads no data: the class names travel with the examples
    (ImageExampleGen writes them, the Trainers read them when they run).

    Args:
      config: the run's configuration (data, both models, training recipe, gate, paths).
      metadata_connection_config: MLMD connection; None lets the orchestrator provide one
        (Kubeflow / Vertex).
      with_runtime_parameters: make the values of `runtime_parameters(config)` RuntimeParameters
        (for Kubeflow / Vertex), instead of constants.
    """
    parameters = runtime_parameters(config) if with_runtime_parameters else {}
    # A local run's SQLite ML Metadata ("" for the orchestrator's), where the gate and the
    # report find the run they are part of.
    metadata_path = (
        metadata_connection_config.sqlite.filename_uri
        if metadata_connection_config is not None
        else ""
    )
    example_gen = create_image_example_gen(
        config.data.data_dir,
        config.data.source,
        input_base=parameters.get(DATA_DIR_PARAMETER),
        split_ratios=config.data.split_ratios,
        max_per_class=config.data.max_per_class,
        max_rejected_fraction=config.data.max_rejected_fraction,
        shard_bytes=round(config.data.shard_mb * 2**20),
        read_outside_data_dir=config.data.read_outside_data_dir,
        min_images_per_class=config.data.min_images_per_class,
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema_dir + "/schema.pbtxt")
    # Fails the run on any anomaly, before Transform (and so training) starts.
    example_validator = StrictExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    ).with_id("ExampleValidator")
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config={
            "image_size": config.data.image_size,
            "property_buckets": config.evaluation.property_buckets,
        },
    )
    transform.add_upstream_node(example_validator)

    def trainer(
        model: ModelConfig, component_id: str, teacher: tfx.dsl.Channel | None = None
    ) -> tfx.components.Trainer:
        """A Trainer; `teacher` (a model channel) is its distillation teacher when the model's
        train config asks for the baseline. Epoch checkpoints go to a directory stable across
        executions, so a re-run of an interrupted Trainer resumes (components/trainer/module.py)."""
        train = model.train_config(config.train)
        custom_config = trainer_custom_config(
            model=model.name,
            model_overrides=model.overrides,
            train=train,
            image_size=config.data.image_size,
            checkpoint_root=os.path.join(config.pipeline_root, "checkpoints", component_id),
        )
        custom_config.update(vertex_training_config(config.cloud))
        return create_trainer(
            dataset=example_gen.outputs["examples"],
            vertex_training=config.cloud.vertex_training,
            run_fn=RUN_FN,
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            schema=schema_gen.outputs["schema"],
            base_model=teacher if train.distillation.teacher == BASELINE_TEACHER else None,
            train_args=tfx.proto.TrainArgs(splits=[TRAIN_SPLIT]),
            eval_args=tfx.proto.EvalArgs(splits=[EVAL_SPLIT]),
            custom_config=custom_config,
        ).with_id(component_id)

    baseline_trainer = trainer(config.baseline, "BaselineTrainer")
    candidate_trainer = trainer(
        config.candidate, "CandidateTrainer", teacher=baseline_trainer.outputs["model"]
    )

    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=candidate_trainer.outputs["model"],
        baseline_model=baseline_trainer.outputs["model"],
        eval_config=build_eval_config(config.gate, config.evaluation),
        example_splits=[EVAL_SPLIT],
        schema=schema_gen.outputs["schema"],
        module_path=EVALUATOR_MODULE,
    )
    select_winner = SelectWinner(
        candidate_model=candidate_trainer.outputs["model"],
        baseline_model=baseline_trainer.outputs["model"],
        evaluation=evaluator.outputs["evaluation"],
        candidate_blessing=evaluator.outputs["blessing"],
        examples=example_gen.outputs["examples"],
        candidate_name=config.candidate.name,
        baseline_name=config.baseline.name,
        candidate_epochs=config.candidate.train_config(config.train).epochs,
        baseline_epochs=config.baseline.train_config(config.train).epochs,
        min_accuracy=config.gate.min_accuracy,
        min_gain_over_chance=config.gate.min_gain_over_chance,
        allow_untrained=config.gate.allow_untrained,
        min_gain=config.gate.min_gain,
        confidence=config.gate.confidence,
        **({"metadata_path": metadata_path} if metadata_path else {}),
    )
    pusher = PushWinner(
        model=select_winner.outputs["model"],
        model_blessing=select_winner.outputs["blessing"],
        examples=example_gen.outputs["examples"],
        serving_dir=config.serving_dir,
        min_gain_over_production=parameters.get(
            MIN_GAIN_OVER_PRODUCTION_PARAMETER, config.gate.min_gain_over_production
        ),
        confidence=config.gate.confidence,
    ).with_id("Pusher")
    report = RunReport(
        candidate_model=candidate_trainer.outputs["model"],
        baseline_model=baseline_trainer.outputs["model"],
        candidate_run=candidate_trainer.outputs["model_run"],
        baseline_run=baseline_trainer.outputs["model_run"],
        examples=example_gen.outputs["examples"],
        evaluation=evaluator.outputs["evaluation"],
        blessing=select_winner.outputs["blessing"],
        pushed_model=pusher.outputs["pushed_model"],
        title=f"{config.name}: {config.candidate.name} vs {config.baseline.name}",
        candidate_name=config.candidate.name,
        baseline_name=config.baseline.name,
        candidate_overrides_json=json.dumps(config.candidate.overrides, sort_keys=True),
        baseline_overrides_json=json.dumps(config.baseline.overrides, sort_keys=True),
        image_size=config.data.image_size,
        min_images_per_class=config.data.min_images_per_class,
        **({"metadata_path": metadata_path} if metadata_path else {}),
    )
    registry = []
    if config.cloud.model_registry:
        registry.append(
            vertex_pusher(
                select_winner.outputs["model"],
                pusher.outputs["push_blessing"],
                config.cloud,
                config.name,
            )
        )
    return tfx.dsl.Pipeline(
        pipeline_name=config.name,
        pipeline_root=config.pipeline_root,
        components=[
            example_gen,
            statistics_gen,
            schema_gen,
            example_validator,
            transform,
            baseline_trainer,
            candidate_trainer,
            evaluator,
            select_winner,
            pusher,
            *registry,
            report,
        ],
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args(config),
    )
