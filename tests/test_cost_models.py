from __future__ import annotations

import pytest

from cost_models import DEVICES, Budget, Cost, get_device
from cost_models.device import load_device_file
from cost_models.graph import Graph, Op, Tensor, UnsupportedOpError
from cost_models.latency import latency_ms, op_latency_ms


def _conv_graph(out_c: int = 8, in_c: int = 4, op: str = "CONV_2D") -> Graph:
    tensors = (Tensor((1, 1, 64, in_c), 1, False), Tensor((out_c, 1, 3, in_c), 1, True),
               Tensor((out_c,), 4, True), Tensor((1, 1, 64, out_c), 1, False))
    return Graph(tensors, (Op(op, (0, 1, 2), (3,)),), (0,), (3,))


def test_builtin_devices_match_the_datasheets():
    assert set(DEVICES) == {"nano33", "esp32", "esp32s3", "nrf5340", "pico", "stm32f4", "rpizero"}
    nano = DEVICES["nano33"]
    assert (nano.core, nano.clock_hz, nano.sram_bytes, nano.flash_bytes) == (
        "cortex-m4f", 64_000_000, 256 * 1024, 1024 * 1024)
    assert DEVICES["pico"].core == "cortex-m0plus" and DEVICES["stm32f4"].clock_hz == 168_000_000
    assert (DEVICES["esp32s3"].core, DEVICES["nrf5340"].core) == ("xtensa-lx7", "cortex-m33")
    assert all(d.source for d in DEVICES.values())


def test_macs_and_latency_scale_with_work_and_clock():
    small, big = _conv_graph(8), _conv_graph(32)
    assert small.total_macs == 64 * 8 * 3 * 4 and big.total_macs == 4 * small.total_macs
    for dev in DEVICES.values():
        assert 0 < latency_ms(small, dev) < latency_ms(big, dev)
    # same core, faster clock: stm32f4 (168 MHz) beats nano33 (64 MHz) by the clock ratio
    ratio = latency_ms(big, DEVICES["nano33"]) / latency_ms(big, DEVICES["stm32f4"])
    assert ratio == pytest.approx(168 / 64)


def test_odd_channel_counts_cost_more_on_cmsis_nn():
    even, odd = _conv_graph(8, in_c=4), _conv_graph(8, in_c=3)
    per_mac_even = op_latency_ms(even, DEVICES["nano33"])[0] / even.total_macs
    per_mac_odd = op_latency_ms(odd, DEVICES["nano33"])[0] / odd.total_macs
    assert per_mac_odd > per_mac_even


def test_unknown_op_is_an_error_never_zero():
    g = _conv_graph(op="LSTM_FANCY")
    with pytest.raises(UnsupportedOpError, match="LSTM_FANCY"):
        g.check_supported()
    with pytest.raises(UnsupportedOpError, match="LSTM_FANCY"):
        latency_ms(g, DEVICES["nano33"])


def test_violations_are_fractions_over_budget():
    budget = Budget(1000, 2000, 10.0)
    cost = Cost(flash_bytes=1500, arena_bytes=1000, persistent_bytes=500, latency_ms=5.0, macs=1, params=1)
    v = cost.violations(budget)
    assert v["flash"] == pytest.approx(0.5) and v["ram"] == pytest.approx(-0.25)
    assert v["latency"] == pytest.approx(-0.5)
    assert cost.broken(budget) == ["flash"] and Cost(1000, 1000, 500, 10.0, 1, 1).broken(budget) == []  # at: fits
    with pytest.raises(ValueError, match="positive"):
        Budget(0, 1, 1)


def test_user_device_file(tmp_path):
    good = tmp_path / "board.toml"
    good.write_text('name = "myboard"\ncore = "cortex-m4f"\nkernels = "cmsis-nn"\n'
                    "clock_hz = 120_000_000\nsram_bytes = 131072\nflash_bytes = 524288\n")
    dev = get_device(str(good))
    assert dev.name == "myboard" and latency_ms(_conv_graph(), dev) > 0
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ncore = "cortex-m4f"\nkernels = "cmsis-nn"\nclock_hz = -5\n'
                   "sram_bytes = 1\nflash_bytes = 1\n")
    with pytest.raises(ValueError, match="clock_hz must be a positive"):
        load_device_file(bad)
    missing = tmp_path / "missing.toml"
    missing.write_text('name = "x"\n')
    with pytest.raises(ValueError, match="missing core"):
        load_device_file(missing)
    with pytest.raises(ValueError, match="unknown device"):
        get_device("arduino-uno")
