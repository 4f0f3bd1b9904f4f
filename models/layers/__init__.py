"""Custom Keras layers."""

from models.layers.vt import (
    FilterTokenizer,
    Projector,
    RecurrentTokenizer,
    TokenTransformer,
    VTModule,
)

__all__ = ["FilterTokenizer", "Projector", "RecurrentTokenizer", "TokenTransformer", "VTModule"]
