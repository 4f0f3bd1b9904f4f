"""One function per orchestrator; each builds the same pipeline from the same config."""

from __future__ import annotations

import os
from collections.abc import Sequence

from tfx import v1 as tfx

from pipeline.config import PipelineConfig
from pipeline.pipeline import create_pipeline


def run_local(config: PipelineConfig, class_names: Sequence[str]) -> None:
    """Runs the pipeline in this process: LocalDagRunner, SQLite MLMD, Beam DirectRunner."""
    os.makedirs(os.path.dirname(config.metadata_path), exist_ok=True)
    pipeline = create_pipeline(
        config,
        class_names=class_names,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path
        ),
    )
    tfx.orchestration.LocalDagRunner().run(pipeline)


def compile_kubeflow_v2(
    config: PipelineConfig,
    class_names: Sequence[str],
    *,
    output_path: str,
    image: str,
) -> str:
    """Compiles the pipeline for Kubeflow Pipelines v2 / Vertex AI Pipelines; returns the file.

    `image` must contain this project (`pip install .`), so that module paths such as
    `models.trainer.run_fn` import inside the container.
    """
    pipeline = create_pipeline(config, class_names=class_names)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=os.path.dirname(output_path) or ".",
        output_filename=os.path.basename(output_path),
    )
    runner.run(pipeline, write_out=True)
    return output_path
