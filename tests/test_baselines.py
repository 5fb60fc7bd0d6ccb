"""The hand-made baselines at equal cost (nas.baselines): each published architecture, shrunk and strided by
the cost models until it fits, is a model the search's own pipeline converts and runs in TFLM."""

from __future__ import annotations

import numpy as np
import pytest

from cost_models import DEVICES, Budget


@pytest.mark.parametrize("name", ["fcn", "resnet", "dscnn"])
def test_a_fitted_baseline_fits_its_budget_converts_and_runs_in_tflm(name):
    from cost_models import estimate
    from cost_models.tflite_reader import read_tflite
    from nas.baselines import Baseline, fit
    from nas.quantize import Int8Model, to_int8_tflite
    from tests.helpers import randomize_weights

    budget = Budget(max_latency_ms=10.0)
    baseline, cost = fit(name, (150, 1), 3, DEVICES["nano33"], budget)
    assert not any(v > 0 for v in cost.violations(budget).values())
    full = Baseline(name, 1, (1, 1, 1))
    assert (baseline.divisor, baseline.strides) != (full.divisor, full.strides)  # the published size does not fit
    model = baseline.build((150, 1), 3)
    randomize_weights(model)
    x = np.random.default_rng(0).normal(size=(8, 1, 150, 1)).astype(np.float32)
    tflite = to_int8_tflite(model, x)
    shipped = estimate(read_tflite(tflite), DEVICES["nano33"], flash_bytes=len(tflite))
    assert shipped.macs == cost.macs and abs(shipped.latency_ms - cost.latency_ms) < 0.05 * cost.latency_ms
    assert Int8Model(tflite).predict(x[:2, 0]).shape == (2, 3)


def test_an_unknown_baseline_is_named():
    from nas.baselines import fit

    with pytest.raises(ValueError, match="unknown baseline 'lstm'"):
        fit("lstm", (150, 1), 3, DEVICES["nano33"], Budget())
