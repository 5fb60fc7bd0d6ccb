"""`nas calibrate` recovers coefficients from measurements and writes a board file --device accepts."""

from __future__ import annotations

import numpy as np

from cost_models import DEVICES, get_device
from cost_models.calibrate import _scaled, predict_ms
from cost_models.latency import kernel_model, latency_ms
from cost_models.tflite_reader import read_tflite
from nas.cli import main


def test_calibrate_fits_measurements_and_writes_a_device(converted, tmp_path, capsys):
    nano = DEVICES["nano33"]
    base = kernel_model(nano)
    # a "real board" whose convolutions are 1.8x slower and whose other ops 0.7x, plus invoke overhead
    kinds = sorted(base.ops)
    truth = _scaled(base, kinds, np.log([3.0] + [1.8 if k == "CONV_2D" else 0.7 for k in kinds]))
    lines = ["model,measured_ms"]
    graphs = []
    for i, (_, tflite) in enumerate(converted[:8]):
        (tmp_path / f"m{i}.tflite").write_bytes(tflite)
        graph = read_tflite(tflite)
        graphs.append(graph)
        lines.append(f"m{i}.tflite,{predict_ms(truth, graph, nano.clock_hz):.6f}")
    (tmp_path / "measured.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "mine.toml"
    capsys.readouterr()
    assert main(["calibrate", "--device", "nano33", "--measurements", str(tmp_path / "measured.csv"),
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    before = float(text.split("before: median |error| ")[1].split("%")[0])
    after = float(text.split("after: median |error| ")[1].split("%")[0])
    assert after < before / 4, text
    board = get_device(str(out))
    assert board.name == "nano33-calibrated" and board.clock_hz == nano.clock_hz
    for graph in graphs:
        measured = predict_ms(truth, graph, nano.clock_hz)
        assert abs(latency_ms(graph, board) / measured - 1) < abs(latency_ms(graph, nano) / measured - 1)


def test_calibrate_rejects_bad_measurements(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("model,ms\nx.tflite,3\n")
    capsys.readouterr()
    assert main(["calibrate", "--device", "nano33", "--measurements", str(bad)]) == 2
    assert "model, measured_ms" in capsys.readouterr().err
