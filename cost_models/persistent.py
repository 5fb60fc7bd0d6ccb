"""The persistent ("tail") part of the TFLM arena, estimated from struct sizes for a given pointer width.

The tail holds, per tensor, a TfLiteEvalTensor {data*, dims*, type} (12 B on a 32-bit MCU, 24 B on
a 64-bit host); per operator a NodeAndRegistration (TfLiteNode's 8 pointers and an int, plus the
registration pointer: 40 B / 64 B... measured 64 B on the host); for each graph input and output a
persistent TfLiteTensor (~40 B / 64 B) and its quantization block (16 B); per conv / depthwise /
fully-connected op the kernel's OpData (~48 B) with per-channel int32 multiplier and shift arrays
(8 B per output channel); and the allocator's own objects. Struct layouts: tflite-micro
micro_allocator.h, c/common.h, kernels/conv.h. Host checks: tests/test_arena.py compares the
64-bit variant with the tail tflite-micro's Python interpreter reports.
"""

from __future__ import annotations

from cost_models.graph import MAC_OPS, Graph

_LAYOUT = {
    # pointer bytes: (eval tensor, node+registration, persistent TfLiteTensor, allocator objects)
    4: (12, 40, 40, 400),
    8: (24, 64, 64, 756),
}


def persistent_bytes(graph: Graph, pointer_bytes: int = 4) -> int:
    eval_tensor, node, tflite_tensor, allocator = _LAYOUT[pointer_bytes]
    n_io = len(graph.inputs) + len(graph.outputs)
    op_data = 0
    for op in graph.ops:
        if op.kind in MAC_OPS:
            op_data += 48 + 8 * graph.tensors[op.outputs[0]].shape[-1]
    return (eval_tensor * len(graph.tensors) + node * len(graph.ops)
            + (tflite_tensor + 16) * n_io + op_data + allocator)
