import os

# Notebooks executed by nbval inherit this environment: they run in smoke mode. This file sits
# at the root so that `pytest notebooks/`, and pytest started in any folder, applies it too.
os.environ.setdefault("CCT_SMOKE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest


@pytest.fixture
def images():
    """Eight random 32x32 RGB images with pixel values 0-255."""
    return np.random.default_rng(0).integers(0, 256, size=(8, 32, 32, 3)).astype("float32")
