"""Which model to push, from the Evaluator's numbers (pure logic, no TFX)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

# TFMA reports accuracy in float32 and the production model is scored exactly: scores closer
# than this are equal (so an identical model is "at least as good" as itself).
SCORE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ModelScore:
    """One evaluated model: its role in the evaluation, registered name and top-1 accuracy."""

    role: str
    model: str
    accuracy: float


@dataclass(frozen=True)
class Decision:
    """The gating outcome, written as JSON next to the pushed model and printed after a run.

    `winner` is None when no model clears the floor, or when the model in production (the
    newest pushed version, scored on this run's eval split) is better; then nothing is pushed.
    `production` is None when nothing was pushed before.
    """

    winner: ModelScore | None
    candidate: ModelScore
    baseline: ModelScore
    candidate_blessed: bool
    min_accuracy: float
    min_gain: float
    reason: str
    production: ModelScore | None = None
    min_gain_over_production: float = 0.0

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Decision:
        data = json.loads(text)
        scores = {
            k: ModelScore(**data[k]) if data[k] else None
            for k in ("winner", "candidate", "baseline", "production")
            if k in data
        }
        return cls(**{**data, **scores})


def decide(
    candidate: ModelScore,
    baseline: ModelScore,
    *,
    candidate_blessed: bool,
    min_accuracy: float,
    min_gain: float,
    production: ModelScore | None = None,
    min_gain_over_production: float = 0.0,
) -> Decision:
    """The candidate wins when the Evaluator blessed it; else the baseline, if above the floor.
    Either only wins if it beats `production` (when given) by `min_gain_over_production`.

    `candidate_blessed` is TFMA's verdict (floor and gain over the baseline, both checked by the
    Evaluator); the baseline's floor is checked here because TFMA never validates a baseline.
    """
    gain = candidate.accuracy - baseline.accuracy
    if candidate_blessed:
        winner = candidate
        reason = (
            f"{candidate.model} blessed: accuracy {candidate.accuracy:.4f} >= floor "
            f"{min_accuracy:.4f} and gain {gain:+.4f} over {baseline.model} >= {min_gain:+.4f}"
        )
    elif baseline.accuracy >= min_accuracy:
        winner = baseline
        reason = (
            f"{candidate.model} not blessed (accuracy {candidate.accuracy:.4f}, gain {gain:+.4f} "
            f"over {baseline.model}; needs >= {min_accuracy:.4f} and >= {min_gain:+.4f}); "
            f"{baseline.model} clears the floor with {baseline.accuracy:.4f}"
        )
    else:
        winner = None
        reason = (
            f"no model clears the accuracy floor {min_accuracy:.4f}: {candidate.model} "
            f"{candidate.accuracy:.4f}, {baseline.model} {baseline.accuracy:.4f}"
        )
    if winner is not None and production is not None:
        margin = winner.accuracy - production.accuracy
        if margin < min_gain_over_production - SCORE_TOLERANCE:
            reason += (
                f"; but production keeps {production.model} ({production.accuracy:.4f} on this "
                f"eval split): {winner.model} is {margin:+.4f} over it, needs "
                f">= {min_gain_over_production:+.4f}"
            )
            winner = None
        else:
            reason += (
                f"; {margin:+.4f} over production {production.model} "
                f"({production.accuracy:.4f}) >= {min_gain_over_production:+.4f}"
            )
    return Decision(
        winner=winner,
        candidate=candidate,
        baseline=baseline,
        candidate_blessed=candidate_blessed,
        min_accuracy=min_accuracy,
        min_gain=min_gain,
        reason=reason,
        production=production,
        min_gain_over_production=min_gain_over_production,
    )
