"""The float model of a trial as ONNX, for runtimes other than tflite-micro (onnxruntime, TVM, ...).

Written layer by layer from the Keras model with the `onnx` package's helpers (`pip install
'mcu-nas[onnx]'`); tf2onnx does not follow Keras 3. It covers the layers the search spaces and the
baselines build: Conv2D, DepthwiseConv2D, BatchNormalization (inference form), ReLU, MaxPooling2D,
GlobalAveragePooling2D, Flatten, Dense, Add, Dropout. Keras computes in NHWC; ONNX convolutions in
NCHW: the graph transposes once after its input and back before a Flatten, so a flattened vector is in
Keras's order and Dense weights need no permutation. Padding "same" is written as the explicit pads
TensorFlow uses (the odd pixel at the end). The batch dimension is left free.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OPSET = 17


class OnnxExportError(ValueError):
    """A model the exporter cannot write; the message names the layer."""


def _onnx():
    try:
        import onnx
    except ImportError:
        raise OnnxExportError("ONNX export needs the onnx package: pip install 'mcu-nas[onnx]'") from None
    return onnx


def _same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's "same" padding of one axis: (before, after), the extra one after."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _inbound(layer_config: dict) -> list[str]:
    """Names of the layers whose outputs feed this layer (Keras 3 functional config)."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("class_name") == "__keras_tensor__":
                found.append(node["config"]["keras_history"][0])
                return
            for v in node.values():
                walk(v)
        elif isinstance(node, list | tuple):
            for v in node:
                walk(v)

    walk(layer_config.get("inbound_nodes", []))
    return found


class _Writer:
    def __init__(self, onnx) -> None:
        self.onnx, self.h = onnx, onnx.helper
        self.nodes, self.inits = [], []

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(self.h.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def activation(self, name: str, fn: str, x: str) -> str:
        ops = {"linear": None, "relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax"}
        if fn not in ops:
            raise OnnxExportError(f"layer {name}: activation {fn!r} is not supported by the ONNX export")
        if ops[fn] is None:
            return x
        return self.node(ops[fn], [x], f"{name}/{fn}", **({"axis": -1} if fn == "softmax" else {}))


def _spatial_pads(layer, in_shape, kernel, strides, dilation=(1, 1)) -> list[int]:
    if layer.padding == "valid":
        return [0, 0, 0, 0]
    (t, b), (left, r) = (_same_pads(in_shape[i], kernel[i], strides[i], dilation[i]) for i in (0, 1))
    return [t, left, b, r]


def to_onnx(model):
    """An onnx.ModelProto computing what `model` computes (inference mode), input and output float32."""
    import keras

    onnx = _onnx()
    w = _Writer(onnx)
    layers = {layer.name: layer for layer in model.layers}
    configs = model.get_config()["layers"]
    out_name: dict[str, str] = {}  # keras layer -> ONNX tensor
    nchw: dict[str, bool] = {}  # whether that tensor is a 4-D one held in NCHW
    spatial: dict[str, tuple[int, int]] = {}  # (H, W) of 4-D tensors
    graph_inputs = []
    for cfg in configs:
        name = cfg["name"]
        layer = layers[name]
        srcs = _inbound(cfg)
        if isinstance(layer, keras.layers.InputLayer):
            shape = list(layer.batch_shape)
            graph_inputs.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["N", *shape[1:]]))
            if len(shape) == 4:
                out_name[name] = w.node("Transpose", [name], f"{name}/nchw", perm=[0, 3, 1, 2])
                nchw[name], spatial[name] = True, (shape[1], shape[2])
            else:
                out_name[name], nchw[name] = name, False
            continue
        x = out_name[srcs[0]] if srcs else None
        is4 = nchw.get(srcs[0], False) if srcs else False
        hw = spatial.get(srcs[0])
        weights = [np.asarray(v) for v in layer.get_weights()]
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kernel = weights[0]  # (kh, kw, cin, multiplier)
            kh, kw, cin, mult = kernel.shape
            onnx_w = kernel.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
            bias = weights[1] if layer.use_bias else np.zeros(cin * mult, np.float32)
            pads = _spatial_pads(layer, hw, (kh, kw), layer.strides, layer.dilation_rate)
            y = w.node("Conv", [x, w.const(f"{name}/W", onnx_w), w.const(f"{name}/B", bias)], f"{name}/conv",
                       group=cin, kernel_shape=[kh, kw], strides=list(layer.strides), pads=pads,
                       dilations=list(layer.dilation_rate))
            y = w.activation(name, keras.activations.serialize(layer.activation), y)
            spatial[name] = _out_hw(hw, (kh, kw), layer.strides, pads, layer.dilation_rate)
        elif isinstance(layer, keras.layers.Conv2D):
            if layer.groups != 1:
                raise OnnxExportError(f"layer {name}: grouped Conv2D is not supported by the ONNX export")
            kernel = weights[0]  # (kh, kw, cin, cout)
            kh, kw = kernel.shape[:2]
            bias = weights[1] if layer.use_bias else np.zeros(kernel.shape[3], np.float32)
            pads = _spatial_pads(layer, hw, (kh, kw), layer.strides, layer.dilation_rate)
            y = w.node("Conv", [x, w.const(f"{name}/W", kernel.transpose(3, 2, 0, 1)), w.const(f"{name}/B", bias)],
                       f"{name}/conv", kernel_shape=[kh, kw], strides=list(layer.strides), pads=pads,
                       dilations=list(layer.dilation_rate))
            y = w.activation(name, keras.activations.serialize(layer.activation), y)
            spatial[name] = _out_hw(hw, (kh, kw), layer.strides, pads, layer.dilation_rate)
        elif isinstance(layer, keras.layers.BatchNormalization):
            if layer.axis not in (-1, [-1], len(layer.input.shape) - 1, [len(layer.input.shape) - 1]):
                raise OnnxExportError(f"layer {name}: BatchNormalization over axis {layer.axis} is not supported")
            gamma = np.asarray(layer.gamma) if layer.scale else np.ones_like(np.asarray(layer.moving_mean))
            beta = np.asarray(layer.beta) if layer.center else np.zeros_like(np.asarray(layer.moving_mean))
            y = w.node("BatchNormalization", [x, w.const(f"{name}/scale", gamma), w.const(f"{name}/bias", beta),
                                              w.const(f"{name}/mean", layer.moving_mean),
                                              w.const(f"{name}/var", layer.moving_variance)],
                       f"{name}/bn", epsilon=float(layer.epsilon))
            spatial[name] = hw
        elif isinstance(layer, keras.layers.ReLU):
            cfg_r = layer.get_config()
            if cfg_r.get("negative_slope") or cfg_r.get("threshold"):
                raise OnnxExportError(f"layer {name}: leaky or thresholded ReLU is not supported by the ONNX export")
            if cfg_r.get("max_value") is not None:
                y = w.node("Clip", [x, w.const(f"{name}/lo", np.array(0.0)),
                                    w.const(f"{name}/hi", np.array(cfg_r["max_value"]))], f"{name}/clip")
            else:
                y = w.node("Relu", [x], f"{name}/relu")
            spatial[name] = hw
        elif isinstance(layer, keras.layers.MaxPooling2D):
            pool, strides = tuple(layer.pool_size), tuple(layer.strides)
            pads = _spatial_pads(layer, hw, pool, strides)
            y = w.node("MaxPool", [x], f"{name}/pool", kernel_shape=list(pool), strides=list(strides), pads=pads)
            spatial[name] = _out_hw(hw, pool, strides, pads)
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            y = w.node("GlobalAveragePool", [x], f"{name}/gap")
            if layer.keepdims:
                spatial[name] = (1, 1)
            else:
                y = w.node("Flatten", [y], f"{name}/flat", axis=1)
                is4 = False
        elif isinstance(layer, keras.layers.Flatten):
            if is4:
                x = w.node("Transpose", [x], f"{name}/nhwc", perm=[0, 2, 3, 1])
            y = w.node("Flatten", [x], f"{name}/flat", axis=1)
            is4 = False
        elif isinstance(layer, keras.layers.Dense):
            if len(layer.input.shape) != 2:
                raise OnnxExportError(f"layer {name}: Dense on a {len(layer.input.shape)}-D input is not supported")
            bias = weights[1] if layer.use_bias else np.zeros(weights[0].shape[1], np.float32)
            y = w.node("Gemm", [x, w.const(f"{name}/W", weights[0]), w.const(f"{name}/B", bias)], f"{name}/gemm")
            y = w.activation(name, keras.activations.serialize(layer.activation), y)
        elif isinstance(layer, keras.layers.Add):
            y = x
            for k, src in enumerate(srcs[1:], 1):
                y = w.node("Add", [y, out_name[src]], f"{name}/add{k}")
            spatial[name] = hw
        elif isinstance(layer, keras.layers.Dropout):
            y = x
            spatial[name] = hw
        else:
            raise OnnxExportError(f"layer {name} ({type(layer).__name__}) is not supported by the ONNX export")
        out_name[name], nchw[name] = y, is4
    outputs = []
    for tensor in model.outputs:
        src = tensor._keras_history[0].name
        y = out_name[src]
        if nchw[src]:
            y = w.node("Transpose", [y], f"{src}/nhwc_out", perm=[0, 2, 3, 1])
        shape = ["N", *(int(d) for d in tensor.shape[1:])]
        outputs.append(onnx.helper.make_tensor_value_info(y, onnx.TensorProto.FLOAT, shape))
    graph = onnx.helper.make_graph(w.nodes, model.name, graph_inputs, outputs, initializer=w.inits)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="mcu-nas")
    onnx.checker.check_model(proto)
    return proto


def _out_hw(hw, kernel, strides, pads, dilation=(1, 1)) -> tuple[int, int]:
    t, left, b, r = pads
    return tuple((size + p0 + p1 - ((k - 1) * d + 1)) // s + 1
                 for size, k, s, p0, p1, d in zip(hw, kernel, strides, (t, left), (b, r), dilation, strict=True))


def write_onnx(model, path: Path) -> Path:
    """Write `to_onnx(model)` to `path`."""
    path.write_bytes(to_onnx(model).SerializeToString())
    return path
