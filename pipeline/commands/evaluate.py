"""`pipeline_runner.py evaluate`: a run's two models on one split, by default the held-out `test`.

    python pipeline_runner.py evaluate                    # the latest run, its test split
    python pipeline_runner.py evaluate --split eval --run RUN_ID

Training reads the `train` split, the Trainers' validation and the Evaluator's gate the `eval`
split; the `test` split (the data set's own test set, e.g. CIFAR's test batch or ImageNet's
val/, or a share carved by hash: components/image_example_gen/splits.py) is read by nothing
until this command asks for it: a final, unbiased figure for the models the gate chose
between, with its 95% confidence interval. Scores each model through its serving signature
on the split's examples, as TF Serving would.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from features import TEST_SPLIT, split_of_folder
from pipeline.cli import add_config_flags, config_from_args
from pipeline.config import PipelineConfig

CONFIDENCE = 0.95


@dataclass(frozen=True)
class SplitScore:
    """Top-1 accuracy of one model of a run on one split."""

    role: str
    model: str
    hits: int
    examples: int

    @property
    def accuracy(self) -> float:
        return self.hits / self.examples

    def interval(self, confidence: float) -> tuple[float, float]:
        from components.evaluator.intervals import wilson_interval

        return wilson_interval(self.hits, self.examples, confidence)


def split_files(examples_uri: str, split: str) -> list[str]:
    """The TFRecord files of `split` in an ExampleGen output.

    Raises ValueError naming the splits there are when `split` is not one of them.
    """
    import tensorflow as tf

    from components.report.component import split_files as files_of

    found = files_of(examples_uri, split)
    if not found:
        folders = tf.io.gfile.listdir(examples_uri)
        splits = sorted(filter(None, map(split_of_folder, folders)))
        raise ValueError(
            f"the run's examples have no {split!r} split (they have {', '.join(splits)})"
        )
    return found


def score_split(
    config: PipelineConfig, split: str, run: str = "latest"
) -> tuple[str, list[SplitScore]]:
    """(run id, the scores of the run's candidate and baseline on `split`)."""
    import numpy as np
    import tensorflow as tf
    from tfx.utils import path_utils

    from components.winner.serving import classify_examples
    from pipeline.report import find_run_outputs

    outputs = find_run_outputs(config, run)
    files = split_files(outputs.examples_uri, split)
    scores = []
    for role, (model_uri, _) in outputs.models.items():
        model = tf.saved_model.load(path_utils.serving_model_path(model_uri))
        labels, probabilities = classify_examples(model, files)
        hits = int(np.sum(np.argmax(probabilities, axis=-1) == labels))
        scores.append(SplitScore(role, outputs.names[role], hits, len(labels)))
    return outputs.run_id, scores


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pipeline_runner.py evaluate",
        description="Score a run's candidate and baseline on one split of its examples "
        "(default: the held-out test split).",
    )
    parser.add_argument("--split", default=TEST_SPLIT, help="split to score (default test)")
    parser.add_argument("--run", default="latest", help="'latest' (default) or a run id")
    add_config_flags(parser)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    run_id, scores = score_split(config_from_args(args), args.split, args.run)
    print(
        f"run {run_id}: top-1 accuracy on the {args.split} split "
        f"({scores[0].examples} examples), through each model's serving signature"
    )
    width = max(len(score.model) for score in scores)
    for score in scores:
        low, high = score.interval(CONFIDENCE)
        print(
            f"  {score.role:<10} {score.model:<{width}}  {score.accuracy:.4f}  "
            f"({CONFIDENCE:.0%} CI {low:.4f}-{high:.4f})"
        )
    return 0
