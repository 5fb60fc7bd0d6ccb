"""Distillation data, fidelity and verification for MLP students of a Keras teacher.

The rows the user gives are the validation set: every decision and verdict is made on them. The
students learn from a larger set drawn around them: given rows resampled, continuous columns
perturbed within their observed ranges, binary (one-hot) columns copied unchanged so one-hot groups
stay valid, integer columns rounded. The teacher labels all of it; the user supplies no labels.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NOISE = 0.1  # perturbation: this fraction of each continuous column's standard deviation
WORST_ROWS = 5


class DistillDataError(ValueError):
    """Input rows that cannot be used; the message names the problem and the fix."""


def load_rows(path: str | Path) -> np.ndarray:
    """Rows of teacher inputs from .npz (array `x`) or .csv (a header line, numbers only)."""
    path = Path(path)
    if not path.exists():
        raise DistillDataError(f"data file {path} does not exist")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                if "x" not in data.files:
                    raise DistillDataError(f"{path} has arrays {', '.join(data.files) or 'none'}; the mlp "
                                           "space needs the teacher's input rows as array 'x' (N, features)")
                x = np.asarray(data["x"])
        except (OSError, ValueError) as exc:
            if isinstance(exc, DistillDataError):
                raise
            raise DistillDataError(f"{path} is not a NumPy .npz file ({exc})") from None
    elif path.suffix == ".csv":
        x = _read_csv(path)
    else:
        raise DistillDataError(f"{path}: give the teacher's input rows as .npz (array 'x') or .csv")
    if x.dtype.kind not in "biuf":
        raise DistillDataError(f"{path}: x must be numbers, got {x.dtype}")
    x = x.astype(np.float64)
    if x.ndim != 2 or len(x) == 0 or x.shape[1] == 0:
        raise DistillDataError(f"{path}: x must be a non-empty (rows, features) table, got shape {x.shape}")
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).any(1).sum())
        raise DistillDataError(f"{path}: {bad} row(s) hold NaN or inf; remove or fill them")
    return x


def _read_csv(path: Path) -> np.ndarray:
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise DistillDataError(f"{path} is not a readable CSV file ({exc})") from None
    if len(rows) < 2:
        raise DistillDataError(f"{path}: needs a header line and at least one row of numbers")
    try:
        return np.array([[float(v) for v in row] for row in rows[1:] if row], dtype=np.float64)
    except ValueError as exc:
        raise DistillDataError(f"{path}: every value after the header must be a number ({exc})") from None


@dataclass(frozen=True)
class Columns:
    binary: tuple[int, ...]  # copied from the resampled row (one-hot groups stay valid)
    integer: tuple[int, ...]  # perturbed, then rounded
    continuous: tuple[int, ...]


def detect_columns(x: np.ndarray, discrete: tuple[int, ...] = ()) -> Columns:
    """Binary columns (values in {0, 1}) and integer columns are detected; `discrete` forces columns
    to be copied unchanged, for categorical codes a detector cannot tell from numbers."""
    binary, integer, continuous = [], [], []
    for j in range(x.shape[1]):
        col = x[:, j]
        if j in discrete or np.isin(col, (0.0, 1.0)).all():
            binary.append(j)
        elif np.all(col == np.round(col)):
            integer.append(j)
        else:
            continuous.append(j)
    return Columns(tuple(binary), tuple(integer), tuple(continuous))


def synthesize(x: np.ndarray, n: int, columns: Columns, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = x[rng.integers(len(x), size=n)].copy()
    low, high, std = x.min(0), x.max(0), x.std(0)
    for j in (*columns.continuous, *columns.integer):
        out[:, j] += rng.normal(0, NOISE * std[j], size=n) if std[j] > 0 else 0
        if j in columns.integer:
            out[:, j] = np.round(out[:, j])
        out[:, j] = np.clip(out[:, j], low[j], high[j])
    return out


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float

    def __post_init__(self) -> None:
        if not (self.rtol >= 0 and self.atol >= 0 and self.rtol + self.atol > 0):
            raise ValueError(f"tolerances must be >= 0 and not both 0, got rtol={self.rtol} atol={self.atol}")


def fidelity(pred: np.ndarray, ref: np.ndarray, tol: Tolerance, task: str, names: list[str] | None = None) -> dict:
    """The verdict of a model on the validation rows: what every trial and model card records."""
    pred, ref = np.asarray(pred, np.float64), np.asarray(ref, np.float64)
    names = names or [f"y{k}" for k in range(ref.shape[1])]
    err = np.abs(pred - ref)
    allowed = tol.atol + tol.rtol * np.abs(ref)
    ratio = err / allowed  # <= 1 passes np.allclose(pred, ref, rtol, atol) element-wise
    rel = err / np.maximum(np.abs(ref), 1e-12)
    row_ratio = ratio.max(1)
    result = {
        "task": task,
        "rtol": tol.rtol,
        "atol": tol.atol,
        "rows": len(ref),
        "within_tolerance": float(np.mean(row_ratio <= 1)),
        "passes": bool(np.all(row_ratio <= 1)),
        "scale_to_pass": float(row_ratio.max()),  # passes at (scale*rtol, scale*atol)
        "max_abs_error": float(err.max()),
        "median_abs_error": float(np.median(err)),
        "median_rel_error": float(np.median(rel)),
        "per_output": {n: {"max_abs": float(err[:, k].max()), "median_abs": float(np.median(err[:, k])),
                           "max_rel": float(rel[:, k].max()), "median_rel": float(np.median(rel[:, k])),
                           "passes": bool(np.all(ratio[:, k] <= 1))} for k, n in enumerate(names)},
        "worst_rows": [{"row": int(i), "worst_output": names[int(ratio[i].argmax())],
                        "error_over_tolerance": float(row_ratio[i])}
                       for i in np.argsort(-row_ratio)[:WORST_ROWS]],
    }
    if task == "classification":
        agree = pred.argmax(1) == ref.argmax(1)
        result["agreement"] = float(agree.mean())
    result["fidelity"] = result["agreement"] if task == "classification" else result["within_tolerance"]
    return result


def fold_standardization(chain, x_mean, x_std, y_mean=None, y_std=None):
    """Make a chain trained on standardized data take raw inputs (and give raw outputs)."""
    from nas.teacher import DenseChain, DenseLayer

    layers = [DenseLayer(a.weights.copy(), a.bias.copy(), a.activation) for a in chain.layers]
    first = layers[0]
    first.bias = first.bias - (x_mean / x_std) @ first.weights
    first.weights = first.weights / x_std[:, None]
    if y_mean is not None:
        last = layers[-1]
        last.weights = last.weights * y_std[None, :]
        last.bias = last.bias * y_std + y_mean
    return DenseChain(layers)


def scales(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per column; a constant column is left unscaled."""
    mean, std = a.mean(0), a.std(0)
    return mean, np.where(std > 0, std, 1.0)
