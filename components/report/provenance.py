"""Where a report's run came from and where its records are: the report's provenance section.

The run id, when it started, and what the ExampleGen read are in ML Metadata; a step of a local
run finds its own execution there (TFX names an output folder after the execution that writes
it: `<pipeline_root>/<node>/<output>/<execution id>`). On Kubeflow / Vertex AI, the
orchestrator keeps ML Metadata and these stay unknown to the step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Provenance:
    """What the writer of a report knows of the run beyond its models and evaluation; None
    when it does not know.

    Attributes:
      run_id: the pipeline run (ML Metadata's pipeline_run context).
      started: when the run started (UTC, ISO 8601).
      dataset: the ImageExampleGen source read, e.g. "cifar10".
      data_dir: the directory it read.
      examples_uri: the ExampleGen's Examples artifact (per-split example counts).
      pushed_path: the serving version the Pusher wrote, when it pushed.
      metadata: where the ML Metadata database is.
    """

    run_id: str | None = None
    started: str | None = None
    dataset: str | None = None
    data_dir: str | None = None
    examples_uri: str | None = None
    pushed_path: str | None = None
    metadata: str | None = None


ORCHESTRATOR_METADATA = "the orchestrator's ML Metadata (Kubeflow / Vertex AI)"


def examples_per_split(examples_uri: str) -> dict[str, int]:
    """Split -> examples ImageExampleGen wrote into it (from its per-class counts)."""
    from components.image_example_gen import class_counts
    from components.image_example_gen.rejects import REJECTED_DIR

    counts = class_counts.read(os.path.join(examples_uri, REJECTED_DIR))
    return {split: sum(per_class.values()) for split, per_class in counts.items()}


def recorded_provenance(metadata_path: str, output_uri: str, examples_id: int) -> Provenance:
    """What a local run's SQLite ML Metadata says of the run that executes the step writing
    `output_uri`, and of the ExampleGen execution that wrote Examples artifact `examples_id`.
    Fields it cannot find stay None."""
    from ml_metadata.proto import metadata_store_pb2

    from components.image_example_gen.executor import ReaderConfig
    from components.run_metadata import open_store, run_of_output

    store = open_store(metadata_path)
    found: dict[str, str] = {"metadata": metadata_path}
    run = run_of_output(store, output_uri)
    if run is not None:
        found["run_id"], found["started"] = run
    writers = [
        event.execution_id
        for event in store.get_events_by_artifact_ids([examples_id])
        if event.type == metadata_store_pb2.Event.OUTPUT
    ]
    if writers:
        # A cached ExampleGen execution republishes the artifact with the same properties.
        [example_gen] = store.get_executions_by_id(writers[:1])
        properties = example_gen.custom_properties
        if "input_base" in properties:
            found["data_dir"] = properties["input_base"].string_value
        if "custom_config" in properties:
            raw = properties["custom_config"].string_value
            found["dataset"] = ReaderConfig.from_exec_properties({"custom_config": raw}).source
    return Provenance(**found)
