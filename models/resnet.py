"""ResNet (He et al. 2016) building blocks, shared by ResNet and VT-ResNet (functional API).

Layouts follow torchvision: the stride of a bottleneck sits on its 3x3 conv ("ResNet v1.5"),
shortcuts are 1x1 conv + BN when the shape changes, convs are bias-free and he_normal
initialised, BN uses PyTorch's momentum and epsilon. Layer names follow keras.applications
(``conv1`` is the stem, ``conv2``..``conv5`` the four stages).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tf_keras as keras
from tf_keras import layers

from models.layers.stochastic_depth import StochasticDepth

EXPANSION = {"basic": 1, "bottleneck": 4}


def conv_bn(
    x: tf.Tensor,
    filters: int,
    kernel_size: int,
    *,
    strides: int = 1,
    activation: bool = True,
    name: str,
) -> tf.Tensor:
    """Conv (no bias) + BatchNorm (+ ReLU): [B, H, W, C] -> [B, H / strides, W / strides, filters].

    Strided convs pad kernel_size // 2 on every side, like PyTorch, rather than TF's "same".
    """
    padding = "same"
    if strides > 1 and kernel_size > 1:
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if activation else x


def imagenet_stem(x: tf.Tensor, width: int = 64, name: str = "conv1") -> tf.Tensor:
    """7x7/2 conv + BN + ReLU + 3x3/2 max-pool: [B, H, W, 3] -> [B, H / 4, W / 4, width]."""
    x = conv_bn(x, width, 7, strides=2, name=name)
    x = layers.ZeroPadding2D(1, name=f"{name}_pool_pad")(x)
    return layers.MaxPool2D(3, strides=2, name=f"{name}_pool")(x)


def cifar_stem(x: tf.Tensor, width: int = 64, name: str = "conv1") -> tf.Tensor:
    """3x3/1 conv + BN + ReLU for small images: [B, H, W, 3] -> [B, H, W, width]."""
    return conv_bn(x, width, 3, name=name)


def _shortcut(x: tf.Tensor, channels: int, stride: int, name: str) -> tf.Tensor:
    """Identity, or 1x1 conv + BN when the block changes resolution or channels."""
    if stride == 1 and x.shape[-1] == channels:
        return x
    return conv_bn(x, channels, 1, strides=stride, activation=False, name=f"{name}_0")


def _add_relu(
    shortcut: tf.Tensor, residual: tf.Tensor, survival_prob: float, name: str
) -> tf.Tensor:
    """relu(shortcut + residual), the residual dropped per example by stochastic depth."""
    if survival_prob < 1.0:
        residual = StochasticDepth(survival_prob, name=f"{name}_drop")(residual)
    x = layers.Add(name=f"{name}_add")([shortcut, residual])
    return layers.ReLU(name=f"{name}_out")(x)


def basic_block(
    x: tf.Tensor, width: int, stride: int, name: str, survival_prob: float = 1.0
) -> tf.Tensor:
    """Two 3x3 convs: [B, H, W, C] -> [B, H / stride, W / stride, width]."""
    shortcut = _shortcut(x, width, stride, name)
    y = conv_bn(x, width, 3, strides=stride, name=f"{name}_1")
    y = conv_bn(y, width, 3, activation=False, name=f"{name}_2")
    return _add_relu(shortcut, y, survival_prob, name)


def bottleneck_block(
    x: tf.Tensor, width: int, stride: int, name: str, survival_prob: float = 1.0
) -> tf.Tensor:
    """1x1 -> 3x3 (strided) -> 1x1 expand: [B, H, W, C] -> [B, H / stride, W / stride, 4 width]."""
    channels = width * EXPANSION["bottleneck"]
    shortcut = _shortcut(x, channels, stride, name)
    y = conv_bn(x, width, 1, name=f"{name}_1")
    y = conv_bn(y, width, 3, strides=stride, name=f"{name}_2")
    y = conv_bn(y, channels, 1, activation=False, name=f"{name}_3")
    return _add_relu(shortcut, y, survival_prob, name)


BLOCKS = {"basic": basic_block, "bottleneck": bottleneck_block}
STEMS = {"imagenet": imagenet_stem, "cifar": cifar_stem}


def resnet_stage(
    x: tf.Tensor,
    blocks: int,
    width: int,
    stride: int,
    block_type: str,
    name: str,
    survival_prob: float = 1.0,
) -> tf.Tensor:
    """`blocks` residual blocks, the first strided: -> [B, H / stride, W / stride, width * exp]."""
    block = BLOCKS[block_type]
    for i in range(blocks):
        stride_i = stride if i == 0 else 1
        x = block(x, width, stride_i, name=f"{name}_block{i + 1}", survival_prob=survival_prob)
    return x


def resnet_features(
    x: tf.Tensor,
    *,
    depths: Sequence[int],
    widths: Sequence[int],
    block: str = "basic",
    stem: str = "imagenet",
    survival_prob: float = 1.0,
) -> tf.Tensor:
    """Stem then one stage per (depth, width); every stage after the first halves H and W.

    survival_prob < 1 adds stochastic depth to every residual block (the same probability in
    each block).

    Image [B, H, W, 3] -> feature map [B, H / s, W / s, widths[-1] * expansion], where s is 4
    (imagenet stem) or 1 (cifar stem) times 2 ** (len(depths) - 1).
    """
    if len(depths) != len(widths):
        raise ValueError(f"depths {depths} and widths {widths} must have the same length.")
    if block not in BLOCKS or stem not in STEMS:
        raise ValueError(f"block must be one of {list(BLOCKS)}, stem one of {list(STEMS)}.")
    x = STEMS[stem](x, widths[0])
    for i, (depth, width) in enumerate(zip(depths, widths, strict=True)):
        stride = 1 if i == 0 else 2
        x = resnet_stage(x, depth, width, stride, block, f"conv{i + 2}", survival_prob)
    return x


def classifier_head(
    features: tf.Tensor,
    num_classes: int,
    dropout: float = 0.0,
    kernel_initializer: str = "glorot_uniform",
) -> tf.Tensor:
    """Pooled features [B, C] -> (dropout) -> logits [B, num_classes], float32 under any
    mixed-precision policy so the softmax and loss stay accurate."""
    if dropout:
        features = layers.Dropout(dropout, name="dropout")(features)
    return layers.Dense(
        num_classes, kernel_initializer=kernel_initializer, name="logits", dtype="float32"
    )(features)


def build_resnet(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    depths: Sequence[int],
    widths: Sequence[int],
    block: str = "basic",
    stem: str = "imagenet",
    survival_prob: float = 1.0,
    dropout: float = 0.0,
    name: str = "resnet",
) -> keras.Model:
    """ResNet classifier: image [B, H, W, 3] -> logits [B, num_classes].

    E.g. ResNet-18 is depths (2, 2, 2, 2), widths (64, 128, 256, 512), block "basic".
    survival_prob is the stochastic-depth keep probability of every block, dropout the rate
    before the classifier.
    """
    inputs = keras.Input(input_shape, name="image")
    x = resnet_features(
        inputs, depths=depths, widths=widths, block=block, stem=stem, survival_prob=survival_prob
    )
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, classifier_head(x, num_classes, dropout), name=name)
