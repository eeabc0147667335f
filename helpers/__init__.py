"""Compact Transformers, step by step: what the notebooks build, kept importable.

Modules: `layers` (tokenizers, embeddings, SeqPool, encoder), `models` (the paper's named
variants), `data` (CIFAR-10 and its input pipelines), `recipes` (training recipes, schedule,
compile), `train` (one model end to end: time budgets, the loop, run folders, the command line),
`device` (Keras backend, precision, TPU/GPU/CPU strategy), `notebook` (run settings, smoke mode,
runs shared between notebooks), `plotting`, `paper` (the published numbers), `benchmark`,
`data_efficiency`.

Importing `helpers` picks the Keras backend when none is set (`device.choose_backend`), so
import it before Keras.
"""

from helpers.device import choose_backend

__version__ = "0.2.0"

# The distribution's name (pyproject.toml), which the notebooks' set-up cell also checks on the
# imported `helpers`, so that a reader's own helpers.py is not mistaken for this package.
PROJECT = "compact-transformers-step-by-step"

# What the notebooks' set-up cell installs in Colab: this repository at the release tagged
# v<__version__>. A fork changes the address here, then runs `python scripts/sync_setup_cell.py`.
INSTALL_SOURCE = f"git+https://github.com/compact-transformers/step-by-step@v{__version__}"

choose_backend()
