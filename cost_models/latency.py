"""Per-device latency: a sum over operators of cycles, divided by the clock.

The built-in model counts the loops each operator's kernel runs on the board's kernel library
(cost_models/kernels.py: MACs per kernel family, scalar remainders, im2col copies, requantized outputs,
one dispatch per op) and multiplies them by per-iteration cycle costs fitted to published measurements
(kernels.toml, with their sources; `benchmarks/latency_accuracy.py` reproduces the fit and its
held-out errors). float32 ops run TFLM's reference kernels: MACs times `float32_per_mac`, the other
loops times `float32_factor` (assumed, see kernels.toml).

Device files calibrated before the loop model carry per-op-kind coefficients (fixed + per MAC +
per output + per input element); those are still read and used as they are.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, astuple, dataclass, field
from importlib import resources

from cost_models.device import Device
from cost_models.graph import MAC_OPS, SUPPORTED_OPS, Graph, Op, UnsupportedOpError
from cost_models.kernels import FEATURES, PATHS, op_features


@dataclass(frozen=True)
class OpCoefficients:
    """Per-op-kind coefficients of device files calibrated before the loop model."""
    fixed: float = 0.0
    per_mac: float = 0.0
    per_output: float = 0.0
    per_input: float = 0.0

    def scaled(self, factor: float) -> OpCoefficients:
        return OpCoefficients(*(float(v) * factor for v in astuple(self)))

    def nonzero(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v}


@dataclass(frozen=True)
class KernelModel:
    key: str
    source: str
    engine: str  # the runtime and kernel library modelled, e.g. "TFLM + CMSIS-NN (DSP path)"
    path: str | None = None  # loop model: cost_models.kernels path
    costs: dict[str, float] = field(default_factory=dict)  # loop model: cycles per loop iteration
    float32_per_mac: float | None = None  # reference float kernels (kernels.toml: assumed, not fitted)
    float32_factor: float | None = None
    int16_factor: float | None = None  # int16x8 ops: the int8 loop costs times this (kernels.toml: assumed)
    invoke: float = 0.0  # per-op-kind model only
    odd_channel_penalty: float = 1.0  # per-op-kind model only
    ops: dict[str, OpCoefficients] = field(default_factory=dict)  # per-op-kind model only

    def op_cycles(self, graph: Graph, op: Op) -> float:
        if op.kind not in SUPPORTED_OPS:
            raise UnsupportedOpError(f"operator {op.kind} has no latency model for {self.key}")
        is_float = bool(op.outputs) and graph.tensors[op.outputs[0]].itemsize == 4
        if is_float and (self.float32_per_mac is None or self.float32_factor is None):
            raise UnsupportedOpError(f"float32 {op.kind} has no latency coefficients for {self.key}")
        if self.path is None:
            return self._per_kind_cycles(graph, op, is_float)
        loops = op_features(graph, op, self.path)
        if bool(op.outputs) and graph.tensors[op.outputs[0]].itemsize == 2:
            if self.int16_factor is None:
                raise UnsupportedOpError(f"int16 {op.kind} has no latency coefficients for {self.key}")
            return self.int16_factor * sum(self.costs.get(f, 0.0) * v for f, v in loops.items())
        if is_float:
            macs = graph.macs(op)
            rest = sum(self.costs.get(f, 0.0) * v for f, v in loops.items() if not f.endswith("_mac") and f != "op")
            return self.costs.get("op", 0.0) + macs * self.float32_per_mac + rest * self.float32_factor
        return sum(self.costs.get(f, 0.0) * v for f, v in loops.items())

    def _per_kind_cycles(self, graph: Graph, op: Op, is_float: bool) -> float:
        if op.kind not in self.ops:
            raise UnsupportedOpError(f"operator {op.kind} has no latency coefficients for {self.key}")
        c = self.ops[op.kind]
        out = sum(graph.tensors[t].elements for t in op.outputs)
        inp = graph.tensors[op.inputs[0]].elements if op.inputs and op.inputs[0] >= 0 else 0
        if is_float:
            return (c.fixed + graph.macs(op) * self.float32_per_mac
                    + (out * c.per_output + inp * c.per_input) * self.float32_factor)
        mac_term = graph.macs(op) * c.per_mac
        if op.kind in MAC_OPS and graph.input_channels(op) % 4:
            mac_term *= self.odd_channel_penalty
        return c.fixed + mac_term + out * c.per_output + inp * c.per_input

    def assumptions(self, graph: Graph) -> list[str]:
        """What of this graph's latency rests on assumed, not fitted, figures (say it beside the number)."""
        sizes = {graph.tensors[op.outputs[0]].itemsize for op in graph.ops if op.outputs}
        notes = []
        if 2 in sizes and self.path is not None:
            notes.append(f"int16 ops: the int8 costs x{self.int16_factor:g}, ASSUMED (no published int16x8 timing)")
        if 4 in sizes:
            notes.append(f"float32 ops: {self.float32_per_mac:g} cycles/MAC, other loops x{self.float32_factor:g}, "
                         "ASSUMED (no published float timing)")
        return notes

    def cycles(self, graph: Graph) -> float:
        return self.invoke + sum(self.op_cycles(graph, op) for op in graph.ops)

    def to_dict(self) -> dict:
        floats = {k: v for k, v in (("float32_per_mac", self.float32_per_mac), ("float32_factor", self.float32_factor),
                                    ("int16_factor", self.int16_factor)) if v is not None}
        if self.path is not None:
            return {"source": self.source, "engine": self.engine, "path": self.path, **floats,
                    "cost": dict(self.costs)}
        return {"source": self.source, "engine": self.engine, "invoke": self.invoke,
                "odd_channel_penalty": self.odd_channel_penalty, **floats,
                "ops": {k: v.nonzero() for k, v in self.ops.items()}}


def _read_table() -> dict:
    return tomllib.loads(resources.files("cost_models").joinpath("kernels.toml").read_text())


_TABLE = _read_table()


def kernel_model_from_dict(key: str, entry: dict, table: dict | None = None) -> KernelModel:
    """A KernelModel from a kernels.toml entry or a device file's [coefficients]."""
    table = table or _TABLE
    if "same_as" in entry:  # borrows another core's costs, keeping its own source and engine
        core, lib = entry["same_as"].split(".", 1)
        base = kernel_model_from_dict(entry["same_as"], table[core][lib], table)
        return KernelModel(key, entry.get("source", base.source), entry.get("engine", base.engine), base.path,
                           base.costs, base.float32_per_mac, base.float32_factor, base.int16_factor)
    floats = [entry.get(k) for k in ("float32_per_mac", "float32_factor", "int16_factor")]
    floats = [float(v) if v is not None else None for v in floats]
    if "path" in entry:
        if entry["path"] not in PATHS:
            raise ValueError(f"latency model {key}: unknown kernel path {entry['path']!r}; known: {', '.join(PATHS)}")
        unknown = set(entry.get("cost", {})) - set(FEATURES)
        if unknown:
            raise ValueError(f"latency model {key}: unknown loop(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(FEATURES)}")
        return KernelModel(key, entry.get("source", ""), entry.get("engine", ""), entry["path"],
                           {k: float(v) for k, v in entry["cost"].items()}, *floats)
    ops = {k: OpCoefficients(**v) for k, v in entry["ops"].items()}
    return KernelModel(key, entry.get("source", ""), entry.get("engine", "per-op-kind coefficients"), None, {},
                       *floats[:2], invoke=float(entry.get("invoke", 0)),
                       odd_channel_penalty=float(entry.get("odd_channel_penalty", 1.0)), ops=ops)


def kernel_model(device: Device) -> KernelModel:
    """The device's own fitted coefficients, else those of its core and kernel library."""
    if device.coefficients:
        return kernel_model_from_dict(device.kernel_key, device.coefficients)
    core, _, lib = device.kernel_key.partition(".")
    try:
        entry = _TABLE[core][lib]
    except KeyError:
        known = [f"{c}.{k}" for c, libs in _TABLE.items() if c != "priors" for k in libs]
        raise ValueError(f"device {device.name}: no latency coefficients for core {core!r} with "
                         f"kernels {lib!r}; known: {', '.join(known)}") from None
    return kernel_model_from_dict(device.kernel_key, entry)


def op_latency_ms(graph: Graph, device: Device) -> list[float]:
    model = kernel_model(device)
    return [model.op_cycles(graph, op) / device.clock_hz * 1e3 for op in graph.ops]


def latency_ms(graph: Graph, device: Device) -> float:
    return kernel_model(device).cycles(graph) / device.clock_hz * 1e3
