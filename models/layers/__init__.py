"""Custom Keras layers (importing this package registers them all for Keras' loading)."""

from models.layers.residual import ResidualBranch
from models.layers.stochastic_depth import StochasticDepth
from models.layers.vt import (
    FilterTokenizer,
    Projector,
    RecurrentTokenizer,
    TokenTransformer,
    VTModule,
)

__all__ = [
    "FilterTokenizer",
    "Projector",
    "RecurrentTokenizer",
    "ResidualBranch",
    "StochasticDepth",
    "TokenTransformer",
    "VTModule",
]
