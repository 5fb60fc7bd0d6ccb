"""The finalists after a classifier search (nas.finalists): which models are cross-validated, what the study
stores for them, and that the model a search recommends is the best of them everywhere it is named."""

from __future__ import annotations

import optuna
import pytest

from nas import schema
from nas.finalists import pick
from nas.results import architecture_key, precision_line, recommended, study_rows
from tests.helpers import write_light_curves

DIST = {"width": optuna.distributions.IntDistribution(1, 100)}


def _baseline(name):
    return {"name": name, "divisor": 8, "strides": [4, 2, 1]}


def _study(points, baselines=()):
    """Trained, feasible candidates (width, int8 val accuracy, flash bytes), then baselines (name, acc, flash)."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    for width, acc, flash in points:
        study.add_trial(optuna.trial.create_trial(
            params={"width": width}, distributions=DIST, values=[acc, flash],
            user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=acc, cost={"flash_bytes": flash})))
    for name, acc, flash in baselines:
        study.add_trial(optuna.trial.create_trial(
            params={}, distributions={}, values=[acc, flash],
            user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=acc, cost={"flash_bytes": flash},
                                    kind=schema.BASELINE, baseline=_baseline(name))))
    return study


def test_finalists_are_the_best_front_points_and_every_baseline_at_its_best():
    # front: #2 (0.95, 9 KB), #0 (0.90, 5 KB), #1 (0.80, 3 KB); #3 is dominated; #4, #5 baselines off the front
    study = _study([(10, 0.90, 5000), (20, 0.80, 3000), (30, 0.95, 9000), (40, 0.70, 6000)],
                   baselines=[("fcn", 0.85, 20000), ("resnet", 0.60, 30000)])
    assert pick(study, 2) == [2, 0, 4, 5]
    assert pick(study, 0) == [4, 5]
    # a polish of the FCN baseline that scores higher stands for that architecture
    study.add_trial(optuna.trial.create_trial(
        params={}, distributions={}, values=[0.88, 20000],
        user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=0.88, cost={"flash_bytes": 20000},
                                kind=schema.POLISH, polish_of=4, baseline=_baseline("fcn"))))
    assert pick(study, 1) == [2, 6, 5]
    # FCN trained with its own (blind) recipe scores lower on the validation split its early-stopped twin was
    # stopped on; it is a finalist of its own, since those two scores do not rank one against the other
    study.add_trial(optuna.trial.create_trial(
        params={}, distributions={}, values=[0.80, 20000],
        user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=0.80, cost={"flash_bytes": 20000},
                                kind=schema.BASELINE, baseline=_baseline("fcn"),
                                recipe={"epochs": 2000, "patience": None, "augment": False, "schedule": "plateau"})))
    assert pick(study, 1) == [2, 6, 7, 5]


def test_an_fcn_layout_seeded_in_the_space_is_a_finalist_once_per_kind_of_recipe():
    # #0, #1 the search's own; #2, #3 one FCN layout seeded with the search's recipe and with FCN's schedule
    study = _study([(10, 0.95, 3000), (20, 0.90, 2000)])
    for acc, recipe in ((0.80, {"epochs": 50, "patience": 9, "augment": False}),
                        (0.75, {"epochs": 500, "patience": None, "augment": False, "schedule": "plateau"})):
        study.add_trial(optuna.trial.create_trial(
            params={"width": 30}, distributions=DIST, values=[acc, 4000],
            user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=acc, cost={"flash_bytes": 4000},
                                    kind=schema.FCN_IN_SPACE, recipe=recipe)))
    assert pick(study, 1) == [0, 2, 3]  # both off the front, neither ranks the other


def test_the_recommended_model_is_the_best_finalist_even_off_the_front():
    study = _study([(10, 0.90, 5000), (20, 1.00, 3000)], baselines=[("fcn", 1.00, 20000)])
    rows = study_rows(study)
    assert recommended(rows)["number"] == 1  # no finalists: the front's best score, the smaller on ties
    schema.write_finalist(study, 1, 0.91, [1.0, 0.9, 0.85, 0.9, 0.9], "int8")
    schema.write_finalist(study, 2, 0.97, [1.0, 1.0, 0.95, 0.95, 0.95], "int8")
    rows = study_rows(study)
    best = recommended(rows)
    assert best["number"] == 2 and not best["on_front"] and best["finalist_accuracy"] == 0.97
    line = precision_line(best, {"n_val": 10})
    assert line.startswith("Recommended, trial 2 (the best finalist by pooled cross-validated int8 accuracy, 0.970)")
    assert schema.StudyRecord.read(study).finalists[1]["folds"][2] == 0.85



@pytest.fixture(scope="module")
def finalist_search(tmp_path_factory):
    from nas.cli import main

    root = tmp_path_factory.mktemp("finalists")
    write_light_curves(root / "tiny.npz")
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    # --cv-folds 0: the candidates are scored on the validation split alone, so the finalists are cross-validated
    # --jobs 2: the finalists are shared between two worker processes; --baseline-epochs: FCN's own recipe, short
    argv = ["search", "--data", "tiny.npz", "--study", "fin", "--trials", "2", "--epochs", "1", "--seed", "2",
            "--cv-folds", "0", "--polish", "1", "--finalists", "1", "--baselines", "--baseline-epochs", "2",
            "--jobs", "2"]
    assert main(argv) == 0
    yield root, mp
    mp.undo()


def _load():
    from nas.study import default_storage, load

    return load("fin", default_storage("fin"))


@pytest.mark.slow
def test_a_search_stores_each_finalists_folds_and_recommends_the_best(finalist_search, capsys):
    from nas.cli import main
    from nas.data import CV_FOLDS, extra_folds, load

    study, config = _load()
    record = schema.StudyRecord.read(study)
    records = {t.number: schema.TrialRecord.read(t) for t in study.trials}
    seeded = (schema.BASELINE, schema.FCN_IN_SPACE)
    baselines = [n for n, r in records.items() if r.kind in seeded and r.trained and r.feasible]
    # every trained baseline architecture (and FCN layout seeded in the space) is a finalist once per kind of
    # recipe: the best-scoring of itself and its polish (early stopping), and its training with its own recipe
    # or FCN's schedule (a blind schedule)
    def key(n):
        return architecture_key(study.trials[n].params, records[n].baseline), bool(records[n].schedule)

    assert baselines and {key(n) for n in record.finalists} >= {key(n) for n in baselines}
    assert any(records[n].kind == schema.FCN_IN_SPACE for n in record.finalists)
    assert len(record.finalists) <= 1 + len({key(n) for n in baselines})
    assert any(records[n].recipe.get("schedule") == "plateau" for n in baselines)  # FCN's recipe was seeded
    data = load(config.data)
    sizes = [len(data.y_val)] + [len(f) for f in extra_folds(data.y_train, CV_FOLDS, config.seed)]
    for n, f in record.finalists.items():
        trial = study.trials[n]
        assert len(f["folds"]) == CV_FOLDS and f["format"] == "int8"
        assert f["folds"][0] == pytest.approx(schema.TrialRecord.read(trial).val_accuracy_int8)  # fold 0 ships
        counted = 0 if schema.TrialRecord.read(trial).schedule is None else 1  # early stopping read fold 0
        pooled = sum(a * s for a, s in zip(f["folds"][1 - counted:], sizes[1 - counted:], strict=True))
        assert f["accuracy"] == pytest.approx(pooled / sum(sizes[1 - counted:]), abs=1e-9)
    rows = study_rows(study)
    best = recommended(rows)
    assert best["finalist_accuracy"] == max(f["accuracy"] for f in record.finalists.values())

    capsys.readouterr()
    assert main(["show", "fin"]) == 0
    out = capsys.readouterr().out
    assert f"Recommended, trial {best['number']} " in out and "Finalists, trained again" in out
    assert main(["export", "fin"]) == 0
    out = capsys.readouterr().out
    assert f"trial-{best['number']}" in out  # exported with the front, on it or not


@pytest.mark.slow
def test_resume_does_not_cross_validate_a_finalist_twice(finalist_search):
    from nas.cli import main

    study, _ = _load()
    before = schema.StudyRecord.read(study).finalists
    assert main(["resume", "fin", "--trials", "1", "--jobs", "1"]) == 0
    study, _ = _load()
    after = schema.StudyRecord.read(study).finalists
    assert {n: after[n] for n in before} == before  # stored once, never retrained


def test_finalists_by_default_only_where_the_validation_split_is_small():
    from nas.config import FINALISTS_DEFAULT
    from nas.finalists import FINALISTS_BELOW_VAL, finalists_for

    assert finalists_for(41) == FINALISTS_DEFAULT  # OSULeaf
    assert finalists_for(FINALISTS_BELOW_VAL) == 0
    assert finalists_for(246) == 0  # the built-in light curves: the default search is not lengthened
    assert finalists_for(None) == 0  # teacher rows (mlp space)


def test_a_finalist_polish_brings_the_other_polish_of_its_architecture():
    # #0, #1 searched; #2 polishes #0 with the polish recipe, #3 with FCN's schedule: the same bytes, a lower
    # score; #4 on jittered series, early-stopped as #2 is: the split ranks it below #2, so it is not a finalist
    study = _study([(10, 0.80, 5000), (20, 0.70, 3000)])
    for acc, recipe in ((0.90, None), (0.85, {"schedule": "plateau"}), (0.88, {"augment": "jitter"})):
        study.add_trial(optuna.trial.create_trial(
            params={"width": 10}, distributions=DIST, values=[acc, 5000],
            user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=acc, cost={"flash_bytes": 5000},
                                    kind=schema.POLISH, polish_of=0, **({"recipe": recipe} if recipe else {}))))
    assert sorted(r["number"] for r in study_rows(study) if r["on_front"]) == [1, 2]  # #3 is off the front
    assert pick(study, 1) == [2, 3]  # yet a finalist beside its sibling
    assert pick(study, 2) == [2, 1, 3]
    # a front member trained with a published schedule that polishes nothing brings no siblings
    study.add_trial(optuna.trial.create_trial(
        params={"width": 30}, distributions=DIST, values=[0.95, 2000],
        user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=0.95, cost={"flash_bytes": 2000},
                                kind=schema.FCN_IN_SPACE, recipe={"schedule": "swa"})))
    assert pick(study, 1) == [5]


def _front_of_three():
    """Three trained front members with a recipe each, ranked #2 (0.95), #0 (0.90), #1 (0.80)."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    for width, acc, flash in ((10, 0.90, 5000), (20, 0.80, 3000), (30, 0.95, 9000)):
        study.add_trial(optuna.trial.create_trial(
            params={"width": width}, distributions=DIST, values=[acc, flash],
            user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=acc, cost={"flash_bytes": flash},
                                    recipe={"epochs": 50, "patience": 9, "augment": False})))
    return study


def _cross_validated(study, calls, seconds=0.0):
    """A stand-in for one finalist's folds: records `n`, takes `seconds`, stores an accuracy."""
    import time

    def one(n):
        calls.append(n)
        time.sleep(seconds)
        schema.write_finalist(study, n, 0.5, [0.5] * 5, "int8")
        return True
    return one


CONFIG = type("Config", (), {"objective": type("Objective", (), {"cv_folds": 0, "distill": False})()})()


def test_no_finalist_starts_after_the_deadline_but_the_first(monkeypatch, caplog):
    import time

    from nas import finalists

    study, calls = _front_of_three(), []
    one = _cross_validated(study, calls)
    monkeypatch.setattr(finalists, "cross_validate_one", lambda study, config, data, n, folds: one(n))
    assert finalists.cross_validate(study, CONFIG, None, 3, 5, deadline=time.time() - 1) == [2]
    assert calls == [2]  # the best first, even past its deadline, so each resume gets further
    assert "trial(s) 0, 1 not cross-validated" in caplog.text
    assert finalists.cross_validate(study, CONFIG, None, 3, 5) == [0, 1]  # no deadline: the rest, once each
    assert calls == [2, 0, 1]


def test_finalists_in_workers_stop_starting_at_the_deadline(monkeypatch):
    import time
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import contextmanager

    from nas import finalists, search

    study, calls = _front_of_three(), []
    one = _cross_validated(study, calls, seconds=0.5)

    @contextmanager
    def threads(jobs):
        with ThreadPoolExecutor(jobs) as pool:
            yield pool

    monkeypatch.setattr(search, "worker_pool", threads)
    monkeypatch.setattr(finalists, "_worker", lambda name, storage, n, folds, threads: one(n))
    # two workers start the two best at once; each takes 0.5 s, so the third would start after the deadline
    done = finalists.cross_validate(study, CONFIG, None, 3, 5, jobs=2, storage="unused", deadline=time.time() + 0.25)
    assert sorted(done) == [0, 2] and sorted(calls) == [0, 2]


def test_the_finalists_default_time_is_the_search_s_at_least_five_minutes():
    from nas.finalists import FINALISTS_MIN_S, deadline_for

    assert deadline_for(began=0.0, finalists_timeout=None, now=1000.0) == 2000.0  # as long as search and polish took
    assert deadline_for(began=900.0, finalists_timeout=None, now=1000.0) == 1000.0 + FINALISTS_MIN_S
    assert deadline_for(began=0.0, finalists_timeout=60.0, now=1000.0) == 1060.0
