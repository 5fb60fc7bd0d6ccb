"""`nas search --formats`: every trained classifier converted to each format, each file scored as tflite-micro
runs it and costed as a point of its own, its test score kept under its own key, and exported as itself;
formats tflite-micro cannot run refused in one line before TensorFlow is imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nas.cli import main
from nas.formats import FORMATS, parse_formats, score_key
from tests.helpers import write_light_curves


def test_formats_are_parsed_in_order_of_bytes_each_once():
    assert parse_formats("float32,int8") == ("int8", "float32")
    assert parse_formats(" INT16x8 , int8,int8") == ("int8", "int16x8")
    assert parse_formats(",".join(FORMATS)) == FORMATS


@pytest.mark.parametrize("text, words", [("float16", "DEQUANTIZE"), ("int16", "int16x8"), ("int4", "unknown"),
                                         (",", "at least one")])
def test_a_format_tflite_micro_cannot_run_is_refused_with_the_fix(text, words):
    with pytest.raises(ValueError, match=words):
        parse_formats(text)


def test_float16_is_refused_in_one_line_before_tensorflow(tmp_path):
    code = ("import sys; from nas.cli import main; code = main(sys.argv[1:]); "
            "print(code, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, "search", "--formats", "int8,float16"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["2", "False"], out
    assert "float16" in out.stderr and "DEQUANTIZE" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "studies").exists()  # nothing created


def test_the_test_score_of_int8_keeps_the_key_studies_before_formats_used():
    assert score_key(7, "int8") == "7" and score_key(7, "float32") == "7:float32"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    write_light_curves(root / "d.npz", seed=2, length=96, n_train=45)
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    # a small validation split: scores are 2-fold cross-validated, per format
    assert main(["search", "--data", "d.npz", "--study", "f", "--trials", "3", "--epochs", "2", "--polish", "1",
                 "--formats", "int8,float32", "--max-latency-ms", "1000", "--cv-folds", "2", "--jobs", "1"]) == 0
    mp.undo()
    return root


def _open(root: Path):
    import optuna

    return optuna.load_study(study_name="f", storage=f"sqlite:///{root}/studies/f.db")


@pytest.mark.slow
def test_every_trained_model_is_a_point_per_format_scored_as_tflite_micro_runs_that_file(study):
    from nas.config import RunConfig
    from nas.data import load
    from nas.export import load_tflite
    from nas.quantize import Int8Model
    from nas.results import study_rows
    from nas.schema import TrialRecord

    s = _open(study)
    config = RunConfig.from_dict(s.user_attrs["nas_config"])
    data = load(config.data)
    rows = [r for r in study_rows(s) if r["trained"] and r["state"] == "complete"]
    assert rows and {r["format"] for r in rows} == {"int8", "float32"}
    for number in {r["number"] for r in rows}:
        trial = s.trials[number]
        record = TrialRecord.read(trial)
        mine = {r["format"]: r for r in rows if r["number"] == number}
        assert set(mine) == {"int8", "float32"} and sum(r["shipped"] for r in mine.values()) == 1
        assert record.shipped_format in mine and record.val_accuracy_int8 == mine["int8"]["val_accuracy"]
        for fmt, row in mine.items():
            tflite = load_tflite(s, config, trial, fmt)
            model = Int8Model(tflite)
            assert model.dtype == {"int8": np.int8, "float32": np.float32}[fmt]
            assert row["flash_bytes"] == len(tflite)
            assert row["val_accuracy"] == pytest.approx(model.accuracy(data.x_val, data.y_val))
            assert row["cv_accuracy"] == row["score"] and len(record.formats[fmt]["cv_fold_accuracy"]) == 2
        assert mine["float32"]["flash_bytes"] > mine["int8"]["flash_bytes"]
        assert mine["float32"]["val_accuracy_int8"] is None  # a float file's accuracy is never called int8's
        # the trial is ranked by the file it ships
        shipped = mine[record.shipped_format]
        assert tuple(trial.values) == (shipped["score"], shipped["flash_bytes"])
    # the front's test scores: each point its own file's, under its own key
    scores = s.user_attrs["test_accuracy_int8"]
    front = [r for r in study_rows(s) if r["on_front"]]
    assert front
    for r in front:
        tflite = load_tflite(s, config, s.trials[r["number"]], r["format"])
        assert scores[score_key(r["number"], r["format"])] == pytest.approx(
            Int8Model(tflite).accuracy(data.x_test, data.y_test))


@pytest.mark.slow
def test_each_format_exports_as_itself(study, monkeypatch, capsys):
    from nas.schema import TrialRecord

    monkeypatch.chdir(study)
    s = _open(study)
    number = next(t.number for t in s.trials if TrialRecord.read(t).formats)
    record = TrialRecord.read(s.trials[number])
    other = next(f for f in record.formats if f != record.shipped_format)
    assert main(["export", "f", "--trial", str(number), "--format", other]) == 0
    out = study / "reports" / "f" / "models" / f"trial-{number}-{other}"
    card = json.loads((out / "model_card.json").read_text())
    assert card["format"] == other and (out / f"model_{other}.tflite").exists()
    assert card["accuracy"][f"val_{other}"] == record.formats[other]["val_accuracy"]
    assert card["flash_bytes"] == record.formats[other]["cost"]["flash_bytes"]
    assert "val_int8" not in card["accuracy"] or other == "int8"
    assert record.shipped_format in card["other_formats"]
    capsys.readouterr()
    assert main(["export", "f", "--trial", str(number), "--format", "int16x8"]) == 2
    err = capsys.readouterr().err
    assert "not converted to int16x8" in err and "--formats" in err and len(err.strip().splitlines()) == 1
