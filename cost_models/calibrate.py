"""Fit a device's latency coefficients to the user's own measurements.

Each coefficient set of an op kind (fixed, per MAC, per element) is scaled by one multiplier per
kind present in the measured models, plus one for the invoke overhead. Multipliers are fitted in log
space with scipy's least squares on relative errors, with a weak pull toward 1 (`prior_weight`) so
that a handful of measurements cannot send a kind the data barely sees to an absurd value.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cost_models.device import Device
from cost_models.graph import Graph
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


def _scaled(base: KernelModel, kinds: list[str], log_m: np.ndarray) -> KernelModel:
    m = dict(zip(kinds, np.exp(log_m[1:]).tolist(), strict=True))
    ops = {k: c.scaled(m.get(k, 1.0)) for k, c in base.ops.items()}
    return KernelModel(base.key, base.source, base.invoke * float(np.exp(log_m[0])),
                       base.odd_channel_penalty, ops)


def predict_ms(model: KernelModel, graph: Graph, clock_hz: int) -> float:
    return (model.invoke + sum(model.op_cycles(graph, op) for op in graph.ops)) / clock_hz * 1e3


@dataclass(frozen=True)
class Calibration:
    before: KernelModel
    after: KernelModel
    multipliers: dict[str, float]
    errors_before: np.ndarray  # relative, per measurement
    errors_after: np.ndarray


def calibrate(device: Device, graphs: list[Graph], measured_ms: list[float],
              prior_weight: float = 0.1) -> Calibration:
    from scipy.optimize import least_squares

    base = kernel_model(device)
    kinds = sorted({op.kind for g in graphs for op in g.ops})
    y = np.asarray(measured_ms, float)

    def residuals(log_m):
        km = _scaled(base, kinds, log_m)
        pred = np.array([predict_ms(km, g, device.clock_hz) for g in graphs])
        return np.concatenate([(pred - y) / y, prior_weight * log_m])

    x0 = np.zeros(len(kinds) + 1)
    fit = least_squares(residuals, x0, bounds=(np.log(1e-3), np.log(1e3)))
    after = _scaled(base, kinds, fit.x)
    before_err = np.array([predict_ms(base, g, device.clock_hz) for g in graphs]) / y - 1
    after_err = np.array([predict_ms(after, g, device.clock_hz) for g in graphs]) / y - 1
    multipliers = {"invoke": float(np.exp(fit.x[0])), **dict(zip(kinds, np.exp(fit.x[1:]).tolist(), strict=True))}
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
        f"invoke = {float(model.invoke)!r}",
        f"odd_channel_penalty = {float(model.odd_channel_penalty)!r}",
        "",
        "[coefficients.ops]",
    ]
    for kind, c in sorted(model.ops.items()):
        fields = ", ".join(f"{f} = {v!r}" for f, v in asdict(c.scaled(1.0)).items())
        lines.append(f"{kind} = {{ {fields} }}")
    return "\n".join(lines) + "\n"
