"""Which output splits a data set's own splits become.

A data set brings the splits it has (CIFAR's test batch, ImageNet's val/, a folder's val/ and
test/); ImageExampleGen carves what it lacks by hash, so that every run has a `train` split
to fit on, an `eval` split to validate, gate and report on, and a `test` split that only
`pipeline_runner.py evaluate` reads:

- with an eval split of its own, the data set's splits are kept as they are;
- otherwise its `train` split (or its only split) is divided by hash into output splits by
  `ratios`; by default 9:1 into train and eval when the data set has a test split of its
  own, 8:1:1 into train, eval and test when it has none.

Deterministic: an image lands in the same split on every run and every machine. Plain
Python (no Beam, no TensorFlow): the component, the executor and Beam workers share it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from features import EVAL_SPLIT, TEST_SPLIT, TRAIN_SPLIT

DEFAULT_RATIOS = {TRAIN_SPLIT: 9, EVAL_SPLIT: 1}
DEFAULT_RATIOS_WITHOUT_TEST = {TRAIN_SPLIT: 8, EVAL_SPLIT: 1, TEST_SPLIT: 1}


@dataclasses.dataclass(frozen=True)
class SplitPlan:
    """The output splits of a data set's splits.

    Attributes:
      divided: the input split divided by hash, or None when every input split is kept.
      ratios: hash buckets of `divided` per output split, in order.
      kept: the input splits that are output splits as they are.
    """

    divided: str | None
    ratios: Mapping[str, int]
    kept: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        """Every output split: the hash split's, then the kept ones."""
        return [*self.ratios, *self.kept]


def plan_splits(input_splits: Sequence[str], ratios: Mapping[str, int] | None) -> SplitPlan:
    """The output splits of a data set whose own splits are `input_splits`.

    `ratios` (None: the default above) divides the data set's `train` split, or its only
    split, when it has no eval split of its own; they are ignored when it has one.

    Raises:
      ValueError: one line, when `ratios` names a split the data set has of its own, lacks
        train or eval, or gives a split less than one bucket.
    """
    if EVAL_SPLIT in input_splits and len(input_splits) > 1:
        return SplitPlan(None, {}, tuple(input_splits))
    divided = input_splits[0] if len(input_splits) == 1 else TRAIN_SPLIT
    if divided not in input_splits:
        raise ValueError(
            f"the data set's splits {', '.join(input_splits)} hold neither {EVAL_SPLIT} nor "
            f"{TRAIN_SPLIT}: there is nothing to fit on"
        )
    kept = tuple(split for split in input_splits if split != divided)
    if ratios is None:
        ratios = DEFAULT_RATIOS if TEST_SPLIT in kept else DEFAULT_RATIOS_WITHOUT_TEST
    clash = sorted(set(ratios) & set(kept))
    if clash:
        raise ValueError(
            f"split ratios {dict(ratios)} name {', '.join(clash)}, which the data set has of "
            f"its own: give buckets for {TRAIN_SPLIT} and {EVAL_SPLIT} only"
        )
    if not {TRAIN_SPLIT, EVAL_SPLIT} <= set(ratios) or min(ratios.values()) < 1:
        raise ValueError(
            f"split ratios {dict(ratios)} must give {TRAIN_SPLIT} and {EVAL_SPLIT} (and any "
            f'other split) at least 1 bucket each, e.g. {{"{TRAIN_SPLIT}": 9, "{EVAL_SPLIT}": 1}}'
        )
    return SplitPlan(divided, dict(ratios), kept)
