"""How healthy a VT is, per VT module: token diversity, tokenizer attention entropy, scales.

A VT whose tokens all look alike is one attention pool with extra cost: Wu et al.'s equations
on post-ReLU features give tokens with a mean pairwise cosine near 1 (docs/models.md, "VT
variants for small data"). These numbers say whether a model's tokens differ, whether its
tokenizers pool regions or the whole image, and whether its residual updates are in scale with
what they update. The Trainer logs them every epoch (`VTHealthLog`).
"""

from __future__ import annotations

import math

import tensorflow as tf
import tf_keras as keras

from models.layers.vt import VTModule


def vt_modules(model: keras.Model) -> list[VTModule]:
    """The model's VT modules in order (none for a CNN)."""
    return [layer for layer in model.layers if isinstance(layer, VTModule)]


def trace_vt_modules(
    model: keras.Model, images: tf.Tensor, training: bool = False
) -> list[dict[str, tf.Tensor]]:
    """`VTModule.trace` of every VT module of `model` on `images` [B, H, W, 3], in order.

    training=True runs the layers before the VT modules as in a training step (BatchNorm on
    the batch's statistics, which it also folds into its moving averages): the way to look at
    a model before it has been trained, whose moving averages are still their initial values.
    """
    modules = vt_modules(model)
    if not modules:
        return []
    probe = keras.Model(model.inputs, [module.input for module in modules])
    inputs = probe(images, training=training)
    if len(modules) == 1:
        inputs = [inputs]
    return [module.trace(x) for module, x in zip(modules, inputs, strict=True)]


def token_cosine(tokens: tf.Tensor) -> float:
    """Mean cosine similarity over pairs of distinct tokens, averaged over images.

    tokens [B, L, C]. 1 means every token is the same vector (collapse), 0 orthogonal tokens.
    """
    unit = tf.math.l2_normalize(tokens, axis=-1)
    cosines = tf.einsum("blc,bmc->blm", unit, unit)
    num_tokens = tokens.shape[1]
    off_diagonal = tf.reduce_sum(cosines, axis=[1, 2]) - tf.linalg.trace(cosines)
    return float(tf.reduce_mean(off_diagonal) / (num_tokens * (num_tokens - 1)))


def attention_entropy(attention: tf.Tensor) -> float:
    """Entropy of each token's pooling over the HW pixels, as a fraction of log(HW).

    attention [B, HW, L], each column summing to 1. 1 is a uniform pool (every token the
    image's mean pixel); small values are tokens that each pool a few pixels.
    """
    entropy = -tf.reduce_sum(attention * tf.math.log(attention + 1e-12), axis=1)
    return float(tf.reduce_mean(entropy) / math.log(attention.shape[1]))


def mixing_entropy(attention: tf.Tensor) -> float:
    """Entropy of each token's attention over the tokens, as a fraction of log(L).

    attention [B, heads, L, L], rows summing to 1. Near 0 every token reads one token alone:
    the attention has saturated, and when they all read the same one the tokens collapse
    into it.
    """
    entropy = -tf.reduce_sum(attention * tf.math.log(attention + 1e-12), axis=-1)
    return float(tf.reduce_mean(entropy) / math.log(attention.shape[-1]))


def rms(x: tf.Tensor) -> float:
    """Root mean square of all entries."""
    return float(tf.sqrt(tf.reduce_mean(tf.square(tf.cast(x, tf.float32)))))


def vt_health(model: keras.Model, images: tf.Tensor, training: bool = False) -> dict[str, float]:
    """Health numbers of every VT module of `model` on `images`, keyed "vt<i>_<metric>".

    Per module i: token_cosine (of the module's output tokens; the last module's are what the
    head reads), attention_entropy (its tokenizer's), mixing_entropy (its transformer's
    attention over the tokens), rms (of the feature map it reads),
    token_update (RMS of the transformer's change to the tokens / RMS of its input tokens) and,
    when it has a projector, map_update (RMS of the projector's change to the feature map /
    RMS of the map). Empty for a model without VT modules. `training` as in
    `trace_vt_modules`.
    """
    health = {}
    for i, steps in enumerate(trace_vt_modules(model, images, training), start=1):
        health[f"vt{i}_token_cosine"] = token_cosine(steps["tokens"])
        health[f"vt{i}_attention_entropy"] = attention_entropy(steps["tokenizer_attention"])
        health[f"vt{i}_mixing_entropy"] = mixing_entropy(steps["transformer_attention"])
        health[f"vt{i}_rms"] = rms(steps["x_in"])
        token_change = steps["tokens"] - steps["tokens_in"]
        health[f"vt{i}_token_update"] = rms(token_change) / rms(steps["tokens_in"])
        if "projector_attention" in steps:
            map_change = steps["x_out"] - steps["x_in"]
            health[f"vt{i}_map_update"] = rms(map_change) / rms(steps["x_in"])
    return health
