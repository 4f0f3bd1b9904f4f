from components.winner.decision import Decision, ModelScore, decide

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
