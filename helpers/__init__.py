"""Compact Transformers, step by step: what the notebooks build, kept importable.

Modules: `layers` (tokenizers, embeddings, SeqPool, encoder), `models` (the paper's named
variants), `data` (CIFAR-10 and tf.data pipelines), `training` (recipes, compile, fit),
`plotting`, `runtime` (smoke mode, seeds, TPU/GPU/CPU strategy).
"""

__version__ = "0.1.0"
