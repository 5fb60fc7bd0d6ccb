from __future__ import annotations

import numpy as np
import pytest

from nas import data as data_mod
from nas.data import DataError, load_npz
from nas.lightcurves import CLASSES, generate


def test_lightcurves_are_deterministic_balanced_and_normalised():
    x1, y1 = generate(per_class=8, seed=3)
    x2, y2 = generate(per_class=8, seed=3)
    x3, _ = generate(per_class=8, seed=4)
    assert x1.shape == (48, 1024, 1) and np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    assert np.bincount(y1).tolist() == [8] * len(CLASSES)
    assert np.allclose(x1.mean(axis=1), 0, atol=1e-5) and np.allclose(x1.std(axis=1), 1, atol=1e-3)


def test_transits_are_periodic_dips():
    x, y = generate(per_class=20, seed=1)
    transits = x[y == CLASSES.index("transit"), :, 0]
    # a transit curve's minimum sits well below its median (the dip), unlike pure noise
    noise = x[y == CLASSES.index("noise"), :, 0]
    assert np.median(transits.min(axis=1)) < np.median(noise.min(axis=1))


def test_builtin_split_keeps_test_apart_and_stratifies_validation():
    ds = data_mod.builtin_lightcurves(per_class=20, seed=0)
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 120
    assert set(np.unique(ds.y_val)) == set(range(6))
    assert ds.describe()["classes"] == list(CLASSES)


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


def _good(n=20, length=32, channels=None):
    rng = np.random.default_rng(0)
    shape = (n, length) if channels is None else (n, length, channels)
    labels = np.array(["a", "b"] * (n // 2))
    return {"x_train": rng.normal(size=shape), "y_train": labels,
            "x_test": rng.normal(size=shape), "y_test": labels}


def test_npz_with_string_labels_and_channels(tmp_path):
    ds = load_npz(_save(tmp_path / "d.npz", **_good(channels=3)))
    assert ds.input_shape == (32, 3) and ds.classes == ("a", "b")
    assert len(ds.y_val) > 0 and len(ds.y_train) + len(ds.y_val) == 20


BAD_CASES = {
    "nan": (lambda a: a["x_train"].__setitem__((0, 0), np.nan), "NaN"),
    "inf": (lambda a: a["x_test"].__setitem__((1, 1), np.inf), "NaN or infinite"),
    "mismatch": (lambda a: a.__setitem__("y_train", a["y_train"][:-1]), "labels"),
    "single class": (lambda a: a.__setitem__("y_train", np.array(["a"] * 20)), "single class"),
    "length 0": (lambda a: a.__setitem__("x_train", np.zeros((20, 0))), "length 0"),
    "missing key": (lambda a: a.pop("y_test"), "lacks y_test"),
    "unseen test label": (lambda a: a.__setitem__("y_test", np.array(["a", "z"] * 10)), "not in the training data"),
    "wrong rank": (lambda a: a.__setitem__("x_train", np.zeros((20, 2, 2, 2))), "must be"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_npz_is_named(tmp_path, case):
    arrays = _good()
    mutate, words = BAD_CASES[case]
    mutate(arrays)
    with pytest.raises(DataError, match=words):
        load_npz(_save(tmp_path / "d.npz", **arrays))


def test_not_an_npz(tmp_path):
    path = tmp_path / "d.npz"
    path.write_text("hello")
    with pytest.raises(DataError, match="not a NumPy .npz"):
        load_npz(path)
    with pytest.raises(DataError, match="does not exist"):
        load_npz(tmp_path / "missing.npz")


def test_hypervolume_of_a_staircase():
    from nas.results import hypervolume

    assert hypervolume([], 100) == 0
    assert hypervolume([(0.5, 0)], 100) == 0.5
    # (0.5 from 20 B) then (0.8 from 60 B): 0.5*40 + 0.8*40 over 100 B
    assert abs(hypervolume([(0.8, 60), (0.5, 20), (0.4, 70), (0.9, 150)], 100) - 0.52) < 1e-12


def test_a_dominated_point_leaves_the_hypervolume_exactly_as_it_was():
    from nas.results import hypervolume

    # found by search: summing over every point, (0.08, 4621) split a step and the total fell by 1e-16
    before = [(0.785, 7122), (0.001, 6043), (0.828, 4729), (0.244, 4664), (0.704, 2515), (0.191, 6649),
              (0.222, 8581), (0.968, 8579), (0.543, 2747)]
    assert hypervolume([*before, (0.08, 4621)], 102400) == hypervolume(before, 102400)


def _levels(tmp_path):
    """Two classes told apart only by their level: per-series z-normalization erases what separates them."""
    rng = np.random.default_rng(0)
    shape = rng.normal(size=(1, 40, 2))

    def series(n, level):
        return shape + level + 0.1 * rng.normal(size=(n, 40, 2))

    x = np.concatenate([series(30, 0.0), series(30, 3.0)])
    y = np.array([0] * 30 + [1] * 30)
    xt = np.concatenate([series(10, 0.0), series(10, 3.0)])
    np.savez(tmp_path / "levels.npz", x_train=x, y_train=y, x_test=xt, y_test=np.array([0] * 10 + [1] * 10))
    return tmp_path / "levels.npz", x


def test_channel_normalization_keeps_each_series_level_with_the_training_splits_statistics(tmp_path):
    path, raw = _levels(tmp_path)
    series = load_npz(path, normalize="series")
    channel = load_npz(path, normalize="channel")
    # the same split whatever the normalization
    assert (series.y_train == channel.y_train).all() and (series.y_val == channel.y_val).all()
    # per series, the levels are gone: class means coincide; per channel they survive
    gap = [abs(d.x_train[d.y_train == 1].mean() - d.x_train[d.y_train == 0].mean()) for d in (series, channel)]
    assert gap[0] < 0.05 and gap[1] > 1.5
    # statistics of the training split alone: it has mean 0 and SD 1 per channel, the validation split not exactly
    assert np.allclose(channel.x_train.mean(axis=(0, 1)), 0, atol=1e-5)
    assert np.allclose(channel.x_train.std(axis=(0, 1)), 1, atol=1e-4)
    spec = channel.describe()
    assert spec["normalize"] == "channel" and len(spec["channel_mean"]) == 2 and "channel_mean" in spec["preprocessing"]
    y = np.array([0] * 30 + [1] * 30)
    raw_train, _, raw_val, _ = data_mod.stratified_split(raw, y, data_mod.VAL_FRACTION, 0)
    assert np.allclose(spec["channel_mean"], raw_train.mean(axis=(0, 1)))  # the validation rows are not in it
    assert not np.allclose(spec["channel_mean"], raw.mean(axis=(0, 1)))


def test_a_study_reopens_its_data_normalized_as_it_was(tmp_path):
    path, _ = _levels(tmp_path)
    first = data_mod.open_data(path, seed=3, normalize="channel")
    again = data_mod.load(first.describe())
    for a, b in ((first.x_train, again.x_train), (first.x_val, again.x_val), (first.x_test, again.x_test)):
        assert np.array_equal(a, b)
    assert data_mod.load(data_mod.open_data(path, seed=3).describe()).describe()["normalize"] == "series"


def test_an_unknown_normalization_is_named(tmp_path):
    path, _ = _levels(tmp_path)
    with pytest.raises(DataError, match="series or channel"):
        load_npz(path, normalize="global")
