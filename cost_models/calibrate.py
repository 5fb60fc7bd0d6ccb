"""Fit a device's latency coefficients to the user's own measurements.

Each loop cost of the device's model (cost_models/kernels.py: dispatch per op, MACs per kernel
family, im2col, requantization, ...) that the measured models exercise is scaled by one multiplier;
for a device file calibrated before the loop model, each op kind's coefficients are. Multipliers are
fitted in log space with scipy's least squares on relative errors, with a weak pull toward 1
(`prior_weight`) so that a handful of measurements cannot send a loop the data barely sees to an
absurd value.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from cost_models.device import Device
from cost_models.graph import Graph
from cost_models.kernels import FEATURES, op_features
from cost_models.latency import KernelModel, kernel_model


@dataclass(frozen=True)
class Measurement:
    model: Path
    latency_ms: float
    arena_bytes: int | None = None


def read_measurements(path: str | Path) -> list[Measurement]:
    """CSV with columns model, measured_ms and optionally measured_arena_bytes."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"measurements file {path} does not exist")
    rows = []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"model", "measured_ms"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: needs a header with columns model, measured_ms "
                             "(and optionally measured_arena_bytes)")
        for line, row in enumerate(reader, start=2):
            try:
                ms = float(row["measured_ms"])
                arena = row.get("measured_arena_bytes") or None
                arena = int(arena) if arena is not None else None
            except ValueError:
                raise ValueError(f"{path}:{line}: measured_ms / measured_arena_bytes must be numbers") from None
            if not ms > 0:
                raise ValueError(f"{path}:{line}: measured_ms must be positive, got {ms}")
            model = Path(row["model"])
            rows.append(Measurement(model if model.is_absolute() else path.parent / model, ms, arena))
    if not rows:
        raise ValueError(f"{path} has no measurements")
    return rows


def _scaled(base: KernelModel, names: list[str], log_m: np.ndarray) -> KernelModel:
    """`base` with the costs of `names` (loops, or op kinds with "invoke" for an old per-kind model)
    multiplied by exp(log_m)."""
    m = dict(zip(names, np.exp(log_m).tolist(), strict=True))
    if base.path is not None:
        return replace(base, costs={k: v * m.get(k, 1.0) for k, v in base.costs.items()})
    return replace(base, invoke=base.invoke * m.get("invoke", 1.0),
                   ops={k: c.scaled(m.get(k, 1.0)) for k, c in base.ops.items()})


def _names(base: KernelModel, graphs: list[Graph]) -> list[str]:
    """What calibration scales: the loops the measured models run (nonzero cost and count), or for a
    per-kind model "invoke" and the op kinds present."""
    if base.path is None:
        return ["invoke", *sorted({op.kind for g in graphs for op in g.ops})]
    used = {f for g in graphs for op in g.ops for f, v in op_features(g, op, base.path).items() if v}
    return [f for f in FEATURES if f in used and base.costs.get(f)]


def predict_ms(model: KernelModel, graph: Graph, clock_hz: int) -> float:
    return model.cycles(graph) / clock_hz * 1e3


@dataclass(frozen=True)
class Calibration:
    before: KernelModel
    after: KernelModel
    multipliers: dict[str, float]
    errors_before: np.ndarray  # relative, per measurement
    errors_after: np.ndarray


def calibrate(device: Device, graphs: list[Graph], measured_ms: list[float],
              prior_weight: float = 0.3) -> Calibration:
    """One multiplier for the whole board (its speed against the built-in model: clock-independent
    effects such as flash wait states or another runtime) times one per loop, fitted together; only the
    per-loop ones are pulled toward 1 (`prior_weight`), so two similar models move the board's speed,
    not the loops they cannot tell apart."""
    from scipy.optimize import least_squares

    base = kernel_model(device)
    names = _names(base, graphs)
    y = np.asarray(measured_ms, float)

    def multipliers_of(x):
        return x[0] + x[1:]  # log of (board x loop) per name

    def residuals(x):
        km = _scaled(base, names, multipliers_of(x))
        pred = np.array([predict_ms(km, g, device.clock_hz) for g in graphs])
        return np.concatenate([(pred - y) / y, prior_weight * x[1:]])

    bound = np.log(1e3)
    fit = least_squares(residuals, np.zeros(len(names) + 1), bounds=(-bound, bound))
    log_m = multipliers_of(fit.x)
    after = _scaled(base, names, log_m)
    before_err = np.array([predict_ms(base, g, device.clock_hz) for g in graphs]) / y - 1
    after_err = np.array([predict_ms(after, g, device.clock_hz) for g in graphs]) / y - 1
    multipliers = dict(zip(names, np.exp(log_m).tolist(), strict=True))
    return Calibration(base, after, multipliers, before_err, after_err)


def _toml_value(v) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(float(v)) if isinstance(v, float) else str(v)


def device_toml(device: Device, name: str, model: KernelModel, source: str) -> str:
    """A user device file that `--device` accepts, carrying the fitted coefficients."""
    lines = [
        f"# Written by `nas calibrate`: {source}",
        f"name = {_toml_value(name)}",
        f"title = {_toml_value(device.title + ' (calibrated)')}",
        *(f"{key} = {_toml_value(getattr(device, key))}"
          for key in ("core", "kernels", "clock_hz", "sram_bytes", "flash_bytes")),
        f"source = {_toml_value(device.source + '; latency ' + source)}",
        "",
        "[coefficients]",
        f"source = {_toml_value(source)}",
        f"engine = {_toml_value(model.engine + ' (calibrated)')}",
        *(f"{k} = {float(v)!r}" for k, v in (("float32_per_mac", model.float32_per_mac),
                                             ("float32_factor", model.float32_factor)) if v is not None),
    ]
    if model.path is not None:
        lines += [f"path = {_toml_value(model.path)}", "", "[coefficients.cost]",
                  *(f"{k} = {float(v)!r}" for k, v in model.costs.items())]
        return "\n".join(lines) + "\n"
    lines += [f"invoke = {float(model.invoke)!r}", f"odd_channel_penalty = {float(model.odd_channel_penalty)!r}",
              "", "[coefficients.ops]"]
    for kind, c in sorted(model.ops.items()):
        fields = ", ".join(f"{f} = {v!r}" for f, v in asdict(c.scaled(1.0)).items())
        lines.append(f"{kind} = {{ {fields} }}")
    return "\n".join(lines) + "\n"
