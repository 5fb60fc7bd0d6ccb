"""How much training a candidate gets: batch size, patience and epochs from the training set's size."""

from __future__ import annotations

import math

import pytest

from nas.train import DEFAULT_EPOCHS, MAX_AUTO_EPOCHS, MIN_STEPS, batch_size_for, epochs_for, patience_for


@pytest.mark.parametrize("n_train", [8, 33, 40, 159, 300, 819, 5000, 100_000])
def test_auto_epochs_give_enough_steps_within_the_bounds(n_train):
    epochs = epochs_for(n_train)
    steps_per_epoch = math.ceil(n_train / batch_size_for(n_train))
    assert DEFAULT_EPOCHS <= epochs <= MAX_AUTO_EPOCHS
    assert epochs * steps_per_epoch >= MIN_STEPS or epochs == MAX_AUTO_EPOCHS
    if epochs > DEFAULT_EPOCHS:  # raised only as far as the steps need
        assert (epochs - 1) * steps_per_epoch < MIN_STEPS


def test_the_ucr_sets_and_the_builtin_curves():
    assert epochs_for(40) == 100  # GunPoint after the validation split: 5 steps per epoch
    assert epochs_for(159) == 56  # OSULeaf: 9 steps per epoch
    assert epochs_for(819) == DEFAULT_EPOCHS  # the built-in light curves: 26 steps per epoch


def test_batches_and_patience_follow_the_set_size():
    assert batch_size_for(40) == 8 and batch_size_for(10_000) == 32
    assert patience_for(40, 8) == 12  # 5 steps per epoch: at least 60 steps of patience
    assert patience_for(10_000, 32) == 5
