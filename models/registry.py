"""The one map from model name to builder. Add a model with one builder and one line here."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial

import tf_keras as keras

from models.resnet import build_resnet
from models.simple_cnn import build_simple_cnn
from models.vt_resnet import build_vt_resnet

# ResNet variants are data: stage depths, stage widths and block type.
_WIDTHS = (64, 128, 256, 512)
_TINY = {"depths": (1, 1, 1, 1), "widths": (16, 32, 64, 128), "block": "basic"}
_R18 = {"depths": (2, 2, 2, 2), "widths": _WIDTHS, "block": "basic"}
_R34 = {"depths": (3, 4, 6, 3), "widths": _WIDTHS, "block": "basic"}
_R50 = {"depths": (3, 4, 6, 3), "widths": _WIDTHS, "block": "bottleneck"}
_R101 = {"depths": (3, 4, 23, 3), "widths": _WIDTHS, "block": "bottleneck"}
# VT widths chosen so params and MACs at 224 px land within 4% of the paper's Table 8 (the
# paper does not give them per model; docs/models.md shows the numbers). All use L = 16.
_VT18 = {"num_tokens": 16, "token_channels": 1024}  # the paper's defaults otherwise
_VT34 = {"num_tokens": 16, "token_channels": 768, "ffn_channels": 1536}
_VT50 = {"num_tokens": 16, "token_channels": 768, "key_channels": 768, "projector_channels": 64}
# Tiny: Ct = 160 brings the VT to the CNN's parameter count (docs/models.md).
_VT_TINY = {"num_tokens": 16, "token_channels": 160}

_REGISTRY: dict[str, Callable[..., keras.Model]] = {
    "simple_cnn": build_simple_cnn,
    "resnet_tiny": partial(build_resnet, **_TINY, stem="cifar"),
    "vt_resnet_tiny": partial(build_vt_resnet, **_TINY, **_VT_TINY, stem="cifar", num_vt_modules=2),
    "resnet18": partial(build_resnet, **_R18, stem="imagenet"),
    "resnet34": partial(build_resnet, **_R34, stem="imagenet"),
    "resnet50": partial(build_resnet, **_R50, stem="imagenet"),
    "resnet101": partial(build_resnet, **_R101, stem="imagenet"),
    "vt_resnet18": partial(build_vt_resnet, **_R18, **_VT18, stem="imagenet", num_vt_modules=2),
    "vt_resnet34": partial(build_vt_resnet, **_R34, **_VT34, stem="imagenet", num_vt_modules=3),
    "vt_resnet50": partial(build_vt_resnet, **_R50, **_VT50, stem="imagenet", num_vt_modules=3),
    "vt_resnet101": partial(build_vt_resnet, **_R101, **_VT50, stem="imagenet", num_vt_modules=3),
    "resnet18_cifar": partial(build_resnet, **_R18, stem="cifar"),
    "vt_resnet18_cifar": partial(build_vt_resnet, **_R18, **_VT18, stem="cifar", num_vt_modules=2),
}


def list_models() -> list[str]:
    """Names accepted by `build_model`, sorted."""
    return sorted(_REGISTRY)


def build_model(
    name: str, *, input_shape: tuple[int, int, int], num_classes: int, **overrides
) -> keras.Model:
    """Builds the registered model `name`: image "image" [B, *input_shape] -> "logits".

    `overrides` replace the builder's registered keyword arguments (e.g. num_tokens=8).
    """
    if name not in _REGISTRY:
        raise ValueError(f"Unknown model {name!r}. Known models: {', '.join(list_models())}.")
    builder = _REGISTRY[name]
    accepted = set(inspect.signature(builder).parameters) - {"input_shape", "num_classes"}
    unknown = sorted(set(overrides) - accepted)
    if unknown:
        raise ValueError(
            f"Model {name!r} has no option {', '.join(unknown)}; "
            f"it takes {', '.join(sorted(accepted))}."
        )
    kwargs = {"name": name, **overrides}
    return builder(input_shape=input_shape, num_classes=num_classes, **kwargs)
