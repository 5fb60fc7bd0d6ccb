from __future__ import annotations

import os
import warnings

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", module="optuna")


@pytest.fixture(scope="session")
def converted():
    """30 sampled architectures of every search space, trained-like weights, converted once per session."""
    from search_spaces import SPACES
    from tests.helpers import converted_samples

    return [pair for space in SPACES for pair in converted_samples(30, seed=2024, space=space)]
