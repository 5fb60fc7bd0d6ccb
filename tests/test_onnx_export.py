"""nas.onnx_export: models of every space and baseline, converted to ONNX and run in onnxruntime, give
Keras's outputs within 1e-5, for a batch of inputs (the ONNX batch dimension is free)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tf2onnx", reason="the onnx extra is not installed: pip install 'mcu-nas[onnx]'")
onnxruntime = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (test extra)")


def _max_difference(model, shape, rng) -> float:
    import keras

    from nas.onnx_export import to_onnx

    for layer in model.layers:  # statistics far from (0, 1), so a BatchNormalization written wrong shows
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.3, 3.0, size=layer.moving_variance.shape))
    x = rng.normal(size=(5, *shape)).astype("float32")
    expected = np.concatenate([model(x[i:i + 1], training=False).numpy() for i in range(len(x))])
    session = onnxruntime.InferenceSession(to_onnx(model).SerializeToString())
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert got.shape == expected.shape
    return float(np.abs(got - expected).max())


def test_sampled_spectral_models_match_keras():
    import optuna

    from search_spaces import spectral

    rng = np.random.default_rng(0)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(3))
    for _ in range(6):  # strides, odd "same" pads, pools, separable blocks, both heads
        trial = study.ask()
        model = spectral.build(trial, input_shape=(101, 2), n_outputs=5)
        study.tell(trial, 0.0)
        assert _max_difference(model, (1, 101, 2), rng) <= 1e-5, trial.params


@pytest.mark.parametrize("name", ["fcn", "resnet", "dscnn"])
def test_baselines_match_keras(name):
    from nas.baselines import Baseline

    model = Baseline(name, 8, (3, 2, 1)).build((77, 3), 4)
    assert _max_difference(model, (1, 77, 3), np.random.default_rng(1)) <= 1e-5


def test_an_mlp_student_matches_keras():
    import optuna

    from search_spaces import mlp

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(2))
    for _ in range(3):
        trial = study.ask()
        model = mlp.build(trial, input_shape=(9,), n_outputs=2)
        study.tell(trial, 0.0)
        assert _max_difference(model, (9,), np.random.default_rng(2)) <= 1e-5, trial.params


def test_export_without_the_onnx_package_is_one_line(monkeypatch, capsys, tmp_path):
    import importlib.util

    from nas.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    monkeypatch.chdir(tmp_path)
    assert main(["export", "anything", "--trial", "0", "--onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'mcu-nas[onnx]'" in err[0]
