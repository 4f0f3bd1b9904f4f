"""The pushed model into the Vertex AI Model Registry (TFX's Google Cloud AI Platform Pusher)."""

from __future__ import annotations

from tfx import v1 as tfx

from pipeline.config import CloudConfig

vertex = tfx.extensions.google_cloud_ai_platform
VERTEX_PUSHER = "VertexPusher"


def vertex_pusher(
    model: tfx.dsl.Channel, push_blessing: tfx.dsl.Channel, cloud: CloudConfig, name: str
) -> tfx.types.BaseComponent:
    """TFX's Vertex Pusher: uploads `model` to the Vertex AI Model Registry and deploys it to
    the endpoint `cloud.endpoint` (default: the pipeline's `name`), served by
    `cloud.serving_image` on `cloud.serving_machine_type`.

    `push_blessing` is PushWinner's: blessed only when PushWinner pushed a new version, after
    checking it against production, so the registry gets what the serving directory got and
    never the same model twice. Raises ValueError when the project or the image is missing.
    """
    missing = [f"cloud.{f}" for f in ("project", "serving_image") if not getattr(cloud, f)]
    if missing:
        raise ValueError(f"cloud.model_registry needs {', '.join(missing)}")
    return vertex.Pusher(
        model=model,
        model_blessing=push_blessing,
        custom_config={
            vertex.ENABLE_VERTEX_KEY: True,
            vertex.VERTEX_REGION_KEY: cloud.region,
            vertex.VERTEX_CONTAINER_IMAGE_URI_KEY: cloud.serving_image,
            vertex.SERVING_ARGS_KEY: {
                "project_id": cloud.project,
                "endpoint_name": cloud.endpoint or name,
                "machine_type": cloud.serving_machine_type,
            },
        },
    ).with_id(VERTEX_PUSHER)
