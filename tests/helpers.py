"""Shared test helpers: sampled architectures, converted with non-zero weights as training leaves them;
the benchmark scripts, as modules."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def write_light_curves(path: Path, *, per_class: int = 10, seed: int = 5, length: int = 128, n_train: int = 42) -> Path:
    """An .npz of the built-in light curves (six classes) as a user's data file: the first n_train series for
    training, the rest for test. The defaults are the tiny set the CLI tests search."""
    from nas.lightcurves import generate

    x, y = generate(per_class=per_class, seed=seed, length=length)
    np.savez(path, x_train=x[:n_train], y_train=y[:n_train], x_test=x[n_train:], y_test=y[n_train:])
    return path


def benchmark(name: str):
    """benchmarks/NAME.py loaded as a module (the folder is scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample_models(n: int, seed: int = 0, space: str = "spectral") -> Iterator:
    """(keras model, input_shape) for n random architectures of a space, on its example input shapes."""
    import optuna

    from search_spaces import get_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(seed)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    shapes = get_space(space).example_shapes
    for _ in range(n):
        trial = study.ask()
        shape = shapes[int(rng.integers(len(shapes)))]
        n_out = int(rng.integers(2, 7))
        model = get_space(space).build(trial, input_shape=shape, n_outputs=n_out)
        study.tell(trial, 0.0)
        yield model, shape


def randomize_weights(model, seed: int = 0) -> None:
    """Give every weight, biases included, non-zero values of a trained net's scale (variances positive:
    a negative BatchNormalization variance is NaN after folding and crashes the converter)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([(0.5 + np.abs(v) if "variance" in w.name else v).astype(v.dtype)
                               for w in layer.weights for v in [rng.normal(0, 0.2, w.shape)]])


def converted_samples(n: int, seed: int = 0, space: str = "spectral") -> Iterator:
    """(model, int8 tflite bytes) pairs."""
    from nas.quantize import to_int8_tflite

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for i, (model, _) in enumerate(sample_models(n, seed, space)):
        randomize_weights(model, seed + i)
        rep = np.random.default_rng(i).normal(size=(16, *model.inputs[0].shape[1:])).astype(np.float32)
        yield model, to_int8_tflite(model, rep)
