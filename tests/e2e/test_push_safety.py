"""The push's invariants through the real pipeline, MLMD and serving directory: a pushed
version is never worse than the one it replaces on the same eval data, and the same model is
never pushed twice, whatever a rerun finds in the cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.orchestration.pipeline import RunOptions

from components.winner.serving import numbered_versions
from pipeline.commands import run as run_command
from pipeline.commands.run import EXIT_NOTHING_PUSHED
from pipeline.outputs import latest_execution, open_store
from pipeline.pipeline import create_pipeline
from tests.e2e.workspace import make_workspace, run_smoke

pytestmark = pytest.mark.e2e

# Untrained models (chance level) allowed to win: a worse winner.
UNTRAINED = (
    *("--set", "candidate.epochs=0", "--set", "baseline.epochs=0"),
    *("--set", "gate.allow_untrained=true", "--min-accuracy=0"),
)
TRAINED = ("--epochs=8",)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, Path]:
    return make_workspace(tmp_path_factory.mktemp("push"), images_per_batch=20, num_train_batches=2)


def versions(workspace: dict[str, Path], name: str) -> list[int]:
    return numbered_versions(str(workspace["output_root"] / "serving" / name))


def run_until(workspace: dict[str, Path], node_id: str, *flags: str) -> None:
    """Runs the pipeline as `pipeline_runner.py` would, up to `node_id` and no further: a
    run that died before its next component."""
    args = run_command.parse_args(
        [
            "--preset=smoke",
            f"--data-dir={workspace['data_dir']}",
            f"--output-root={workspace['output_root']}",
            *flags,
        ]
    )
    config = run_command.resolve_data(run_command.build_config(args), "local")
    os.makedirs(os.path.dirname(config.metadata_path), exist_ok=True)
    connection = tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
    tfx.orchestration.LocalDagRunner().run(
        create_pipeline(config, metadata_connection_config=connection),
        run_options=RunOptions(to_nodes=[node_id]),
    )


def test_a_stale_decision_never_replaces_a_better_model_in_production(workspace, capsys):
    name = ("--name=stale",)
    # A run of untrained models decides on its winner with nothing in production, and dies
    # before its push.
    run_until(workspace, "SelectWinner", *name, *UNTRAINED)
    assert versions(workspace, "stale") == []
    # Another run pushes a better model.
    assert run_smoke(workspace, *name, *TRAINED) == 0
    assert versions(workspace, "stale") == [1]
    capsys.readouterr()

    # The first run again: its decision comes from the cache, the comparison does not.
    status = run_smoke(workspace, *name, *UNTRAINED)

    out = capsys.readouterr().out
    assert status == EXIT_NOTHING_PUSHED
    assert versions(workspace, "stale") == [1]
    assert "production keeps " in out and "(version 1)" in out


def test_a_push_killed_before_it_was_recorded_is_not_pushed_again(workspace, capsys):
    name = ("--name=killed",)
    assert run_smoke(workspace, *name, *TRAINED) == 0
    assert versions(workspace, "killed") == [1]
    # Killed after the version's rename, before TFX recorded the Pusher's execution: MLMD
    # still has it running, so a rerun executes the Pusher again instead of reusing it.
    store = open_store(str(workspace["output_root"] / "metadata" / "killed" / "metadata.db"))
    pusher = latest_execution(store, "killed", "Pusher")
    pusher.last_known_state = metadata_store_pb2.Execution.RUNNING
    store.put_executions([pusher])
    capsys.readouterr()

    status = run_smoke(workspace, *name, *TRAINED)

    captured = capsys.readouterr()
    out = captured.out
    assert latest_execution(store, "killed", "Pusher").last_known_state == (
        metadata_store_pb2.Execution.COMPLETE
    )
    [killed] = store.get_executions_by_id([pusher.id])
    assert killed.last_known_state == metadata_store_pb2.Execution.FAILED
    assert "left unfinished as failed: Pusher" in captured.err
    assert status == 0, "the run's winner is in production"
    assert versions(workspace, "killed") == [1]
    assert "is already version 1 (in production): not pushed again" in out
