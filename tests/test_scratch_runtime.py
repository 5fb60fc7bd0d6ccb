"""Kernel scratch buffers per library, the TFLM runtime beside the model, and --count-runtime."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cost_models import DEVICES, Budget, estimate
from cost_models.arena import plan_arena
from cost_models.graph import Graph, Op, Tensor
from cost_models.runtime import FRAMEWORK_FLASH_BYTES, runtime_footprint
from cost_models.scratch import scratch_requests


def _one_op(kind: str, x: tuple, w: tuple | None, y: tuple, **geometry) -> Graph:
    tensors = [Tensor(x, 1, False), Tensor(y, 1, False)]
    inputs: tuple[int, ...] = (0,)
    if w is not None:
        tensors += [Tensor(w, 1, True), Tensor((w[0] if kind == "CONV_2D" else w[-1],), 4, True)]
        inputs = (0, 2, 3)
    return Graph(tuple(tensors), (Op(kind, inputs, (1,), **geometry),), (0,), (1,))


def test_esp_nn_on_the_esp32_s3_asks_what_its_scratch_size_functions_compute():
    """Sizes worked by hand from esp_nn_get_conv_scratch_size_esp32s3 and
    esp_nn_get_depthwise_conv_scratch_size_esp32s3 (esp-nn @d45b843) for these shapes."""
    # 1x1, stride 1: 12 channels padded to 16 (50 x 16 B), filters 16 x 16, transpose 2 x 8 x 16, margin 64
    pointwise = _one_op("CONV_2D", (1, 1, 50, 12), (16, 1, 1, 12), (1, 1, 50, 16))
    assert scratch_requests(pointwise, "esp-nn", "xtensa-lx7") == [(0, 800 + 256 + 256 + 64)]
    # 1x5 stride 2 "same" (TFLM pads 1 on the left): padded input 52 x 3, filters 5 x 16 x 8, filter rows
    # aligned to 16 x 8, right/bottom boundary (50 + 4) x 3, margin 64, offsets 8 x 4
    conv = _one_op("CONV_2D", (1, 1, 50, 3), (8, 1, 5, 3), (1, 1, 25, 8), stride=(1, 2), padding=(0, 1))
    assert scratch_requests(conv, "esp-nn", "xtensa-lx7") == [(0, 156 + 640 + 128 + 162 + 64 + 32)]
    # depthwise 1x3, 16 channels, multiplier 1: int16 copies of filter and input, + 32
    dw = _one_op("DEPTHWISE_CONV_2D", (1, 1, 40, 16), (1, 1, 3, 16), (1, 1, 40, 16), padding=(0, 1))
    assert scratch_requests(dw, "esp-nn", "xtensa-lx7") == [(0, 2 * (48 + 640) + 32)]
    # the ESP32's generic kernels ask for none
    assert scratch_requests(conv, "esp-nn", "xtensa-lx6") == scratch_requests(dw, "esp-nn", "xtensa-lx6") == []


def test_cmsis_nn_conv_im2col_follows_its_buffer_size_function():
    # arm_convolve_s8_get_buffer_size: 2 * (kh*kw*cin rounded up to 4) int16 values
    conv = _one_op("CONV_2D", (1, 1, 64, 3), (8, 1, 5, 3), (1, 1, 64, 8))
    assert scratch_requests(conv, "cmsis-nn", "cortex-m4f") == [(0, 2 * 16 * 2)]
    assert scratch_requests(conv, "cmsis-nn", "cortex-m0plus") == [(0, 64)]  # same on the non-DSP path
    pointwise = _one_op("CONV_2D", (1, 1, 64, 3), (8, 1, 1, 3), (1, 1, 64, 8))
    assert scratch_requests(pointwise, "cmsis-nn", "cortex-m4f") == []
    assert scratch_requests(conv, "esp-nn", "xtensa-lx6") == scratch_requests(conv, "reference") == []


def test_depthwise_and_pool_scratch_needs_the_dsp_extension():
    dw = _one_op("DEPTHWISE_CONV_2D", (1, 1, 64, 8), (1, 1, 5, 8), (1, 1, 64, 8))
    assert scratch_requests(dw, "cmsis-nn", "cortex-m4f") == [(0, 8 * 5 * 2)]
    assert scratch_requests(dw, "cmsis-nn", "cortex-m0plus") == []
    dw3x3 = _one_op("DEPTHWISE_CONV_2D", (1, 8, 8, 8), (1, 3, 3, 8), (1, 8, 8, 8))
    assert scratch_requests(dw3x3, "cmsis-nn", "cortex-m4f") == []  # arm_depthwise_conv_3x3_s8
    pool = _one_op("AVERAGE_POOL_2D", (1, 1, 64, 8), None, (1, 1, 32, 8))
    assert scratch_requests(pool, "cmsis-nn", "cortex-m4f") == [(0, 32)]
    assert scratch_requests(pool, "cmsis-nn", "cortex-m0plus") == []


def test_esp_nn_softmax_and_every_librarys_mean():
    softmax = _one_op("SOFTMAX", (1, 6), None, (1, 6))
    assert scratch_requests(softmax, "esp-nn") == [(0, 24)]
    assert scratch_requests(softmax, "cmsis-nn", "cortex-m4f") == []
    tensors = (Tensor((1, 1, 40, 7), 1, False), Tensor((2,), 4, True), Tensor((1, 7), 1, False))
    mean = Graph(tensors, (Op("MEAN", (0, 1), (2,)),), (0,), (2,))
    for kernels in ("reference", "cmsis-nn", "esp-nn"):
        assert scratch_requests(mean, kernels, "cortex-m4f") == [(0, 28), (0, 16), (0, 8)]
    with pytest.raises(ValueError, match="unknown kernel library"):
        scratch_requests(mean, "tvm")


def test_scratch_is_reported_as_its_share_of_the_planned_arena():
    # a 1x5 conv whose im2col buffer lives beside its input and output at the peak
    conv = _one_op("CONV_2D", (1, 1, 64, 3), (8, 1, 5, 3), (1, 1, 64, 8))
    nano, esp = estimate(conv, DEVICES["nano33"]), estimate(conv, DEVICES["esp32"])
    tensors_only = plan_arena(conv).peak_bytes
    assert tensors_only == 192 + 512
    assert nano.scratch_bytes == 64 and nano.arena_bytes == tensors_only + 64
    assert esp.scratch_bytes == 0 and esp.arena_bytes == tensors_only


def test_runtime_is_beside_the_budget_unless_counted():
    conv = _one_op("CONV_2D", (1, 1, 64, 3), (8, 1, 5, 3), (1, 1, 64, 8))
    nano = DEVICES["nano33"]
    runtime = runtime_footprint(conv, nano)
    assert runtime.flash_bytes == FRAMEWORK_FLASH_BYTES and "Cortex-M3" in runtime.source
    assert "borrows" in runtime_footprint(conv, DEVICES["esp32"]).source
    cost = estimate(conv, nano, flash_bytes=5000)
    assert cost.runtime_flash_bytes == FRAMEWORK_FLASH_BYTES and cost.runtime_ram_bytes == runtime.ram_bytes
    budget = Budget(max_flash_bytes=10_000)
    assert cost.violations(budget)["flash"] < 0
    assert cost.violations(replace(budget, count_runtime=True))["flash"] > 0  # 5000 + 9732 > 10000
    measured = replace(nano, runtime_flash_bytes=40_000, runtime_ram_bytes=1_000)
    assert runtime_footprint(conv, measured) == type(runtime)(40_000, 1_000, "device file nano33; "
                                                             "kernel code not included")


def test_device_files_are_checked_for_kernels_and_runtime(tmp_path):
    from cost_models.device import load_device_file

    head = 'name = "b"\ncore = "cortex-m4f"\nclock_hz = 1\nsram_bytes = 1\nflash_bytes = 1\n'
    bad_kernels = tmp_path / "k.toml"
    bad_kernels.write_text(head + 'kernels = "tvm"\n')
    with pytest.raises(ValueError, match="kernels must be one of"):
        load_device_file(bad_kernels)
    bad_runtime = tmp_path / "r.toml"
    bad_runtime.write_text(head + 'kernels = "cmsis-nn"\nruntime_flash_bytes = -3\n')
    with pytest.raises(ValueError, match="runtime_flash_bytes must be a whole number"):
        load_device_file(bad_runtime)
