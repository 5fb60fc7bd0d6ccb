"""Scratch buffers that TFLM kernels request in the arena, per kernel library.

A kernel asks for scratch memory in its Prepare step (`RequestScratchBufferInArena`); the memory
planner then places each request like a tensor that lives only while its operator runs
(micro_allocation_info.cc: scratch buffers follow the tensors in the planner's list, created and
last used at the operator's scope). So scratch memory is part of the planned arena, and its size
depends on the kernel library the firmware is built with. The sizes below are those libraries'
own `*_get_buffer_size` functions, for int8 models with batch 1 and dilation 1:

- every library, MEAN (reference kernel, reduce_common.cc `PrepareMeanOrSumHelper`): three
  requests of 4 B x output elements, 4 B x input rank, 4 B x reduced axes.
- cmsis-nn (CMSIS-NN arm_convolve_get_buffer_sizes_s8.c, arm_depthwise_conv_get_buffer_sizes_s8.c,
  arm_avgpool_get_buffer_sizes_s8.c; TFLM kernels/cmsis_nn/*.cc), non-Helium cores:
  CONV_2D with a kernel other than 1x1: im2col of 2 x (kh*kw*cin rounded up to 4) int16 values;
  1x1 kernels: none (the DSP fast path asks 4*cin only when built with Arm Compiler 6; GCC, which
  Arduino, Pico SDK and STM32Cube use, gets 0).
  DEPTHWISE_CONV_2D with channel multiplier 1, not 3x3, on a core with the DSP extension:
  cin*kh*kw int16 values; none on cores without it.
  AVERAGE_POOL_2D on a DSP core: 4 B per channel.
  FULLY_CONNECTED with a rank-2 output: none.
- esp-nn on the ESP32 (generic optimisations, esp_nn_generic_opt.h): conv and depthwise ask for
  none; SOFTMAX asks 4 B x input dims[1] (esp_nn_softmax_opt.c).
- reference: MEAN only (what the tflite-micro host interpreter runs; tests check the planned arena
  against it to the byte).
"""

from __future__ import annotations

from cost_models.device import KERNEL_LIBRARIES
from cost_models.graph import Graph, Op

# Cores whose CMSIS-NN build defines ARM_MATH_DSP (the SIMD multiply-accumulate extension).
# ARM1176 has the ARMv6 SIMD instructions CMSIS-NN's DSP path is written for. A core not listed
# is assumed to have it: that is the larger of the two buffer sizes, so the estimate errs safe.
NO_DSP_CORES = frozenset({"cortex-m0plus", "cortex-m0", "cortex-m3"})


def _align4(n: int) -> int:
    return (n + 3) // 4 * 4


def _mean(graph: Graph, op: Op) -> list[int]:
    source, axes = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]]
    out = graph.tensors[op.outputs[0]]
    return [4 * out.elements, 4 * len(source.shape), 4 * axes.elements]


def _cmsis_nn(graph: Graph, op: Op, dsp: bool) -> list[int]:
    x = graph.tensors[op.inputs[0]]
    if op.kind == "CONV_2D":
        _, kh, kw, cin = graph.tensors[op.inputs[1]].shape
        return [] if kh == kw == 1 else [2 * _align4(kh * kw * cin) * 2]
    if op.kind == "DEPTHWISE_CONV_2D":
        _, kh, kw, cout = graph.tensors[op.inputs[1]].shape
        if not dsp or x.shape[-1] != cout or kh == kw == 3:
            return []
        return [x.shape[-1] * kh * kw * 2]
    if op.kind == "AVERAGE_POOL_2D" and dsp:
        return [4 * x.shape[-1]]
    return []


def _esp_nn(graph: Graph, op: Op) -> list[int]:
    if op.kind == "SOFTMAX":
        shape = graph.tensors[op.inputs[0]].shape
        return [4 * shape[1]] if len(shape) > 1 else []
    return []


def scratch_requests(graph: Graph, kernels: str, core: str = "") -> list[tuple[int, int]]:
    """(op index, bytes) of every scratch request, in the order the kernels' Prepare makes them."""
    if kernels not in KERNEL_LIBRARIES:
        raise ValueError(f"unknown kernel library {kernels!r}; known: {', '.join(KERNEL_LIBRARIES)}")
    dsp = core not in NO_DSP_CORES
    requests = []
    for i, op in enumerate(graph.ops):
        if op.kind == "MEAN":
            sizes = _mean(graph, op)
        elif kernels == "cmsis-nn":
            sizes = _cmsis_nn(graph, op, dsp)
        elif kernels == "esp-nn":
            sizes = _esp_nn(graph, op)
        else:
            sizes = []
        requests.extend((i, size) for size in sizes if size > 0)
    return requests
