"""VT-ResNet (Wu et al. 2020, Sec. 4.1): a ResNet whose last stage is replaced by VT modules."""

from __future__ import annotations

from collections.abc import Sequence

import tf_keras as keras
from tf_keras import layers

from models.layers.averaged_probabilities import AveragedProbabilities
from models.layers.vt import SplitDistillationToken, VTModule
from models.resnet import classifier_head, resnet_features

CLASS_HEAD = "logits"  # the Dense layer of `classifier_head`
DISTILLATION_HEAD = "distillation_logits"


def build_vt_resnet(
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    depths: Sequence[int],
    widths: Sequence[int],
    block: str = "basic",
    stem: str = "imagenet",
    num_vt_modules: int,
    num_tokens: int = 16,
    token_channels: int | None = None,
    num_heads: int = 1,
    key_channels: int | None = None,
    ffn_channels: int | None = None,
    projector_channels: int | None = None,
    replaced_stages: int = 1,
    tokenizer_norm: bool = False,
    vt_norm: bool = False,
    gain_init: float | None = None,
    vt_dropout: float = 0.0,
    zero_head: bool = False,
    qk_norm: bool = False,
    distillation_token: bool = False,
    survival_prob: float = 1.0,
    dropout: float = 0.0,
    name: str = "vt_resnet",
) -> keras.Model:
    """VT-ResNet classifier: image [B, H, W, 3] -> logits [B, num_classes].

    depths and widths are the four-stage tables of the ResNet being modified (e.g. ResNet-18's).
    Its stem and first three stages are built (the paper's stages 1-4); the fourth stage is
    replaced by `num_vt_modules` VT modules working on the third stage's feature map
    [B, H', W', widths[2] * expansion]. The first module uses the filter-based tokenizer, the
    others the recurrent one fed the previous module's tokens. The head averages the last
    module's L tokens [B, L, Ct] and maps them to logits; that module skips its projector,
    whose output the head would not read.

    The VT knobs (num_tokens, token_channels, num_heads, key_channels, ffn_channels,
    projector_channels) are those of `VTModule`; survival_prob (stochastic depth of the ResNet
    blocks and of the VT modules' residual branches) and dropout (before the classifier) are
    those of `build_resnet`.

    Not in the paper, off by default (docs/models.md, "VT variants for small data"):
    replaced_stages=2 puts the VT modules after the second stage (twice the resolution);
    tokenizer_norm and vt_norm are `VTModule`'s tokenizer_norm and norm, and vt_norm also
    LayerNorms the last tokens before the head; gain_init and vt_dropout are the modules'
    residual-branch gain and dropout; zero_head starts the classifier at zero, so the initial
    loss is ln(num_classes); qk_norm LayerNorms the transformers' keys and queries (`VTModule`);
    distillation_token adds DeiT's distillation token (`VTModule`)
    and its own linear head "distillation_logits" beside the class head "logits" (both read
    by `distillation_heads`), and the model answers with their averaged probabilities.
    """
    if len(depths) != 4 or len(widths) != 4:
        raise ValueError(f"Expected four-stage ResNet tables, got {depths=} {widths=}.")
    if num_vt_modules < 1:
        raise ValueError(f"num_vt_modules must be >= 1, got {num_vt_modules}.")
    if replaced_stages not in (1, 2):
        raise ValueError(f"replaced_stages must be 1 or 2, got {replaced_stages}.")
    kept = 4 - replaced_stages
    inputs = keras.Input(input_shape, name="image")
    x = resnet_features(
        inputs,
        depths=depths[:kept],
        widths=widths[:kept],
        block=block,
        stem=stem,
        survival_prob=survival_prob,
    )
    tokens = None
    for i in range(num_vt_modules):
        module = VTModule(
            num_tokens=num_tokens,
            token_channels=token_channels,
            num_heads=num_heads,
            key_channels=key_channels,
            ffn_channels=ffn_channels,
            projector_channels=projector_channels,
            recurrent=i > 0,
            project=i < num_vt_modules - 1,
            tokenizer_norm=tokenizer_norm,
            norm=vt_norm,
            gain_init=gain_init,
            dropout=vt_dropout,
            survival_prob=survival_prob,
            qk_norm=qk_norm,
            distillation_token=distillation_token,
            name=f"vt{i + 1}",
        )
        x, tokens = module(x if tokens is None else [x, tokens])
    if vt_norm:
        tokens = layers.LayerNormalization(epsilon=1e-5, name="token_norm")(tokens)
    if distillation_token:
        tokens, token = SplitDistillationToken(name="split_distillation_token")(tokens)
    x = layers.GlobalAveragePooling1D(name="token_pool")(tokens)
    head_init = "zeros" if zero_head else "glorot_uniform"
    logits = classifier_head(x, num_classes, dropout, kernel_initializer=head_init)
    if distillation_token:
        distillation_logits = layers.Dense(
            num_classes, kernel_initializer=head_init, name=DISTILLATION_HEAD, dtype="float32"
        )(token)
        logits = AveragedProbabilities(name="averaged_logits")([logits, distillation_logits])
    return keras.Model(inputs, logits, name=name)


def distillation_heads(model: keras.Model) -> keras.Model | None:
    """The class and distillation heads of a VT built with a distillation token, as one model:
    image -> (class logits, distillation logits), sharing `model`'s layers; None for a model
    without a distillation token."""
    names = {layer.name for layer in model.layers}
    if DISTILLATION_HEAD not in names:
        return None
    heads = [model.get_layer(CLASS_HEAD).output, model.get_layer(DISTILLATION_HEAD).output]
    return keras.Model(model.inputs, heads, name=f"{model.name}_heads")
