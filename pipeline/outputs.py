"""Reads what a run produced from ML Metadata (the artifacts of a component's last execution)."""

from __future__ import annotations

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    """The SQLite MLMD store of a local run (read-only use)."""
    config = metadata.sqlite_metadata_connection_config(metadata_path)
    return metadata_store.MetadataStore(config)


def latest_outputs(
    store: metadata_store.MetadataStore, pipeline_name: str, node_id: str
) -> dict[str, metadata_store_pb2.Artifact]:
    """Output artifacts of the newest execution of `node_id`, keyed by output name.

    Returns {} when the component never ran. A cached execution counts: it re-publishes the
    artifacts it reused.
    """
    context = store.get_context_by_type_and_name("node", f"{pipeline_name}.{node_id}")
    if context is None:
        return {}
    executions = store.get_executions_by_context(context.id)
    if not executions:
        return {}
    newest = max(executions, key=lambda e: (e.create_time_since_epoch, e.id))
    outputs = {}
    for event in store.get_events_by_execution_ids([newest.id]):
        if event.type in (
            metadata_store_pb2.Event.OUTPUT,
            metadata_store_pb2.Event.DECLARED_OUTPUT,
        ):
            [artifact] = store.get_artifacts_by_id([event.artifact_id])
            outputs[event.path.steps[0].key] = artifact
    return outputs


def executed_nodes(store: metadata_store.MetadataStore, pipeline_name: str) -> dict[str, int]:
    """Component id -> number of executions recorded for it."""
    counts = {}
    for context in store.get_contexts_by_type("node"):
        prefix = pipeline_name + "."
        if context.name.startswith(prefix):
            counts[context.name[len(prefix) :]] = len(store.get_executions_by_context(context.id))
    return counts
