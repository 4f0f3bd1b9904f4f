"""The whole pipeline, for real: LocalDagRunner, SQLite MLMD, Beam DirectRunner, tiny data.

Three runs share one output root (so the later ones also exercise MLMD caching):
1. both models trained: every component runs, exactly one model is pushed and it classifies
   raw image bytes;
2. the VT candidate crippled (0 epochs): it is not blessed and the CNN is pushed;
3. a floor no model can reach: nothing is pushed and the runner exits non-zero.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import pipeline_runner
from models.signatures import RAW_BYTES_SIGNATURE
from pipeline.commands.run import EXIT_NOTHING_PUSHED
from pipeline.config import PRESETS
from pipeline.outputs import executed_nodes, latest_outputs, open_store
from tests.fixtures.cifar import CIFAR10_CLASS_NAMES, write_cifar10_python

pytestmark = pytest.mark.e2e

COMPONENTS = {
    "FileBasedExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "Transform",
    "BaselineTrainer",
    "CandidateTrainer",
    "Evaluator",
    "SelectWinner",
    "Pusher",
}
NAME = PRESETS["smoke"]().name


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("e2e")
    data_dir = write_cifar10_python(root / "data", images_per_batch=40, num_train_batches=3)
    return {"data_dir": data_dir, "output_root": root / "outputs"}


def run(workspace: dict[str, Path], *extra: str) -> int:
    return pipeline_runner.main(
        [
            "--preset=smoke",
            f"--data-dir={workspace['data_dir']}",
            f"--output-root={workspace['output_root']}",
            "--epochs=3",
            *extra,
        ]
    )


def pushed_versions(workspace: dict[str, Path]) -> list[Path]:
    serving = workspace["output_root"] / "serving" / NAME
    return sorted(serving.iterdir()) if serving.exists() else []


def pushed_decision(version: Path) -> dict:
    return json.loads((version / "assets.extra" / "gating_decision.json").read_text())


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def first_run(workspace):
    return run(workspace)


def test_every_component_runs_and_mlmd_records_it(workspace, first_run):
    assert first_run == 0
    store = open_store(str(workspace["output_root"] / "metadata" / NAME / "metadata.db"))
    assert executed_nodes(store, NAME) == dict.fromkeys(COMPONENTS, 1)
    pushed = latest_outputs(store, NAME, "Pusher")["pushed_model"]
    assert pushed.custom_properties["pushed"].int_value == 1


def test_exactly_one_model_is_pushed_and_it_classifies_raw_image_bytes(workspace, first_run):
    [version] = pushed_versions(workspace)
    decision = pushed_decision(version)
    assert decision["winner"]["model"] in ("vt_resnet_tiny", "resnet_tiny")
    assert decision["winner"]["accuracy"] >= decision["min_accuracy"]

    model = tf.saved_model.load(str(version))
    classify = model.signatures[RAW_BYTES_SIGNATURE]
    rng = np.random.default_rng(1)
    images = [png(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(4)]
    outputs = classify(image_bytes=tf.constant(images))
    probabilities = outputs["probabilities"].numpy()
    assert probabilities.shape == (4, len(CIFAR10_CLASS_NAMES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    names = [n.decode() for n in outputs["classes"].numpy()]
    assert set(names) <= set(CIFAR10_CLASS_NAMES)
    assert names == [CIFAR10_CLASS_NAMES[i] for i in outputs["class_ids"].numpy()]


def test_crippled_candidate_is_not_pushed_the_cnn_is(workspace, first_run):
    assert run(workspace, "--set", "candidate.epochs=0") == 0
    newest = pushed_versions(workspace)[-1]
    decision = pushed_decision(newest)
    assert decision["candidate_blessed"] is False
    assert decision["winner"]["role"] == "baseline"
    assert decision["baseline"]["accuracy"] > decision["candidate"]["accuracy"]

    store = open_store(str(workspace["output_root"] / "metadata" / NAME / "metadata.db"))
    runs = executed_nodes(store, NAME)
    assert runs["CandidateTrainer"] == 2, "the changed candidate config must retrain"
    assert runs["BaselineTrainer"] == 2 and runs["Transform"] == 2  # cached executions


def test_nothing_is_pushed_when_no_model_clears_the_floor(workspace, first_run, capsys):
    before = pushed_versions(workspace)
    assert run(workspace, "--min-accuracy=1.01") == EXIT_NOTHING_PUSHED
    assert pushed_versions(workspace) == before
    assert "no model clears the accuracy floor 1.0100" in capsys.readouterr().out
