"""Trainers as Vertex AI Training jobs (TFX's Google Cloud AI Platform Trainer extension)."""

from __future__ import annotations

from typing import Any

from tfx import v1 as tfx

from pipeline.config import CloudConfig

vertex = tfx.extensions.google_cloud_ai_platform


def vertex_training_config(cloud: CloudConfig) -> dict[str, Any]:
    """Trainer `custom_config` entries for a Vertex AI Training job, {} when not enabled.

    The job runs our `run_fn` in `cloud.image` on one worker of `cloud.training_machine_type`,
    with `cloud.accelerator_count` x `cloud.accelerator_type` GPUs when a type is set.
    Raises ValueError when the project or the image is missing.
    """
    if not cloud.vertex_training:
        return {}
    missing = [f"cloud.{name}" for name in ("project", "image") if not getattr(cloud, name)]
    if missing:
        raise ValueError(f"cloud.vertex_training needs {', '.join(missing)}")
    machine_spec: dict[str, Any] = {"machine_type": cloud.training_machine_type}
    if cloud.accelerator_type:
        machine_spec["accelerator_type"] = cloud.accelerator_type
        machine_spec["accelerator_count"] = max(cloud.accelerator_count, 1)
    return {
        vertex.ENABLE_VERTEX_KEY: True,
        vertex.VERTEX_REGION_KEY: cloud.region,
        vertex.TRAINING_ARGS_KEY: {
            "project": cloud.project,
            "worker_pool_specs": [
                {
                    "machine_spec": machine_spec,
                    "replica_count": 1,
                    "container_spec": {"image_uri": cloud.image},
                }
            ],
        },
    }
