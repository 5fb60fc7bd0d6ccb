"""Per-operator cost tables and per-device verdicts for one model (what `nas cost` prints)."""

from __future__ import annotations

from cost_models.arena import plan_arena
from cost_models.device import Device
from cost_models.estimate import Budget, estimate
from cost_models.graph import Graph
from cost_models.latency import kernel_model
from cost_models.runtime import runtime_footprint
from cost_models.scratch import scratch_requests


def op_table(graph: Graph, device: Device) -> list[dict]:
    graph.check_supported()
    requests = scratch_requests(graph, device.kernels, device.core)
    plan = plan_arena(graph, requests)
    kernels = kernel_model(device)
    rows = []
    for i, op in enumerate(graph.ops):
        cycles = kernels.op_cycles(graph, op)
        weights = sum(graph.tensors[t].nbytes for t in op.inputs if t >= 0 and graph.tensors[t].constant)
        rows.append({
            "index": i,
            "op": op.kind,
            "output_shape": list(graph.tensors[op.outputs[0]].shape) if op.outputs else [],
            "macs": graph.macs(op),
            "weight_bytes": weights,
            "arena_live_bytes": plan.live_bytes(i + 1),
            "scratch_bytes": sum(size for at, size in requests if at == i),
            "cycles": round(cycles),
            "ms": cycles / device.clock_hz * 1e3,
        })
    return rows


def verdicts(graph: Graph, devices: list[Device], budget: Budget, flash_bytes: int) -> list[dict]:
    """Totals and fits / over-budget per device: the feasibility matrix."""
    out = []
    for device in devices:
        latency_model = kernel_model(device)
        cost = estimate(graph, device, flash_bytes=flash_bytes)
        violations = cost.violations(budget)
        fits_board = cost.flash_bytes <= device.flash_bytes and cost.ram_bytes <= device.sram_bytes
        out.append({
            "device": device.name,
            **cost.to_dict(),
            "violations": violations,
            "over_budget": [k for k, v in violations.items() if v > 0],
            "fits": fits_board and all(v <= 0 for v in violations.values()),
            "latency_source": latency_model.source,
            "latency_engine": latency_model.engine,
            "latency_assumptions": latency_model.assumptions(graph),
            "kernels": device.kernels,
            "runtime_source": runtime_footprint(graph, device).source,
        })
    return out
