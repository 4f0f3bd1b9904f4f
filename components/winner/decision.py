"""Which model wins a run, from the Evaluator's numbers, and whether it replaces the model in
production when it is pushed (pure logic, no TFX)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from components.evaluator.intervals import Gain

# Scores closer than this are equal (accuracies are float32 in TFMA, exact fractions here).
SCORE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ModelScore:
    """One evaluated model: its role in the evaluation, registered name, top-1 accuracy, the
    epochs it was trained for (0: untrained; None: not known) and the teacher it was distilled
    from (None: trained on the labels alone)."""

    role: str
    model: str
    accuracy: float
    epochs: int | None = None
    teacher: str | None = None


@dataclass(frozen=True)
class Decision:
    """The run's gating outcome between its two models, written as JSON next to the winner and
    printed after a run.

    `winner` is None when neither model may be pushed. Whether the winner replaces the model
    in production is decided when it is pushed (`PushRecord`), never here: this decision is
    cached with the run's models, production is not. `floor` is the accuracy a winner needs
    (`accuracy_floor`), `num_classes` the classes it was set from, `gain` the candidate's gain
    over the baseline on the same eval examples with its interval (None in decisions made
    before it was measured).
    """

    winner: ModelScore | None
    candidate: ModelScore
    baseline: ModelScore
    candidate_blessed: bool
    min_accuracy: float
    min_gain: float
    reason: str
    floor: float = 0.0
    num_classes: int | None = None
    gain: Gain | None = None
    run_id: str | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Decision:
        """Reads `to_json`'s text; keys of older versions (e.g. `production`, now in the
        push record) are ignored."""
        data = _known_fields(cls, json.loads(text))
        scores = {k: _score(data[k]) for k in ("winner", "candidate", "baseline")}
        return cls(**{**data, **scores, "gain": _gain(data.get("gain"))})


def accuracy_floor(
    min_accuracy: float, num_classes: int | None, min_gain_over_chance: float
) -> float:
    """The accuracy a model needs to be pushed: `min_accuracy`, and at least
    `min_gain_over_chance` above chance (1 / `num_classes`) when the class count is known.
    An absolute floor alone lets a chance-level model through on 4 classes or fewer."""
    chance = 1 / num_classes if num_classes else 0.0
    return max(min_accuracy, chance + min_gain_over_chance)


def decide(
    candidate: ModelScore,
    baseline: ModelScore,
    *,
    candidate_blessed: bool,
    min_accuracy: float,
    min_gain: float,
    num_classes: int | None = None,
    min_gain_over_chance: float = 0.0,
    allow_untrained: bool = False,
    gain: Gain | None = None,
) -> Decision:
    """The candidate wins when the Evaluator blessed it, its gain over the baseline is more
    than `min_gain` (a tie keeps the baseline, the incumbent) and it may be pushed; else the
    baseline, when it may be pushed. A model may be pushed when it reaches the floor
    (`accuracy_floor`) and was trained, unless `allow_untrained`.

    With `gain` (the candidate's gain measured on the same examples, with its interval), the
    lower end of the interval must be more than `min_gain`: a gain within the noise of the
    eval split keeps the baseline, and the reason says so in words.

    `candidate_blessed` is TFMA's verdict (absolute floor and a point gain >= `min_gain`);
    the interval, the baseline, which TFMA never validates, and the chance floor are checked
    here, so TFMA may bless a candidate that does not win: the reason then says why.
    """
    floor = accuracy_floor(min_accuracy, num_classes, min_gain_over_chance)
    floor_text = f"the accuracy floor {floor:.4f}"
    if num_classes and floor > min_accuracy:
        floor_text += f" (chance 1/{num_classes} + {min_gain_over_chance:.4f})"

    def unfit(score: ModelScore) -> str | None:
        if score.epochs == 0 and not allow_untrained:
            return f"{score.model} was trained for 0 epochs (gate.allow_untrained pushes it)"
        if score.accuracy < floor:
            return f"{score.model} {score.accuracy:.4f} is below {floor_text}"
        return None

    measured = gain
    point_gain = candidate.accuracy - baseline.accuracy
    if not candidate_blessed:
        gain_text = measured.describe() if measured else f"gain {point_gain:+.4f}"
        why_not = (
            f"{candidate.model} not blessed (accuracy {candidate.accuracy:.4f}, {gain_text} "
            f"over {baseline.model}; needs >= {min_accuracy:.4f} and >= {min_gain:+.4f})"
        )
    elif measured is None and point_gain <= min_gain + SCORE_TOLERANCE:
        why_not = (
            f"{candidate.model} blessed by the Evaluator, but its gain {point_gain:+.4f} over "
            f"{baseline.model} is not more than {min_gain:+.4f} (a tie keeps the baseline)"
        )
    elif measured is not None and measured.low <= min_gain + SCORE_TOLERANCE:
        why_not = (
            f"{candidate.model} blessed by the Evaluator on its point estimate, but "
            f"{_not_enough(candidate.model, baseline.model, measured, min_gain)}"
        )
    else:
        why_not = unfit(candidate)
    if why_not is None:
        winner = candidate
        evidence = (
            f"{measured.describe()}, lower end above {100 * min_gain:+.1f} pts"
            if measured is not None
            else f"gain {point_gain:+.4f} > {min_gain:+.4f}"
        )
        reason = (
            f"{candidate.model} blessed: accuracy {candidate.accuracy:.4f} >= {floor_text}; "
            f"over {baseline.model}: {evidence}"
        )
    elif (baseline_unfit := unfit(baseline)) is None:
        winner = baseline
        reason = f"{why_not}; {baseline.model} clears {floor_text} with {baseline.accuracy:.4f}"
    else:
        winner = None
        reason = f"no model may be pushed: {why_not}; {baseline_unfit}"
    for score in (candidate, baseline):
        if score.teacher:
            reason += f"; note: {score.model} was distilled from {score.teacher}"
    return Decision(
        winner=winner,
        candidate=candidate,
        baseline=baseline,
        candidate_blessed=candidate_blessed,
        min_accuracy=min_accuracy,
        min_gain=min_gain,
        reason=reason,
        floor=floor,
        num_classes=num_classes,
        gain=measured,
    )


def _not_enough(model: str, other: str, gain: Gain, min_gain: float) -> str:
    """Why a measured gain does not let `model` replace `other`, in words."""
    if gain.value > min_gain:
        return (
            f"not enough evidence to prefer {model} over {other}: {gain.describe()}, whose "
            f"lower end is not above {100 * min_gain:+.1f} pts"
        )
    return (
        f"{model} is not better than {other} by more than {100 * min_gain:+.1f} pts: "
        f"{gain.describe()}"
    )


@dataclass(frozen=True)
class PushRecord:
    """What the Pusher did with a run's winner, decided as it pushed: against the serving
    directory as it was then, never from a cached decision.

    Attributes:
      pushed: whether a new version was written.
      in_production: whether the winner is the newest version afterwards (pushed now, or
        pushed before: the same model is never pushed twice).
      reason: why, in words.
      winner: the run's winner scored at push time on this run's eval split (None when the run
        had no winner, or the same model was found already pushed).
      production: the newest version then, scored on the same examples (None when there was
        none, or no scoring was needed).
      min_gain_over_production: the winner had to beat production by more than this.
      version: the version written, or the one already holding the same model.
      content_sha256: digest of the winner's SavedModel (`serving.content_digest`).
      gain: the winner's gain over production on the same examples, with its interval.
    """

    pushed: bool
    in_production: bool
    reason: str
    winner: ModelScore | None = None
    production: ModelScore | None = None
    min_gain_over_production: float = 0.0
    version: int | None = None
    content_sha256: str = ""
    gain: Gain | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PushRecord:
        data = _known_fields(cls, json.loads(text))
        scores = {k: _score(data.get(k)) for k in ("winner", "production")}
        return cls(**{**data, **scores, "gain": _gain(data.get("gain"))})


def push_verdict(
    winner: ModelScore,
    production: ModelScore | None,
    min_gain_over_production: float,
    gain: Gain | None = None,
) -> tuple[bool, str]:
    """Whether `winner` replaces `production` (both scored on the same examples), and why.

    It must be better by more than `min_gain_over_production`: a tie keeps the model in
    production, as does a margin within `SCORE_TOLERANCE` of the threshold. With `gain` (the
    winner's gain over production on those examples, with its interval), the interval's
    lower end must be: a gain within the noise keeps the model in production.
    """
    if production is None:
        return True, f"{winner.model} ({winner.accuracy:.4f}) is the first version"
    margin = winner.accuracy - production.accuracy
    comparison = (
        f"{winner.model} ({winner.accuracy:.4f}) is {margin:+.4f} over production "
        f"{production.model} ({production.accuracy:.4f}) on this eval split"
    )
    if gain is not None:
        if gain.low > min_gain_over_production + SCORE_TOLERANCE:
            return True, (
                f"{comparison}: {gain.describe()}, lower end above "
                f"{100 * min_gain_over_production:+.1f} pts"
            )
        why = _not_enough(winner.model, production.model, gain, min_gain_over_production)
        return False, f"production keeps {production.model}: {comparison}; {why}"
    if margin > min_gain_over_production + SCORE_TOLERANCE:
        return True, f"{comparison}, more than {min_gain_over_production:+.4f}"
    return False, (
        f"production keeps {production.model}: {comparison}, needs more than "
        f"{min_gain_over_production:+.4f} (a tie keeps the model in production)"
    )


def _score(value: dict | None) -> ModelScore | None:
    return ModelScore(**value) if value else None


def _gain(value: dict | None) -> Gain | None:
    return Gain(**value) if value else None


def _known_fields(cls: type, data: dict) -> dict:
    names = {field.name for field in dataclasses.fields(cls)}
    return {key: value for key, value in data.items() if key in names}
