"""A run killed (SIGKILL) in the middle of training, started again, resumes and completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2

from pipeline.config import PRESETS
from pipeline.outputs import latest_outputs, open_store
from tests.fixtures.cifar import write_cifar10_python

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
NAME = "resume"
EPOCHS = 30
KILL_AFTER_CHECKPOINTS = 2
TIMEOUT_SECONDS = 600


def command(data_dir: Path, output_root: Path) -> list[str]:
    return [
        sys.executable,
        str(REPO / "pipeline_runner.py"),
        "--preset=smoke",
        f"--name={NAME}",
        f"--data-dir={data_dir}",
        f"--output-root={output_root}",
        "--min-accuracy=0",
        f"--set=candidate.epochs={EPOCHS}",
        "--set=train.checkpoint.every_seconds=0",
        # Stream the TFRecords every epoch, as for data too large to keep in memory (the
        # other end-to-end runs keep their tiny splits in memory).
        "--set=train.cache_max_mb=0",
    ]


def wait_for_checkpoints(checkpoints: Path, count: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not list(checkpoints.glob(f"*/ckpt-{count}.index")):
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, f"no checkpoint {count} under {checkpoints}"
        time.sleep(0.2)


def test_killed_training_resumes_from_its_last_checkpoint(tmp_path):
    data_dir = write_cifar10_python(tmp_path / "data", images_per_batch=40, num_train_batches=2)
    output_root = tmp_path / "outputs"
    checkpoints = output_root / "pipelines" / NAME / "checkpoints" / "CandidateTrainer"

    first = subprocess.Popen(
        command(data_dir, output_root),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_checkpoints(checkpoints, KILL_AFTER_CHECKPOINTS, first)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()

    second = subprocess.run(
        command(data_dir, output_root),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    assert second.returncode == 0, second.stderr[-3000:]
    candidate = PRESETS["smoke"]().candidate.name
    assert f"[{candidate}] resuming after epoch" in second.stderr
    assert not list(checkpoints.glob("*/ckpt-*")), "checkpoints are removed once training ends"

    store = open_store(str(output_root / "metadata" / NAME / "metadata.db"))
    trainer_runs = store.get_executions_by_context(
        store.get_context_by_type_and_name("node", f"{NAME}.CandidateTrainer").id
    )
    killed, resumed = sorted(trainer_runs, key=lambda execution: execution.id)
    assert resumed.last_known_state == metadata_store_pb2.Execution.COMPLETE
    # The kill left it running; the next run marked it failed.
    assert killed.last_known_state == metadata_store_pb2.Execution.FAILED
    run_dir = Path(latest_outputs(store, NAME, "CandidateTrainer")["model_run"].uri)
    history = json.loads((run_dir / "history.json").read_text())
    assert [row["epoch"] for row in history] == list(range(1, EPOCHS + 1))
    for artifact in store.get_artifacts():
        if artifact.state == metadata_store_pb2.Artifact.LIVE:
            assert Path(artifact.uri).exists(), f"published artifact without files: {artifact}"
