"""--distill: a full-width FCN is trained once per study, its targets stored as a study artifact, and
every candidate trains on them; resume reuses them; the combinations it cannot serve are refused."""

from __future__ import annotations

import numpy as np
import pytest


def test_mixed_targets_are_distributions_weighted_toward_the_label():
    from nas.class_teacher import mixed_targets, soften

    p = np.array([[0.9, 0.1, 0.0], [0.2, 0.2, 0.6]])
    soft = soften(p, 2.0)
    assert np.allclose(soft.sum(1), 1) and soft[0, 0] < 0.9 and soft[0, 1] > 0.1  # softened
    mixed = mixed_targets(np.array([1, 2]), soft, alpha=0.5)
    assert np.allclose(mixed.sum(1), 1) and mixed.dtype == np.float32
    assert np.allclose(mixed[0], 0.5 * np.eye(3)[1] + 0.5 * soft[0])


@pytest.mark.slow
def test_a_distilled_search_trains_the_teacher_once_and_its_polish_on_the_targets(tmp_path, monkeypatch):
    from dataclasses import replace

    from nas.lightcurves import generate
    from nas.schema import StudyRecord, TrialRecord
    from nas.search import SearchOptions, open_search, search

    x, y = generate(per_class=6, seed=3, length=150)
    np.savez(tmp_path / "d.npz", x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    monkeypatch.chdir(tmp_path)
    storage = f"sqlite:///{tmp_path / 'd.db'}"
    options = SearchOptions(space="spectral", device="nano33", data="d.npz", epochs=2, distill=True,
                            teacher_epochs=3, polish=1, artifacts=str(tmp_path / "art"))
    study, config, data, _ = open_search("d", storage, options)
    assert config.objective.distill and config.objective.cv_folds == 0  # 6 validation series, yet no CV
    search(study, config, storage=storage, n_trials=2, data=data)
    teacher = StudyRecord.read(study).class_teacher
    assert teacher["epochs"] == 3 and teacher["architecture"].startswith("fcn 1/1")
    trained = [TrialRecord.read(t) for t in study.trials if TrialRecord.read(t).trained]
    polished = [r for r in trained if r.polish_of is not None]
    assert polished and all(r.recipe.get("distilled") for r in polished)  # the long recipe learns from it
    assert all(not r.recipe.get("distilled") for r in trained if r.polish_of is None)  # the search's: labels
    # a resume trains no new teacher: the stored targets are reused
    study, config, _, is_new = open_search("d", storage, replace(options, teacher_epochs=99))
    assert not is_new
    search(study, config, storage=storage, n_trials=1)
    assert StudyRecord.read(study).class_teacher == teacher


def test_distill_refuses_cross_validation_and_the_mlp_space(tmp_path, monkeypatch, capsys):
    from nas.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["search", "--distill", "--cv-folds", "5", "--trials", "1"]) == 2
    assert "--cv-folds" in capsys.readouterr().err
    assert main(["search", "--space", "mlp", "--distill", "--trials", "1"]) == 2
    assert "classifiers" in capsys.readouterr().err
