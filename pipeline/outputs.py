"""Reads what a run produced from ML Metadata (the artifacts of a component's last execution)."""

from __future__ import annotations

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.run_metadata import PIPELINE_RUN, open_store  # noqa: F401 (the commands')


def run_ids(store: metadata_store.MetadataStore, pipeline_name: str) -> list[str]:
    """Ids of the pipeline's runs recorded in MLMD, oldest first."""
    pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline is None:
        return []
    runs = store.get_children_contexts_by_context(pipeline.id)
    runs = [c for c in runs if c.type_id == store.get_context_type(PIPELINE_RUN).id]
    return [c.name for c in sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id))]


def resolve_run_id(store: metadata_store.MetadataStore, pipeline_name: str, run: str) -> str:
    """`run` itself, or the newest run id for "latest"; ValueError naming the known runs."""
    known = run_ids(store, pipeline_name)
    if not known:
        raise ValueError(f"pipeline {pipeline_name!r} has no recorded run: run it first")
    if run == "latest":
        return known[-1]
    if run not in known:
        raise ValueError(f"no run {run!r} of {pipeline_name!r}; known runs: {', '.join(known)}")
    return run


def latest_outputs(
    store: metadata_store.MetadataStore,
    pipeline_name: str,
    node_id: str,
    run_id: str | None = None,
) -> dict[str, metadata_store_pb2.Artifact]:
    """Output artifacts of the newest execution of `node_id` (in run `run_id` when given),
    keyed by output name.

    Returns {} when the component never ran. A cached execution counts: it re-publishes the
    artifacts it reused.
    """
    return _newest_artifacts(store, pipeline_name, node_id, run_id, _OUTPUT_EVENTS)


def latest_inputs(
    store: metadata_store.MetadataStore,
    pipeline_name: str,
    node_id: str,
    run_id: str | None = None,
) -> dict[str, metadata_store_pb2.Artifact]:
    """Input artifacts of the newest execution of `node_id`, like `latest_outputs`."""
    return _newest_artifacts(store, pipeline_name, node_id, run_id, _INPUT_EVENTS)


_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
_INPUT_EVENTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)


def latest_execution(
    store: metadata_store.MetadataStore,
    pipeline_name: str,
    node_id: str,
    run_id: str | None = None,
) -> metadata_store_pb2.Execution | None:
    """The newest execution of `node_id` (in run `run_id` when given); None if it never ran.
    Its `custom_properties` hold the component's execution properties (e.g. custom_config)."""
    context = store.get_context_by_type_and_name("node", f"{pipeline_name}.{node_id}")
    if context is None:
        return None
    executions = store.get_executions_by_context(context.id)
    if run_id is not None:
        run = store.get_context_by_type_and_name(PIPELINE_RUN, run_id)
        in_run = {e.id for e in store.get_executions_by_context(run.id)} if run else set()
        executions = [e for e in executions if e.id in in_run]
    if not executions:
        return None
    return max(executions, key=lambda e: (e.create_time_since_epoch, e.id))


def _newest_artifacts(
    store: metadata_store.MetadataStore,
    pipeline_name: str,
    node_id: str,
    run_id: str | None,
    event_types: tuple[int, ...],
) -> dict[str, metadata_store_pb2.Artifact]:
    newest = latest_execution(store, pipeline_name, node_id, run_id)
    if newest is None:
        return {}
    artifacts = {}
    for event in store.get_events_by_execution_ids([newest.id]):
        if event.type in event_types:
            [artifact] = store.get_artifacts_by_id([event.artifact_id])
            artifacts[event.path.steps[0].key] = artifact
    return artifacts


def executed_nodes(store: metadata_store.MetadataStore, pipeline_name: str) -> dict[str, int]:
    """Component id -> number of executions recorded for it."""
    counts = {}
    for context in store.get_contexts_by_type("node"):
        prefix = pipeline_name + "."
        if context.name.startswith(prefix):
            counts[context.name[len(prefix) :]] = len(store.get_executions_by_context(context.id))
    return counts


ABANDONED_PROPERTY = "abandoned"
_UNFINISHED = (metadata_store_pb2.Execution.NEW, metadata_store_pb2.Execution.RUNNING)


def fail_abandoned_executions(store: metadata_store.MetadataStore, pipeline_name: str) -> list[str]:
    """Marks FAILED the executions of the pipeline that a killed run left NEW or RUNNING, with
    a custom property saying so, and returns their component ids (one per execution). Call
    it only while no run of the pipeline is under way (under `pipeline.locking.pipeline_lock`)."""
    abandoned = []
    for node_id in executed_nodes(store, pipeline_name):
        context = store.get_context_by_type_and_name("node", f"{pipeline_name}.{node_id}")
        for execution in store.get_executions_by_context(context.id):
            if execution.last_known_state in _UNFINISHED:
                execution.last_known_state = metadata_store_pb2.Execution.FAILED
                execution.custom_properties[
                    ABANDONED_PROPERTY
                ].string_value = "left unfinished by a killed run; marked failed by the next run"
                store.put_executions([execution])
                abandoned.append(node_id)
    return abandoned
