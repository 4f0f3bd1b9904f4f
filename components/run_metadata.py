"""Opening a local run's ML Metadata: the one home of the SQLite connection and of the name of
TFX's per-run context, for the components that read it and for `pipeline.outputs`."""

from __future__ import annotations

from ml_metadata.metadata_store import metadata_store
from tfx.orchestration import metadata

PIPELINE_RUN = "pipeline_run"  # the context type TFX gives each run of a pipeline


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    """The SQLite MLMD store of a local run (read-only use)."""
    config = metadata.sqlite_metadata_connection_config(metadata_path)
    return metadata_store.MetadataStore(config)
