"""A candidate's cost on a device, and its violations of a budget."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cost_models.arena import plan_arena
from cost_models.device import Device
from cost_models.flash import estimate_flash_bytes
from cost_models.graph import Graph
from cost_models.latency import latency_ms
from cost_models.persistent import persistent_bytes
from cost_models.runtime import runtime_footprint
from cost_models.scratch import scratch_requests


@dataclass(frozen=True)
class Budget:
    """What the deployed model may add to the firmware (LARUN TinyML requirements by default).

    The budgets apply to the model's own bytes (the .tflite and its arena); with `count_runtime`
    they also pay for the TFLM library (cost_models/runtime.py).
    """

    max_flash_bytes: int = 100 * 1024
    max_ram_bytes: int = 50 * 1024
    max_latency_ms: float = 10.0
    count_runtime: bool = False
    max_params: int | None = None  # weights and biases, as the guides count them (None: no limit)
    max_macs: int | None = None  # multiply-accumulates of one inference (None: no limit)

    def __post_init__(self) -> None:
        for name in ("max_flash_bytes", "max_ram_bytes", "max_latency_ms", "max_params", "max_macs"):
            value = getattr(self, name)
            if value is None and name in ("max_params", "max_macs"):
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"budget {name} must be positive, got {value}")


@dataclass(frozen=True)
class Cost:
    flash_bytes: int  # the .tflite
    arena_bytes: int  # TFLM planner (non-persistent head), with the device's kernel scratch buffers
    persistent_bytes: int  # TFLM tail, 32-bit estimate
    latency_ms: float
    macs: int
    params: int
    scratch_bytes: int = 0  # how much of arena_bytes the kernels' scratch buffers account for
    runtime_flash_bytes: int = 0  # the TFLM library, beside the model (not in flash_bytes)
    runtime_ram_bytes: int = 0  # TFLM objects outside the arena (not in ram_bytes)

    @property
    def ram_bytes(self) -> int:
        return self.arena_bytes + self.persistent_bytes

    def violations(self, budget: Budget) -> dict[str, float]:
        """> 0 means over budget, by that fraction of it (what `trial.set_constraint` wants)."""
        runtime = budget.count_runtime
        over = {
            "flash": (self.flash_bytes + runtime * self.runtime_flash_bytes) / budget.max_flash_bytes - 1,
            "ram": (self.ram_bytes + runtime * self.runtime_ram_bytes) / budget.max_ram_bytes - 1,
            "latency": self.latency_ms / budget.max_latency_ms - 1,
        }
        if budget.max_params is not None:  # only when set: a study's constraints keep one length
            over["params"] = self.params / budget.max_params - 1
        if budget.max_macs is not None:
            over["macs"] = self.macs / budget.max_macs - 1
        return over

    def broken(self, budget: Budget) -> list[str]:
        """The budgets it is over (none: it fits)."""
        return [name for name, excess in self.violations(budget).items() if excess > 0]

    def to_dict(self) -> dict:
        return {**asdict(self), "ram_bytes": self.ram_bytes}


def estimate(graph: Graph, device: Device, flash_bytes: int | None = None) -> Cost:
    """Cost of a graph; pass `flash_bytes` when the exact .tflite size is known."""
    graph.check_supported()
    requests = scratch_requests(graph, device.kernels, device.core)
    arena = plan_arena(graph, requests).peak_bytes
    tensors_only = plan_arena(graph).peak_bytes if requests else arena  # replan only if scratch exists
    runtime = runtime_footprint(graph, device)
    return Cost(
        flash_bytes=estimate_flash_bytes(graph) if flash_bytes is None else flash_bytes,
        arena_bytes=arena,
        persistent_bytes=persistent_bytes(graph),
        latency_ms=latency_ms(graph, device),
        macs=graph.total_macs,
        params=graph.params,
        scratch_bytes=arena - tensors_only,
        runtime_flash_bytes=runtime.flash_bytes,
        runtime_ram_bytes=runtime.ram_bytes,
    )
