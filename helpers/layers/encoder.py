"""The transformer encoder block, exactly as the official Compact Transformers code orders it."""


import keras
from keras import ops

from helpers.layers import initializers
from helpers.layers.normalization import LayerNorm

# PyTorch's LayerNorm default; Keras' is 1e-3.
LAYER_NORM_EPSILON = 1e-5


def dropout(x, rate, seed):
    """`keras.random.dropout`, but with the random numbers drawn in float32 whatever x's dtype:
    drawing them in bfloat16, as Keras does for a bfloat16 x, is 2.5 times slower on a CPU."""
    keep = keras.random.uniform(ops.shape(x), seed=seed) >= rate
    return ops.where(keep, x * ops.cast(1.0 / (1.0 - rate), x.dtype), ops.zeros_like(x))


@keras.saving.register_keras_serializable(package="cct")
class StochasticDepth(keras.layers.Layer):
    """Drops a residual branch for a whole sample with probability `rate` (training only).

    Kept samples are scaled by 1 / (1 - rate) so the expectation is unchanged. Keras'
    equivalent is `Dropout(rate, noise_shape=(batch, 1, 1))`: one coin per sample.
    """

    def __init__(self, rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"StochasticDepth rate must be in [0, 1), got {rate}.")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        noise_shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        return keras.random.dropout(x, self.rate, noise_shape=noise_shape, seed=self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="cct")
class TransformerEncoder(keras.layers.Layer):
    """One encoder block, in the official code's order (pre-norm attention, post-norm MLP):

        x = x + DropPath(MHA(LN0(x)))
        x = LN1(x)
        x = x + DropPath(MLP(x)),   MLP = Dense(mlp_ratio * D) -> GELU -> Dense(D)

    Attention is computed as the official code does: one bias-free projection to q, k, v,
    softmax(q k^T / sqrt(d)) with dropout, times v, then an output projection with bias.
    Keras' `MultiHeadAttention` computes the same function with three separate projections,
    which measured slower on a CPU (notebook 02 shows the two agree).
    """

    def __init__(
        self,
        embed_dim,
        num_heads,
        mlp_ratio=2.0,
        attention_dropout=0.1,
        dropout=0.0,
        drop_path_rate=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}.")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.drop_path_rate = drop_path_rate
        sublayer = dict(dtype=self.dtype_policy)  # a mixed-precision block is mixed all through

        self.pre_norm = LayerNorm(epsilon=LAYER_NORM_EPSILON, name="pre_norm", **sublayer)
        self.qkv = keras.layers.Dense(
            3 * embed_dim, use_bias=False, kernel_initializer=initializers.linear(), name="qkv", **sublayer
        )
        self.attention_projection = keras.layers.Dense(
            embed_dim, kernel_initializer=initializers.linear(), name="attention_projection", **sublayer
        )
        self.attention_seed = keras.random.SeedGenerator()
        self.attention_dropout_layer = keras.layers.Dropout(dropout, **sublayer)
        self.norm = LayerNorm(epsilon=LAYER_NORM_EPSILON, name="norm", **sublayer)
        self.mlp_hidden = keras.layers.Dense(
            int(embed_dim * mlp_ratio), kernel_initializer=initializers.linear(), name="mlp_hidden", **sublayer
        )
        # Exact GELU (erf), always in float32: on a CPU, erf in bfloat16 costs three times as much.
        self.mlp_activation = keras.layers.Activation("gelu", name="mlp_activation", dtype="float32")
        self.mlp_hidden_dropout = keras.layers.Dropout(dropout, **sublayer)
        self.mlp_output = keras.layers.Dense(embed_dim, kernel_initializer=initializers.linear(), name="mlp_output", **sublayer)
        self.mlp_output_dropout = keras.layers.Dropout(dropout, **sublayer)
        self.drop_path = StochasticDepth(drop_path_rate, **sublayer)

    def build(self, input_shape):
        self.pre_norm.build(input_shape)
        self.qkv.build(input_shape)
        self.attention_projection.build(input_shape)
        self.norm.build(input_shape)
        self.mlp_hidden.build(input_shape)
        self.mlp_output.build(tuple(input_shape[:-1]) + (int(self.embed_dim * self.mlp_ratio),))

    def _weights_and_values(self, x):
        batch_size, length = ops.shape(x)[0], x.shape[1]
        head_dim = self.embed_dim // self.num_heads
        qkv = ops.reshape(self.qkv(x), (batch_size, length, 3, self.num_heads, head_dim))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))  # (3, batch, heads, length, head_dim)
        # unstack, not qkv[0], qkv[1], qkv[2]: the gradient of indexing writes three full-size
        # zero tensors, which made this block's backward pass twice as slow on a CPU.
        query, key, value = ops.unstack(qkv, 3, axis=0)
        # Scaling the queries equals scaling the scores, on length / head_dim times fewer values.
        scores = ops.matmul(query * ops.cast(head_dim**-0.5, query.dtype), ops.transpose(key, (0, 1, 3, 2)))
        return ops.softmax(scores, axis=-1), value

    def attention_weights(self, x):
        """softmax(q k^T / sqrt(d)) of the (already normalised) tokens x, shape (batch, heads,
        length, length): row i is how much token i takes from each token (no dropout)."""
        return self._weights_and_values(x)[0]

    def self_attention(self, x, training=False):
        batch_size, length = ops.shape(x)[0], x.shape[1]
        weights, value = self._weights_and_values(x)
        if training and self.attention_dropout > 0:
            weights = dropout(weights, self.attention_dropout, self.attention_seed)
        heads = ops.transpose(ops.matmul(weights, value), (0, 2, 1, 3))  # (batch, length, heads, head_dim)
        return self.attention_projection(ops.reshape(heads, (batch_size, length, self.embed_dim)))

    def call(self, x, training=False):
        attended = self.self_attention(self.pre_norm(x), training=training)
        x = x + self.drop_path(self.attention_dropout_layer(attended, training=training), training=training)
        x = self.norm(x)
        hidden = self.mlp_hidden_dropout(self.mlp_activation(self.mlp_hidden(x)), training=training)
        mlp = self.mlp_output_dropout(self.mlp_output(hidden), training=training)
        return x + self.drop_path(mlp, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "mlp_ratio": self.mlp_ratio,
            "attention_dropout": self.attention_dropout,
            "dropout": self.dropout,
            "drop_path_rate": self.drop_path_rate,
        }

