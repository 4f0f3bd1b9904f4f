"""The whole pipeline, for real: LocalDagRunner, SQLite MLMD, Beam DirectRunner, tiny data.

Four runs share one output root (so the later ones also exercise MLMD caching):
1. both models trained: every component runs, exactly one model is pushed as version 1 and it
   classifies raw image bytes; the report (artifact and `report` command) and the `slices`
   command read this run;
2. the VT candidate crippled (0 epochs): it is not blessed and the CNN is pushed;
3. both models untrained: worse than the model in production, so nothing replaces it;
4. a floor no model can reach: nothing is pushed and the runner exits non-zero.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from ml_metadata.proto import metadata_store_pb2

import pipeline_runner
from components.winner.component import read_decision
from models.signatures import RAW_BYTES_SIGNATURE
from pipeline.commands.run import EXIT_NOTHING_PUSHED
from pipeline.config import PRESETS
from pipeline.outputs import (
    executed_nodes,
    latest_execution,
    latest_outputs,
    open_store,
    run_ids,
)
from tests.e2e.chromium import console_messages, find_chromium
from tests.e2e.workspace import make_workspace, run_smoke
from tests.fixtures.cifar import CIFAR10_CLASS_NAMES
from tests.fixtures.images import encode

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
    "RunReport",
}
REPORT_SECTIONS = (
    *("provenance", "decision", "metrics", "data", "models", "curves", "tokens", "confusion"),
    *("calibration", "misclassified", "slices"),
)
NAME = PRESETS["smoke"]().name
CANDIDATE = PRESETS["smoke"]().candidate.name


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, Path]:
    return make_workspace(tmp_path_factory.mktemp("e2e"), images_per_batch=40, num_train_batches=3)


def run(workspace: dict[str, Path], *extra: str) -> int:
    return run_smoke(workspace, "--epochs=3", *extra)


def pushed_versions(workspace: dict[str, Path]) -> list[Path]:
    serving = workspace["output_root"] / "serving" / NAME
    return sorted(serving.iterdir()) if serving.exists() else []


def store(workspace: dict[str, Path]):
    return open_store(str(workspace["output_root"] / "metadata" / NAME / "metadata.db"))


def pushed_decision(version: Path) -> dict:
    return json.loads((version / "assets.extra" / "gating_decision.json").read_text())


@dataclasses.dataclass(frozen=True)
class FirstRun:
    """The module's first run, as it stood before any test ran the pipeline again."""

    status: int
    executions: dict[str, int]
    pushed: int


@pytest.fixture(scope="module")
def first_run(workspace) -> FirstRun:
    status = run(workspace)
    pushed = latest_outputs(store(workspace), NAME, "Pusher")["pushed_model"]
    return FirstRun(
        status, executed_nodes(store(workspace), NAME), pushed.custom_properties["pushed"].int_value
    )


def test_every_component_runs_and_mlmd_records_it(workspace, first_run):
    assert first_run.status == 0
    assert first_run.executions == dict.fromkeys(COMPONENTS, 1)
    assert first_run.pushed == 1
    push_blessing = latest_outputs(store(workspace), NAME, "Pusher")["push_blessing"]
    assert push_blessing.custom_properties["blessed"].int_value == 1


def test_mlmd_says_what_was_trained_and_why_it_was_pushed(workspace, first_run):
    model = latest_outputs(store(workspace), NAME, "CandidateTrainer")["model"]
    properties = model.custom_properties
    assert properties["model_name"].string_value == CANDIDATE
    assert properties["params"].int_value > 100_000 and properties["macs"].int_value > 10**6
    assert json.loads(properties["recipe"].string_value)["batch_size"] == 16  # the smoke preset

    blessing = latest_outputs(store(workspace), NAME, "SelectWinner")["blessing"]
    decision = blessing.custom_properties
    assert decision["reason"].string_value
    gain = {name: decision[f"gain_{name}"].double_value for name in ("value", "low", "high")}
    assert gain["low"] <= gain["value"] <= gain["high"]
    assert decision["gain_confidence"].double_value == 0.9
    assert decision["gain_examples"].int_value > 0


def test_class_names_travel_with_the_examples_and_tfma_finds_every_class(workspace, first_run):
    examples = latest_outputs(store(workspace), NAME, "FileBasedExampleGen")["examples"]
    assert examples.custom_properties["num_classes"].int_value == len(CIFAR10_CLASS_NAMES)
    assert "airplane" in str(examples.custom_properties["class_names"])
    content = json.loads((Path(examples.uri) / "class_names.json").read_text())
    assert content["class_names"] == CIFAR10_CLASS_NAMES

    evaluation = latest_outputs(store(workspace), NAME, "Evaluator")["evaluation"]
    result = tfma.load_eval_result(evaluation.uri, model_name="candidate")
    [overall] = [outputs[""] for key, outputs in result.slicing_metrics if key == ()]
    for class_id in range(len(CIFAR10_CLASS_NAMES)):
        assert {"precision", "recall"} <= set(overall[f"classId:{class_id}"]), class_id


def test_exactly_one_model_is_pushed_and_it_classifies_raw_image_bytes(workspace, first_run):
    [version] = pushed_versions(workspace)
    assert version.name == "1", "the serving dir numbers versions 1, 2, 3, ..."
    decision = pushed_decision(version)
    assert decision["winner"]["model"] in (CANDIDATE, "resnet_tiny")
    assert decision["winner"]["accuracy"] >= decision["min_accuracy"]

    model = tf.saved_model.load(str(version))
    classify = model.signatures[RAW_BYTES_SIGNATURE]
    rng = np.random.default_rng(1)
    images = [encode(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(4)]
    outputs = classify(image_bytes=tf.constant(images))
    probabilities = outputs["probabilities"].numpy()
    assert probabilities.shape == (4, len(CIFAR10_CLASS_NAMES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    names = [n.decode() for n in outputs["classes"].numpy()]
    assert set(names) <= set(CIFAR10_CLASS_NAMES)
    assert names == [CIFAR10_CLASS_NAMES[i] for i in outputs["class_ids"].numpy()]


def check_report(folder: Path) -> str:
    """The report's HTML, after checking every section is there and every image it shows."""
    page = (folder / "index.html").read_text()
    for section in REPORT_SECTIONS:
        assert f"<section id='{section}'>" in page, section
    images = re.findall(r"<img src='([^']+)'", page)
    assert {"curves.png", "confusion.png", "reliability.png"} <= set(images)
    for image in images:
        assert (folder / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image
    return page


def test_report_artifact_shows_every_section(workspace, first_run):
    report = Path(latest_outputs(store(workspace), NAME, "RunReport")["report"].uri)
    page = check_report(report)
    assert CANDIDATE in page and "resnet_tiny" in page
    assert "brightness_bucket:0" in page and "label_name:cat" in page
    assert "expected_calibration_error" in page and "<th>F1</th>" in page
    # Provenance from the run's ML Metadata, and the slice gaps' intervals and marks.
    run_id = run_ids(store(workspace), NAME)[0]
    assert f"<th>run id</th><td>{run_id}</td>" in page and "<td>cifar10</td>" in page
    assert re.search(r"<th>examples per split</th><td>eval \d+, test \d+, train \d+</td>", page)
    assert re.search(r"<td>(<b>yes</b>|no) \(paired\)</td>", page)
    # The VT's tokens: health per epoch, both tokenizers' maps, the projector's assignment.
    for png in ("health", "vt1", "vt2", "projector"):
        assert (report / f"tokens_candidate_{png}.png").exists(), png
    assert not list(report.glob("tokens_baseline_*")), "the CNN has no tokens"


def test_report_command_writes_the_latest_run_report(workspace, first_run, capsys):
    flags = ["--preset=smoke", f"--output-root={workspace['output_root']}"]
    assert pipeline_runner.main(["report", *flags]) == 0
    path = Path(capsys.readouterr().out.split("report written to ")[1].strip())
    assert path.parent.parent.name == "reports"
    check_report(path.parent)
    assert pipeline_runner.main(["report", *flags, "--run", "no-such-run"]) == 2
    assert "known runs:" in capsys.readouterr().err


def test_report_renders_in_headless_chromium_without_console_errors(workspace, first_run, tmp_path):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does)")
    report = Path(latest_outputs(store(workspace), NAME, "RunReport")["report"].uri)
    messages, dom = console_messages(chromium, report / "index.html", tmp_path / "profile")
    shown = len(re.findall(r"<img ", (report / "index.html").read_text()))
    assert messages == [f"images checked: {shown}"]
    assert '<section id="slices">' in dom
    for heading in ("Provenance", "Slices (TFMA)", "Slice features"):
        assert re.search(rf"<h[23]>{re.escape(heading)}</h[23]>", dom), heading

    # The check itself catches a broken image and a script error.
    broken = report / "broken.html"
    broken.write_text("<html><body><img src='missing.png'><script>nope()</script></body></html>")
    messages, _ = console_messages(chromium, broken, tmp_path / "profile2")
    broken.unlink()
    assert "image failed to load: missing.png" in messages
    assert any("nope is not defined" in m for m in messages)


def test_slices_command_prints_label_and_image_property_slices(workspace, first_run, capsys):
    flags = ["--preset=smoke", f"--output-root={workspace['output_root']}"]
    assert pipeline_runner.main(["slices", *flags, "--sort=gap", "--metric=loss"]) == 0
    out = capsys.readouterr().out
    for row in ("Overall", "label_name:frog", "brightness_bucket:3", "contrast_bucket:0"):
        assert row in out
    # Per-class metrics: a row per slice and class.
    assert pipeline_runner.main(["slices", *flags, "--metric=precision"]) == 0
    assert "Overall, classId:0 " in capsys.readouterr().out
    assert pipeline_runner.main(["slices", *flags, "--metric=nope"]) == 2
    assert "available: example_count, expected_calibration_error" in capsys.readouterr().err


def test_evaluate_command_scores_both_models_as_the_gate_did(workspace, first_run, capsys):
    flags = ["--preset=smoke", f"--output-root={workspace['output_root']}"]
    # The gate of the latest run, which `evaluate` scores by default.
    decision = read_decision(latest_outputs(store(workspace), NAME, "SelectWinner")["blessing"].uri)

    assert pipeline_runner.main(["evaluate", *flags, "--split=eval"]) == 0

    out = capsys.readouterr().out
    assert re.search(r"top-1 accuracy on the eval split \(\d+ examples\)", out), out
    for role, score in (("candidate", decision.candidate), ("baseline", decision.baseline)):
        assert re.search(rf"{role} +{score.model} +{score.accuracy:.4f}", out), out


def test_evaluate_command_scores_the_held_out_test_batch_with_an_interval(
    workspace, first_run, capsys
):
    flags = ["--preset=smoke", f"--output-root={workspace['output_root']}"]

    assert pipeline_runner.main(["evaluate", *flags]) == 0

    out = capsys.readouterr().out
    assert "top-1 accuracy on the test split (40 examples)" in out  # the test batch
    assert re.search(rf"candidate +{CANDIDATE} +[01]\.\d{{4}}  \(95% CI [01]\.\d{{4}}-", out), out
    assert pipeline_runner.main(["evaluate", *flags, "--split=val"]) == 2
    assert "have no 'val' split (they have eval, test, train)" in capsys.readouterr().err


def test_crippled_candidate_is_not_pushed_the_cnn_is(workspace, first_run):
    # Compared with the CNN of the same run only (the production gate has its own test).
    no_production_gate = "gate.min_gain_over_production=-1"
    before = executed_nodes(store(workspace), NAME)
    assert run(workspace, "--set", "candidate.epochs=0", "--set", no_production_gate) == 0
    winner = latest_outputs(store(workspace), NAME, "SelectWinner")["blessing"]
    decision = read_decision(winner.uri)
    assert decision.candidate.epochs == 0
    assert decision.run_id == run_ids(store(workspace), NAME)[-1], "the run it was made in"
    assert decision.winner == decision.baseline
    assert decision.baseline.accuracy > decision.candidate.accuracy

    after = executed_nodes(store(workspace), NAME)
    # One execution each (a reused output is recorded as a CACHED execution); the baseline
    # and Transform are reused (what reruns is tests/e2e/test_rerun.py's subject).
    assert {node: after[node] - before[node] for node in after} == dict.fromkeys(after, 1)
    for node in ("BaselineTrainer", "Transform"):
        execution = latest_execution(store(workspace), NAME, node)
        assert execution.last_known_state == metadata_store_pb2.Execution.CACHED, node


def test_a_worse_model_does_not_replace_the_one_in_production(workspace, first_run, capsys):
    before = pushed_versions(workspace)
    in_production = pushed_decision(before[-1])["winner"]["model"]
    untrained = (
        *("--set", "candidate.epochs=0", "--set", "baseline.epochs=0"),
        *("--set", "gate.allow_untrained=true"),
    )
    assert run(workspace, *untrained) == EXIT_NOTHING_PUSHED
    assert pushed_versions(workspace) == before
    # What pushers downstream (the Vertex AI Model Registry) may push: nothing this time.
    push_blessing = latest_outputs(store(workspace), NAME, "Pusher")["push_blessing"]
    assert push_blessing.custom_properties["blessed"].int_value == 0
    assert (
        f"production keeps {in_production} (version {before[-1].name})" in capsys.readouterr().out
    )


def test_nothing_is_pushed_when_no_model_clears_the_floor(workspace, first_run, capsys):
    before = pushed_versions(workspace)
    # Chance (1/10) + 1: a floor no model reaches, not even a perfect one.
    assert run(workspace, "--set", "gate.min_gain_over_chance=1") == EXIT_NOTHING_PUSHED
    assert pushed_versions(workspace) == before
    out = capsys.readouterr().out
    assert "no model may be pushed: " in out
    assert "is below the accuracy floor 1.1000 (chance 1/10 + 1.0000)" in out
