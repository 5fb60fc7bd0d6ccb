"""The shape-only build gives the very graph the real Keras build gives, so estimates can skip Keras."""

from __future__ import annotations

import optuna

from cost_models import symbolic
from cost_models.keras_graph import graph_from_keras
from search_spaces import SPACES


def _strip(graph):
    return ([(t.shape, t.itemsize, t.constant) for t in graph.tensors],
            [(o.kind, o.inputs, o.outputs) for o in graph.ops], graph.inputs, graph.outputs)


def test_symbolic_and_keras_builds_agree_for_every_space():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for space in SPACES.values():
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=11))
        for i in range(30):
            trial = study.ask()
            shape = space.example_shapes[i % len(space.example_shapes)]
            sym = space.build(trial, input_shape=shape, n_outputs=4, keras=symbolic.keras)
            real = space.build(optuna.trial.FixedTrial(trial.params), input_shape=shape, n_outputs=4)
            assert _strip(graph_from_keras(sym)) == _strip(graph_from_keras(real)), trial.params
            study.tell(trial, 0.0)


def test_symbolic_and_keras_builds_agree_for_every_baseline():
    # nas.baselines fits the baselines to a budget on the shape-only build: it must be the graph the model has
    from nas.baselines import NAMES, Baseline

    for name in NAMES:
        for divisor, strides, shape in ((1, (1, 1, 1), (150, 1)), (8, (4, 2, 2), (427, 1)), (32, (16, 2, 1), (29, 12))):
            baseline = Baseline(name, divisor, strides)
            sym = baseline.build(shape, 5, keras=symbolic.keras)
            real = baseline.build(shape, 5)
            assert _strip(graph_from_keras(sym)) == _strip(graph_from_keras(real)), (name, divisor, strides, shape)
