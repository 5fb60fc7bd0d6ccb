"""The mlp space: teachers, exact reduction, distillation data, verdicts, and the CLI end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nas.distill import Tolerance, detect_columns, fidelity, fold_standardization, synthesize
from nas.teacher import DenseChain, DenseLayer, TeacherError, load_teacher, reduce_exactly
from tests.helpers import SHARED_DATA

FLIESANN = SHARED_DATA / "fliesann"


def _rows(n: int = 300, seed: int = 0) -> np.ndarray:
    """Two one-hot columns, one integer column, three continuous ones."""
    rng = np.random.default_rng(seed)
    onehot = np.eye(2)[rng.integers(2, size=n)]
    return np.column_stack([onehot, rng.integers(0, 5, size=n), rng.normal(size=(n, 3)) * [1, 5, 0.1]])


@pytest.fixture(scope="module")
def small_teacher(tmp_path_factory):
    """A regression teacher trained here, input (N, 1, 6) like FLiESANN's, with 5 units made dead."""
    import keras

    root = tmp_path_factory.mktemp("teacher")
    x = _rows()
    y = np.column_stack([np.sin(x[:, 3]) + x[:, 0], x[:, 4] * 0.1 + x[:, 2] * 0.2, x[:, 5] ** 2])
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=(1, 6))
    h = keras.layers.Dense(24, activation="relu")(inp)
    h = keras.layers.Dense(12, activation="relu")(h)
    out = keras.layers.Dense(3)(h)
    model = keras.Model(inp, out)
    model.compile("adam", "mse")
    model.fit(x[:, None], y[:, None], epochs=20, verbose=0)
    w, b = model.layers[1].get_weights()
    b[:5] = -1e3  # these five never activate on any row
    model.layers[1].set_weights([w, b])
    model.save(root / "teacher.keras")
    np.savez(root / "rows.npz", x=x)
    return root


def test_exact_reduction_removes_dead_units_and_keeps_the_function(small_teacher):
    teacher = load_teacher(small_teacher / "teacher.keras")
    x = np.load(small_teacher / "rows.npz")["x"]
    assert teacher.input_shape == (1, 6) and teacher.task == "regression"
    assert np.allclose(teacher.chain.forward(x), teacher.predict(x), atol=1e-5)
    r = reduce_exactly(teacher.chain, x)
    assert r.removed[0] >= 5 and r.dead_over_box[0] >= 5
    assert r.chain.params < teacher.chain.params
    assert np.allclose(r.chain.forward(x), teacher.predict(x), rtol=5e-4, atol=1e-4)
    assert "300 given rows" in r.domain


def test_constant_units_fold_into_the_next_bias():
    w1 = np.array([[1.0, 0.0], [0.0, 0.0]])  # unit 1 ignores the input: sigmoid(0.5) on every row
    chain = DenseChain([DenseLayer(w1, np.array([0.0, 0.5]), "sigmoid"),
                        DenseLayer(np.array([[2.0], [3.0]]), np.array([1.0]), "linear")])
    x = np.random.default_rng(0).normal(size=(50, 2))
    r = reduce_exactly(chain, x)
    assert r.removed == [1] and r.chain.widths == [2, 1, 1]
    assert np.allclose(r.chain.forward(x), chain.forward(x), atol=1e-12)


def test_distillation_rows_stay_valid():
    x = _rows()
    cols = detect_columns(x)
    assert cols.binary == (0, 1) and cols.integer == (2,) and cols.continuous == (3, 4, 5)
    s = synthesize(x, 5000, cols, seed=1)
    assert np.all(s[:, :2].sum(1) == 1)  # one-hot groups copied whole
    assert np.all(s[:, 2] == np.round(s[:, 2]))
    assert np.all(s >= x.min(0)) and np.all(s <= x.max(0))
    assert not np.isin(s[:, 3], x[:, 3]).all()  # continuous columns really perturbed
    assert detect_columns(x, discrete=(2,)).binary == (0, 1, 2)


def test_fidelity_verdict_and_the_tolerance_it_would_pass_at():
    ref = np.array([[1.0, 0.0], [2.0, 0.5]])
    pred = ref + np.array([[1e-3, 0.0], [0.0, 2e-4]])
    v = fidelity(pred, ref, Tolerance(5e-4, 1e-4), "regression", ["a", "b"])
    assert not v["passes"] and v["within_tolerance"] == 0.5  # row 1 is within, row 0 is not
    # row 0: 1e-3 / (1e-4 + 5e-4 * 1) = 1.667; row 1: 2e-4 / (1e-4 + 2.5e-4) = 0.571
    assert v["scale_to_pass"] == pytest.approx(1e-3 / 6e-4)
    assert v["per_output"]["b"]["passes"] and not v["per_output"]["a"]["passes"]
    assert v["worst_rows"][0]["row"] == 0
    s = v["scale_to_pass"]
    assert fidelity(pred, ref, Tolerance(5e-4 * s * 1.0001, 1e-4 * s * 1.0001), "regression")["passes"]
    with pytest.raises(ValueError, match="tolerances"):
        Tolerance(0, 0)


def test_standardization_folds_into_the_chain():
    rng = np.random.default_rng(0)
    chain = DenseChain([DenseLayer(rng.normal(size=(3, 4)), rng.normal(size=4), "tanh"),
                        DenseLayer(rng.normal(size=(4, 2)), rng.normal(size=2), "linear")])
    x = rng.normal(size=(20, 3)) * [1, 10, 100] + 5
    xm, xs, ym, ys = x.mean(0), x.std(0), np.array([1.0, -2.0]), np.array([3.0, 0.5])
    folded = fold_standardization(chain, xm, xs, ym, ys)
    assert np.allclose(folded.forward(x), chain.forward((x - xm) / xs) * ys + ym)


def test_teachers_that_cannot_be_distilled_are_refused(tmp_path):
    import keras

    inp = keras.Input(shape=(4,))
    keras.Model(inp, keras.layers.Lambda(lambda t: t * 2)(inp)).save(tmp_path / "lambda.keras")
    with pytest.raises(TeacherError, match="safe mode"):
        load_teacher(tmp_path / "lambda.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a model")
    with pytest.raises(TeacherError, match="not a loadable Keras model"):
        load_teacher(tmp_path / "junk.keras")
    conv_in = keras.Input(shape=(8, 1))
    keras.Model(conv_in, keras.layers.Conv1D(2, 3)(conv_in)).save(tmp_path / "conv.keras")
    with pytest.raises(TeacherError, match="Conv1D"):
        load_teacher(tmp_path / "conv.keras")


@pytest.mark.slow
def test_mlp_search_end_to_end(small_teacher, tmp_path, monkeypatch, capsys):
    from nas.cli import main

    monkeypatch.chdir(tmp_path)
    teacher, rows = str(small_teacher / "teacher.keras"), str(small_teacher / "rows.npz")
    argv = ["search", "--space", "mlp", "--teacher", teacher, "--data", rows, "--trials", "3", "--epochs", "2",
            "--distill-samples", "2000", "--study", "st", "--seed", "3", "--jobs", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Pareto front" in out and "exact-reduction" in out
    assert main(["show", "st", "--json"]) == 0
    rows_json = json.loads(capsys.readouterr().out)
    kinds = {r["kind"] for r in rows_json}
    assert {"teacher", "exact-reduction", "student"} <= kinds
    assert {r["format"] for r in rows_json if r["kind"] == "student"} == {"int8", "int16x8", "float32"}
    reduction = next(r for r in rows_json if r["kind"] == "exact-reduction" and r["format"] == "float32")
    assert reduction["score"] == 1.0
    # verify re-runs the shipped file in TFLM: the reduction passes; a tolerance of 1e-12 fails it
    assert main(["verify", "st", "--trial", str(reduction["number"])]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["verify", "st", "--trial", str(reduction["number"]), "--rtol", "0", "--atol", "1e-12"]) == 1
    assert main(["export", "st", "--trial", str(reduction["number"])]) == 0
    card = json.loads((tmp_path / "reports" / "st" / "models" / f"trial-{reduction['number']}"
                       / "model_card.json").read_text())
    assert card["format"] == "float32" and card["teacher_verdict"]["passes"]


@pytest.mark.parametrize("argv, words", [
    (["--data", "rows.npz"], "pass --teacher"),
    (["--teacher", "teacher.keras", "--data", "wide.npz"], "takes 6 inputs per row"),
    (["--teacher", "teacher.keras", "--data", "nan.npz"], "NaN or inf"),
    (["--teacher", "teacher.keras", "--data", "rows.npz", "--rtol", "0", "--atol", "0"], "tolerances"),
    (["--teacher", "missing.keras", "--data", "rows.npz"], "does not exist"),
])
def test_mlp_bad_input_is_one_line(small_teacher, tmp_path, monkeypatch, capsys, argv, words):
    from nas.cli import main

    monkeypatch.chdir(small_teacher)
    np.savez(small_teacher / "wide.npz", x=np.zeros((5, 7)))
    np.savez(small_teacher / "nan.npz", x=np.full((5, 6), np.nan))
    capsys.readouterr()
    assert main(["search", "--space", "mlp", "--study", "bad", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not (FLIESANN / "FLiESANN.h5").exists(), reason="../shared/data/fliesann is absent")
def test_fliesann_exact_reduction_passes_its_own_verification():
    from nas.quantize import Int8Model, to_float_tflite

    teacher = load_teacher(FLIESANN / "FLiESANN.h5")
    x = np.load(FLIESANN / "calval_features.npz")["x"].astype(np.float64)
    r = reduce_exactly(teacher.chain, x)
    assert teacher.chain.params == 12_677 and r.chain.params < teacher.chain.params / 3
    assert r.removed[1] > 70 and r.removed[2] > 35  # most of the 140- and 70-unit ReLU layers are dead
    shipped = to_float_tflite(r.chain.to_keras())
    pred = Int8Model(shipped).predict(x.astype(np.float32))  # float32 .tflite in TFLM
    assert np.allclose(pred, teacher.predict(x), rtol=5e-4, atol=1e-4)  # the package's own check
