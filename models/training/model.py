"""The model a recipe trains: a registered model with the recipe's regularisation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tf_keras as keras

from models import registry
from models.training.recipe import TrainConfig


def build_model(
    name: str,
    *,
    overrides: Mapping[str, Any],
    train: TrainConfig,
    image_size: int,
    num_classes: int,
) -> keras.Model:
    """The registered model `name` for square `image_size` images and `num_classes` classes,
    built with `overrides` (builder keyword arguments), the dropout and stochastic depth of
    `train.regularisation` and the distillation token of `train.distillation`."""
    return registry.build_model(
        name,
        input_shape=(image_size, image_size, 3),
        num_classes=num_classes,
        **{
            **overrides,
            **train.regularisation.model_options(),
            **train.distillation.model_options(),
        },
    )
