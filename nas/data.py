"""Datasets for search: the built-in light curves or a user's .npz, validated and split.

Search decisions use a validation split carved (stratified) from the training data; the test split
is only scored for the models on the front and the ones exported.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from nas import lightcurves

BUILTIN = "lightcurves"
VAL_FRACTION = 0.2
TEST_FRACTION = 0.2  # held out when a file has no official test split


class DataError(ValueError):
    """The data cannot be searched on; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class Dataset:
    x_train: np.ndarray  # (N, length, channels) float32
    y_train: np.ndarray  # (N,) int64 class indices
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    name: str
    source: str
    extra: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, int]:
        return self.x_train.shape[1], self.x_train.shape[2]

    def describe(self) -> dict:
        """What the study and model card record about the data."""
        return {
            "name": self.name,
            "source": self.source,
            "input_shape": list(self.input_shape),
            "classes": list(self.classes),
            "n_train": len(self.y_train),
            "n_val": len(self.y_val),
            "n_test": len(self.y_test),
            "preprocessing": "z-normalised per series and channel",
            **self.extra,  # a file's data with --normalize channel says otherwise (Normalization.describe)
        }


def builtin_lightcurves(per_class: int = 256, seed: int = 0) -> Dataset:
    x, y = lightcurves.generate(per_class=per_class, seed=seed)
    n_test = len(y) // 5
    x_tr, y_tr, x_val, y_val = stratified_split(x[n_test:], y[n_test:], VAL_FRACTION, seed)
    return Dataset(x_tr, y_tr, x_val, y_val, x[:n_test], y[:n_test], lightcurves.CLASSES,
                   name=BUILTIN, source=f"nas.lightcurves.generate(per_class={per_class}, seed={seed})",
                   extra={"per_class": per_class, "seed": seed})


def stratified_split(x, y, fraction: float, seed: int):
    """Hold out `fraction` of each class (at least one row of it) as validation."""
    rng = np.random.default_rng(seed + 1)
    val = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) >= 2:
            val[idx[: max(1, round(len(idx) * fraction))]] = True
    return x[~val], y[~val], x[val], y[val]


CV_FOLDS = 5  # folds of the cross-validated score...
CV_BELOW_VAL = 30  # ...used when the validation split has fewer series than this


def cv_folds_for(n_val: int | None) -> int:
    """CV_FOLDS when the validation split is too small to rank models (fewer than CV_BELOW_VAL series:
    many models tie at the top; docs/benchmarks.md), else 0."""
    return CV_FOLDS if n_val is not None and n_val < CV_BELOW_VAL else 0


def extra_folds(y_train, k: int, seed: int) -> list:
    """Indices into the training split for folds 1..k-1, stratified; fold 0 is the validation split."""
    rng = np.random.default_rng(seed + 2)
    parts = [[] for _ in range(k - 1)]
    start = 0
    for c in np.unique(y_train):
        for j, i in enumerate(rng.permutation(np.flatnonzero(y_train == c))):
            parts[(start + j) % (k - 1)].append(int(i))
        start += len(np.flatnonzero(y_train == c))
    return [np.array(sorted(p)) for p in parts]


def _as_series(name: str, a: np.ndarray, path: Path) -> np.ndarray:
    if a.dtype == object or not np.issubdtype(a.dtype, np.number):
        raise DataError(f"{path}: {name} must be numeric, got dtype {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise DataError(f"{path}: {name} must be (series, length) or (series, length, channels), "
                        f"got shape {a.shape}")
    if a.shape[0] == 0:
        raise DataError(f"{path}: {name} holds no series")
    if a.shape[1] == 0 or a.shape[2] == 0:
        raise DataError(f"{path}: {name} has series of length 0 (shape {a.shape})")
    if not np.all(np.isfinite(a)):
        bad = int(np.sum(~np.isfinite(a)))
        raise DataError(f"{path}: {name} contains {bad} NaN or infinite values; "
                        "impute or drop those series first")
    return a.astype(np.float32)


NORMALIZATIONS = ("series", "channel")


@dataclass(frozen=True)
class Normalization:
    """How series are scaled before the model sees them (the board must do the same).

    - "series": each series and channel to mean 0, SD 1 on its own (the UCR archive's convention). It
      removes each series' level and amplitude: right when those are nuisance, wrong when they are the signal.
    - "channel": every channel shifted and scaled by one mean and SD, those of the training split. A
      series' level and amplitude survive. On JapaneseVowels (12 cepstral coefficients, whose levels tell the
      speakers apart) per-series z-normalization cost 20-40 points (docs/benchmarks.md)."""

    mode: str = "series"
    mean: tuple[float, ...] | None = None  # "channel": per channel, from the training split
    std: tuple[float, ...] | None = None

    @classmethod
    def fit(cls, mode: str, x_train: np.ndarray) -> Normalization:
        if mode not in NORMALIZATIONS:
            raise DataError(f"unknown normalization {mode!r}; choose {' or '.join(NORMALIZATIONS)}")
        if mode == "series":
            return cls()
        std = x_train.std(axis=(0, 1))
        return cls(mode, tuple(float(v) for v in x_train.mean(axis=(0, 1))),
                   tuple(float(v) if v > 0 else 1.0 for v in std))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.mode == "series":
            return znorm(x)
        return ((x - np.array(self.mean)) / np.array(self.std)).astype(np.float32)

    def describe(self) -> dict:
        if self.mode == "series":
            return {"normalize": "series", "preprocessing": "z-normalised per series and channel"}
        return {"normalize": "channel", "channel_mean": list(self.mean), "channel_std": list(self.std),
                "preprocessing": "each channel minus channel_mean, divided by channel_std (the training "
                                 "split's, one pair per channel)"}


def znorm(x: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=1, keepdims=True)
    std = x.std(axis=1, keepdims=True)
    return ((x - mean) / np.where(std > 0, std, 1)).astype(np.float32)


def load_npz(path: str | Path, seed: int = 0, normalize: str = "series") -> Dataset:
    """A user's arrays: x_train, y_train, x_test, y_test (+ optional x_val, y_val)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {path} does not exist")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path} is not a NumPy .npz archive ({type(exc).__name__}); save with "
                        "np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path} holds a single array; an .npz with x_train, y_train, x_test, y_test "
                        "is needed")
    with archive:
        keys = set(archive.files)
        need = {"x_train", "y_train", "x_test", "y_test"}
        if not need <= keys:
            raise DataError(f"{path} lacks {', '.join(sorted(need - keys))}; it has "
                            f"{', '.join(sorted(keys)) or 'no arrays'}")
        try:
            arrays = {k: archive[k] for k in keys & (need | {"x_val", "y_val"})}
        except ValueError as exc:
            raise DataError(f"{path}: an array needs pickle to load ({exc}); store labels as "
                            "strings or integers, not objects") from None
    if ("x_val" in arrays) != ("y_val" in arrays):
        raise DataError(f"{path}: give both x_val and y_val, or neither")
    return from_arrays(arrays, path, seed, normalize=normalize)


def from_arrays(arrays: dict, path: Path, seed: int, test_from_train: bool = False,
                normalize: str = "series") -> Dataset:
    """Validate, map labels to integers (sorted naturally; the mapping is `classes`), split and normalize
    (`normalize`: a Normalization mode, fitted on the training split). With `test_from_train`, a stratified
    20 % of the rows becomes the test split. The splits depend on the labels and `seed` only."""
    xs = {k: _as_series(k, arrays[k], path) for k in arrays if k.startswith("x_")}
    ys = {k: np.asarray(arrays[k]).reshape(-1) for k in arrays if k.startswith("y_")}
    for part in ("train", "test", "val"):
        if f"x_{part}" in xs and len(xs[f"x_{part}"]) != len(ys[f"y_{part}"]):
            raise DataError(f"{path}: x_{part} has {len(xs[f'x_{part}'])} series but y_{part} has "
                            f"{len(ys[f'y_{part}'])} labels")
    shapes = {xs[k].shape[1:] for k in xs}
    if len(shapes) > 1:
        raise DataError(f"{path}: splits differ in (length, channels): {sorted(shapes)}")
    for k, y in ys.items():
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise DataError(f"{path}: {k} contains NaN or infinite labels")
    classes = sorted({str(v) for v in ys["y_train"]}, key=_natural)
    if len(classes) < 2:
        raise DataError(f"{path}: the training data has a single class ({classes[0]!r}); classification "
                        "needs at least two")
    lookup = {c: i for i, c in enumerate(classes)}
    labels = {}
    for k, y in ys.items():
        unseen = sorted({str(v) for v in y} - set(lookup))
        if unseen:
            raise DataError(f"{path}: {k} has labels not in the training data: {', '.join(unseen[:5])}")
        labels[k] = np.array([lookup[str(v)] for v in y], np.int64)
    flat = int(np.sum(xs["x_train"].std(axis=1).max(axis=1) == 0))
    if flat:
        first = int(np.flatnonzero(xs["x_train"].std(axis=1).max(axis=1) == 0)[0])
        raise DataError(f"{path}: {flat} of {len(xs['x_train'])} training series are constant (no variance in any "
                        f"channel; the first is series {first}): they carry nothing to learn from; drop them")
    x_tr, y_tr = xs["x_train"], labels["y_train"]
    if test_from_train:
        x_tr, y_tr, x_test, y_test = stratified_split(x_tr, y_tr, TEST_FRACTION, seed + 100)
    else:
        x_test, y_test = xs["x_test"], labels["y_test"]
    if "x_val" in xs:
        x_val, y_val = xs["x_val"], labels["y_val"]
    else:
        x_tr, y_tr, x_val, y_val = stratified_split(x_tr, y_tr, VAL_FRACTION, seed)
    norm = Normalization.fit(normalize, x_tr)
    x_tr, x_val, x_test = norm(x_tr), norm(x_val), norm(x_test)
    check_enough(y_tr, y_val, classes, path, "series of each class in the file" if "x_val" not in xs
                 else "training series of each class", 4 if test_from_train else 3)
    return Dataset(x_tr, y_tr, x_val, y_val, x_test, y_test, tuple(classes),
                   name=path.stem.removesuffix("_TRAIN").removesuffix("_train"), source=str(path.resolve()),
                   extra={"test_split": "20 % of the file, stratified" if test_from_train else "official",
                          **norm.describe()})


def load_file(path: str | Path, seed: int = 0, label_column: str | None = None, normalize: str = "series") -> Dataset:
    """Any supported file: .npz, or a text format (CSV, UCR .tsv, .ts) with its `_TEST` sibling."""
    from nas import loaders

    path = Path(path)
    if path.suffix.lower() == ".npz":
        return load_npz(path, seed, normalize)
    if not path.exists():
        raise DataError(f"data file {path} does not exist")
    if not path.is_file():
        raise DataError(f"{path} is not a file; give NAME_TRAIN.tsv, a .csv, .ts or .npz file")
    test = loaders.official_test_file(path)
    if test is None and path.stem.upper().endswith("_TEST"):
        raise DataError(f"{path} is a test split; give the _TRAIN file (its _TEST sibling is found)")
    try:
        x, y = loaders.read_series(path, label_column)
        arrays = {"x_train": x, "y_train": y}
        if test is not None:
            if not test.exists():
                raise DataError(f"{path} is a training split but {test.name} is not beside it")
            arrays["x_test"], arrays["y_test"] = loaders.read_series(test, label_column)
    except loaders.FormatError as exc:
        raise DataError(str(exc)) from None
    return from_arrays(arrays, path, seed, test_from_train=test is None, normalize=normalize)


MIN_TRAIN_PER_CLASS = 2  # a class needs series to learn from...
MIN_VAL_PER_CLASS = 1  # ...and one to be validated on


def check_enough(y_train, y_val, classes, path, what: str, need: int) -> None:
    """Refuse, before any trial, data whose splits leave a class without series to train on or to
    validate on (every training would fail, or no score could rank it). `need`: how many of `what` that
    takes, for the message."""
    for c, name in enumerate(classes):
        n_train, n_val = int(np.sum(y_train == c)), int(np.sum(y_val == c))
        if n_train < MIN_TRAIN_PER_CLASS or n_val < MIN_VAL_PER_CLASS:
            total = int(np.sum(np.asarray(y_train) == c) + np.sum(np.asarray(y_val) == c))
            raise DataError(f"{path}: class {name!r} has {total} series; a search needs at least {need} {what} "
                            f"({MIN_TRAIN_PER_CLASS} to train on and {MIN_VAL_PER_CLASS} to validate on after the "
                            "test split); add series or drop the class")


def _natural(label: str):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def open_data(path: str | Path | None, seed: int = 0, label_column: str | None = None,
              normalize: str = "series") -> Dataset:
    """A new search's data: the user's file, or the built-in light curves when `path` is None. Its
    `describe()` carries what `load` needs to open the same data again (path, split seed, label column)."""
    if path is None:
        return builtin_lightcurves(seed=seed)
    dataset = load_file(path, seed=seed, label_column=label_column, normalize=normalize)
    return replace(dataset, extra={**dataset.extra, "path": str(Path(path).resolve()), "split_seed": seed,
                                   "label_column": label_column})


def load(spec: dict) -> Dataset:
    """Open again the data a study describes (what `open_data(...).describe()` stored)."""
    if spec["name"] == BUILTIN and spec.get("path") is None:
        return builtin_lightcurves(per_class=spec.get("per_class", 256), seed=spec.get("seed", 0))
    return load_file(spec["path"], seed=spec.get("split_seed", 0), label_column=spec.get("label_column"),
                     normalize=spec.get("normalize", "series"))
