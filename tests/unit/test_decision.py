import json

from components.winner.decision import Decision, ModelScore, decide
from components.winner.serving import numbered_versions, production_model_dir, push_version

VT = ModelScore("candidate", "vt_resnet_tiny", 0.61)
CNN = ModelScore("baseline", "resnet_tiny", 0.58)


def test_blessed_candidate_wins():
    decision = decide(VT, CNN, candidate_blessed=True, min_accuracy=0.5, min_gain=0.0)
    assert decision.winner == VT
    assert "blessed" in decision.reason


def test_unblessed_candidate_falls_back_to_baseline_above_floor():
    decision = decide(VT, CNN, candidate_blessed=False, min_accuracy=0.5, min_gain=0.05)
    assert decision.winner == CNN
    assert "not blessed" in decision.reason


def test_nothing_wins_when_baseline_is_below_floor():
    decision = decide(VT, CNN, candidate_blessed=False, min_accuracy=0.7, min_gain=0.0)
    assert decision.winner is None
    assert "no model clears the accuracy floor 0.7000" in decision.reason


def test_decision_json_round_trip():
    decision = decide(VT, CNN, candidate_blessed=True, min_accuracy=0.5, min_gain=0.0)
    assert Decision.from_json(decision.to_json()) == decision
    nothing = decide(VT, CNN, candidate_blessed=False, min_accuracy=0.9, min_gain=0.0)
    assert Decision.from_json(nothing.to_json()) == nothing


PRODUCTION = ModelScore("production", "resnet_tiny (version 3)", 0.65)


def test_winner_worse_than_production_is_not_pushed():
    decision = decide(
        VT, CNN, candidate_blessed=True, min_accuracy=0.5, min_gain=0.0, production=PRODUCTION
    )
    assert decision.winner is None
    assert "production keeps resnet_tiny (version 3)" in decision.reason
    assert Decision.from_json(decision.to_json()) == decision


def test_winner_at_least_as_good_as_production_by_the_margin_is_pushed():
    kwargs = dict(candidate_blessed=True, min_accuracy=0.5, min_gain=0.0)
    better = ModelScore("production", "old", 0.605)
    assert decide(VT, CNN, **kwargs, production=better).winner == VT
    decision = decide(VT, CNN, **kwargs, production=better, min_gain_over_production=0.01)
    assert decision.winner is None
    assert "needs >= +0.0100" in decision.reason


def test_decisions_written_before_the_production_gate_still_load():
    old = json.loads(
        decide(VT, CNN, candidate_blessed=True, min_accuracy=0.5, min_gain=0.0).to_json()
    )
    del old["production"], old["min_gain_over_production"]
    assert Decision.from_json(json.dumps(old)).production is None


def test_numbered_versions_ignore_temporary_and_other_folders(tmp_path):
    for name in ("1", "10", "2", ".pushing-3-abc", "notes"):
        (tmp_path / name).mkdir()
    assert numbered_versions(str(tmp_path)) == [1, 2, 10]
    assert production_model_dir(str(tmp_path)) == str(tmp_path / "10")
    assert numbered_versions(str(tmp_path / "missing")) == []
    assert production_model_dir(str(tmp_path / "missing")) is None


def test_push_version_adds_the_next_number_and_leaves_no_temporary_folder(tmp_path):
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"graph")
    serving = tmp_path / "serving"
    first = push_version(str(model), str(serving))
    second = push_version(str(model), str(serving))
    assert (first, second) == (str(serving / "1"), str(serving / "2"))
    assert sorted(p.name for p in serving.iterdir()) == ["1", "2"]
    assert (serving / "2" / "saved_model.pb").read_bytes() == b"graph"


def test_an_identical_model_is_as_good_as_production_despite_float32_rounding():
    # TFMA's float32 accuracy of the same model that production scores exactly at 0.542.
    same = ModelScore("baseline", "resnet_tiny", 0.5419999957084656)
    production = ModelScore("production", "resnet_tiny (version 1)", 0.542)
    decision = decide(
        VT, same, candidate_blessed=False, min_accuracy=0.5, min_gain=0.0, production=production
    )
    assert decision.winner == same
