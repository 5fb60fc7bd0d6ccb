"""Per-device latency: invoke overhead + a sum over operators of cycles, divided by the clock.

Per op: fixed + macs * per_mac (x odd_channel_penalty when CMSIS-NN's 4-channel SIMD path does not
apply) + output_elements * per_output + input_elements * per_input. Coefficients and their sources
are in kernels.toml; an op with no coefficients is an error, never zero.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, astuple, dataclass
from importlib import resources

from cost_models.device import Device
from cost_models.graph import MAC_OPS, Graph, Op, UnsupportedOpError


@dataclass(frozen=True)
class OpCoefficients:
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
    invoke: float
    odd_channel_penalty: float
    ops: dict[str, OpCoefficients]
    float32_per_mac: float | None = None  # reference float kernels (kernels.toml: assumed, not fitted)
    float32_factor: float | None = None

    def op_cycles(self, graph: Graph, op: Op) -> float:
        if op.kind not in self.ops:
            raise UnsupportedOpError(f"operator {op.kind} has no latency coefficients for {self.key}")
        c = self.ops[op.kind]
        is_float = bool(op.outputs) and graph.tensors[op.outputs[0]].itemsize == 4
        out = sum(graph.tensors[t].elements for t in op.outputs)
        inp = graph.tensors[op.inputs[0]].elements if op.inputs and op.inputs[0] >= 0 else 0
        if is_float:
            if self.float32_per_mac is None or self.float32_factor is None:
                raise UnsupportedOpError(f"float32 {op.kind} has no latency coefficients for {self.key}")
            return (c.fixed + graph.macs(op) * self.float32_per_mac
                    + (out * c.per_output + inp * c.per_input) * self.float32_factor)
        mac_term = graph.macs(op) * c.per_mac
        if op.kind in MAC_OPS and graph.input_channels(op) % 4:
            mac_term *= self.odd_channel_penalty
        return c.fixed + mac_term + out * c.per_output + inp * c.per_input

    def to_dict(self) -> dict:
        extra = {k: v for k, v in (("float32_per_mac", self.float32_per_mac),
                                    ("float32_factor", self.float32_factor)) if v is not None}
        return {"source": self.source, "invoke": self.invoke,
                "odd_channel_penalty": self.odd_channel_penalty, **extra,
                "ops": {k: v.nonzero() for k, v in self.ops.items()}}


def _read_table() -> dict:
    return tomllib.loads(resources.files("cost_models").joinpath("kernels.toml").read_text())


_TABLE = _read_table()


def kernel_model_from_dict(key: str, entry: dict, table: dict | None = None) -> KernelModel:
    table = table or _TABLE
    if "scale_from" in entry:
        core, lib = entry["scale_from"].split(".", 1)
        base = kernel_model_from_dict(entry["scale_from"], table[core][lib], table)
        s = float(entry["scale"])
        ops = {k: v.scaled(s) for k, v in base.ops.items()}
        invoke = base.invoke * s
    else:
        ops = {k: OpCoefficients(**v) for k, v in entry["ops"].items()}
        invoke = float(entry.get("invoke", 0))
    floats = [entry.get(k) for k in ("float32_per_mac", "float32_factor")]
    return KernelModel(key, entry.get("source", ""), invoke,
                       float(entry.get("odd_channel_penalty", 1.0)), ops,
                       *(float(v) if v is not None else None for v in floats))


def kernel_model(device: Device) -> KernelModel:
    """The device's own fitted coefficients, else those of its core and kernel library."""
    if device.coefficients:
        return kernel_model_from_dict(device.kernel_key, device.coefficients)
    core, _, lib = device.kernel_key.partition(".")
    try:
        entry = _TABLE[core][lib]
    except KeyError:
        known = [f"{c}.{k}" for c, libs in _TABLE.items() for k in libs]
        raise ValueError(f"device {device.name}: no latency coefficients for core {core!r} with "
                         f"kernels {lib!r}; known: {', '.join(known)}") from None
    return kernel_model_from_dict(device.kernel_key, entry)


def op_latency_ms(graph: Graph, device: Device) -> list[float]:
    model = kernel_model(device)
    return [model.op_cycles(graph, op) / device.clock_hz * 1e3 for op in graph.ops]


def latency_ms(graph: Graph, device: Device) -> float:
    model = kernel_model(device)
    cycles = model.invoke + sum(model.op_cycles(graph, op) for op in graph.ops)
    return cycles / device.clock_hz * 1e3
