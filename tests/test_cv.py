"""Cross-validated scores for small validation splits: which searches use them, and the folds."""

from __future__ import annotations

import numpy as np
import pytest

from nas.data import CV_BELOW_VAL, CV_FOLDS, cv_folds_for, extra_folds


def test_only_small_validation_splits_are_cross_validated():
    assert cv_folds_for(10) == CV_FOLDS  # GunPoint
    assert cv_folds_for(CV_BELOW_VAL - 1) == CV_FOLDS
    assert cv_folds_for(CV_BELOW_VAL) == 0
    assert cv_folds_for(41) == 0  # OSULeaf
    assert cv_folds_for(None) == 0  # teacher rows (mlp space)


@pytest.mark.parametrize("counts", [(20, 20), (7, 7, 7, 7, 7, 7), (3, 30), (1, 5, 9)])
def test_extra_folds_partition_the_training_split_stratified(counts):
    y = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    y = np.random.default_rng(0).permutation(y)
    folds = extra_folds(y, CV_FOLDS, seed=3)
    assert len(folds) == CV_FOLDS - 1
    every = np.concatenate(folds)
    assert sorted(every.tolist()) == list(range(len(y)))  # disjoint and complete
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    for c, n in enumerate(counts):  # each class spread as evenly as it can be
        per_fold = [int((y[f] == c).sum()) for f in folds]
        assert max(per_fold) - min(per_fold) <= 1 and sum(per_fold) == n
    again = extra_folds(y, CV_FOLDS, seed=3)
    assert all((a == b).all() for a, b in zip(folds, again, strict=True))  # resume rebuilds the same folds


class _Model:
    """What cross_validated_accuracy trains and converts: nothing, with its trainings recorded."""


@pytest.mark.parametrize("schedule", ["early_stop", "plateau"])
def test_no_fold_is_scored_by_a_training_that_read_it(monkeypatch, schedule):
    import nas.objective as objective
    from nas.data import Dataset

    rng = np.random.default_rng(0)
    y_train, y_val = np.repeat([0, 1], 20), np.repeat([0, 1], 5)
    dataset = Dataset(rng.normal(size=(40, 8, 1)), y_train, rng.normal(size=(10, 8, 1)), y_val,
                      rng.normal(size=(4, 8, 1)), np.array([0, 1, 0, 1]), classes=("a", "b"), name="t",
                      source="test")
    x_all = np.concatenate([dataset.x_train, dataset.x_val])
    calls = []

    def fake_train(model, x, y, x_val, y_val, **kw):
        calls.append((x, x_val, kw))

    class Scored:  # every held-out series right when it was not trained on, else wrong: leaks would show
        def __init__(self, _file):
            self.seen = calls[-1][0]

        def accuracy(self, x, y):
            return float(np.mean([not any((s == t).all() for t in self.seen) for s in x]))

    monkeypatch.setattr(objective, "train", fake_train)
    monkeypatch.setattr(objective, "seeded", lambda build, seed: _Model())
    monkeypatch.setattr(objective, "convert", lambda *a, **k: b"")
    monkeypatch.setattr(objective, "Int8Model", Scored)
    fold0 = 3  # of the 10 validation series the shipped model scored right
    out = objective.cross_validated_accuracy(lambda: None, dataset, CV_FOLDS, {"int8": fold0}, epochs=120, seed=1,
                                             fold_seed=0, time_limit_s=60, patience=9, schedule=schedule,
                                             best_epoch=17)
    accuracy, per_fold = out["int8"]
    assert len(calls) == CV_FOLDS - 1 and per_fold[0] == fold0 / 10 and per_fold[1:] == [1.0] * (CV_FOLDS - 1)
    for x, x_val, _ in calls:
        assert x_val is None and len(x) == len(x_all) - 10  # no held-out fold is passed to training
    if schedule == "early_stop":  # the epochs early stopping kept, without it; fold 0 (which it read) not counted
        assert {(kw["schedule"], kw["epochs"]) for _, _, kw in calls} == {("fixed", 17)}
        assert accuracy == 1.0
    else:  # a blind schedule read no fold: all of them count
        assert {(kw["schedule"], kw["epochs"]) for _, _, kw in calls} == {("plateau", 120)}
        assert accuracy == pytest.approx((fold0 + 40) / 50)
