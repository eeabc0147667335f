"""The lesson's own layers, one module per concept; each saves with the model (`get_config`).
Notebook 07's involution layers are imported from `helpers.layers.involution`, only where used."""

from helpers.layers.embeddings import ClassToken, ClassTokenReadout, PositionEmbedding, sinusoidal_table
from helpers.layers.normalization import LayerNorm
from helpers.layers.encoder import StochasticDepth, TransformerEncoder
from helpers.layers.pooling import SeqPool
from helpers.layers.tokenizers import ConvTokenizer, PatchTokenizer

__all__ = [
    "ClassToken",
    "ClassTokenReadout",
    "ConvTokenizer",
    "LayerNorm",
    "PatchTokenizer",
    "PositionEmbedding",
    "SeqPool",
    "StochasticDepth",
    "TransformerEncoder",
    "sinusoidal_table",
]
