"""Studies written by nas before the record schema (commit ab83f66, `tests/data/studies-ab83f66/`) still
open in show, report, export and resume: their configuration is of format 1 and their trials carry the
keys that nas.schema now owns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nas.cli import main

OLD = Path(__file__).parent / "data" / "studies-ab83f66"


@pytest.fixture
def old_studies(tmp_path, monkeypatch):
    shutil.copytree(OLD, tmp_path / "studies", ignore=shutil.ignore_patterns("README.md"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _load(name):
    from nas.study import default_storage, load

    return load(name, default_storage(name))


def test_an_old_classification_study_reads_back_typed(old_studies):
    from nas.schema import TrialRecord

    study, config = _load("old-spectral")
    assert config.device.name == "nano33" and config.budget.max_latency_ms == 10.0
    assert config.objective.polish == 1 and config.objective.multi_fidelity and config.distillation is None
    polish = TrialRecord.read(study.trials[4])
    assert polish.kind == "polish" and polish.polish_of == 1 and polish.trained and polish.artifacts


def test_show_report_and_export_open_an_old_classification_study(old_studies, capsys):
    assert main(["show", "old-spectral"]) == 0
    out = capsys.readouterr().out
    assert "(polish of 1)" in out and "0.720" in out  # the front member and its stored test score
    assert main(["show", "old-spectral", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 11 and [r["number"] for r in rows if r["on_front"]] == [4]
    assert main(["report", "old-spectral"]) == 0
    assert (old_studies / "reports" / "old-spectral" / "index.html").stat().st_size > 100_000
    assert main(["export", "old-spectral", "--pareto"]) == 0
    out = old_studies / "reports" / "old-spectral" / "models" / "trial-4"
    card = json.loads((out / "model_card.json").read_text())
    assert card["accuracy"]["test_int8"] == pytest.approx(0.72, abs=1e-3)
    assert card["budget"]["max_flash_bytes"] == 102400
    assert (out / "model_int8.tflite").stat().st_size == card["flash_bytes"]


@pytest.mark.slow
def test_an_old_classification_study_resumes(old_studies):
    study, _ = _load("old-spectral")
    before = len(study.trials)
    assert main(["resume", "old-spectral", "--trials", "2"]) == 0
    study, config = _load("old-spectral")
    assert len(study.trials) >= before + 2
    assert config.objective.polish == 1  # still the old study's own settings


def test_show_report_and_export_open_an_old_distillation_study(old_studies, capsys):
    study, config = _load("old-mlp")
    assert config.distillation.task == "regression" and config.distillation.rtol == 1e-2
    assert main(["show", "old-mlp"]) == 0
    assert "teacher 12 relu" in capsys.readouterr().out
    assert main(["report", "old-mlp"]) == 0
    assert main(["export", "old-mlp", "--trial", "1"]) == 0
    card = json.loads((old_studies / "reports" / "old-mlp" / "models" / "trial-1" / "model_card.json").read_text())
    assert card["teacher_verdict"]["passes"] and card["input"]["layout"].startswith("(1, features)")


def test_a_study_of_an_earlier_space_version_builds_that_version_s_choices():
    import optuna

    from cost_models import symbolic
    from search_spaces import buildable, get_space, spectral

    assert buildable(get_space("spectral")) == (2, 3, 4) and spectral.VERSION == 4
    for version in (2, 3, 4):
        study = optuna.create_study()
        trial = study.ask()
        get_space("spectral", version).build(trial, input_shape=(64, 1), n_outputs=3, keras=symbolic.keras)
        assert trial.distributions["filters_0"].choices == tuple(spectral.FILTERS[version])
        assert trial.distributions["stride_0"].choices == tuple(spectral.STRIDES[version])
    assert 8 not in spectral.STRIDES[3] and 8 in spectral.STRIDES[4]
    with pytest.raises(ValueError, match="builds v2, v3, v4, not v1"):
        get_space("spectral", 1)
