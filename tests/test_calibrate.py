"""`nas calibrate` recovers coefficients from measurements and writes a board file --device accepts."""

from __future__ import annotations

import numpy as np
import pytest

from cost_models import DEVICES, get_device
from cost_models.calibrate import _scaled, predict_ms
from cost_models.latency import kernel_model, latency_ms
from cost_models.tflite_reader import read_tflite
from nas.cli import main


def test_calibrate_fits_measurements_and_writes_a_device(converted, tmp_path, capsys):
    nano = DEVICES["nano33"]
    base = kernel_model(nano)
    # a "real board" whose dispatch is 3x slower, conv MACs 1.8x and every other loop 0.7x
    loops = sorted(base.costs)
    truth = _scaled(base, loops, np.log([3.0 if k == "op" else 1.8 if k == "conv_mac" else 0.7 for k in loops]))
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


def _board_rows(board: str, engine: str) -> dict:
    import csv

    from tests.helpers import SHARED_DATA

    path = SHARED_DATA / "latency" / "mlperf_tiny_and_vendor_measurements.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent: the published measurements live in ../shared/data")
    names = {"AD": "ad", "IC": "ic", "KWS": "kws", "VWW": "vww"}
    with path.open(newline="") as f:
        return {names[k]: (float(r["measured_ms"]), int(float(r["clock_mhz"]) * 1e6))
                for r in csv.DictReader(f) if r["board"] == board and r["library"] == engine
                for k in names if f"MLPerfTiny {k} " in r["model_or_op"]}


@pytest.mark.parametrize("board,engine", [("NUCLEO-L4R5ZI", "microTVM + CMSIS-NN"),
                                          ("nRF5340-DK", "microTVM + CMSIS-NN"),
                                          ("NuMaker-M467HJ", "ONNC + CMSIS-NN (CMSIS_5 b966796), Zephyr")])
def test_calibrating_on_half_of_a_boards_measurements_improves_the_other_half(board, engine):
    """Published MLPerf Tiny times of one board (four models): calibrating nano33's model (at the board's
    clock) on two of them lowers the mean error on the other two, for every way of halving them."""
    from dataclasses import replace

    from benchmarks.reference_models import graphs
    from cost_models.calibrate import calibrate

    rows = _board_rows(board, engine)
    assert set(rows) == {"ad", "ic", "kws", "vww"}
    models = graphs()
    device = replace(DEVICES["nano33"], clock_hz=rows["ad"][1])
    for fit_on in (["kws", "ad"], ["ic", "vww"], ["kws", "ic"], ["ad", "vww"], ["kws", "vww"], ["ad", "ic"]):
        held = [m for m in rows if m not in fit_on]
        result = calibrate(device, [models[m] for m in fit_on], [rows[m][0] for m in fit_on])
        before = np.mean([abs(predict_ms(result.before, models[m], device.clock_hz) / rows[m][0] - 1) for m in held])
        after = np.mean([abs(predict_ms(result.after, models[m], device.clock_hz) / rows[m][0] - 1) for m in held])
        assert after < before, (board, fit_on, before, after)
