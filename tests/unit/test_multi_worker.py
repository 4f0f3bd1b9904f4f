"""Distributed training for real: the Trainer's `run_fn` as two MultiWorkerMirroredStrategy
workers, two processes talking gRPC over the loopback interface (tests/fixtures/multi_worker.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from features import HISTORY_FILE, IMAGE_KEY
from models.signatures import EXAMPLES_SIGNATURE, PROBABILITIES_KEY
from tests.fixtures import multi_worker
from tests.fixtures.images import image_bytes

REPO_ROOT = Path(__file__).resolve().parents[2]
# Both workers take ~30 s on two idle cores, ~80 s on two busy ones; a hang (collectives
# waiting for a worker that went elsewhere) fails here.
WORKER_SECONDS = 300
TAIL_CHARS = 3000


def _free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 (bound to port 0, then released)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _run_workers(root: Path, count: int) -> None:
    """Runs `count` workers on `root` at once. Fails the test, with every worker's exit code
    and stderr tail, unless they all exit 0 within WORKER_SECONDS (else they are killed)."""
    addresses = [f"localhost:{port}" for port in _free_ports(count)]
    processes = []
    for index in range(count):
        tf_config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        env = {
            **os.environ,
            "TF_CONFIG": json.dumps(tf_config),
            "TF_USE_LEGACY_KERAS": "1",
            "CUDA_VISIBLE_DEVICES": "",
            "PYTHONPATH": str(REPO_ROOT),
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", multi_worker.__name__, str(root)],
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + WORKER_SECONDS
    stderrs: list[str | None] = [None] * count
    timed_out = False
    try:
        for index, process in enumerate(processes):
            timeout = max(deadline - time.monotonic(), 0)
            stderrs[index] = process.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        timed_out = True
        for process in processes:
            process.kill()
        stderrs = [
            err if err is not None else process.communicate()[1]
            for err, process in zip(stderrs, processes, strict=True)
        ]
    codes = [process.returncode for process in processes]
    if timed_out or any(codes):
        what = f"did not all finish within {WORKER_SECONDS} s" if timed_out else "failed"
        tails = "\n".join(
            f"--- worker {index} (exit {code}), stderr tail ---\n{err[-TAIL_CHARS:]}"
            for index, (code, err) in enumerate(zip(codes, stderrs, strict=True))
        )
        pytest.fail(f"the workers {what}:\n{tails}", pytrace=False)


def test_two_workers_train_in_step_and_only_the_chief_writes_a_model_that_serves(tmp_path):
    """Both workers finish, having trained the same weights (gradients all-reduced over 2
    replicas, each worker on its own share of every batch); only the chief wrote the model,
    checkpoints and logs, and its model serves. Every checkpoint is taken by both workers
    although only the chief's clock said one was due (see the fixture)."""
    multi_worker.write_trainer_inputs(tmp_path)

    _run_workers(tmp_path, 2)

    chief, other = (multi_worker.WorkerRecord.read(tmp_path, "worker", i) for i in (0, 1))
    assert chief.chief and not other.chief
    assert chief.replicas_in_sync == other.replicas_in_sync == 2
    assert chief.weights_sha256 == other.weights_sha256, "the workers' weights diverged"

    epochs = multi_worker.TRAIN.epochs
    assert chief.export_dir == str(multi_worker.serving_model_dir(tmp_path))
    assert len(chief.checkpoint_dirs) == epochs
    assert all(Path(d).parent == tmp_path / multi_worker.CHECKPOINTS for d in chief.checkpoint_dirs)
    assert len(other.checkpoint_dirs) == epochs
    for path in [other.export_dir, *other.checkpoint_dirs]:
        assert not Path(path).is_relative_to(tmp_path), f"the other worker wrote to {path}"
        assert not Path(path).exists(), f"the other worker left {path} behind"
    # Keras' TensorBoard callback leaves no scratch directory; the checkpoints are deleted.
    assert not [p for p in tmp_path.rglob("*") if "workertemp" in p.name]
    assert not any((tmp_path / multi_worker.CHECKPOINTS).iterdir())
    history = json.loads((tmp_path / multi_worker.MODEL_RUN / HISTORY_FILE).read_text())
    assert [row["epoch"] for row in history] == list(range(1, epochs + 1))

    model = tf.saved_model.load(str(multi_worker.serving_model_dir(tmp_path)))
    images = [image_bytes("PNG", size=(5, 7), seed=100 + i) for i in range(3)]
    examples = [
        tf.train.Example(
            features=tf.train.Features(
                feature={IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))}
            )
        ).SerializeToString()
        for image in images
    ]
    served = model.signatures[EXAMPLES_SIGNATURE](examples=tf.constant(examples))
    probabilities = served[PROBABILITIES_KEY].numpy()
    assert probabilities.shape == (3, len(multi_worker.CLASS_NAMES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
