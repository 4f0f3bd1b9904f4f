"""What a finished local run tells its user: the gating decision and where everything is."""

from __future__ import annotations

from components.winner.component import read_decision
from pipeline.config import PipelineConfig
from pipeline.outputs import latest_outputs, open_store

SELECT_WINNER = "SelectWinner"
PUSHER = "Pusher"
EVALUATOR = "Evaluator"


def print_run_summary(config: PipelineConfig) -> bool:
    """Prints the decision and the output locations; returns whether a model was pushed."""
    store = open_store(config.metadata_path)
    winner = latest_outputs(store, config.name, SELECT_WINNER)
    pushed = latest_outputs(store, config.name, PUSHER).get("pushed_model")
    evaluation = latest_outputs(store, config.name, EVALUATOR).get("evaluation")

    decision = read_decision(winner["blessing"].uri)
    print()
    print("Gating decision (top-1 accuracy on the eval split):")
    for score in (decision.candidate, decision.baseline):
        print(f"  {score.role:<10} {score.model:<22} {score.accuracy:.4f}")
    print(f"  -> {decision.reason}")
    destination = None
    if pushed is not None and pushed.custom_properties["pushed"].int_value:
        destination = pushed.custom_properties["pushed_destination"].string_value
    print()
    print(f"Pushed model:   {destination or 'nothing pushed'}")
    if evaluation is not None:
        print(f"TFMA results:   {evaluation.uri}")
    print(f"MLMD database:  {config.metadata_path}")
    return destination is not None
