"""A shape-only stand-in for the part of Keras the search spaces use, for sub-millisecond estimates.

`build(trial, ..., keras=symbolic)` runs a space's own code on these classes: no TensorFlow, no
weights, just output shapes, in call order. `keras_graph.graph_from_keras` reads the result as it
reads a real Keras model; tests check that both give the same graph for sampled architectures, so
the stand-in cannot drift from the real layers unnoticed.
"""

from __future__ import annotations

import math
from types import SimpleNamespace


class SymTensor:
    def __init__(self, shape: tuple[int, ...], name: str = "") -> None:
        self.shape = tuple(shape)
        self.name = name


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _out(size: int, k: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    return (size - k) // stride + 1


def _activation(name):
    def fn(x):
        return x

    fn.__name__ = name or "linear"
    return fn


class _Layer:
    _model_layers: list | None = None  # the layers of the model being traced, in call order

    def __init__(self, name: str | None = None, **_: object) -> None:
        self.name = name or type(self).__name__.lower()

    def __call__(self, x):
        self.input = x
        self.output = SymTensor(self.output_shape(x), self.name)
        if _Layer._model_layers is not None:
            _Layer._model_layers.append(self)
        return self.output


class Conv2D(_Layer):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None, use_bias=True,
                 name=None, **kw):
        super().__init__(name)
        self.filters, self.kernel_size, self.strides = filters, _pair(kernel_size), _pair(strides)
        self.padding, self.activation, self.use_bias = padding, _activation(activation), use_bias

    def output_shape(self, x):
        b, h, w, _ = x.shape
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        return (b, _out(h, kh, sh, self.padding), _out(w, kw, sw, self.padding), self.filters)


class DepthwiseConv2D(Conv2D):
    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, activation=None,
                 use_bias=True, name=None, **kw):
        super().__init__(0, kernel_size, strides, padding, activation, use_bias, name)
        self.depth_multiplier = depth_multiplier

    def output_shape(self, x):
        self.filters = x.shape[-1] * self.depth_multiplier
        return super().output_shape(x)


class MaxPooling2D(_Layer):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", name=None, **kw):
        super().__init__(name)
        self.pool_size = _pair(pool_size)
        self.strides = _pair(strides) if strides is not None else self.pool_size
        self.padding = padding

    def output_shape(self, x):
        b, h, w, c = x.shape
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        return (b, _out(h, ph, sh, self.padding), _out(w, pw, sw, self.padding), c)


class AveragePooling2D(MaxPooling2D):
    pass


class GlobalAveragePooling2D(_Layer):
    def output_shape(self, x):
        return (x.shape[0], x.shape[-1])


class Flatten(_Layer):
    def output_shape(self, x):
        return (x.shape[0], math.prod(x.shape[1:]))


class Dense(_Layer):
    def __init__(self, units, activation=None, use_bias=True, name=None, **kw):
        super().__init__(name)
        self.units, self.activation, self.use_bias = units, _activation(activation), use_bias

    def output_shape(self, x):
        return (*x.shape[:-1], self.units)


class Dropout(_Layer):
    def __init__(self, rate=0.0, name=None, **kw):
        super().__init__(name)

    def output_shape(self, x):
        return x.shape


class BatchNormalization(_Layer):
    def output_shape(self, x):
        return x.shape


class ReLU(_Layer):
    def __init__(self, max_value=None, name=None, **kw):
        super().__init__(name)
        self.max_value = max_value

    def output_shape(self, x):
        return x.shape


class Add(_Layer):
    """Element-wise sum of same-shaped inputs (a residual connection)."""

    def output_shape(self, xs):
        if len({x.shape for x in xs}) != 1:
            raise ValueError(f"Add of differently shaped inputs: {[x.shape for x in xs]}")
        return xs[0].shape


class Model:
    def __init__(self, inputs, outputs, name=None) -> None:
        self.inputs = inputs if isinstance(inputs, list) else [inputs]
        self.outputs = outputs if isinstance(outputs, list) else [outputs]
        self.layers = list(getattr(self.inputs[0], "_layers", []))
        self.name = name


def Input(shape, batch_size=None, name=None, **kw):  # noqa: N802 - Keras' spelling
    tensor = SymTensor((batch_size or 1, *shape), name or "input")
    tensor._layers = []
    _Layer._model_layers = tensor._layers  # layers called from here on belong to this model
    return tensor


layers = SimpleNamespace(Conv2D=Conv2D, DepthwiseConv2D=DepthwiseConv2D, MaxPooling2D=MaxPooling2D,
                         AveragePooling2D=AveragePooling2D, GlobalAveragePooling2D=GlobalAveragePooling2D,
                         Flatten=Flatten, Dense=Dense, Dropout=Dropout,
                         BatchNormalization=BatchNormalization, ReLU=ReLU, Add=Add)
keras = SimpleNamespace(Input=Input, Model=Model, layers=layers)
