"""The transformer encoder block, exactly as the official Compact Transformers code orders it."""

import keras
from keras import ops

# Official init: trunc_normal_(std=0.02) with +-2 absolute cut-offs, i.e. a plain normal.
LINEAR_INITIALIZER = keras.initializers.RandomNormal(stddev=0.02)
# PyTorch's LayerNorm default; Keras' is 1e-3.
LAYER_NORM_EPSILON = 1e-5


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

    The official attention projects q, k, v without bias but the output with one; Keras'
    `MultiHeadAttention(use_bias=...)` switches all four together, so it runs without bias
    and this block adds the output bias itself.
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

        self.pre_norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="pre_norm")
        self.attention = keras.layers.MultiHeadAttention(
            num_heads,
            key_dim=embed_dim // num_heads,
            dropout=attention_dropout,
            use_bias=False,
            kernel_initializer=LINEAR_INITIALIZER,
            name="attention",
        )
        self.attention_dropout_layer = keras.layers.Dropout(dropout)
        self.norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="norm")
        self.mlp_hidden = keras.layers.Dense(
            int(embed_dim * mlp_ratio), activation="gelu", kernel_initializer=LINEAR_INITIALIZER, name="mlp_hidden"
        )
        self.mlp_hidden_dropout = keras.layers.Dropout(dropout)
        self.mlp_output = keras.layers.Dense(embed_dim, kernel_initializer=LINEAR_INITIALIZER, name="mlp_output")
        self.mlp_output_dropout = keras.layers.Dropout(dropout)
        self.drop_path = StochasticDepth(drop_path_rate)

    def build(self, input_shape):
        self.pre_norm.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.attention_output_bias = self.add_weight(
            shape=(self.embed_dim,), initializer="zeros", name="attention_output_bias"
        )
        self.norm.build(input_shape)
        self.mlp_hidden.build(input_shape)
        self.mlp_output.build(tuple(input_shape[:-1]) + (int(self.embed_dim * self.mlp_ratio),))

    def call(self, x, training=False):
        normed = self.pre_norm(x)
        attended = self.attention(normed, normed, training=training) + self.attention_output_bias
        x = x + self.drop_path(self.attention_dropout_layer(attended, training=training), training=training)
        x = self.norm(x)
        hidden = self.mlp_hidden_dropout(self.mlp_hidden(x), training=training)
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
