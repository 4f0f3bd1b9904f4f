"""Removing what old and killed runs left under a pipeline's root, never a pushed version.

A folder `<pipeline root>/<component>/<output>/<execution id>` is kept when it holds an
artifact that one of the newest `keep` runs used (produced, reused from the cache, or read),
or when one of those runs' executions wrote it (a failed execution's kept rejects, say);
every other such folder goes: outputs of older runs, and folders a killed run left without
an artifact in ML Metadata. The artifacts whose folders go are marked DELETED in ML Metadata,
so that TFX's cache never offers them again. Pushed versions live in the serving directory,
outside the pipeline root, and are never touched; nor are the Trainers' resume checkpoints.
"""

from __future__ import annotations

import dataclasses
import os
import shutil

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.config import PipelineConfig
from pipeline.outputs import PIPELINE_RUN, open_store, run_ids

# Folders under the pipeline root that are not component outputs.
NOT_OUTPUTS = {"checkpoints"}
REPORTS = "reports"


@dataclasses.dataclass(frozen=True)
class CleanPlan:
    """What `clean` removes: the folders, and the MLMD artifacts they hold."""

    kept_runs: list[str]
    removed_runs: list[str]
    folders: list[str]
    artifacts: list[metadata_store_pb2.Artifact]

    def bytes(self) -> int:
        return sum(_size(folder) for folder in self.folders)


def plan_clean(config: PipelineConfig, keep: int) -> CleanPlan:
    """The folders to remove to keep only the newest `keep` runs of `config`'s pipeline.

    Raises ValueError when `keep` is below 1 or the pipeline has no ML Metadata.
    """
    if keep < 1:
        raise ValueError(f"--keep must be at least 1 (the newest run); got {keep}")
    if not os.path.exists(config.metadata_path):
        raise ValueError(f"no ML Metadata at {config.metadata_path}: nothing was run there")
    store = open_store(config.metadata_path)
    runs = run_ids(store, config.name)
    kept_runs, removed_runs = runs[-keep:], runs[:-keep]
    kept_uris, kept_executions = _used_by(store, kept_runs)
    root = os.path.realpath(config.pipeline_root)
    # `pipeline_runner.py report` writes reports/<run id>; the components <c>/<output>/<id>.
    kept_reports = {run.replace(":", "-") for run in kept_runs}
    folders = [
        os.path.join(root, REPORTS, name)
        for name in _subfolders(os.path.join(root, REPORTS))
        if name not in kept_reports
    ]
    for component in _subfolders(root):
        if component in NOT_OUTPUTS or component == REPORTS:
            continue
        for output in _subfolders(os.path.join(root, component)):
            for name in _subfolders(os.path.join(root, component, output)):
                folder = os.path.join(root, component, output, name)
                written_by_kept_run = name.isdigit() and int(name) in kept_executions
                if folder not in kept_uris and not written_by_kept_run:
                    folders.append(folder)
    removed = set(folders)
    artifacts = [
        a
        for a in store.get_artifacts()
        if _real(a.uri) in removed and a.state != metadata_store_pb2.Artifact.DELETED
    ]
    return CleanPlan(kept_runs, removed_runs, sorted(folders), artifacts)


def clean(config: PipelineConfig, plan: CleanPlan) -> None:
    """Removes the plan's folders and marks its artifacts DELETED in ML Metadata. Call it
    under `pipeline.locking.pipeline_lock`: no run may be under way."""
    store = open_store(config.metadata_path)
    for artifact in plan.artifacts:
        artifact.state = metadata_store_pb2.Artifact.DELETED
    if plan.artifacts:
        store.put_artifacts(plan.artifacts)
    for folder in plan.folders:
        shutil.rmtree(folder, ignore_errors=True)


def _used_by(store: metadata_store.MetadataStore, runs: list[str]) -> tuple[set[str], set[int]]:
    """The URIs of the artifacts that the executions of `runs` read or wrote, and their ids."""
    executions: set[int] = set()
    for run in runs:
        context = store.get_context_by_type_and_name(PIPELINE_RUN, run)
        executions |= {e.id for e in store.get_executions_by_context(context.id)}
    events = store.get_events_by_execution_ids(sorted(executions)) if executions else []
    artifact_ids = sorted({event.artifact_id for event in events})
    artifacts = store.get_artifacts_by_id(artifact_ids) if artifact_ids else []
    return {_real(artifact.uri) for artifact in artifacts}, executions


def _real(uri: str) -> str:
    """A local artifact URI as its real path: a run may have named the output root
    `outputs`, and clean `./outputs` or a symlink to it."""
    return os.path.realpath(uri.rstrip("/")) if "://" not in uri else uri.rstrip("/")


def _subfolders(path: str) -> list[str]:
    if not os.path.isdir(path):
        return []
    return sorted(name for name in os.listdir(path) if os.path.isdir(os.path.join(path, name)))


def _size(folder: str) -> int:
    return sum(
        os.path.getsize(os.path.join(directory, name))
        for directory, _, names in os.walk(folder)
        for name in names
    )
