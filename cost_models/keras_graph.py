"""Predict the int8 TFLite graph a Keras model converts to, without converting it.

The converter (full-int8 recipe in `nas.quantize`) fuses ReLU/ReLU6 into the preceding conv,
dense or add, folds BatchNormalization into the preceding conv or dense, drops Dropout, turns
Flatten/Reshape into RESHAPE with an int32 shape constant and global average pooling into MEAN
with an int32 axis constant. Weights become int8, biases int32. A layer this module does not know
is an error naming the layer, never a silent zero.
"""

from __future__ import annotations

import math

from cost_models.graph import Graph, Op, Tensor, UnsupportedOpError, same_padding

_FUSABLE = {"relu", "relu6", "linear"}
_ACT_OPS = {"sigmoid": ["LOGISTIC"], "tanh": ["TANH"], "softmax": ["SOFTMAX"],
            "swish": ["LOGISTIC", "MUL"], "silu": ["LOGISTIC", "MUL"]}
_NO_OP = {"Dropout", "GaussianNoise", "SpatialDropout1D", "SpatialDropout2D", "ActivityRegularization"}


def _shape(keras_tensor) -> tuple[int, ...]:
    shape = tuple(keras_tensor.shape)
    if shape and shape[0] is None:
        shape = (1, *shape[1:])
    if any(d is None for d in shape):
        raise ValueError(f"tensor {keras_tensor.name} has an unknown dimension {shape}; "
                         "build models with keras.Input(..., batch_size=1) and fixed lengths")
    return tuple(int(d) for d in shape)


def _activation_name(layer) -> str:
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", "linear") if act is not None else "linear"
    if layer.__class__.__name__ == "ReLU":
        return "relu6" if getattr(layer, "max_value", None) == 6 else "relu"
    return name


def _geometry(layer, in_shape, out_shape) -> dict:
    """Op's stride and padding of a Keras convolution on NHWC shapes."""
    stride = tuple(int(s) for s in layer.strides)
    if layer.padding != "same":
        return {"stride": stride, "padding": (0, 0)}
    kernel = tuple(int(k) for k in layer.kernel_size)
    return {"stride": stride, "padding": tuple(same_padding(in_shape[1 + i], out_shape[1 + i], kernel[i], stride[i])
                                               for i in (0, 1))}


# Bytes per element of activations, weights and biases in each shipped format.
FORMAT_BYTES = {"int8": (1, 1, 4), "int16x8": (2, 1, 8), "float32": (4, 4, 4)}


class _Builder:
    def __init__(self, fmt: str = "int8") -> None:
        if fmt not in FORMAT_BYTES:
            raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMAT_BYTES)}")
        self.act, self.weight, self.bias = FORMAT_BYTES[fmt]
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.producer: dict[int, int] = {}  # tensor index -> op index

    def tensor(self, shape, itemsize=None, constant=False, name="") -> int:
        """itemsize None: an activation of the format."""
        self.tensors.append(Tensor(tuple(shape), itemsize or self.act, constant, name))
        return len(self.tensors) - 1

    def op(self, kind: str, inputs: list[int], out_shape, name="", **geometry) -> int:
        """`geometry`: a convolution's stride and padding (Op's fields)."""
        out = self.tensor(out_shape, name=name)
        self.ops.append(Op(kind, tuple(inputs), (out,), **geometry))
        self.producer[out] = len(self.ops) - 1
        return out

    def activation(self, x: int, act: str, name: str) -> int:
        if act in _FUSABLE:
            return x
        if act not in _ACT_OPS:
            raise UnsupportedOpError(f"activation {act!r} in layer {name} has no TFLite int8 mapping "
                                     f"known to the cost model; known: {', '.join([*_FUSABLE, *_ACT_OPS])}")
        shape = self.tensors[x].shape
        if act in ("swish", "silu"):
            sig = self.op("LOGISTIC", [x], shape, name + "/sigmoid")
            return self.op("MUL", [x, sig], shape, name + "/mul")
        return self.op(_ACT_OPS[act][0], [x], shape, name + "/" + act)


def graph_from_keras(model, fmt: str = "int8") -> Graph:
    """The graph the converter would produce for `fmt` (FORMAT_BYTES: "int8" is
    `nas.quantize.to_int8_tflite(model)`, "int16x8" its int16-activation variant, "float32"
    `to_float_tflite`), predicted from the layers."""
    b = _Builder(fmt)
    index: dict[int, int] = {}  # id(KerasTensor) -> tensor index
    for inp in model.inputs:
        index[id(inp)] = b.tensor(_shape(inp), name=inp.name)
    for layer in model.layers:
        kind = layer.__class__.__name__
        if kind == "InputLayer":
            continue
        ins = layer.input if isinstance(layer.input, list | tuple) else [layer.input]
        x = [index[id(t)] for t in ins]
        out_shape = _shape(layer.output)
        name = layer.name
        if kind in _NO_OP:
            y = x[0]
        elif kind in ("Conv2D", "Conv1D"):
            if kind == "Conv1D":
                raise UnsupportedOpError(f"layer {name}: Conv1D converts to EXPAND_DIMS/RESHAPE pairs; "
                                         "build 1-D convolutions as Conv2D with (1, k) kernels")
            kh, kw = layer.kernel_size
            in_c = b.tensors[x[0]].shape[-1]
            w = b.tensor((layer.filters, kh, kw, in_c), b.weight, True, name + "/kernel")
            bias = b.tensor((layer.filters,), b.bias, True, name + "/bias") if layer.use_bias else -1
            y = b.op("CONV_2D", [x[0], w, bias], out_shape, name, **_geometry(layer, b.tensors[x[0]].shape, out_shape))
            y = b.activation(y, _activation_name(layer), name)
        elif kind == "DepthwiseConv2D":
            kh, kw = layer.kernel_size
            out_c = out_shape[-1]
            w = b.tensor((1, kh, kw, out_c), b.weight, True, name + "/kernel")
            bias = b.tensor((out_c,), b.bias, True, name + "/bias") if layer.use_bias else -1
            y = b.op("DEPTHWISE_CONV_2D", [x[0], w, bias], out_shape, name,
                     **_geometry(layer, b.tensors[x[0]].shape, out_shape))
            y = b.activation(y, _activation_name(layer), name)
        elif kind == "Dense":
            in_shape = b.tensors[x[0]].shape
            in_f = in_shape[-1]
            if math.prod(in_shape[:-1]) != 1:
                raise UnsupportedOpError(f"layer {name}: Dense on a {in_shape} input; flatten or "
                                         "pool to (1, features) first")
            w = b.tensor((layer.units, in_f), b.weight, True, name + "/kernel")
            bias = b.tensor((layer.units,), b.bias, True, name + "/bias") if layer.use_bias else -1
            y = b.op("FULLY_CONNECTED", [x[0], w, bias], out_shape, name)
            y = b.activation(y, _activation_name(layer), name)
        elif kind in ("Activation", "ReLU", "Softmax"):
            act = "softmax" if kind == "Softmax" else _activation_name(layer)
            prev = b.producer.get(x[0])
            fusable_into = prev is not None and b.ops[prev].kind in (
                "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD")
            if act in _FUSABLE and not fusable_into and act != "linear":
                y = b.op(act.upper(), [x[0]], out_shape, name)
            else:
                y = b.activation(x[0], act, name)
        elif kind == "BatchNormalization":
            prev = b.producer.get(x[0])
            if prev is not None and b.ops[prev].kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
                y = x[0]  # folded into the preceding op's weights and bias
            else:
                c = out_shape[-1]
                scale = b.tensor((c,), None, True, name + "/scale")
                y = b.op("MUL", [x[0], scale], out_shape, name + "/mul")
                shift = b.tensor((c,), None, True, name + "/shift")
                y = b.op("ADD", [y, shift], out_shape, name + "/add")
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            y = b.op("MAX_POOL_2D" if kind == "MaxPooling2D" else "AVERAGE_POOL_2D", [x[0]], out_shape, name)
        elif kind == "GlobalAveragePooling2D":
            axes = b.tensor((2,), 4, True, name + "/axes")
            y = b.op("MEAN", [x[0], axes], out_shape, name)
        elif kind == "Flatten" and math.prod(b.tensors[x[0]].shape[:-1]) == 1:
            y = x[0]  # (1, ..., 1, C) -> (1, C) changes no layout: FULLY_CONNECTED takes it as is
        elif kind in ("Flatten", "Reshape"):
            shape_const = b.tensor((len(out_shape),), 4, True, name + "/shape")
            y = b.op("RESHAPE", [x[0], shape_const], out_shape, name)
        elif kind == "Add":
            y = b.op("ADD", x, out_shape, name)
        elif kind == "Multiply":
            y = b.op("MUL", x, out_shape, name)
        elif kind == "Concatenate":
            y = b.op("CONCATENATION", x, out_shape, name)
        elif kind == "ZeroPadding2D":
            pads = b.tensor((len(out_shape), 2), 4, True, name + "/paddings")
            y = b.op("PAD", [x[0], pads], out_shape, name)
        else:
            raise UnsupportedOpError(f"layer {name} ({kind}) has no cost model; use layers the "
                                     "search spaces use or pass a converted .tflite")
        index[id(layer.output)] = y
    outputs = tuple(index[id(t)] for t in model.outputs)
    inputs = tuple(index[id(t)] for t in model.inputs)
    return Graph(tuple(b.tensors), tuple(b.ops), inputs, outputs)
