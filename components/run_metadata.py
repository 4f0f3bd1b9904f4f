"""Opening a local run's ML Metadata: the one home of the SQLite connection and of the name of
TFX's per-run context, for the components that read it and for `pipeline.outputs`."""

from __future__ import annotations

import os
from datetime import datetime, timezone

from ml_metadata.metadata_store import metadata_store
from tfx.orchestration import metadata

PIPELINE_RUN = "pipeline_run"  # the context type TFX gives each run of a pipeline


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    """The SQLite MLMD store of a local run (read-only use)."""
    config = metadata.sqlite_metadata_connection_config(metadata_path)
    return metadata_store.MetadataStore(config)


def run_of_output(store: metadata_store.MetadataStore, output_uri: str) -> tuple[str, str] | None:
    """(run id, start as UTC ISO 8601) of the run whose execution writes `output_uri`, or None.

    TFX names an output folder after the execution that writes it
    (`<pipeline_root>/<node>/<output>/<execution id>`), so a running component finds its own
    execution, and that execution's pipeline_run context.
    """
    execution_id = os.path.basename(output_uri.rstrip("/"))
    run_type = store.get_context_type(PIPELINE_RUN)
    if not execution_id.isdigit() or run_type is None:
        return None
    for context in store.get_contexts_by_execution(int(execution_id)):
        if context.type_id == run_type.id:
            started = datetime.fromtimestamp(context.create_time_since_epoch / 1000, timezone.utc)
            return context.name, started.isoformat()
    return None
