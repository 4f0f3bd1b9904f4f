"""`create_pipeline`: wires the TFX components of a VT-vs-CNN run; no I/O, no globals.

ImageExampleGen -> StatisticsGen -> ImportSchemaGen -> ExampleValidator
               -> Transform -> Trainer (CNN baseline) + Trainer (VT candidate)
               -> Evaluator (VT vs CNN) -> SelectWinner -> Pusher
"""

from __future__ import annotations

from collections.abc import Sequence

from tfx import v1 as tfx

from components.image_example_gen.component import create_image_example_gen
from components.winner.component import SelectWinner
from models.trainer import trainer_custom_config
from pipeline.beam import beam_pipeline_args
from pipeline.config import ModelConfig, PipelineConfig
from pipeline.evaluation import build_eval_config

PREPROCESSING_FN = "models.preprocessing.preprocessing_fn"
RUN_FN = "models.trainer.run_fn"


def create_pipeline(
    config: PipelineConfig,
    *,
    class_names: Sequence[str],
    metadata_connection_config=None,
) -> tfx.dsl.Pipeline:
    """The TFX pipeline for `config`.

    Args:
      config: the run's configuration (data, both models, training recipe, gate, paths).
      class_names: label index -> name of the data set (exported inside each model).
      metadata_connection_config: MLMD connection; None lets the orchestrator provide one
        (Kubeflow / Vertex).
    """
    example_gen = create_image_example_gen(config.data.data_dir, config.data.source)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema_dir + "/schema.pbtxt")
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config={"image_size": config.data.image_size},
    )

    def trainer(model: ModelConfig, component_id: str) -> tfx.components.Trainer:
        custom_config = trainer_custom_config(
            model=model.name,
            model_overrides=model.overrides,
            train=vars(model.train_config(config.train)),
            image_size=config.data.image_size,
            class_names=list(class_names),
        )
        return tfx.components.Trainer(
            run_fn=RUN_FN,
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            schema=schema_gen.outputs["schema"],
            train_args=tfx.proto.TrainArgs(),
            eval_args=tfx.proto.EvalArgs(),
            custom_config=custom_config,
        ).with_id(component_id)

    baseline_trainer = trainer(config.baseline, "BaselineTrainer")
    candidate_trainer = trainer(config.candidate, "CandidateTrainer")

    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=candidate_trainer.outputs["model"],
        baseline_model=baseline_trainer.outputs["model"],
        eval_config=build_eval_config(config.gate),
        schema=schema_gen.outputs["schema"],
    )
    select_winner = SelectWinner(
        candidate_model=candidate_trainer.outputs["model"],
        baseline_model=baseline_trainer.outputs["model"],
        evaluation=evaluator.outputs["evaluation"],
        candidate_blessing=evaluator.outputs["blessing"],
        candidate_name=config.candidate.name,
        baseline_name=config.baseline.name,
        min_accuracy=config.gate.min_accuracy,
        min_gain=config.gate.min_gain,
    )
    pusher = tfx.components.Pusher(
        model=select_winner.outputs["model"],
        model_blessing=select_winner.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_dir)
        ),
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
        ],
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args(config),
    )
