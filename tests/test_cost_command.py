"""`nas cost` on user models: per-op table, totals, the feasibility matrix, safe loading."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nas.cli import main


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    import keras

    from tests.helpers import randomize_weights

    root = tmp_path_factory.mktemp("cost")
    inp = keras.Input(shape=(1, 64, 1), batch_size=1)
    x = keras.layers.Conv2D(8, (1, 5), padding="same", activation="relu")(inp)
    x = keras.layers.MaxPooling2D((1, 2))(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inp, out)
    randomize_weights(model)
    model.save(root / "m.keras")
    return root / "m.keras"


def test_cost_of_a_keras_model_on_all_devices(small_model, capsys):
    from cost_models import DEVICES
    from cost_models.arena import plan_arena
    from cost_models.scratch import scratch_requests
    from cost_models.tflite_reader import read_tflite
    from nas.quantize import measured_arena, to_int8_tflite

    capsys.readouterr()
    assert main(["cost", str(small_model), "--device", "all", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["op"] for r in report["ops"]] == ["CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    assert report["ops"][0]["macs"] == 64 * 8 * 5
    devices = {d["device"]: d for d in report["devices"]}
    assert set(devices) == set(DEVICES)
    assert all(d["fits"] for d in devices.values())  # a 3 KB model fits everywhere
    # the arena it reports is what tflite-micro allocates
    import keras

    model = keras.models.load_model(small_model, compile=False)
    tflite = to_int8_tflite(model, np.random.default_rng(0).normal(size=(8, 1, 64, 1)).astype(np.float32))
    measured = measured_arena(tflite)["head"]
    graph = read_tflite(tflite)
    assert plan_arena(graph, scratch_requests(graph, "reference")).peak_bytes == measured
    # on the boards, the same planner with their kernel library's scratch buffers
    for name in ("nano33", "esp32", "pico"):
        d = DEVICES[name]
        planned = plan_arena(graph, scratch_requests(graph, d.kernels, d.core)).peak_bytes
        assert devices[name]["arena_bytes"] == planned
        assert devices[name]["scratch_bytes"] == planned - plan_arena(graph).peak_bytes
    # CMSIS-NN asks a 32 B im2col buffer for the 1x5 conv, but it fits beside the conv's tensors,
    # below the peak at the max-pool: it adds nothing to the arena
    assert scratch_requests(graph, "cmsis-nn", "cortex-m4f") == [(0, 32)]
    assert devices["nano33"]["scratch_bytes"] == 0
    assert devices["nano33"]["runtime_flash_bytes"] > 0 and devices["nano33"]["runtime_ram_bytes"] > 0


def test_tight_budget_gives_over_budget_verdicts(small_model, capsys):
    capsys.readouterr()
    assert main(["cost", str(small_model), "--device", "pico", "--max-latency-ms", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "over latency" in out and "Per operator on pico" in out


def test_count_runtime_makes_the_library_pay(small_model, capsys):
    capsys.readouterr()
    assert main(["cost", str(small_model), "--device", "nano33", "--max-flash-kb", "10"]) == 0
    assert "fits" in capsys.readouterr().out
    assert main(["cost", str(small_model), "--device", "nano33", "--max-flash-kb", "10", "--count-runtime"]) == 0
    out = capsys.readouterr().out
    assert "over flash" in out and "model + TFLM runtime" in out


def test_lambda_layers_are_refused(tmp_path, capsys):
    import keras

    inp = keras.Input(shape=(4,))
    out = keras.layers.Lambda(lambda t: t * 2)(inp)
    path = tmp_path / "lambda.keras"
    keras.Model(inp, out).save(path)
    capsys.readouterr()
    assert main(["cost", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not a loadable Keras model" in err and "Traceback" not in err


def test_parameter_and_operation_budgets_are_checked_like_the_others(small_model, capsys):
    from cost_models import Budget, Cost

    cost = Cost(flash_bytes=1000, arena_bytes=100, persistent_bytes=10, latency_ms=1.0, macs=2000, params=500)
    assert set(cost.violations(Budget())) == {"flash", "ram", "latency"}  # unset: not a constraint at all
    over = cost.violations(Budget(max_params=400, max_macs=4000))
    assert over["params"] == pytest.approx(0.25) and over["macs"] == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="max_macs must be positive"):
        Budget(max_macs=0)
    capsys.readouterr()
    # the model: conv 8 filters (5 weights + 1 bias each) and a dense 256 -> 3: 48 + 771 = 819 params, 3328 MACs
    assert main(["cost", str(small_model), "--device", "all", "--json", "--max-params", "800"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["budget"]["max_params"] == 800
    assert all(d["over_budget"] == ["params"] and not d["fits"] for d in report["devices"])
    assert main(["cost", str(small_model), "--device", "nano33", "--max-macs", "1000"]) == 0
    out = capsys.readouterr().out
    assert "MACs 1000" in out and "over macs" in out


def test_a_search_rejects_candidates_over_a_parameter_budget_before_training(tmp_path, monkeypatch, capsys):
    from nas.lightcurves import generate
    from nas.schema import TrialRecord
    from nas.study import default_storage, load

    x, y = generate(per_class=6, seed=4, length=64)
    np.savez(tmp_path / "d.npz", x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    monkeypatch.chdir(tmp_path)
    assert main(["search", "--data", "d.npz", "--trials", "4", "--max-params", "60", "--study", "p",
                 "--jobs", "1"]) == 0
    study, config = load("p", default_storage("p"))
    assert config.budget.max_params == 60
    for t in study.trials:  # no architecture of the space has 60 parameters or fewer
        r = TrialRecord.read(t)
        assert t.state.name == "PRUNED" and not r.trained and "params" in r.broken and t.constraints
    assert "No trained model within the budget yet." in capsys.readouterr().out
