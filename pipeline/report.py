"""What a finished local run tells its user: the gating decision, where everything is, and the
HTML report of any recorded run (read back from ML Metadata)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace

from components.evaluator.keys import BASELINE, CANDIDATE
from components.winner.component import read_decision, read_push_record
from components.winner.decision import Decision, ModelScore, PushRecord
from pipeline.config import PipelineConfig
from pipeline.outputs import (
    latest_execution,
    latest_inputs,
    latest_outputs,
    open_store,
    resolve_run_id,
)

EXAMPLE_GEN = "FileBasedExampleGen"
SELECT_WINNER = "SelectWinner"
PUSHER = "Pusher"
EVALUATOR = "Evaluator"
REPORT = "RunReport"
TRAINERS = {CANDIDATE: "CandidateTrainer", BASELINE: "BaselineTrainer"}


def print_run_summary(config: PipelineConfig) -> bool:
    """Prints the decision, the push and the output locations; returns whether the run's
    winner is in production (pushed now, or the same model pushed before)."""
    store = open_store(config.metadata_path)
    winner = latest_outputs(store, config.name, SELECT_WINNER)
    pushed = latest_outputs(store, config.name, PUSHER).get("pushed_model")
    evaluation = latest_outputs(store, config.name, EVALUATOR).get("evaluation")
    report = latest_outputs(store, config.name, REPORT).get("report")

    decision = read_decision(winner["blessing"].uri)
    push = read_push_record(pushed.uri) if pushed is not None else None
    if push is not None and _reused(store, config.name, PUSHER):
        push = _as_of_now(push, config.serving_dir)
    examples = latest_outputs(store, config.name, EXAMPLE_GEN).get("examples")
    if examples is not None:
        print()
        print(f"Examples:       {examples_summary(examples.uri)}")
        from components.report.render import data_summary

        description, warnings = data_summary(examples.uri, config.data.min_images_per_class)
        print(f"Classes:        {description[0]}")
        for line in description[1:]:
            print(f"  {line}")
        for warning in warnings:
            print(f"warning: {warning}")
    print()
    print("Gating decision (top-1 accuracy on the eval split):")
    _print_scores([decision.candidate, decision.baseline], decision.reason)
    if push is not None and (push.winner or push.version):
        print("Push (checked against the serving directory when pushing):")
        _print_scores([s for s in (push.winner, push.production) if s], push.reason)
    print()
    run_id = resolve_run_id(store, config.name, "latest")
    reused = decision.run_id and decision.run_id != run_id
    print(f"Run id:         {run_id}" + (f" (gate decided in {decision.run_id})" if reused else ""))
    print(f"Pushed model:   {_pushed_line(config, push)}")
    if evaluation is not None:
        print(f"TFMA results:   {evaluation.uri}")
    if report is not None:
        print(f"Report:         {os.path.join(report.uri, 'index.html')}")
    print(f"MLMD database:  {config.metadata_path}")
    return push is not None and push.in_production


def _reused(store, pipeline_name: str, node_id: str) -> bool:
    execution = latest_execution(store, pipeline_name, node_id)
    return execution is not None and execution.last_known_state == execution.CACHED


def _as_of_now(push: PushRecord, serving_dir: str) -> PushRecord:
    """A push record TFX reused from an identical earlier run (which pushed nothing now),
    with `in_production` checked against the serving directory as it is."""
    from components.winner.serving import numbered_versions

    versions = numbered_versions(serving_dir)
    newest = versions[-1] if versions else None
    in_production = push.version is not None and push.version == newest
    state = "still the newest version" if in_production else f"production is now {newest}"
    reason = f"reused from an identical earlier run, nothing pushed now ({state}): {push.reason}"
    return replace(push, pushed=False, in_production=in_production, reason=reason)


def _print_scores(scores: list[ModelScore], reason: str) -> None:
    width = max((len(score.model) for score in scores), default=0)
    for score in scores:
        print(f"  {score.role:<10} {score.model:<{width}}  {score.accuracy:.4f}")
    print(f"  -> {reason}")


def _pushed_line(config: PipelineConfig, push: PushRecord | None) -> str:
    if push is None or push.version is None:
        return "nothing pushed"
    path = os.path.join(config.serving_dir, str(push.version))
    if push.pushed:
        return path
    state = "in production" if push.in_production else "not in production"
    return f"nothing pushed ({path} holds the same model, {state})"


def examples_summary(examples_uri: str) -> str:
    """How many examples ImageExampleGen wrote, and what it rejected, in one line."""
    from components.image_example_gen.rejects import REJECTED_DIR, RejectReport

    report = RejectReport.read(os.path.join(examples_uri, REJECTED_DIR))
    if not report.total_rejected:
        return f"{report.examples} written, none rejected"
    return f"{report.examples} written, {report.summary()}"


@dataclass(frozen=True)
class RunOutputs:
    """What one recorded run produced, as the report and the slice table read it."""

    run_id: str
    names: dict[str, str]  # role -> registered model name
    overrides: dict[str, dict]  # role -> model builder overrides
    image_size: int
    models: dict[str, tuple[str, str]]  # role -> (model uri, model_run uri)
    examples_uri: str
    examples_id: int  # the ExampleGen's Examples artifact in MLMD
    evaluation_uri: str
    decision: Decision | None
    push: PushRecord | None
    pushed_path: str | None  # the serving version the Pusher wrote, when it pushed


def find_run_outputs(config: PipelineConfig, run: str = "latest") -> RunOutputs:
    """The outputs of run `run` ("latest" or a run id) of the configured pipeline.

    Raises ValueError naming what is missing (no MLMD store, unknown run, no evaluation).
    """
    import tensorflow as tf

    if not os.path.exists(config.metadata_path):
        raise ValueError(
            f"no ML Metadata at {config.metadata_path}: run the pipeline first, or pass the "
            "--output-root / --name / --preset it ran with"
        )
    store = open_store(config.metadata_path)
    run_id = resolve_run_id(store, config.name, run)
    evaluator = latest_inputs(store, config.name, EVALUATOR, run_id)
    evaluation = latest_outputs(store, config.name, EVALUATOR, run_id).get("evaluation")
    if not evaluator or evaluation is None:
        raise ValueError(f"run {run_id} of {config.name!r} has no evaluation (did it fail early?)")
    models, trainer_configs = {}, {}
    for role, node_id in TRAINERS.items():
        outputs = latest_outputs(store, config.name, node_id, run_id)
        models[role] = (outputs["model"].uri, outputs["model_run"].uri)
        execution = latest_execution(store, config.name, node_id, run_id)
        trainer_configs[role] = json.loads(
            execution.custom_properties["custom_config"].string_value
        )
    winner = latest_outputs(store, config.name, SELECT_WINNER, run_id).get("blessing")
    pushed = latest_outputs(store, config.name, PUSHER, run_id).get("pushed_model")
    uris = [
        evaluation.uri,
        evaluator["examples"].uri,
        *(u for pair in models.values() for u in pair),
    ]
    missing = [u for u in uris + ([winner.uri] if winner else []) if not tf.io.gfile.exists(u)]
    if missing:
        raise ValueError(
            f"run {run_id} of {config.name!r} is recorded in ML Metadata but its outputs were "
            f"deleted ({missing[0]}): rerun the pipeline"
        )
    return RunOutputs(
        run_id=run_id,
        names={role: trainer["model"] for role, trainer in trainer_configs.items()},
        overrides={role: trainer["model_overrides"] for role, trainer in trainer_configs.items()},
        image_size=trainer_configs[CANDIDATE]["image_size"],
        models=models,
        examples_uri=evaluator["examples"].uri,
        examples_id=evaluator["examples"].id,
        evaluation_uri=evaluation.uri,
        decision=read_decision(winner.uri) if winner is not None else None,
        push=read_push_record(pushed.uri) if pushed is not None else None,
        pushed_path=_pushed_destination(pushed),
    )


def _pushed_destination(pushed) -> str | None:
    """The pushed_destination property TFX's Pusher contract gives the PushedModel artifact."""
    if pushed is None or "pushed_destination" not in pushed.custom_properties:
        return None
    return pushed.custom_properties["pushed_destination"].string_value or None


def report_dir(config: PipelineConfig, run_id: str) -> str:
    """Where `pipeline_runner.py report` writes a run's report."""
    return os.path.join(config.pipeline_root, "reports", run_id.replace(":", "-"))


def write_run_report(config: PipelineConfig, run: str = "latest") -> str:
    """Writes the HTML report of run `run` under `report_dir`; returns index.html's path."""
    from components.report.component import model_run, split_files
    from components.report.provenance import recorded_provenance
    from components.report.render import data_summary, write_report

    outputs = find_run_outputs(config, run)
    # The Evaluator's output folder names its execution, hence the run.
    recorded = recorded_provenance(
        config.metadata_path, outputs.evaluation_uri, outputs.examples_id
    )
    runs = [
        model_run(role, outputs.names[role], outputs.overrides[role], *outputs.models[role])
        for role in (CANDIDATE, BASELINE)
    ]
    return write_report(
        title=f"{config.name}: run {outputs.run_id}",
        runs=runs,
        eval_files=split_files(outputs.examples_uri),
        evaluation_uri=outputs.evaluation_uri,
        decision=outputs.decision,
        push=outputs.push,
        data=data_summary(outputs.examples_uri, config.data.min_images_per_class),
        image_size=outputs.image_size,
        output_dir=report_dir(config, outputs.run_id),
        provenance=replace(
            recorded, examples_uri=outputs.examples_uri, pushed_path=outputs.pushed_path
        ),
    )
