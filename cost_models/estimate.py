"""A candidate's cost on a device, and its violations of a budget."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cost_models.arena import plan_arena
from cost_models.device import Device
from cost_models.flash import estimate_flash_bytes
from cost_models.graph import Graph
from cost_models.latency import latency_ms
from cost_models.persistent import persistent_bytes


@dataclass(frozen=True)
class Budget:
    """What the deployed model may add to the firmware (LARUN TinyML requirements by default)."""

    max_flash_bytes: int = 100 * 1024
    max_ram_bytes: int = 50 * 1024
    max_latency_ms: float = 10.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not value > 0:
                raise ValueError(f"budget {name} must be positive, got {value}")


@dataclass(frozen=True)
class Cost:
    flash_bytes: int  # the .tflite
    arena_bytes: int  # TFLM planner (non-persistent head)
    persistent_bytes: int  # TFLM tail, 32-bit estimate
    latency_ms: float
    macs: int
    params: int

    @property
    def ram_bytes(self) -> int:
        return self.arena_bytes + self.persistent_bytes

    def violations(self, budget: Budget) -> dict[str, float]:
        """> 0 means over budget, by that fraction of it (what `trial.set_constraint` wants)."""
        return {
            "flash": self.flash_bytes / budget.max_flash_bytes - 1,
            "ram": self.ram_bytes / budget.max_ram_bytes - 1,
            "latency": self.latency_ms / budget.max_latency_ms - 1,
        }

    def to_dict(self) -> dict:
        return {**asdict(self), "ram_bytes": self.ram_bytes}


def estimate(graph: Graph, device: Device, flash_bytes: int | None = None) -> Cost:
    """Cost of a graph; pass `flash_bytes` when the exact .tflite size is known."""
    graph.check_supported()
    return Cost(
        flash_bytes=estimate_flash_bytes(graph) if flash_bytes is None else flash_bytes,
        arena_bytes=plan_arena(graph).peak_bytes,
        persistent_bytes=persistent_bytes(graph),
        latency_ms=latency_ms(graph, device),
        macs=graph.total_macs,
        params=graph.params,
    )
