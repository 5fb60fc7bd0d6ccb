"""A Keras teacher as a chain of Dense layers, its predictions, and its exact reduction.

The mlp space distils Dense teachers: Dense layers with element-wise activations, with Input,
Flatten/Reshape over unit axes, Dropout and Activation layers around them. A teacher whose input
has extra unit axes (FLiESANN expects (N, 1, 14)) is fed by reshaping, so users pass plain rows.

Exact reduction: a hidden unit whose output is the same on every row of the domain (a ReLU that
never activates gives 0 everywhere) is removed, and its constant contribution is added to the
next layer's bias. On that domain the reduced network computes the same function. The domain
is the rows the user gave; units dead over the whole box of their observed ranges (proved with
interval arithmetic) are counted too, as the stronger claim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "swish": lambda z: z / (1 + np.exp(-z)),
    "silu": lambda z: z / (1 + np.exp(-z)),
    "softmax": _softmax,
}
_MONOTONE = {"linear", "relu", "sigmoid", "tanh"}  # interval bounds map through endpoint-wise
_PASS_THROUGH = {"InputLayer", "Dropout", "Flatten", "Reshape", "GaussianNoise"}


class TeacherError(ValueError):
    """A teacher file that cannot be used; the message says why and what to give instead."""


@dataclass
class DenseLayer:
    weights: np.ndarray  # (in, out) float64
    bias: np.ndarray  # (out,)
    activation: str


@dataclass
class DenseChain:
    layers: list[DenseLayer]

    @property
    def widths(self) -> list[int]:
        return [self.layers[0].weights.shape[0]] + [layer.weights.shape[1] for layer in self.layers]

    @property
    def params(self) -> int:
        return sum(layer.weights.size + layer.bias.size for layer in self.layers)

    def forward(self, x: np.ndarray, upto: int | None = None) -> np.ndarray:
        h = np.asarray(x, dtype=np.float64)
        for layer in self.layers[:upto]:
            h = ACTIVATIONS[layer.activation](h @ layer.weights + layer.bias)
        return h

    def to_keras(self, name: str = "student"):
        """A float32 Keras model taking (1, features) rows, for conversion and export."""
        import keras

        inputs = keras.Input(shape=(self.widths[0],), batch_size=1, name="features")
        x = inputs
        dense = []
        for i, layer in enumerate(self.layers):
            d = keras.layers.Dense(layer.weights.shape[1], activation=layer.activation,
                                   name="outputs" if i == len(self.layers) - 1 else f"hidden_{i}")
            x = d(x)
            dense.append(d)
        for d, layer in zip(dense, self.layers, strict=True):
            d.set_weights([layer.weights.astype(np.float32), layer.bias.astype(np.float32)])
        return keras.Model(inputs, x, name=name)


@dataclass
class Teacher:
    model: object
    path: str
    input_shape: tuple[int, ...]  # without the batch axis, as the teacher expects it
    chain: DenseChain

    @property
    def n_inputs(self) -> int:
        return math.prod(self.input_shape)

    @property
    def n_outputs(self) -> int:
        return self.chain.widths[-1]

    @property
    def task(self) -> str:
        return "classification" if self.chain.layers[-1].activation == "softmax" else "regression"

    def predict(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise TeacherError(f"the teacher takes {self.n_inputs} inputs per row, the data has "
                               f"{x.shape[1] if x.ndim == 2 else x.shape} columns; give rows of the "
                               "teacher's own input features")
        y = self.model.predict(x.reshape((len(x), *self.input_shape)), batch_size=batch_size, verbose=0)
        return np.asarray(y, dtype=np.float64).reshape(len(x), -1)


def _activation_of(layer) -> str:
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", "linear") if act is not None else "linear"
    if name not in ACTIVATIONS:
        raise TeacherError(f"teacher layer {layer.name} has activation {name!r}; the mlp space "
                           f"knows {', '.join(ACTIVATIONS)}")
    return name


def dense_chain(model) -> DenseChain:
    layers: list[DenseLayer] = []
    for layer in model.layers:
        kind = layer.__class__.__name__
        if kind in _PASS_THROUGH:
            continue
        if kind == "Dense":
            w, *b = layer.get_weights()
            bias = b[0] if b else np.zeros(w.shape[1])
            layers.append(DenseLayer(w.astype(np.float64), bias.astype(np.float64), _activation_of(layer)))
        elif kind == "Activation" and layers and layers[-1].activation == "linear":
            layers[-1].activation = _activation_of(layer)
        else:
            raise TeacherError(f"teacher layer {layer.name} ({kind}) is not supported: the mlp space "
                               "distils teachers made of Dense layers")
    if not layers:
        raise TeacherError("the teacher has no Dense layer; the mlp space distils Dense teachers")
    return DenseChain(layers)


def load_teacher(path: str | Path) -> Teacher:
    """Load with Keras safe mode (a Lambda layer's code is never run) and read its Dense chain. The file
    is checked before TensorFlow is imported, so a wrong path is reported at once."""
    path = Path(path)
    if not path.exists():
        raise TeacherError(f"teacher file {path} does not exist")
    if path.suffix not in (".keras", ".h5"):
        raise TeacherError(f"teacher {path}: give a Keras model file (.keras or .h5)")
    from nas.quiet import import_tensorflow

    import_tensorflow()
    import keras

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a file that is not a model
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        raise TeacherError(f"teacher {path} is not a loadable Keras model ({type(exc).__name__}: {first}); "
                           "Lambda layers are refused (Keras safe mode)") from None
    # free axes besides the batch and the features are unit axes: (None, None, 14) takes (N, 1, 14)
    dims = tuple(model.inputs[0].shape[1:])
    if not dims or dims[-1] is None:
        raise TeacherError(f"teacher {path} has an input of unknown width {dims}")
    shape = tuple(d or 1 for d in dims)
    chain = dense_chain(model)
    if chain.widths[0] != math.prod(shape):
        raise TeacherError(f"teacher {path}: input {shape} does not feed its first Dense layer directly")
    return Teacher(model, str(path), tuple(int(d) for d in shape), chain)


@dataclass
class Reduction:
    chain: DenseChain
    removed: list[int]  # units removed per hidden layer
    dead_over_box: list[int]  # ReLU units provably never active over the box of observed ranges
    domain: str
    notes: list[str] = field(default_factory=list)


def _box_dead(chain: DenseChain, low: np.ndarray, high: np.ndarray) -> list[int]:
    """Per hidden layer, ReLU units whose pre-activation upper bound over the box is <= 0."""
    dead = []
    lo, hi = low.astype(np.float64), high.astype(np.float64)
    for layer in chain.layers[:-1]:
        w_pos, w_neg = np.maximum(layer.weights, 0), np.minimum(layer.weights, 0)
        z_lo = lo @ w_pos + hi @ w_neg + layer.bias
        z_hi = hi @ w_pos + lo @ w_neg + layer.bias
        dead.append(int((z_hi <= 0).sum()) if layer.activation == "relu" else 0)
        if layer.activation not in _MONOTONE:
            return dead + [0] * (len(chain.layers) - 1 - len(dead))
        f = ACTIVATIONS[layer.activation]
        lo, hi = f(z_lo), f(z_hi)
    return dead


def reduce_exactly(chain: DenseChain, x: np.ndarray) -> Reduction:
    """Remove hidden units that are constant on every row of `x`, folding their value forward."""
    layers = [DenseLayer(a.weights.copy(), a.bias.copy(), a.activation) for a in chain.layers]
    removed = []
    for i in range(len(layers) - 1):
        h = DenseChain(layers).forward(x, upto=i + 1)
        constant = np.all(h == h[:1], axis=0)
        value = h[0, constant]
        nxt = layers[i + 1]
        nxt.bias = nxt.bias + value @ nxt.weights[constant]
        keep = ~constant
        if not keep.any():  # keep one unit so the chain stays a network; it is constant anyway
            keep[np.argmax(constant)] = True
            nxt.bias = nxt.bias - value[:1] @ nxt.weights[keep]
        layers[i].weights, layers[i].bias = layers[i].weights[:, keep], layers[i].bias[keep]
        nxt.weights = nxt.weights[keep]
        removed.append(int((~keep).sum()))
    reduced = DenseChain(layers)
    box = _box_dead(chain, x.min(0), x.max(0))
    return Reduction(reduced, removed, box,
                     domain=f"the {len(x)} given rows (units constant on every one of them)")
