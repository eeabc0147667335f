"""Compact Transformers, step by step: what the notebooks build, kept importable.

Modules: `layers` (tokenizers, embeddings, SeqPool, encoder), `models` (the paper's named
variants), `data` (CIFAR-10 and its input pipelines), `recipes` (training recipes, schedule,
compile), `train` (train one model: the loop, run folders, the command line), `plotting`,
`device` (backend, precision, distribution), `notebook` (a notebook's run settings, sharing runs).

Importing `helpers` picks the Keras backend when none is set (`device.choose_backend`), so
import it before Keras.
"""

from helpers.device import choose_backend

__version__ = "0.1.0"

choose_backend()
