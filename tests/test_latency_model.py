"""The loop-count latency model: which kernel loops an operator runs on each library, and what the built-in
costs say of the published models they were fitted to."""

from __future__ import annotations

import csv

import pytest

from cost_models import DEVICES
from cost_models.graph import Graph, Op, Tensor
from cost_models.kernels import graph_features, op_features
from cost_models.latency import kernel_model, latency_ms
from tests.helpers import SHARED_DATA


def _one_op(kind, x, w, y, **geometry) -> Graph:
    tensors = (Tensor(x, 1, False), Tensor(y, 1, False), Tensor(w, 1, True),
               Tensor((w[0] if kind == "CONV_2D" else w[-1],), 4, True))
    return Graph(tensors, (Op(kind, (0, 2, 3), (1,), **geometry),), (0,), (1,))


def test_cmsis_nn_loops_follow_its_kernel_dispatch():
    pw = _one_op("CONV_2D", (1, 1, 50, 8), (16, 1, 1, 8), (1, 1, 50, 16))
    f = op_features(pw, pw.ops[0], "cmsis-nn-dsp")  # 1x1 stride 1: mat_mult_nt_t, no im2col
    assert (f["pw_mac"], f["conv_mac"], f["im2col"], f["tail_mac"], f["requant"]) == (50 * 16 * 8, 0, 0, 0, 800)
    conv = _one_op("CONV_2D", (1, 1, 50, 3), (16, 1, 5, 3), (1, 1, 25, 16), stride=(1, 2), padding=(0, 1))
    f = op_features(conv, conv.ops[0], "cmsis-nn-dsp")  # im2col of 15 values per pixel; 15 % 4 = 3 scalar
    assert (f["conv_mac"], f["im2col"], f["tail_mac"]) == (25 * 16 * 15, 25 * 15, 25 * 16 * 3)
    assert op_features(conv, conv.ops[0], "cmsis-nn-c")["tail_mac"] == 0  # every loop is scalar there
    dw = _one_op("DEPTHWISE_CONV_2D", (1, 1, 40, 6), (1, 1, 3, 6), (1, 1, 40, 6))
    f = op_features(dw, dw.ops[0], "cmsis-nn-dsp")  # 6 channels: 4 on SMLAD, 2 scalar
    assert f["dw_mac"] == 40 * 6 * 3 and f["tail_mac"] == pytest.approx(f["dw_mac"] * 2 / 6)
    mult = _one_op("DEPTHWISE_CONV_2D", (1, 1, 40, 2), (1, 1, 3, 8), (1, 1, 40, 8))
    assert op_features(mult, mult.ops[0], "cmsis-nn-dsp")["dw_slow_mac"] == 40 * 8 * 3  # multiplier 4


def test_esp32_s3_counts_padded_channels_and_its_slow_depthwise():
    conv = _one_op("CONV_2D", (1, 1, 50, 3), (16, 1, 5, 3), (1, 1, 25, 16), stride=(1, 2), padding=(0, 1))
    assert op_features(conv, conv.ops[0], "esp-nn-s3")["conv_mac"] == 25 * 16 * 5 * 16  # 3 channels padded to 16
    dw = _one_op("DEPTHWISE_CONV_2D", (1, 1, 40, 6), (1, 1, 3, 6), (1, 1, 40, 6))
    assert op_features(dw, dw.ops[0], "esp-nn-s3")["dw_slow_mac"] == 40 * 6 * 3  # 6 % 8: the C kernel


def test_every_board_names_its_engine_and_costs_work():
    small = _one_op("CONV_2D", (1, 1, 64, 4), (8, 1, 3, 4), (1, 1, 64, 8), padding=(0, 1))
    for device in DEVICES.values():
        model = kernel_model(device)
        assert model.engine and model.source
        assert 0 < latency_ms(small, device)
    assert "ESP32-S3" in kernel_model(DEVICES["esp32s3"]).engine
    assert "CMSIS-NN" in kernel_model(DEVICES["nrf5340"]).engine


def test_the_built_in_costs_reproduce_the_measurements_they_were_fitted_to():
    """person_detect with TFLM on the RP2040 (the per-op fit), two Cortex-M4F boards and the ESP32-S3
    (in-sample: a guard against a kernels.toml or loop-count change that breaks the fit, not a held-out
    accuracy; that is benchmarks/latency_accuracy.py's)."""
    path = SHARED_DATA / "latency" / "person_detection_cross_device.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent: the published measurements live in ../shared/data")
    from dataclasses import replace

    from benchmarks.reference_models import graphs

    graph = graphs()["person_detect"]
    with path.open(newline="") as f:
        rows = {r["device"]: r for r in csv.DictReader(f) if "reference" not in r["framework"]}
    cases = [("Raspberry Pi Pico (RP2040)", "pico", 0.05), ("STM32F446RE (Nucleo)", "stm32f4", 0.25),
             ("STM32F413ZH (Nucleo)", "stm32f4", 0.25), ("ESP32 (esp-tflite-micro)", "esp32", 0.35)]
    for name, board, tolerance in cases:
        row = rows[name]
        device = replace(DEVICES[board], clock_hz=int(float(row["mhz"]) * 1e6))
        assert latency_ms(graph, device) / float(row["latency_ms"]) == pytest.approx(1, abs=tolerance), name
    # the ESP32-S3 with its arena in internal RAM (esp-nn README)
    assert latency_ms(graph, DEVICES["esp32s3"]) / 47.0 == pytest.approx(1, abs=0.2)
    assert graph_features(graph, "cmsis-nn-dsp")["dw_slow_mac"] == 165888  # the first op: multiplier 8


def test_int16_and_float_latency_say_they_are_assumed():
    graph8 = _one_op("CONV_2D", (1, 1, 64, 4), (8, 1, 3, 4), (1, 1, 64, 8), padding=(0, 1))
    t = list(graph8.tensors)
    t[0], t[1], t[3] = Tensor((1, 1, 64, 4), 2, False), Tensor((1, 1, 64, 8), 2, False), Tensor((8,), 8, True)
    graph16 = Graph(tuple(t), graph8.ops, graph8.inputs, graph8.outputs)
    for name in ("nano33", "pico", "esp32", "esp32s3"):
        device, model = DEVICES[name], kernel_model(DEVICES[name])
        assert model.assumptions(graph8) == []
        assert latency_ms(graph16, device) == pytest.approx(model.int16_factor * latency_ms(graph8, device))
        assert "ASSUMED" in model.assumptions(graph16)[0]
