"""How much training a candidate gets: batch size, patience and epochs from the training set's size."""

from __future__ import annotations

import math

import numpy as np
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


def _separable(n: int = 40, length: int = 32, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    return rng.normal(0, 0.3, (n, length, 1)) + np.where(y == 0, -1.0, 1.0)[:, None, None], y  # the mean tells


def _tiny_net(length: int = 32):
    import keras

    keras.backend.clear_session()
    inputs = keras.Input(shape=(1, length, 1), batch_size=1)
    x = keras.layers.Conv2D(4, (1, 3), padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))


def test_plateau_schedule_runs_every_epoch_without_validation_data_and_learns():
    from nas.train import as_model_input, train

    x, y = _separable()
    model = _tiny_net()
    result = train(model, x, y, None, None, epochs=40, seed=0, schedule="plateau")
    assert result.epochs_run == 40 and math.isnan(result.best_val_loss)  # no early stop, nothing validated
    assert (model.predict(as_model_input(x), verbose=0).argmax(1) == y).mean() >= 0.9


def test_plateau_schedule_keeps_the_lowest_training_loss_and_refuses_to_screen():
    from nas.train import Screen, _callbacks, train

    keep = _callbacks().LowestTrainingLoss()
    keep.set_model(_tiny_net())
    for epoch, loss in enumerate([0.9, 0.5, 0.7]):
        keep.model.layers[1].kernel.assign(keep.model.layers[1].kernel * 0 + epoch)  # weights tell the epoch
        keep.on_epoch_end(epoch, {"loss": loss})
    assert keep.best == 0.5 and float(keep.weights[0].flat[0]) == 1.0
    x, y = _separable()
    with pytest.raises(ValueError, match="cannot screen"):
        train(_tiny_net(), x, y, None, None, epochs=2, seed=0, schedule="plateau",
              screen=Screen(1, lambda accuracy: True))
    with pytest.raises(ValueError, match="unknown training schedule"):
        train(_tiny_net(), x, y, x, y, epochs=2, seed=0, schedule="warm_restarts")


def test_swa_schedule_ships_the_mean_of_the_weights_of_its_second_half(monkeypatch):
    import numpy as np

    from nas import train as train_mod

    seen = []  # the weights at the end of every epoch, as the averaging callback reads them

    class Recording(train_mod._callbacks().AverageWeights):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.get_weights())
            super().on_epoch_end(epoch, logs)

    monkeypatch.setattr(train_mod._callbacks(), "AverageWeights", Recording)
    x, y = _separable()
    model = _tiny_net()
    result = train_mod.train(model, x, y, None, None, epochs=10, seed=0, schedule="swa")
    assert result.epochs_run == 10 and len(seen) == 10 and train_mod.SWA_SHARE == 0.5
    expected = [np.mean([epoch[i] for epoch in seen[5:]], axis=0) for i in range(len(seen[0]))]
    for got, want in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert not all(np.allclose(g, w) for g, w in zip(model.get_weights(), seen[-1], strict=True))  # not the last
    assert (model.predict(train_mod.as_model_input(x), verbose=0).argmax(1) == y).mean() >= 0.9


def test_cosine_schedule_runs_every_epoch_blind_to_validation_and_ends_at_rate_zero():
    from nas.train import COSINE_LEARNING_RATE, Screen, as_model_input, train

    x, y = _separable()
    model = _tiny_net()
    result = train(model, x, y, None, None, epochs=30, seed=0, schedule="cosine", augment=True)
    assert result.epochs_run == 30 and math.isnan(result.best_val_loss)
    optimizer = model.optimizer
    assert int(optimizer.iterations) == 30 * math.ceil(len(y) / 4)  # batches of n // 10: every step was taken
    assert float(optimizer.learning_rate) < 1e-3 * COSINE_LEARNING_RATE  # decayed to (nearly) zero by the end
    assert (model.predict(as_model_input(x), verbose=0).argmax(1) == y).mean() >= 0.9
    with pytest.raises(ValueError, match="cannot screen"):
        train(_tiny_net(), x, y, None, None, epochs=2, seed=0, schedule="cosine", screen=Screen(1, lambda a: True))


def test_early_stopping_reports_the_epoch_it_kept_and_fixed_runs_exactly_that_many():
    """The refit recipe: early stopping says which epoch's weights it kept; "fixed" then trains for
    exactly that many epochs on the search's batches without reading validation data."""
    from nas.train import batch_size_for, train

    x, y = _separable()
    noisy_val = (x[:10] + 2.0, y[:10])  # a validation set that gets worse as training goes on, so it stops early
    first = train(_tiny_net(), x, y, *noisy_val, epochs=60, seed=0)
    assert 1 <= first.best_epoch <= first.epochs_run
    model = _tiny_net()
    refit = train(model, x, y, None, None, epochs=first.best_epoch, seed=0, schedule="fixed")
    assert refit.epochs_run == first.best_epoch and refit.best_epoch is None and math.isnan(refit.best_val_loss)
    assert int(model.optimizer.iterations) == first.best_epoch * math.ceil(len(y) / batch_size_for(len(y)))


def test_recalibrated_batchnorm_holds_the_statistics_of_the_whole_training_set():
    import keras
    import numpy as np

    from nas.train import recalibrate_batchnorm

    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(96, 1, 8, 2)).astype("float32")  # series already in the model's shape
    inputs = keras.Input((1, 8, 2))
    bn = keras.layers.BatchNormalization(momentum=0.9)
    model = keras.Model(inputs, keras.layers.Dense(2)(bn(inputs)))
    model(x[:4], training=True)  # moving statistics of one small batch, as training leaves them
    trained = [w.numpy().copy() for w in model.trainable_weights]  # gamma, beta, the dense layer

    assert recalibrate_batchnorm(model, x, reshape=lambda v: v, batch_size=32) == 1  # three chunks of 32
    mean, var = x.reshape(-1, 2).mean(0), x.reshape(-1, 2).var(0)
    chunk_vars = np.mean([c.reshape(-1, 2).var(0) for c in np.split(x, 3)], axis=0)  # as training computes them
    np.testing.assert_allclose(bn.moving_mean.numpy(), mean, rtol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), chunk_vars, rtol=1e-3)
    assert abs(chunk_vars - var).max() < 0.2 * var.min()
    assert bn.momentum == 0.9  # the layer's own momentum is back for any further training
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(trained, model.trainable_weights, strict=True))


def test_a_model_without_batchnorm_is_left_alone():
    import keras
    import numpy as np

    from nas.train import recalibrate_batchnorm

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    before = [w.copy() for w in model.get_weights()]
    assert recalibrate_batchnorm(model, np.ones((5, 4), "float32"), reshape=lambda v: v) == 0
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


@pytest.mark.parametrize("schedule", ["plateau", "swa", "early_stop"])
def test_only_schedules_that_never_read_validation_data_recalibrate_batchnorm(schedule):
    import keras
    import numpy as np

    from nas.train import recalibrate_batchnorm, train

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(64, 32, 1)).astype("float32"), rng.integers(0, 2, 64)
    inputs = keras.Input((1, 32, 1))
    h = keras.layers.ReLU()(keras.layers.BatchNormalization(momentum=0.9)(keras.layers.Conv2D(4, (1, 3))(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(h)))
    train(model, x, y, x[:8], y[:8], epochs=3, seed=0, schedule=schedule, batch_size=8)
    bn = next(layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))
    after_training = bn.moving_variance.numpy().copy()
    recalibrate_batchnorm(model, x)  # depends on the weights only, so a second time changes nothing
    recalibrated = np.allclose(bn.moving_variance.numpy(), after_training, rtol=1e-5)
    assert recalibrated == (schedule != "early_stop")


def test_a_seeded_build_starts_from_the_same_weights_whatever_was_drawn_before():
    import random

    from nas.baselines import Baseline
    from nas.train import seeded

    def build():
        return Baseline("fcn", 16, (1, 1, 1)).build((64, 1), 3)

    first = seeded(build, 7).get_weights()
    random.random(), np.random.rand()  # what earlier trials in the same process would have drawn
    again = seeded(build, 7).get_weights()
    other = seeded(build, 8).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])
