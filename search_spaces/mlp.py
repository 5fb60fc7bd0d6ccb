"""MLP students of a Keras teacher: 1-4 hidden Dense layers, widths 4-256 in steps of 4.

The student takes the teacher's raw inputs and gives its raw outputs: input and output
standardization are folded into the first and last Dense layers after training
(`nas.distill.fold_standardization`), so the shipped graph is FULLY_CONNECTED ops and their
activations only. Parameter names are persisted API (see spectral.py).
"""

from __future__ import annotations

VERSION = 1
MAX_DEPTH = 4
MAX_WIDTH = 256
ACTIVATIONS = ["relu", "tanh", "sigmoid", "swish"]


def build(trial, *, input_shape: tuple[int], n_outputs: int, keras=None, output_activation: str = "linear"):
    """An uncompiled Keras model taking (1, features); `keras` may be the shape-only stand-in."""
    if keras is None:
        import keras
    layers = keras.layers

    (features,) = input_shape
    depth = trial.suggest_int("depth", 1, MAX_DEPTH)
    activation = trial.suggest_categorical("activation", ACTIVATIONS)
    inputs = keras.Input(shape=(features,), batch_size=1, name="features")
    x = inputs
    for i in range(depth):
        width = trial.suggest_int(f"width_{i}", 4, MAX_WIDTH, step=4)
        x = layers.Dense(width, activation=activation, name=f"hidden_{i}")(x)
    outputs = layers.Dense(n_outputs, activation=output_activation, name="outputs")(x)
    return keras.Model(inputs, outputs, name="mlp")


def describe(params: dict) -> str:
    widths = [str(params.get(f"width_{i}")) for i in range(params.get("depth", 0))]
    return f"mlp {'-'.join(widths)} {params.get('activation')}"
