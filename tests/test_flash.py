"""The pre-conversion flash estimate against the exact .tflite size."""

from __future__ import annotations

from cost_models.flash import estimate_flash_bytes
from cost_models.keras_graph import graph_from_keras


def test_flash_estimate_within_2_percent(converted):
    worst = 0.0
    for model, tflite in converted:
        err = abs(estimate_flash_bytes(graph_from_keras(model)) - len(tflite)) / len(tflite)
        worst = max(worst, err)
    assert worst <= 0.02, f"worst relative error {worst:.2%}"
