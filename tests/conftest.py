from __future__ import annotations

import os
import warnings

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", module="optuna")


@pytest.fixture(scope="session")
def converted():
    """30 sampled spectral architectures with trained-like weights, converted once per session."""
    from tests.helpers import converted_samples

    return list(converted_samples(30, seed=2024))
