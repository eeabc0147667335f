"""Compact Transformers, step by step: what the notebooks build, kept importable.

The lesson, at the top (read these):

    layers/            the layers the paper adds: tokenizers, position embedding, class token,
                       the encoder block, SeqPool (and ResNet-20's residual block, a baseline)
    models.py          one general builder, the paper's named variants as a table, create_model
    data.py            CIFAR-10: loading it, its classes and statistics
    recipes.py         training recipes as data, the learning-rate schedule, compile_model
    published.py       the published numbers, each with its epochs and source
    attention_maps.py  where a trained model attends (weights, rollout, distance) and its figures
    tokenizer_shifts.py  how tokens change when the image moves
    explanations.py  which tokens a decision rests on: relevance maps, deletion and insertion (notebook 07)

The two entry points the notebooks call:

    train.py           train(): one model end to end (also `python -m helpers.train`)
    notebook.py        a notebook's run settings, smoke mode, the runs it shares with later ones

The machinery, in subpackages a student can skip:

    runtime/           backend and devices, input checks, the model class create_model returns
                       (checks, padding, on-device augmentation around the plain model), weight
                       files, run folders that survive kills, the resumable fit loop, budgets
    pipeline/          feeding training: the augmentation's random draws (NumPy), its pixel work
                       on the device (keras.ops), batches for model.fit, and tf.data on a CPU
    figures/           plots, architecture diagrams, the training recipe's figures
    experiments/       benchmark, data efficiency, the recipe ablation and their records

Importing `helpers` picks the Keras backend when none is set (`runtime.backend.choose_backend`),
so import it before Keras.
"""

import sys
from pathlib import Path

from helpers.runtime.backend import choose_backend

__version__ = "0.3.0"

# The distribution's name (pyproject.toml), which the notebooks' set-up cell also checks on the
# imported `helpers`, so that a reader's own helpers.py is not mistaken for this package.
PROJECT = "compact-transformers-step-by-step"

# What the notebooks' set-up cell installs in Colab: this repository at the release tagged
# v<__version__>. A fork changes the address here, then runs `python scripts/sync_setup_cell.py`.
INSTALL_SOURCE = f"git+https://github.com/compact-transformers/step-by-step@v{__version__}"

# What ships inside the package: trained weights, the CIFAR-10 sample, the records notebooks read.
ASSETS = Path(__file__).parent / "assets"

choose_backend()
# Python sets sys.argv[0] to "-m" while it locates the module of `python -m helpers.train` (and the
# other command lines): there, start the framework as the notebooks' set-up cell does, without its
# C++ start-up lines.
if sys.argv[:1] == ["-m"]:
    from helpers.runtime.device import prepare

    prepare(verbose=False)
