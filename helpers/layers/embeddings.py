"""Position information and the class token."""

import numpy as np

import keras
from keras import ops

from helpers.layers import initializers

POSITION_EMBEDDINGS = ("learnable", "sine", "none")


def sinusoidal_table(sequence_length, embed_dim):
    """The fixed sine/cosine table of Vaswani et al., shape (sequence_length, embed_dim)."""
    positions = np.arange(sequence_length, dtype=np.float64)[:, None]
    pair_index = np.arange(embed_dim) // 2
    angles = positions / np.power(10000.0, 2 * pair_index / embed_dim)[None, :]
    table = np.where(np.arange(embed_dim) % 2 == 0, np.sin(angles), np.cos(angles))
    return table.astype("float32")


@keras.saving.register_keras_serializable(package="cct")
class PositionEmbedding(keras.layers.Layer):
    """Adds a position embedding to a token sequence (B, N, D).

    kind="learnable": a trainable (N, D) table, normal with std 0.2.
    kind="sine": the fixed sinusoidal table (not trainable, so not counted as parameters).
    kind="none": no position information at all.
    """

    def __init__(self, kind="learnable", **kwargs):
        super().__init__(**kwargs)
        if kind not in POSITION_EMBEDDINGS:
            raise ValueError(f"Unknown position embedding {kind!r}: choose one of {POSITION_EMBEDDINGS}.")
        self.kind = kind

    def build(self, input_shape):
        _, sequence_length, embed_dim = input_shape
        if self.kind == "learnable":
            self.embedding = self.add_weight(
                shape=(sequence_length, embed_dim),
                initializer=initializers.position_embedding(),
                name="embedding",
            )
        elif self.kind == "sine":
            table = sinusoidal_table(sequence_length, embed_dim)
            self.embedding = self.add_weight(
                shape=table.shape,
                initializer=keras.initializers.Constant(table),
                trainable=False,
                name="embedding",
            )

    def call(self, tokens):
        if self.kind == "none":
            return tokens
        return tokens + ops.cast(self.embedding, tokens.dtype)[None]

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


@keras.saving.register_keras_serializable(package="cct")
class ClassToken(keras.layers.Layer):
    """Prepends one learnable token (B, N, D) -> (B, N + 1, D); ViT reads the class from it."""

    def build(self, input_shape):
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), initializer="zeros", name="token")

    def call(self, tokens):
        batch_size = ops.shape(tokens)[0]
        token = ops.broadcast_to(ops.cast(self.token, tokens.dtype), (batch_size, 1, tokens.shape[-1]))
        return ops.concatenate([token, tokens], axis=1)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], length, input_shape[2])


@keras.saving.register_keras_serializable(package="cct")
class ClassTokenReadout(keras.layers.Layer):
    """(B, N + 1, D) -> (B, D): the class token's output, which the classifier reads."""

    def call(self, tokens):
        return tokens[:, 0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
