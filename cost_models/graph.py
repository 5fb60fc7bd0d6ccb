"""The int8 TFLite graph the cost models read: tensors, operators in execution order, and MACs.

Two producers build it: `tflite_reader.read_tflite` (exact, from a converted flatbuffer) and
`keras_graph.graph_from_keras` (a prediction of what the converter will emit, before training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Ops whose work is multiply-accumulates; everything else is costed per element.
MAC_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"})

SUPPORTED_OPS = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN",
    "ADD", "MUL", "CONCATENATION", "PAD", "RESHAPE", "EXPAND_DIMS", "SQUEEZE", "SOFTMAX",
    "LOGISTIC", "TANH", "RELU", "RELU6", "QUANTIZE", "DEQUANTIZE",
})


class UnsupportedOpError(ValueError):
    """An operator no cost model knows: never costed as zero."""


@dataclass(frozen=True)
class Tensor:
    shape: tuple[int, ...]
    itemsize: int  # bytes per element: 1 for int8 activations, 4 for int32 bias
    constant: bool  # stored in the flatbuffer (weights), never in the arena
    name: str = ""

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.elements * self.itemsize


@dataclass(frozen=True)
class Op:
    kind: str  # TFLite builtin operator name, e.g. "CONV_2D"
    inputs: tuple[int, ...]  # tensor indices; -1 for an omitted optional input
    outputs: tuple[int, ...]
    stride: tuple[int, int] = (1, 1)  # convolutions: (height, width)
    padding: tuple[int, int] = (0, 0)  # convolutions: TFLM's padding (height, width), before the input


def same_padding(in_size: int, out_size: int, kernel: int, stride: int) -> int:
    """The padding TFLM computes for "same" on one axis (ComputePaddingHeightWidth): half the total,
    rounded down (the odd value goes after the input)."""
    return max((out_size - 1) * stride + kernel - in_size, 0) // 2


@dataclass(frozen=True)
class Graph:
    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    variables: frozenset[int] = field(default_factory=frozenset)

    def check_supported(self) -> None:
        for op in self.ops:
            if op.kind not in SUPPORTED_OPS:
                raise UnsupportedOpError(
                    f"operator {op.kind} has no cost model; supported: {', '.join(sorted(SUPPORTED_OPS))}"
                )

    def macs(self, op: Op) -> int:
        """Multiply-accumulates of one op (0 for ops costed per element)."""
        if op.kind not in MAC_OPS:
            return 0
        out = self.tensors[op.outputs[0]]
        weights = self.tensors[op.inputs[1]]
        if op.kind == "CONV_2D":  # weights (out_c, kh, kw, in_c)
            _, kh, kw, in_c = weights.shape
            return out.elements * kh * kw * in_c
        if op.kind == "DEPTHWISE_CONV_2D":  # weights (1, kh, kw, out_c)
            _, kh, kw, _ = weights.shape
            return out.elements * kh * kw
        return out.elements * weights.shape[-1]  # FULLY_CONNECTED: weights (out, in)

    def input_channels(self, op: Op) -> int:
        return self.tensors[op.inputs[0]].shape[-1]

    @property
    def total_macs(self) -> int:
        return sum(self.macs(op) for op in self.ops)

    @property
    def params(self) -> int:
        used = {i for op in self.ops for i in op.inputs if i >= 0}
        return sum(self.tensors[i].elements for i in sorted(used) if self.tensors[i].constant)
