"""The training recipe: one typed, sectioned config, validated when it is built.

The pipeline's config holds a `TrainConfig` (`PipelineConfig.train`, dotted overrides such as
`--set train.optimizer.momentum=0.8`); the Trainer receives it as a JSON-able dict
(`to_dict`) and rebuilds it with `TrainConfig.from_dict`, which runs the same checks, so a
recipe is valid wherever it is read and no training code checks a field again.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from models.ranges import (
    AT_LEAST_0,
    AT_LEAST_1,
    FRACTION,
    FRACTION_BELOW_1,
    POSITIVE,
    Range,
    check_choice,
    check_ranges,
)

BASELINE_TEACHER = "baseline"  # DistillationConfig.teacher: the CNN trained in the same run


@dataclass(frozen=True)
class OptimizerConfig:
    """The optimizer and its peak learning rate.

    Attributes:
      name: "adamw", "sgd" or "rmsprop".
      learning_rate: peak learning rate, reached after the warm-up.
      lr_reference_batch: when set, learning_rate and the warm-up start are scaled by
        batch_size / lr_reference_batch (the paper: 0.16 at 2048).
      momentum: momentum of SGD and RMSProp.
      nesterov: Nesterov momentum for SGD.
    """

    name: str = "adamw"
    learning_rate: float = 2e-3
    lr_reference_batch: int | None = None
    momentum: float = 0.9
    nesterov: bool = False

    def __post_init__(self):
        check_choice(self, "name", ("adamw", "sgd", "rmsprop"))
        check_ranges(
            self,
            {
                "learning_rate": POSITIVE,
                "lr_reference_batch": AT_LEAST_1,
                "momentum": FRACTION_BELOW_1,
            },
        )


@dataclass(frozen=True)
class ScheduleConfig:
    """How the learning rate moves: a linear warm-up, then a decay.

    Attributes:
      name: "cosine" (decay to 0 at the last epoch) or "paper" (x lr_decay per epoch).
      warmup_epochs: linear warm-up length in epochs.
      warmup_start_lr: learning rate at step 0 of the warm-up (the paper: 0.01).
      lr_decay: per-epoch factor of the "paper" schedule (the paper: 0.9875).
    """

    name: str = "cosine"
    warmup_epochs: int = 1
    warmup_start_lr: float = 0.0
    lr_decay: float = 0.9875

    def __post_init__(self):
        check_choice(self, "name", ("cosine", "paper"))
        check_ranges(
            self,
            {
                "warmup_epochs": AT_LEAST_0,
                "warmup_start_lr": AT_LEAST_0,
                "lr_decay": Range(0, 1, low_open=True),
            },
        )


@dataclass(frozen=True)
class RegularisationConfig:
    """What keeps the model from fitting the training split too closely.

    Attributes:
      weight_decay: decoupled weight decay, in every optimizer: tf_keras applies
        `w -= learning_rate * weight_decay * w` after each step.
      label_smoothing: mass spread uniformly over the classes in the training targets.
      survival_prob: stochastic-depth keep probability of each ResNet block; 1.0 is off.
      dropout: dropout rate before the classifier.
    """

    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    survival_prob: float = 1.0
    dropout: float = 0.0

    def __post_init__(self):
        check_ranges(
            self,
            {
                "weight_decay": AT_LEAST_0,
                "label_smoothing": FRACTION_BELOW_1,
                "survival_prob": Range(0, 1, low_open=True),
                "dropout": FRACTION_BELOW_1,
            },
        )

    def model_options(self) -> dict[str, float]:
        """The model builder's keyword arguments for the parts that are on."""
        options = {"dropout": self.dropout} if self.dropout else {}
        if self.survival_prob < 1.0:
            options["survival_prob"] = self.survival_prob
        return options


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation in the input pipeline, drawn anew every epoch (models/training/augment.py).

    Attributes:
      enabled: random crop and horizontal flip, and what else is on below.
      crop: "pad" (pad `pad` pixels and crop back) or "resized" (random resized crop).
      pad: pixels of zero padding before the "pad" crop.
      randaugment_layers: RandAugment ops applied per image; 0 is off.
      randaugment_magnitude: RandAugment magnitude, 0..10.
      mixup_alpha: Beta(alpha, alpha) of mixup; 0 is off.
      cutmix_alpha: Beta(alpha, alpha) of cutmix; 0 is off. With both on, each batch uses one.
    """

    enabled: bool = True
    crop: str = "pad"
    pad: int = 4
    randaugment_layers: int = 0
    randaugment_magnitude: float = 9.0
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0

    def __post_init__(self):
        check_choice(self, "crop", ("pad", "resized"))
        check_ranges(
            self,
            {
                "pad": AT_LEAST_0,
                "randaugment_layers": AT_LEAST_0,
                "randaugment_magnitude": Range(0, 10),
                "mixup_alpha": AT_LEAST_0,
                "cutmix_alpha": AT_LEAST_0,
            },
        )


@dataclass(frozen=True)
class EmaConfig:
    """An exponential moving average of the weights, which is then what is validated,
    evaluated and exported.

    Attributes:
      decay: the average's decay per step; None is off (the paper: 0.99985).
    """

    decay: float | None = None

    def __post_init__(self):
        check_ranges(self, {"decay": FRACTION_BELOW_1})


@dataclass(frozen=True)
class DistillationConfig:
    """Knowledge distillation from a teacher (models/training/distillation.py).

    Attributes:
      teacher: "" (off), "baseline" (the CNN trained in the same run) or a SavedModel path.
      weight: weight of the distillation term; 1 - it weighs the cross-entropy.
      temperature: softmax temperature of teacher and student in the soft distillation term.
      token: the student (a VT) learns from the teacher through its own distillation token
        and head (DeiT) rather than on its class logits; it answers with both heads'
        averaged probabilities. DeiT uses weight 0.5.
      hard: the student learns the teacher's top class (DeiT's hard distillation) rather
        than its softened probabilities; temperature is then unused.
    """

    teacher: str = ""
    weight: float = 0.8
    temperature: float = 1.0
    token: bool = False
    hard: bool = False

    def __post_init__(self):
        check_ranges(self, {"weight": FRACTION, "temperature": POSITIVE})

    def model_options(self) -> dict[str, bool]:
        """The model builder's keyword arguments: a distillation token when one is used."""
        return {"distillation_token": True} if self.teacher and self.token else {}


@dataclass(frozen=True)
class CheckpointConfig:
    """Epoch checkpoints, so that an interrupted identical run resumes.

    Attributes:
      resume: continue from the last epoch checkpoint of an interrupted identical run.
      every_seconds: an epoch is checkpointed when at least this many seconds have passed
        since the last checkpoint; 0 checkpoints every epoch. An interrupted run loses at
        most this much training, plus the epoch in progress.
    """

    resume: bool = True
    every_seconds: float = 30.0

    def __post_init__(self):
        check_ranges(self, {"every_seconds": AT_LEAST_0})


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained (shared by both models unless a `ModelConfig` overrides it).

    Attributes:
      epochs: passes over the training split; 0 exports the untrained model.
      batch_size: images per step (global, summed over replicas).
      steps_per_epoch: training steps per epoch; None counts the training records once.
      seed: seeds weights, shuffling and augmentation.
      strategy: tf.distribute strategy: "default", "mirrored", "multi_worker_mirrored", "tpu".
      mixed_precision: float16 compute on GPUs, bfloat16 on CPUs with bfloat16 instructions
        (AVX512_BF16 or AMX); float32 elsewhere, with a warning.
      cache_max_mb: the Trainer keeps the parsed training and eval examples in memory (and
        shuffles them there every epoch) when they take at most this many MiB, counted twice
        for the shuffle buffer; larger splits are read from the TFRecords every epoch.
        0 always reads the files.
      optimizer, schedule, regularisation, augment, ema, distillation, checkpoint: the
        sections above.
    """

    epochs: int = 30
    batch_size: int = 64
    steps_per_epoch: int | None = None
    seed: int = 42
    strategy: str = "default"
    mixed_precision: bool = False
    cache_max_mb: float = 4096
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    regularisation: RegularisationConfig = field(default_factory=RegularisationConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    distillation: DistillationConfig = field(default_factory=DistillationConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)

    def __post_init__(self):
        check_choice(self, "strategy", ("default", "mirrored", "multi_worker_mirrored", "tpu"))
        check_ranges(
            self,
            {
                "epochs": AT_LEAST_0,
                "batch_size": AT_LEAST_1,
                "steps_per_epoch": AT_LEAST_1,
                "cache_max_mb": AT_LEAST_0,
            },
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that `from_dict` turns back into this recipe."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The recipe `values` (from `to_dict`) describe, checked as when it was built.

        Raises ValueError naming a field this recipe does not have (e.g. one written by
        another version of this module).
        """
        return _from_dict(cls, values, "train")


def _from_dict(cls: type, values: dict[str, Any], section: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"{section} has no field {unknown[0]!r}; fields: {', '.join(names)}")
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            value = _from_dict(hint, value, f"{section}.{name}")
        kwargs[name] = value
    return cls(**kwargs)
