"""The optimizer a recipe names, with its weight decay and an EMA of the weights."""

from __future__ import annotations

import tf_keras as keras

from models.training.recipe import TrainConfig


def build_optimizer(
    train: TrainConfig, learning_rate: keras.optimizers.schedules.LearningRateSchedule | float
) -> keras.optimizers.Optimizer:
    """AdamW, SGD or RMSProp as `train.optimizer` names, with `train.regularisation`'s
    decoupled weight decay and, when `train.ema.decay` is set, an EMA of the weights (Keras
    swaps the average into the model when `fit` ends)."""
    optimizer = train.optimizer
    common = {
        "learning_rate": learning_rate,
        "weight_decay": train.regularisation.weight_decay or None,
        "use_ema": train.ema.decay is not None,
        "ema_momentum": train.ema.decay or 0.99,
    }
    if optimizer.name == "sgd":
        return keras.optimizers.SGD(
            momentum=optimizer.momentum, nesterov=optimizer.nesterov, **common
        )
    if optimizer.name == "rmsprop":
        return keras.optimizers.RMSprop(momentum=optimizer.momentum, epsilon=1e-3, **common)
    return keras.optimizers.AdamW(**common)
