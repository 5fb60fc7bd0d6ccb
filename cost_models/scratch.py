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
- esp-nn on the ESP32-S3 (core xtensa-lx7; esp_nn_esp32s3.h, esp-nn @d45b843, as esp-tflite-micro
  @99f49e1 kernels/esp_nn/conv.cc and depthwise_conv.cc ask for them): CONV_2D and DEPTHWISE_CONV_2D
  ask what esp_nn_get_conv_scratch_size_esp32s3 / esp_nn_get_depthwise_conv_scratch_size_esp32s3
  return for the op's shapes, stride and padding (_esp_nn_s3_conv, _esp_nn_s3_depthwise: channel-padded
  input and filter copies, alignment margins); SOFTMAX as on the ESP32. Not checked against a device.
- int16x8 models on CMSIS-NN: planned with the int8 sizes above; CMSIS-NN's s16 buffer-size functions
  were not transcribed (the host check, reference kernels, is exact for every format).
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
ESP32_S3_CORE = "xtensa-lx7"  # esp-nn builds its ESP32-S3 kernels for this core


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


def _esp_nn_s3_conv(x, w, y, op: Op) -> int:
    """esp_nn_get_conv_scratch_size_esp32s3, for NHWC shapes (batch 1)."""
    _, in_h, in_w, cin = x
    cout, kh, kw, _ = w
    _, out_h, out_w, _ = y
    (s_h, s_w), (pad_h, pad_w) = op.stride, op.padding
    align = 64  # alignment (16) + assembly pre/post access margin (48)
    if kh == kw == 1 and pad_h == pad_w == 0 and s_h == s_w == 1:
        channels8 = (cin + 7) & ~7
        transpose = 0 if in_w * in_h < 8 else 2 * 8 * channels8
        return (in_w * in_h * channels8 if cin % 8 else 0) + channels8 * cout + transpose + align
    row, window = kw * cin, kw * kh * cin
    if row < 16 and window >= 16:  # the im2col path
        window16 = (window + 15) & ~15
        return cout * 4 + 16 + cout * window16 + 16 + window16 + align
    channels16 = (cin + 15) & ~15
    padded_input = 0 if pad_h == pad_w == 0 else (in_w + 2 * pad_w) * (in_h + 2 * pad_h) * cin
    filters = kw * kh * channels16 * cout
    filter_alignment = (row + 15) // 16 * 16 * kh * cout
    pad_right = max(0, out_w * s_w + kw - 1 - in_w)
    pad_bottom = max(0, out_h * s_h + kh - 1 - in_h)
    boundary = (in_w + pad_right) * (in_h + pad_bottom) * cin if pad_right or pad_bottom else 0
    return padded_input + filters + filter_alignment + boundary + align + cout * 4


def _esp_nn_s3_depthwise(x, w, y, op: Op) -> int:
    """esp_nn_get_depthwise_conv_scratch_size_esp32s3, for NHWC shapes (batch 1)."""
    _, in_h, in_w, channels = x
    _, kh, kw, cout = w
    _, out_h, out_w, _ = y
    (s_h, s_w), (pad_h, pad_w) = op.stride, op.padding
    mult = cout // channels
    filter_size = kw * kh * channels * mult
    if mult == 1 and channels % 8 == 0:
        if kh == kw == 3:
            if channels % 16 == 0:
                if pad_w or pad_h:
                    pad_width, pad_height = 2 * pad_w, 2 * pad_h
                else:
                    pad_width = out_w * s_w + kw - 1 - in_w
                    pad_height = out_h * s_h + kh - 1 - in_h
                if pad_width or pad_height:
                    full = (in_w + pad_width) * (in_h + pad_height) * channels
                    if full <= 40 * 1024:
                        return filter_size + full + 16
                    return filter_size + (in_w + pad_width) * kh * channels + 16
                return filter_size + 16
            if channels >= 12:
                channels16 = (channels + 15) & ~15
                pad_width = 2 * pad_w + max(0, out_w * s_w + 2 - in_w)
                pad_height = 2 * pad_h + max(0, out_h * s_h + 2 - in_h)
                return (9 * channels16 + (in_w + pad_width) * (in_h + pad_height) * channels16
                        + out_w * out_h * channels16 + 64)
            return 2 * (filter_size + in_w * in_h * channels) + 32
        total_s16 = 2 * (filter_size + in_w * in_h * channels)
        if total_s16 <= 48 * 1024:
            return total_s16 + 32
        return 2 * filter_size + 2 * in_w * kh * channels + 32
    if mult == 1 and channels > 3:
        channels8 = (channels + 7) & ~7

        def up16(n):
            return (n + 15) & ~15

        input_start = up16(kw * kh * channels8 * 2)
        out_start = up16(input_start + in_w * in_h * channels8 * 2)
        bias_start = up16(out_start + out_w * out_h * channels8)
        return bias_start + 3 * channels8 * 4 + 16
    if mult % 4 == 0:
        return 2 * (filter_size + in_w * in_h * channels) + 32
    return 32


def _esp_nn_s3(graph: Graph, op: Op) -> list[int]:
    # esp-tflite-micro asks ESP-NN for scratch only for int8 inputs; int16 and float run reference kernels
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D") and graph.tensors[op.inputs[0]].itemsize == 1:
        x, w, y = (graph.tensors[i].shape for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
        size = (_esp_nn_s3_conv if op.kind == "CONV_2D" else _esp_nn_s3_depthwise)(x, w, y, op)
        return [size]
    return _esp_nn(graph, op)


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
            sizes = _esp_nn_s3(graph, op) if core == ESP32_S3_CORE else _esp_nn(graph, op)
        else:
            sizes = []
        requests.extend((i, size) for size in sizes if size > 0)
    return requests
