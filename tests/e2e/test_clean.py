"""`pipeline_runner.py clean`: old runs' outputs and killed runs' leftovers go, the newest
runs and every pushed version stay, and ML Metadata says which artifacts are gone."""

from __future__ import annotations

from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2

import pipeline_runner
from pipeline.outputs import latest_outputs, open_store
from tests.e2e.workspace import make_workspace, run_smoke

pytestmark = pytest.mark.e2e

NAME = "clean"
CHANGED_CANDIDATE = ("--set", 'candidate.overrides={"num_tokens": 4}')


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, Path]:
    return make_workspace(
        tmp_path_factory.mktemp("clean"), images_per_batch=20, num_train_batches=2
    )


def flags(workspace: dict[str, Path]) -> list[str]:
    return ["--preset=smoke", f"--name={NAME}", f"--output-root={workspace['output_root']}"]


def test_clean_keeps_the_newest_runs_and_every_pushed_version(workspace, capsys):
    assert run_smoke(workspace, f"--name={NAME}") in (0, 3)
    store = open_store(str(workspace["output_root"] / "metadata" / NAME / "metadata.db"))
    first_candidate = Path(latest_outputs(store, NAME, "CandidateTrainer")["model"].uri)
    assert run_smoke(workspace, f"--name={NAME}", *CHANGED_CANDIDATE) in (0, 3)
    latest = {
        node: Path(artifact.uri)
        for node in ("CandidateTrainer", "BaselineTrainer", "FileBasedExampleGen")
        for artifact in latest_outputs(store, NAME, node).values()
    }
    pipeline_root = workspace["output_root"] / "pipelines" / NAME
    killed = pipeline_root / "Transform" / "transform_graph" / "9999"  # no MLMD artifact
    killed.mkdir(parents=True)
    serving = workspace["output_root"] / "serving" / NAME
    pushed_before = sorted(p.name for p in serving.iterdir())
    capsys.readouterr()

    assert pipeline_runner.main(["clean", "--keep=1", "--dry-run", *flags(workspace)]) == 0
    assert first_candidate.exists() and killed.exists()
    assert f"would remove {first_candidate}" in capsys.readouterr().out

    # The same output root by another path: the runs' artifact URIs still match.
    alias = workspace["output_root"].parent / "alias"
    alias.symlink_to(workspace["output_root"])
    by_alias = ["--preset=smoke", f"--name={NAME}", f"--output-root={alias}"]
    assert pipeline_runner.main(["clean", "--keep=1", *by_alias]) == 0

    assert not first_candidate.exists() and not killed.exists()
    assert all(path.exists() for path in latest.values()), "the newest run's outputs stay"
    assert sorted(p.name for p in serving.iterdir()) == pushed_before
    [removed] = [a for a in store.get_artifacts() if a.uri.rstrip("/") == str(first_candidate)]
    assert removed.state == metadata_store_pb2.Artifact.DELETED
    # The latest run can still be reported on, and the first run's config runs again.
    assert pipeline_runner.main(["report", *flags(workspace)]) == 0
    assert run_smoke(workspace, f"--name={NAME}") in (0, 3)
    assert Path(latest_outputs(store, NAME, "CandidateTrainer")["model"].uri).exists()


def test_clean_refuses_to_keep_no_run(workspace, capsys):
    assert pipeline_runner.main(["clean", "--keep=0", *flags(workspace)]) == 2
    assert "--keep must be at least 1" in capsys.readouterr().err
