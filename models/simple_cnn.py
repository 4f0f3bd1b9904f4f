"""A small plain CNN baseline: conv-BN-ReLU + max-pool blocks, then a linear classifier."""

from __future__ import annotations

from collections.abc import Sequence

import tf_keras as keras
from tf_keras import layers

from models.resnet import classifier_head, conv_bn


def build_simple_cnn(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    widths: Sequence[int] = (32, 64, 128),
    dropout: float = 0.0,
    name: str = "simple_cnn",
) -> keras.Model:
    """Image [B, H, W, 3] -> logits [B, num_classes].

    One 3x3 conv-BN-ReLU and a 2x2 max-pool per width, global average pooling, optional
    dropout, dense logits.
    """
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for i, width in enumerate(widths):
        x = conv_bn(x, width, 3, name=f"block{i + 1}")
        x = layers.MaxPool2D(2, name=f"block{i + 1}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, classifier_head(x, num_classes, dropout), name=name)
