"""Pushing a run's winner: against production as it is when pushing, each model at most once,
under the serving directory's lock (`components/winner/serving.py`).

The models are folders in the SavedModel layout whose "accuracy" file is what the injected
scorer returns: the comparison, not the scoring, is under test here (the e2e tests score
real models)."""

import json
import threading
import time
from pathlib import Path

import numpy as np

from components.winner import serving
from components.winner.decision import PushRecord


def fake_model(path: Path, accuracy: float, decision: str | None = None) -> str:
    """A model folder; `decision` is the gating decision SelectWinner writes into it."""
    (path / "variables").mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(f"graph {accuracy}".encode())
    (path / "accuracy").write_text(str(accuracy))
    if decision is not None:
        (path / "assets.extra").mkdir()
        (path / "assets.extra" / "gating_decision.json").write_text(decision)
    return str(path)


EXAMPLES = 1000


def hits(model_dir: str) -> np.ndarray:
    """The first accuracy x EXAMPLES examples right: a better model also gets right every
    example a worse one does, so the paired gain is the difference, with a narrow interval."""
    accuracy = float((Path(model_dir) / "accuracy").read_text())
    return np.arange(EXAMPLES) < round(accuracy * EXAMPLES)


def push(model_dir: str, serving_dir: Path, min_gain: float = 0.0) -> PushRecord:
    return serving.push_winner(model_dir, str(serving_dir), "resnet_tiny", hits, min_gain, 0.9)


def test_the_first_push_writes_version_1_with_its_record(tmp_path: Path) -> None:
    model = fake_model(tmp_path / "model", 0.5)

    record = push(model, tmp_path / "serving")

    assert (record.pushed, record.in_production, record.version) == (True, True, 1)
    assert record.content_sha256 == serving.content_digest(model)
    recorded = PushRecord.from_json(
        (tmp_path / "serving" / "1" / serving.PUSH_RECORD_PATH).read_text()
    )
    assert recorded.content_sha256 == record.content_sha256
    assert [p.name for p in (tmp_path / "serving").iterdir()] == ["1"]


def test_the_same_model_is_never_pushed_twice(tmp_path: Path) -> None:
    """A kill between the rename and the end of the Pusher's execution makes the rerun push
    the same model again: it finds it pushed instead."""
    push(fake_model(tmp_path / "model", 0.5), tmp_path / "serving")
    decision = json.dumps({"winner": {"role": "baseline", "model": "cnn", "accuracy": 0.5}})
    again = fake_model(tmp_path / "copy", 0.5, decision)

    record = push(again, tmp_path / "serving", min_gain=-1.0)

    assert (record.pushed, record.in_production, record.version) == (False, True, 1)
    assert record.reason == "resnet_tiny is already version 1 (in production): not pushed again"
    assert serving.numbered_versions(str(tmp_path / "serving")) == [1]


def test_a_version_pushed_without_a_record_is_recognised_by_its_content(tmp_path: Path) -> None:
    serving.push_version(fake_model(tmp_path / "old", 0.5), str(tmp_path / "serving"))
    push(fake_model(tmp_path / "better", 0.7), tmp_path / "serving")

    record = push(fake_model(tmp_path / "model", 0.5), tmp_path / "serving", min_gain=-1.0)

    assert (record.pushed, record.in_production, record.version) == (False, False, 1)
    assert record.reason.endswith("already version 1 (production is version 2): not pushed again")


def test_production_is_scored_when_pushing_and_a_worse_winner_is_not_pushed(
    tmp_path: Path,
) -> None:
    push(fake_model(tmp_path / "good", 0.636), tmp_path / "serving")

    record = push(fake_model(tmp_path / "worse", 0.504), tmp_path / "serving")

    assert (record.pushed, record.in_production, record.version) == (False, False, None)
    assert (record.winner.accuracy, record.production.accuracy) == (0.504, 0.636)
    assert record.production.model == "version 1"
    assert record.reason.startswith("production keeps version 1: resnet_tiny (0.5040)")
    assert serving.numbered_versions(str(tmp_path / "serving")) == [1]


def test_production_is_named_by_the_decision_pushed_with_it(tmp_path: Path) -> None:
    decision = json.dumps({"winner": {"role": "candidate", "model": "vt", "accuracy": 0.6}})
    push(fake_model(tmp_path / "vt", 0.6, decision), tmp_path / "serving")

    record = push(fake_model(tmp_path / "better", 0.7), tmp_path / "serving")

    assert record.production.model == "vt (version 1)"
    assert (record.pushed, record.version) == (True, 2)


def test_a_killed_push_leaves_no_version_and_its_folder_is_cleared(tmp_path: Path) -> None:
    unfinished = tmp_path / "serving" / f"{serving.TEMP_PREFIX}1-dead"
    unfinished.mkdir(parents=True)

    record = push(fake_model(tmp_path / "model", 0.5), tmp_path / "serving")

    assert record.version == 1
    assert not unfinished.exists()


def test_a_push_waits_for_the_serving_directory_lock(tmp_path: Path) -> None:
    model = fake_model(tmp_path / "model", 0.5)
    records = []
    with serving.push_lock(str(tmp_path / "serving")):
        pusher = threading.Thread(target=lambda: records.append(push(model, tmp_path / "serving")))
        pusher.start()
        time.sleep(0.5)
        assert not records and serving.numbered_versions(str(tmp_path / "serving")) == []
    pusher.join(timeout=30)

    assert [r.version for r in records] == [1]
