"""Sequence Pooling (SeqPool): CVT's and CCT's replacement for the class token."""

import keras
from keras import ops

from helpers.layers import initializers


@keras.saving.register_keras_serializable(package="cct")
class SeqPool(keras.layers.Layer):
    """Attention-weighted average of the output tokens: (B, N, D) -> (B, D).

        w = softmax(x g)  over the N tokens, g in R^(D x 1)
        z = w^T x

    The only parameters are g and its bias (D + 1 numbers). `call(x, return_weights=True)`
    also returns w, shape (B, N), which sums to 1 over the tokens and shows where the
    model looks. The softmax runs in float32 even in a mixed-precision model: it is tiny, and
    bfloat16 weights would sum to 1 only within about 1%.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.score = keras.layers.Dense(1, kernel_initializer=initializers.linear(), name="score", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.score.build(input_shape)

    def call(self, tokens, return_weights=False):
        weights = ops.softmax(ops.cast(self.score(tokens), "float32"), axis=1)  # (B, N, 1)
        pooled = ops.sum(ops.cast(weights, tokens.dtype) * tokens, axis=1)
        if return_weights:
            return pooled, ops.squeeze(weights, axis=-1)
        return pooled

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
