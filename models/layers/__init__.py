"""Custom Keras layers (importing this package registers them all for Keras' loading)."""

from models.layers.averaged_probabilities import AveragedProbabilities
from models.layers.residual import ResidualBranch
from models.layers.stochastic_depth import StochasticDepth
from models.layers.vt import (
    DistillationToken,
    FilterTokenizer,
    Projector,
    RecurrentTokenizer,
    SplitDistillationToken,
    TokenTransformer,
    VTModule,
)

__all__ = [
    "AveragedProbabilities",
    "DistillationToken",
    "FilterTokenizer",
    "Projector",
    "RecurrentTokenizer",
    "ResidualBranch",
    "SplitDistillationToken",
    "StochasticDepth",
    "TokenTransformer",
    "VTModule",
]
