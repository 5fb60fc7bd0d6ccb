"""The FCN baseline of benchmarks/fcn_cost.py: the net whose cost it prints is the net it trains."""

from __future__ import annotations

import pytest

from cost_models.keras_graph import graph_from_keras
from tests.helpers import benchmark
from tests.test_symbolic import _strip


@pytest.mark.parametrize(("divisor", "length", "channels", "strides"),
                         [(32, 150, 1, (1, 1, 1)), (16, 60, 3, (1, 1, 1)), (16, 427, 1, (4, 2, 1))])
def test_estimated_fcn_is_the_trained_fcn(divisor, length, channels, strides):
    import keras

    fcn_cost = benchmark("fcn_cost")
    assert fcn_cost.widths(1) == [128, 256, 128] and fcn_cost.widths(32) == [4, 8, 4]
    shape_only = fcn_cost.fcn(fcn_cost.widths(divisor), length, 2, channels, strides=strides)
    real = fcn_cost.fcn(fcn_cost.widths(divisor), length, 2, channels, keras=keras, strides=strides)
    graph = graph_from_keras(shape_only)
    assert _strip(graph) == _strip(graph_from_keras(real))
    conv_lengths = [graph.tensors[op.outputs[0]].shape[2] for op in graph.ops if op.kind == "CONV_2D"]
    expected = []
    for stride in strides:  # SAME padding: each conv divides the length by its stride, rounding up
        length = -(-length // stride)
        expected.append(length)
    assert conv_lengths == expected
