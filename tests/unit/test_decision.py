import json

import numpy as np
import pytest

from components.evaluator.intervals import Gain, paired_gain, wilson_interval
from components.winner.decision import Decision, ModelScore, PushRecord, decide, push_verdict
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
    assert decision.reason.startswith("no model may be pushed: vt_resnet_tiny not blessed")
    assert decision.reason.endswith("resnet_tiny 0.5800 is below the accuracy floor 0.7000")


def test_the_floor_is_relative_to_chance():
    # 2 classes: 0.58 is 8 points above chance, under the default 10.
    two_classes = dict(candidate_blessed=False, min_accuracy=0.2, min_gain=0.0, num_classes=2)
    decision = decide(VT, CNN, **two_classes, min_gain_over_chance=0.1)
    assert decision.winner is None
    assert "below the accuracy floor 0.6000 (chance 1/2 + 0.1000)" in decision.reason
    assert decision.floor == 0.6
    assert decide(VT, CNN, **two_classes, min_gain_over_chance=0.05).winner == CNN
    # 10 classes: the absolute floor 0.2 is the higher one.
    ten = decide(VT, CNN, **{**two_classes, "num_classes": 10}, min_gain_over_chance=0.05)
    assert ten.floor == 0.2


def test_a_tie_keeps_the_baseline_even_when_the_evaluator_blessed_it():
    tie = ModelScore("candidate", "vt_resnet_tiny", CNN.accuracy)
    decision = decide(tie, CNN, candidate_blessed=True, min_accuracy=0.5, min_gain=0.0)
    assert decision.winner == CNN
    assert "is not more than +0.0000 (a tie keeps the baseline)" in decision.reason


def test_an_untrained_model_is_never_pushed_unless_allowed():
    untrained_vt = ModelScore("candidate", "vt_resnet_tiny", 0.61, epochs=0)
    untrained_cnn = ModelScore("baseline", "resnet_tiny", 0.58, epochs=0)
    rules = dict(min_accuracy=0.5, min_gain=0.0)
    decision = decide(untrained_vt, CNN, candidate_blessed=True, **rules)
    assert decision.winner == CNN
    assert "vt_resnet_tiny was trained for 0 epochs (gate.allow_untrained" in decision.reason
    assert decide(untrained_vt, untrained_cnn, candidate_blessed=True, **rules).winner is None
    allowed = decide(untrained_vt, CNN, candidate_blessed=True, **rules, allow_untrained=True)
    assert allowed.winner == untrained_vt


def test_decision_json_round_trip():
    decision = decide(VT, CNN, candidate_blessed=True, min_accuracy=0.5, min_gain=0.0)
    assert Decision.from_json(decision.to_json()) == decision
    nothing = decide(VT, CNN, candidate_blessed=False, min_accuracy=0.9, min_gain=0.0)
    assert Decision.from_json(nothing.to_json()) == nothing


WINNER = ModelScore("winner", "vt_resnet_tiny", 0.61)
PRODUCTION = ModelScore("production", "resnet_tiny (version 3)", 0.65)


def test_the_first_version_is_pushed():
    assert push_verdict(WINNER, None, 0.0) == (True, "vt_resnet_tiny (0.6100) is the first version")


def test_a_winner_worse_than_production_is_not_pushed():
    pushed, reason = push_verdict(WINNER, PRODUCTION, 0.0)
    assert not pushed
    assert reason.startswith("production keeps resnet_tiny (version 3): vt_resnet_tiny (0.6100)")


def test_a_tie_keeps_the_model_in_production():
    # The same accuracy, once from TFMA's float32 and once exact, is a tie too.
    for accuracy in (0.61, 0.6099999904632568):
        production = ModelScore("production", "resnet_tiny (version 1)", accuracy)
        pushed, reason = push_verdict(WINNER, production, 0.0)
        assert not pushed
        assert "a tie keeps the model in production" in reason


def test_a_winner_must_beat_production_by_more_than_the_margin():
    production = ModelScore("production", "old", 0.60)
    assert push_verdict(WINNER, production, 0.0)[0]
    pushed, reason = push_verdict(WINNER, production, 0.01)
    assert not pushed
    assert "needs more than +0.0100" in reason
    assert push_verdict(WINNER, production, -1.0)[0]


def test_records_written_before_the_push_time_check_still_load():
    old = json.loads(
        decide(VT, CNN, candidate_blessed=True, min_accuracy=0.5, min_gain=0.0).to_json()
    )
    old["production"] = {"role": "production", "model": "x (version 1)", "accuracy": 0.5}
    old["min_gain_over_production"] = 0.0
    assert Decision.from_json(json.dumps(old)).winner == VT


def test_push_record_json_round_trip():
    record = PushRecord(True, True, "first", WINNER, PRODUCTION, 0.0, 4, "ab" * 32)
    assert PushRecord.from_json(record.to_json()) == record
    assert PushRecord.from_json(PushRecord(False, False, "no winner").to_json()).winner is None


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


# The gate with intervals (issue: a gate that knows its own noise) ----------------------------

NOISY = Gain(0.008, -0.014, 0.030, 0.9, 500)
CLEAR = Gain(0.030, 0.012, 0.048, 0.9, 500)


def test_a_gain_within_the_noise_keeps_the_baseline_and_says_so():
    decision = decide(VT, CNN, candidate_blessed=True, min_accuracy=0.5, min_gain=0.0, gain=NOISY)

    assert decision.winner == CNN
    assert (
        "vt_resnet_tiny blessed by the Evaluator on its point estimate, but not enough evidence "
        "to prefer vt_resnet_tiny over resnet_tiny: gain +0.8 pts, 90% CI -1.4 to +3.0 "
        "(500 examples)"
    ) in decision.reason
    assert Decision.from_json(decision.to_json()) == decision


def test_a_gain_whose_interval_clears_the_threshold_wins():
    decision = decide(VT, CNN, candidate_blessed=True, min_accuracy=0.5, min_gain=0.0, gain=CLEAR)

    assert decision.winner == VT
    assert "gain +3.0 pts, 90% CI +1.2 to +4.8 (500 examples), lower end above +0.0 pts" in (
        decision.reason
    )
    # A threshold the interval's lower end does not clear keeps the baseline.
    strict = decide(VT, CNN, candidate_blessed=True, min_accuracy=0.5, min_gain=0.02, gain=CLEAR)
    assert strict.winner == CNN


def test_production_is_kept_when_the_winner_is_better_only_within_the_noise():
    production = ModelScore("production", "version 1", 0.602)

    pushed, reason = push_verdict(WINNER, production, 0.0, NOISY)

    assert not pushed
    assert reason.startswith("production keeps version 1: vt_resnet_tiny (0.6100) is +0.0080")
    assert "not enough evidence to prefer vt_resnet_tiny over version 1" in reason
    assert push_verdict(WINNER, production, 0.0, CLEAR)[0]


def test_the_paired_gain_cancels_what_both_models_share():
    rng = np.random.default_rng(0)
    shared = rng.random(1000) < 0.6
    better = shared | (rng.random(1000) < 0.05)  # right wherever the other is, and more

    gain = paired_gain(better, shared, 0.9)

    assert gain.value == pytest.approx(better.mean() - shared.mean())
    assert 0 < gain.low < gain.value < gain.high
    # Two independent accuracies' intervals would overlap: 60% +- 2.5 points each.
    assert gain.high - gain.low < 0.025
    assert paired_gain(better, shared, 0.9) == gain, "deterministic"
    assert paired_gain(shared, shared, 0.9) == Gain(0.0, 0.0, 0.0, 0.9, 1000)


def test_wilson_interval_matches_the_textbook():
    low, high = wilson_interval(50, 100, 0.95)
    assert (round(low, 3), round(high, 3)) == (0.404, 0.596)
    assert wilson_interval(0, 10, 0.95)[0] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError):
        wilson_interval(1, 0)


def test_intervals_shrink_as_the_eval_set_grows():
    def widths(n: int) -> tuple[float, float]:
        rng = np.random.default_rng(n)
        a, b = rng.random(n) < 0.6, rng.random(n) < 0.55
        gain = paired_gain(a, b, 0.9)
        low, high = wilson_interval(int(a.sum()), n, 0.9)
        return gain.high - gain.low, high - low

    small, large = widths(200), widths(20_000)
    # Ten times as wide at a hundredth of the examples (the 1 / sqrt(n) law).
    assert small[0] > 7 * large[0] and small[1] > 7 * large[1]


def test_a_distilled_candidate_is_flagged_in_the_decision():
    distilled = ModelScore("candidate", "vt_resnet_tiny", 0.61, teacher="resnet_tiny, the baseline")
    decision = decide(distilled, CNN, candidate_blessed=True, min_accuracy=0.5, min_gain=0.0)
    assert decision.reason.endswith(
        "note: vt_resnet_tiny was distilled from resnet_tiny, the baseline"
    )
    assert Decision.from_json(decision.to_json()).candidate.teacher == distilled.teacher
    plain = decide(VT, CNN, candidate_blessed=True, min_accuracy=0.5, min_gain=0.0)
    assert "distilled" not in plain.reason


@pytest.mark.parametrize(
    "distillation, expected",
    [
        (
            {"teacher": "baseline"},
            "resnet_tiny, this run's baseline it is compared with (on its logits, soft labels)",
        ),
        (
            {"teacher": "/models/teacher/3", "token": True, "hard": True},
            "/models/teacher/3 (through its distillation token, hard labels)",
        ),
        ({"teacher": None}, None),
        ({"teacher": "", "token": True}, None),
    ],
)
def test_the_teacher_is_read_from_the_recipe_on_the_model_artifact(distillation, expected):
    from tfx.types import standard_artifacts

    from components.winner.component import distillation_teacher

    model = standard_artifacts.Model()
    recipe = {"epochs": 3, "distillation": {**distillation, "weight": 0.8}}
    model.set_string_custom_property("recipe", json.dumps(recipe))
    assert distillation_teacher(model, "resnet_tiny") == expected
    assert distillation_teacher(standard_artifacts.Model(), "resnet_tiny") is None
