"""Reruns of one pipeline against one MLMD store: what is reused and what runs again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2

from components.winner.component import read_decision
from features import HISTORY_FILE
from pipeline.outputs import executed_nodes, latest_execution, latest_outputs, open_store
from tests.e2e.workspace import make_workspace, run_smoke

pytestmark = pytest.mark.e2e

NAME = "rerun"
UPSTREAM = {"FileBasedExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator"}
UPSTREAM |= {"Transform", "BaselineTrainer"}
DOWNSTREAM_OF_CANDIDATE = {"CandidateTrainer", "Evaluator", "SelectWinner", "Pusher", "RunReport"}
CACHED = metadata_store_pb2.Execution.CACHED


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, Path]:
    return make_workspace(
        tmp_path_factory.mktemp("rerun"), images_per_batch=20, num_train_batches=2
    )


def run(workspace: dict[str, Path], *extra: str) -> int:
    return run_smoke(workspace, f"--name={NAME}", *extra)


def newest_states(workspace: dict[str, Path]) -> tuple[dict[str, int], int]:
    """Component -> state of its newest execution, and the number of artifacts in MLMD."""
    store = open_store(str(workspace["output_root"] / "metadata" / NAME / "metadata.db"))
    states = {
        node: latest_execution(store, NAME, node).last_known_state
        for node in executed_nodes(store, NAME)
    }
    return states, len(store.get_artifacts())


@pytest.fixture(scope="module")
def first_run(workspace):
    assert run(workspace) in (0, 3)


def test_unchanged_rerun_reuses_every_output(workspace, first_run, capsys):
    assert run(workspace) in (0, 3)  # after the other tests' runs too: now all cached
    _, artifacts_before = newest_states(workspace)
    capsys.readouterr()
    assert run(workspace) in (0, 3)
    assert "reused from an identical earlier run, nothing pushed now" in capsys.readouterr().out
    states, artifacts_after = newest_states(workspace)
    assert states == dict.fromkeys(states, CACHED) and len(states) == 11
    assert artifacts_after == artifacts_before, "a cached rerun must add no output"


def test_changed_candidate_reruns_only_its_trainer_and_downstream(workspace, first_run):
    assert run(workspace, "--set", 'candidate.overrides={"num_tokens": 4}') in (0, 3)
    states, _ = newest_states(workspace)
    assert {n for n, s in states.items() if s == CACHED} == UPSTREAM
    assert {n for n, s in states.items() if s != CACHED} == DOWNSTREAM_OF_CANDIDATE


def test_a_candidate_distilled_through_its_token_reruns_alone_and_says_so(workspace, first_run):
    token = ("--set", "candidate.teacher=baseline", "--set", "train.distillation.token=true")
    assert run(workspace, *token) in (0, 3)
    states, _ = newest_states(workspace)
    assert {n for n, s in states.items() if s == CACHED} == UPSTREAM
    store = open_store(str(workspace["output_root"] / "metadata" / NAME / "metadata.db"))
    decision = read_decision(latest_outputs(store, NAME, "SelectWinner")["blessing"].uri)
    assert "this run's baseline" in decision.candidate.teacher
    assert "through its distillation token" in decision.candidate.teacher
    run_dir = latest_outputs(store, NAME, "CandidateTrainer")["model_run"].uri
    last_epoch = json.loads(Path(run_dir, HISTORY_FILE).read_text())[-1]
    for head in ("class_accuracy", "distillation_accuracy"):
        assert head in last_epoch and f"val_{head}" in last_epoch
