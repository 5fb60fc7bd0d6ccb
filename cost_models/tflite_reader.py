"""Read a .tflite flatbuffer into a `Graph`, with the schema module tflite-micro ships (no TensorFlow)."""

from __future__ import annotations

from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

from cost_models.graph import Graph, Op, Tensor, same_padding

_ITEMSIZE = {
    fb.TensorType.FLOAT32: 4, fb.TensorType.FLOAT16: 2, fb.TensorType.INT32: 4,
    fb.TensorType.UINT8: 1, fb.TensorType.INT64: 8, fb.TensorType.BOOL: 1,
    fb.TensorType.INT16: 2, fb.TensorType.INT8: 1, fb.TensorType.FLOAT64: 8,
    fb.TensorType.UINT32: 4, fb.TensorType.UINT16: 2,
}
_OP_NAMES = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}


def _builtin_code(code: fb.OperatorCode) -> int:
    # The schema keeps a deprecated int8 field for codes < 127 and a wide field for the rest.
    return max(code.BuiltinCode(), code.DeprecatedBuiltinCode())


def _geometry(op, kind: str, tensors: list[Tensor], ins, outs) -> dict:
    """A convolution's stride and TFLM padding, from its builtin options."""
    if kind not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return {}
    options_type = fb.Conv2DOptions if kind == "CONV_2D" else fb.DepthwiseConv2DOptions
    table = op.BuiltinOptions()
    if table is None:
        return {}
    options = options_type()
    options.Init(table.Bytes, table.Pos)
    stride = (int(options.StrideH()), int(options.StrideW()))
    if options.Padding() != fb.Padding.SAME:
        return {"stride": stride, "padding": (0, 0)}
    x, w, y = tensors[ins[0]].shape, tensors[ins[1]].shape, tensors[outs[0]].shape
    return {"stride": stride, "padding": tuple(same_padding(x[1 + i], y[1 + i], w[1 + i], stride[i]) for i in (0, 1))}


def read_tflite(data: bytes) -> Graph:
    """Subgraph 0 of a .tflite model as a `Graph`; ValueError when the bytes are not a model."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError("not a TFLite flatbuffer (missing the 'TFL3' identifier)")
    model = fb.Model.GetRootAs(data, 0)
    if model.SubgraphsLength() != 1:
        raise ValueError(f"model has {model.SubgraphsLength()} subgraphs; only single-subgraph "
                         "models (no control flow) are costed")
    sub = model.Subgraphs(0)
    tensors, variables = [], set()
    for i in range(sub.TensorsLength()):
        t = sub.Tensors(i)
        if t.Type() not in _ITEMSIZE:
            raise ValueError(f"tensor {i} has unsupported element type {t.Type()}")
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        buffer = model.Buffers(t.Buffer())
        constant = buffer is not None and (buffer.DataLength() > 0 or buffer.Size() > 0)
        if t.IsVariable():
            variables.add(i)
        tensors.append(Tensor(shape, _ITEMSIZE[t.Type()], constant, (t.Name() or b"").decode()))
    ops = []
    for i in range(sub.OperatorsLength()):
        op = sub.Operators(i)
        code = _builtin_code(model.OperatorCodes(op.OpcodeIndex()))
        kind = _OP_NAMES.get(code, f"BUILTIN_{code}")
        if kind == "CUSTOM":
            kind = "CUSTOM:" + model.OperatorCodes(op.OpcodeIndex()).CustomCode().decode()
        ins = tuple(int(x) for x in op.InputsAsNumpy()) if op.InputsLength() else ()
        outs = tuple(int(x) for x in op.OutputsAsNumpy()) if op.OutputsLength() else ()
        ops.append(Op(kind, ins, outs, **_geometry(op, kind, tensors, ins, outs)))
    return Graph(
        tensors=tuple(tensors),
        ops=tuple(ops),
        inputs=tuple(int(x) for x in sub.InputsAsNumpy()),
        outputs=tuple(int(x) for x in sub.OutputsAsNumpy()),
        variables=frozenset(variables),
    )
