"""One real search on tiny data, through the CLI as a user runs it: search, resume, report, export."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from nas.cli import main

pytestmark = pytest.mark.slow

SEARCH = ["search", "--data", "tiny.npz", "--study", "e2e", "--trials", "6", "--epochs", "2",
          "--seed", "1", "--max-latency-ms", "5"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    from nas.lightcurves import generate

    root = tmp_path_factory.mktemp("e2e")
    x, y = generate(per_class=10, seed=5, length=128)
    np.savez(root / "tiny.npz", x_train=x[:42], y_train=y[:42], x_test=x[42:], y_test=y[42:])
    return root


@pytest.fixture(scope="module")
def searched(workdir):
    mp = pytest.MonkeyPatch()
    mp.chdir(workdir)
    assert main(SEARCH) == 0
    yield workdir
    mp.undo()


def _study(name="e2e"):
    from nas.study import default_storage, load

    return load(name, default_storage(name))


def test_infeasible_candidates_are_recorded_and_never_trained(searched):
    study, _ = _study()
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert pruned, "the budget was chosen so that some candidates are over it"
    for t in pruned:
        assert t.user_attrs["trained"] is False and t.user_attrs["feasible"] is False
        assert "artifacts" not in t.user_attrs and "val_accuracy_int8" not in t.user_attrs
        assert "train_seconds" not in t.user_attrs
        assert max(t.constraints.values()) > 0  # what the sampler learns from
        assert t.user_attrs["broken"] == [k for k, v in t.constraints.items() if v > 0]


def test_feasible_candidates_carry_int8_accuracy_and_exact_costs(searched):
    study, _ = _study()
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert done
    for t in done:
        acc = t.user_attrs["val_accuracy_int8"]
        assert 0.0 <= acc <= 1.0 and t.values[0] == acc
        assert t.values[1] == t.user_attrs["cost"]["flash_bytes"]
        assert t.user_attrs["cost"]["latency_ms"] <= 5.0 or not t.user_attrs["feasible"]


def test_resume_adds_trials_to_the_same_study(searched, monkeypatch):
    monkeypatch.chdir(searched)
    before = len(_study()[0].trials)
    assert main(["resume", "e2e", "--trials", "2"]) == 0
    study, config = _study()
    assert len(study.trials) == before + 2
    assert config.epochs == 2 and config.budget["max_latency_ms"] == 5.0  # read back from the study
    # running the same search command again continues it as well
    assert main([*SEARCH[:5], "--trials", "1", "--epochs", "2", "--seed", "1", "--max-latency-ms", "5"]) == 0
    assert len(_study()[0].trials) == before + 3


def test_report_holds_the_front(searched, monkeypatch):
    from nas.report import pareto_data
    from nas.results import study_rows

    monkeypatch.chdir(searched)
    assert main(["report", "e2e"]) == 0
    html = (searched / "reports" / "e2e" / "pareto.html").read_text()
    study, config = _study()
    data = pareto_data(study_rows(study), config.to_dict())
    assert data["front"], "at least one trained model within the budget"
    for point in data["front"]:
        assert f"#{point['trial']}" in html
    assert "Pareto front" in html and "over latency budget" in html


def test_show_json_lists_every_trial(searched, monkeypatch, capsys):
    monkeypatch.chdir(searched)
    capsys.readouterr()
    assert main(["show", "e2e", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(_study()[0].trials)
    assert {"number", "state", "params", "val_accuracy_int8", "flash_bytes", "arena_bytes", "latency_ms",
            "macs", "feasible", "trained", "on_front"} <= set(rows[0])
    assert any(r["on_front"] for r in rows)


def test_exported_model_runs_in_tflm_within_the_header_arena(searched, monkeypatch):
    from tflite_micro.python.tflite_micro import runtime

    from nas.quantize import Int8Model

    monkeypatch.chdir(searched)
    assert main(["export", "e2e", "--pareto"]) == 0
    folders = sorted((searched / "reports" / "e2e" / "models").iterdir())
    assert folders
    for folder in folders:
        assert {p.name for p in folder.iterdir()} >= {"model.keras", "model_int8.tflite", "model_data.h",
                                                      "model_card.json"}
        tflite = (folder / "model_int8.tflite").read_bytes()
        header = (folder / "model_data.h").read_text()
        arena = int(re.search(r"#define NAS_TENSOR_ARENA_SIZE (\d+)", header).group(1))
        body = header.split("g_model_data[] = {")[1].split("};")[0]
        assert bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body)) == tflite
        assert f"#define NAS_MODEL_DATA_LEN {len(tflite)}" in header
        interp = runtime.Interpreter.from_bytes(tflite, arena_size=arena)
        x = np.load(searched / "tiny.npz")["x_test"][:3]
        model = Int8Model(tflite)
        q = model.quantize_input(((x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True))[:, None])
        interp.set_input(q[0].reshape(model.input_shape), 0)
        interp.invoke()
        assert np.array(interp.get_output(0)).shape[-1] == 6
        card = json.loads((folder / "model_card.json").read_text())
        assert card["flash_bytes"] == len(tflite) and card["accuracy"]["test_int8"] is not None
        assert set(card["latency_ms_by_device"]) == {"nano33", "esp32", "pico", "stm32f4", "rpizero"}


@pytest.mark.parametrize("argv, words", [
    (["search", "--device", "arduino-uno"], "unknown device 'arduino-uno'"),
    (["search", "--space", "transformer"], "unknown space 'transformer'"),
    (["search", "--data", "nope.npz"], "does not exist"),
    (["search", "--data", "bad.npz"], "not a NumPy .npz"),
    (["search", "--trials", "0"], "must be greater than 0"),
    (["search", "--max-flash-kb", "-1"], "must be greater than 0"),
    (["search", "--study", "../evil"], "invalid study name"),
    (["resume", "missing"], "no study named 'missing'"),
    (["export", "e2e", "--trial", "999"], "has no trial 999"),
])
def test_user_errors_are_one_line_exit_2(searched, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(searched)
    (searched / "bad.npz").write_text("not numpy")
    before = len(_study()[0].trials)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert len(_study()[0].trials) == before  # nothing stored was touched
