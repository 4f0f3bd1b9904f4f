"""Analytic cost of a model: parameters and multiply-accumulates (MACs) per image.

MACs are counted the way the VT paper's "FLOPs" are (Wu et al. 2020, Table 8; also the usual
ResNet-18 = 1.8 G): one per multiply-add of a convolution, a dense layer or a matrix product
inside a VT module. Normalisation, activations, pooling, additions and softmax are free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import tf_keras as keras

from models.layers.vt import (
    FilterTokenizer,
    Projector,
    RecurrentTokenizer,
    TokenTransformer,
    VTModule,
)

Shape = Sequence[int | None]


def count_params(model: keras.Model) -> int:
    """Trainable parameters (BatchNorm moving statistics are buffers, as in torchvision)."""
    return sum(math.prod(w.shape) for w in model.trainable_weights)


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates of one forward pass of one image through a functional `model`."""
    return sum(layer_macs(layer) for layer in model.layers)


def layer_macs(layer: keras.layers.Layer) -> int:
    """Multiply-accumulates of one image through `layer`, a layer of a functional model."""
    counter = _COUNTERS.get(type(layer))
    return 0 if counter is None else counter(layer, layer.input_shape, layer.output_shape)


def _conv_macs(layer: keras.layers.Conv2D, _: Shape, output_shape: Shape) -> int:
    """Every output pixel costs kh * kw * C_in * C_out / groups (the kernel's size)."""
    _, height, width, _ = output_shape
    return height * width * math.prod(layer.kernel.shape)


def _dense_macs(layer: keras.layers.Dense, input_shape: Shape, _: Shape) -> int:
    """One [C_in, C_out] product per position of the leading (non-batch) axes."""
    return math.prod(input_shape[1:-1]) * math.prod(layer.kernel.shape)


def _vt_module_macs(layer: VTModule, input_shape: Shape, _: Shape) -> int:
    x_shape = input_shape[0] if layer.recurrent else input_shape
    pixels, channels = math.prod(x_shape[1:3]), x_shape[-1]
    extra = 1 if layer.distillation_token else 0  # the transformer's distillation token
    num_tokens = input_shape[1][1] - extra if layer.recurrent else layer.num_tokens
    macs = _tokenizer_macs(layer.tokenizer, pixels, channels, num_tokens)
    macs += _transformer_macs(layer.transformer, num_tokens + extra)
    if layer.projector is not None:
        macs += _projector_macs(layer.projector, pixels, num_tokens)
    return macs


def _tokenizer_macs(
    tokenizer: FilterTokenizer | RecurrentTokenizer, pixels: int, channels: int, tokens: int
) -> int:
    """Filters (W_A, or W_R = T_in W_T->R), pixel logits [HW, L], pooling A^T X, then W_V."""
    filters = 0 if isinstance(tokenizer, FilterTokenizer) else _matmul(tokens, tokenizer.w_tr)
    logits_and_pooling = 2 * pixels * channels * tokens
    values = 0 if tokenizer.w_v is None else _matmul(tokens, tokenizer.w_v)
    return filters + logits_and_pooling + values


def _transformer_macs(transformer: TokenTransformer, tokens: int) -> int:
    """K, Q (and V, O with heads), the [L, L] logits, the mix A V, and the feed-forward."""
    key_channels = transformer.w_k.shape[1]
    channels = transformer.w_k.shape[0]
    projections = sum(
        _matmul(tokens, w)
        for w in (transformer.w_k, transformer.w_q, transformer.w_v, transformer.w_o)
        if w is not None
    )
    attention = tokens * tokens * (key_channels + channels)
    ffn = _matmul(tokens, transformer.w_f1) + _matmul(tokens, transformer.w_f2)
    return projections + attention + ffn


def _projector_macs(projector: Projector, pixels: int, tokens: int) -> int:
    """X W_Q, T W_K, T W_V, pixel-to-token logits [HW, L] and the update A (T W_V)."""
    key_channels, channels = projector.w_q.shape[1], projector.w_v.shape[1]
    projections = _matmul(pixels, projector.w_q)
    projections += _matmul(tokens, projector.w_k) + _matmul(tokens, projector.w_v)
    return projections + pixels * tokens * (key_channels + channels)


def _matmul(rows: int, weight) -> int:
    """[rows, n] @ weight [n, m]."""
    return rows * math.prod(weight.shape)


_COUNTERS: dict[type, Callable[[keras.layers.Layer, Shape, Shape], int]] = {
    keras.layers.Conv2D: _conv_macs,
    keras.layers.Dense: _dense_macs,
    VTModule: _vt_module_macs,
}
