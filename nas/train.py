"""Training a candidate: Adam, cross-entropy, early stopping on the validation loss."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from nas.process import raise_if_stop_requested

BATCH_SIZE = 32
MIN_BATCH_SIZE = 8
LEARNING_RATE = 3e-3
PATIENCE = 5  # epochs without validation-loss improvement before stopping...
PATIENCE_STEPS = 60  # ...and at least this many gradient steps
DEFAULT_EPOCHS = 20  # `--epochs` left to nas: this many, or more for a small training set...
MIN_STEPS = 500  # ...so that a full training takes at least this many gradient steps...
MAX_AUTO_EPOCHS = 120  # ...within this many epochs
SCALE_SD = 0.1  # augmentation: each series times a random gain around 1...
JITTER_SD = 0.03  # ...plus noise, in the z-normalized units of the series...
WARP = 0.9  # ..."warp" also: each batch's time axis scaled by a factor log-uniform in [WARP, 1 / WARP]
# "jitter": the gain and noise alone; "warp": the time warp, then the gain and noise. Which suits a dataset
# differs (docs/benchmarks.md): the polish trains both and the score chooses
AUGMENTATIONS = ("jitter", "warp")
# FCN's schedule (Wang et al. 2017, as run by Fawaz et al. 2019 for the published UCR figures): Adam at
# this rate, batches of at most this size, the rate halved after PLATEAU_PATIENCE epochs without a lower
# training loss down to MIN_LEARNING_RATE, every epoch run and the weights of the lowest training loss kept
PLATEAU_LEARNING_RATE = 1e-3
PLATEAU_BATCH_SIZE = 16
PLATEAU_PATIENCE = 50
MIN_LEARNING_RATE = 1e-4
# The long augmented schedule: Adam from COSINE_LEARNING_RATE decayed to 0 along a cosine over every step
# of the run, batches as the plateau schedule's, every epoch run and the last weights kept (Loshchilov &
# Hutter 2017's decay without restarts; no validation data is read)
COSINE_LEARNING_RATE = 1e-3
# "swa": FCN's schedule with the weights averaged over this last share of its epochs (stochastic weight
# averaging, Izmailov et al. 2018), then the BatchNorm statistics recomputed: on 10 layouts x 5 folds it scored
# above the lowest-training-loss weights FCN's schedule keeps (docs/benchmarks.md)
SWA_SHARE = 0.5
SCHEDULES = ("early_stop", "plateau", "swa", "cosine", "fixed")
RECALIBRATION_BATCH = 256  # series per forward pass when BatchNormalization's statistics are recomputed


def batch_size_for(n_train: int) -> int:
    """BATCH_SIZE, or smaller (down to MIN_BATCH_SIZE) for a small training set, so each epoch still
    takes several gradient steps."""
    return max(MIN_BATCH_SIZE, min(BATCH_SIZE, n_train // 8))


def patience_for(n_train: int, batch_size: int) -> int:
    """Early-stopping patience in epochs: PATIENCE, or more when an epoch is only a few steps."""
    steps = max(1, math.ceil(n_train / batch_size))
    return max(PATIENCE, math.ceil(PATIENCE_STEPS / steps))


def epochs_for(n_train: int) -> int:
    """The epochs of a full training when the user did not set them: DEFAULT_EPOCHS, or enough for
    MIN_STEPS gradient steps on a small training set (at most MAX_AUTO_EPOCHS)."""
    steps = max(1, math.ceil(n_train / batch_size_for(n_train)))
    return min(max(DEFAULT_EPOCHS, math.ceil(MIN_STEPS / steps)), MAX_AUTO_EPOCHS)


class TrainingError(RuntimeError):
    """Training diverged (NaN loss) or ran out of its time limit."""


@dataclass(frozen=True)
class TrainResult:
    epochs_run: int
    best_val_loss: float
    seconds: float
    screen_accuracy: float | None = None  # float validation accuracy at the screening epoch
    screened_out: bool = False  # stopped at the screening epoch: it could not reach the front
    best_epoch: int | None = None  # early_stop: the epoch (from 1) whose weights were kept


@dataclass(frozen=True)
class Screen:
    """Multi-fidelity: after `epochs` epochs, `keep(val_accuracy)` decides whether training goes on."""
    epochs: int
    keep: Callable[[float], bool]


def as_model_input(x: np.ndarray) -> np.ndarray:
    """(N, length, channels) -> (N, 1, length, channels): the 2-D form the spaces are built in."""
    return x[:, None, :, :]


def recalibrate_batchnorm(model, x, reshape=as_model_input, batch_size: int = RECALIBRATION_BATCH) -> int:
    """Replace every BatchNormalization layer's moving mean and variance, which inference uses (and the
    converter folds into the convolutions), by their average over the batches of the whole of `x`, each
    computed as training computes it ("precise BatchNorm", Wu & Johnson 2021). During training they are an
    exponential average over the last few batches of changing weights; on small batches that estimate is
    noisy enough to move a model's accuracy by tens of points from one epoch to the next. Weights are not
    changed. Returns the number of layers recalibrated."""
    import keras

    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return 0
    x = reshape(x)
    momenta = [layer.momentum for layer in layers]
    try:
        for j, chunk in enumerate(np.array_split(x, max(1, math.ceil(len(x) / batch_size)))):
            for layer in layers:
                layer.momentum = j / (j + 1)  # the first chunk replaces the statistics; then a running mean
            model(chunk, training=True)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    return len(layers)


def configure_threads(threads: int) -> None:
    """Call before TensorFlow runs anything; worker processes use one thread each."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass  # already initialised in this process: keep what it has


def augmented(x, y, *, batch_size: int, seed: int, kind: str = "warp"):
    """A tf.data pipeline of (N, 1, length, channels) series, each batch drawn afresh every epoch. "jitter":
    each series times a random gain (SCALE_SD) plus noise (JITTER_SD). "warp": first the batch's time axis
    scaled about a random point by a factor log-uniform in [WARP, 1 / WARP] (linear interpolation, the
    end samples held where the series is squeezed), so it is stretched as often as squeezed and a model
    trains, on average, at the time scale it is scored at. Window slicing (a random 90 % of the series
    stretched back to full length, Le Guennec et al. 2016), used before, stretched every training series
    and no scored one. On 10 architectures x 3 seeds the warp scored +0.088 over slicing on OSULeaf's
    validation split, while on ACSF1 (appliances' power consumption) any change of time scale cost 0.24-0.30
    against "jitter" (docs/benchmarks.md). The augmentation lives outside the model, so nothing of it is
    converted or shipped."""
    import tensorflow as tf

    if kind not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {kind!r}; known: {', '.join(AUGMENTATIONS)}")
    length = x.shape[2]
    steps = tf.range(length, dtype=tf.float32)

    def warp(xb):
        scale = tf.exp(tf.random.uniform([], math.log(WARP), -math.log(WARP)))
        anchor = tf.random.uniform([], 0.0, float(length - 1))
        at = tf.clip_by_value(anchor + (steps - anchor) * scale, 0.0, float(length - 1))
        below = tf.cast(tf.floor(at), tf.int32)
        above = tf.minimum(below + 1, length - 1)
        share = tf.reshape(at - tf.floor(at), [1, 1, length, 1])
        return tf.gather(xb, below, axis=2) * (1 - share) + tf.gather(xb, above, axis=2) * share

    def distort(xb, yb):
        if kind == "warp":
            xb = warp(xb)
        gain = tf.random.normal([tf.shape(xb)[0], 1, 1, 1], 1.0, SCALE_SD)
        return xb * gain + tf.random.normal(tf.shape(xb), 0.0, JITTER_SD), yb

    data = tf.data.Dataset.from_tensor_slices((x.astype("float32"), y))
    return data.shuffle(len(y), seed=seed, reshuffle_each_iteration=True).batch(batch_size).map(distort)


def seeded(build: Callable[[], Any], seed: int):
    """The model `build()` makes, its initial weights drawn from `seed`. Keras layers take their initializers'
    seeds from the global generators when they are made, so seeding in train() alone left a trial's starting
    weights to whatever the process had drawn before: one training of one trial scored 0.878 in one search
    and 0.634 in the next (docs/benchmarks.md)."""
    import keras

    keras.utils.set_random_seed(seed)
    return build()


def train(model, x_train, y_train, x_val, y_val, *, epochs: int, seed: int,
          time_limit_s: float | None = None, loss: str = "sparse_categorical_crossentropy",
          batch_size: int | None = None, reshape=as_model_input, screen: Screen | None = None,
          patience: int | None = None, augment: bool | str = False, schedule: str = "early_stop") -> TrainResult:
    """`schedule` "early_stop": Adam at LEARNING_RATE, stopped after `patience` (default patience_for())
    epochs without a lower validation loss, the best weights by validation loss kept. "plateau": FCN's
    schedule (PLATEAU_*), all `epochs` run, the lowest training loss kept. "swa": FCN's schedule with the
    weights averaged over the epochs of its last SWA_SHARE instead. "cosine": Adam from
    COSINE_LEARNING_RATE decayed to 0 over all `epochs`, the last weights kept. "fixed": the early_stop
    recipe run for exactly `epochs` with the last weights kept (a refit for the epoch count early stopping
    found). None of the last four looks at the validation data (x_val, y_val may be None), which stays
    held out for scoring, and after them the BatchNorm statistics are recomputed over the training series
    (recalibrate_batchnorm). `augment` trains on augmented() batches of that kind (series only; True, as
    studies before 2026-12-07 recorded it, is "warp", the nearest to the window slicing they trained with)."""
    import keras

    if schedule not in SCHEDULES:
        raise ValueError(f"unknown training schedule {schedule!r}; known: {', '.join(SCHEDULES)}")
    plateau = schedule in ("plateau", "swa")  # FCN's schedule, as published or with its weights averaged
    blind = schedule != "early_stop"  # trains without looking at validation data
    if blind and screen:
        raise ValueError(f"the {schedule} schedule does not look at validation data, so it cannot screen")
    keras.utils.set_random_seed(seed)
    if plateau or schedule == "cosine":
        batch_size = batch_size or max(1, min(PLATEAU_BATCH_SIZE, len(x_train) // 10))
    batch_size = batch_size or batch_size_for(len(x_train))
    if schedule == "cosine":
        steps = epochs * math.ceil(len(x_train) / batch_size)
        rate = keras.optimizers.schedules.CosineDecay(COSINE_LEARNING_RATE, decay_steps=steps, alpha=0.0)
    else:
        rate = PLATEAU_LEARNING_RATE if plateau else LEARNING_RATE
    model.compile(optimizer=keras.optimizers.Adam(rate), loss=loss, metrics=["accuracy"] if screen else None)
    start = time.monotonic()
    if plateau:
        keep = (_callbacks().LowestTrainingLoss() if schedule == "plateau"
                else _callbacks().AverageWeights(first=epochs - max(1, round(epochs * SWA_SHARE))))
        callbacks = [keep, keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=PLATEAU_PATIENCE,
                                                             min_lr=MIN_LEARNING_RATE)]
    elif blind:
        callbacks = []  # the rate follows its schedule; the last weights are kept
    else:
        patience = patience or patience_for(len(x_train), batch_size)
        callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)]
    callbacks += [keras.callbacks.TerminateOnNaN(), _callbacks().StopWhenAsked()]
    if time_limit_s:
        callbacks.append(_callbacks().Deadline(start + time_limit_s))
    rung = _callbacks().Rung(screen) if screen and screen.epochs < epochs else None
    if rung:
        callbacks.append(rung)
    if augment:
        kind = "warp" if augment is True else augment
        fit_data = {"x": augmented(reshape(x_train), y_train, batch_size=batch_size, seed=seed, kind=kind),
                    "shuffle": False}  # the pipeline shuffles
    else:
        fit_data = {"x": reshape(x_train), "y": y_train, "batch_size": batch_size}
    history = model.fit(**fit_data, validation_data=None if blind else (reshape(x_val), y_val), epochs=epochs,
                        callbacks=callbacks, verbose=0)
    losses = history.history.get("loss", [])
    if not losses or not all(math.isfinite(v) for v in losses):
        raise TrainingError("training loss became NaN or infinite")
    if time_limit_s and time.monotonic() - start > time_limit_s:
        raise TrainingError(f"training exceeded its time limit of {time_limit_s:.0f} s")
    if plateau:
        model.set_weights(keep.weights)
    if blind:  # no validation loss chose these weights, and with them the BatchNorm statistics they carry
        recalibrate_batchnorm(model, x_train, reshape)
    val_losses = [] if blind else history.history["val_loss"]
    best_val_loss = float(min(val_losses)) if val_losses else float("nan")
    return TrainResult(len(losses), best_val_loss, time.monotonic() - start,
                       screen_accuracy=rung.accuracy if rung else None, screened_out=bool(rung and rung.stopped),
                       best_epoch=int(np.argmin(val_losses)) + 1 if val_losses else None)


@functools.cache
def _callbacks() -> SimpleNamespace:
    """Our Keras callbacks, defined on first use: importing this module must not import TensorFlow, so
    that the command line checks its input first (and fast)."""
    import keras

    class Deadline(keras.callbacks.Callback):
        def __init__(self, deadline: float) -> None:
            super().__init__()
            self.deadline = deadline

        def on_epoch_end(self, epoch, logs=None):
            if time.monotonic() > self.deadline:
                self.model.stop_training = True

    class LowestTrainingLoss(keras.callbacks.Callback):
        """Holds the weights of the epoch with the lowest training loss."""

        def __init__(self) -> None:
            super().__init__()
            self.best, self.weights = math.inf, None

        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("loss", math.inf)
            if loss < self.best:
                self.best, self.weights = loss, self.model.get_weights()

    class AverageWeights(keras.callbacks.Callback):
        """Holds the mean of the weights at the end of every epoch from epoch `first` on (counted from 0)."""

        def __init__(self, first: int) -> None:
            super().__init__()
            self.first, self.count, self.sums = first, 0, None

        def on_epoch_end(self, epoch, logs=None):
            if epoch >= self.first:
                now = self.model.get_weights()
                self.sums = now if self.sums is None else [s + w for s, w in zip(self.sums, now, strict=True)]
                self.count += 1

        @property
        def weights(self):
            return None if self.sums is None else [s / self.count for s in self.sums]

    class StopWhenAsked(keras.callbacks.Callback):
        """A SIGTERM whose KeyboardInterrupt was swallowed still stops training within one batch."""

        def on_train_batch_end(self, batch, logs=None):
            raise_if_stop_requested()

    class Rung(keras.callbacks.Callback):
        def __init__(self, screen: Screen) -> None:
            super().__init__()
            self.screen = screen
            self.accuracy: float | None = None
            self.stopped = False

        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == self.screen.epochs and not self.model.stop_training:
                self.accuracy = float((logs or {}).get("val_accuracy", 0.0))
                if not self.screen.keep(self.accuracy):
                    self.stopped = True
                    self.model.stop_training = True

    return SimpleNamespace(Deadline=Deadline, LowestTrainingLoss=LowestTrainingLoss, AverageWeights=AverageWeights,
                           StopWhenAsked=StopWhenAsked, Rung=Rung)
