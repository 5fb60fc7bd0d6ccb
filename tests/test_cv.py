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
