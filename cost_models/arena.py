"""The TFLM tensor arena, planned the way TensorFlow Lite Micro plans it.

Reproduces, for a single-subgraph model without offline plan:
- lifetimes: `AllocationInfoBuilder::MarkAllocationLifetimes` (micro_allocation_info.cc). Inputs are
  created at scope 0; op i runs at scope i + 1, creates its outputs there and is the last user of
  its inputs there; graph outputs live to the last scope.
- which tensors are planned: no constant buffer, not a variable, non-zero size; each size rounded
  up to `MicroArenaBufferAlignment()` = 16 bytes (micro_arena_constants.h).
- kernel scratch buffers (cost_models/scratch.py) follow the tensors in the list, each created and
  last used at its operator's scope (`MarkAllocationLifetimes`), aligned the same way.
- placement: `GreedyMemoryPlanner::CalculateOffsetsIfNeeded` (greedy_memory_planner.cc). Buffers
  are listed in reverse order of addition, then bubble-sorted (stable) by size, largest first;
  each goes into the lowest gap between the time-overlapping buffers already placed.
The planner's peak is the non-persistent ("head") part of the arena.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from cost_models.graph import Graph

ALIGNMENT = 16  # MicroArenaBufferAlignment() in tflite-micro


def align_up(n: int, alignment: int = ALIGNMENT) -> int:
    return (n + alignment - 1) // alignment * alignment


@dataclass(frozen=True)
class Buffer:
    tensor: int  # tensor index; -1 for a kernel's scratch buffer
    size: int  # bytes, aligned
    first: int  # allocation scope where it is created
    last: int  # allocation scope of its last use


@dataclass(frozen=True)
class ArenaPlan:
    buffers: tuple[Buffer, ...]
    offsets: tuple[int, ...]  # one per buffer
    peak_bytes: int

    def live_bytes(self, scope: int) -> int:
        """Bytes of planned buffers alive while the op at `scope` (op index + 1) runs."""
        return sum(b.size for b in self.buffers if b.first <= scope <= b.last)


def lifetimes(graph: Graph, scratch: Sequence[tuple[int, int]] = ()) -> list[Buffer]:
    """Planned buffers in TFLM's order: tensors by index, then (op index, bytes) scratch requests."""
    n = len(graph.tensors)
    first, last = [-1] * n, [-1] * n
    scope = 0
    for t in graph.inputs:
        if first[t] == -1:
            first[t] = scope
        last[t] = scope
    for op in graph.ops:
        scope += 1
        for t in op.outputs:
            if first[t] == -1:
                first[t] = scope
        for t in op.inputs:
            if t >= 0:
                last[t] = scope
        for t in op.outputs:
            last[t] = scope
    for t in graph.outputs:
        if first[t] == -1:
            first[t] = scope
        last[t] = scope
    buffers = []
    for i, tensor in enumerate(graph.tensors):
        if tensor.constant or i in graph.variables or tensor.nbytes == 0:
            continue
        buffers.append(Buffer(i, align_up(tensor.nbytes), first[i], last[i]))
    buffers.extend(Buffer(-1, align_up(size), op + 1, op + 1) for op, size in scratch)
    return buffers


def greedy_plan(buffers: list[Buffer]) -> ArenaPlan:
    """Offsets exactly as TFLM's GreedyMemoryPlanner assigns them."""
    if not buffers:
        return ArenaPlan((), (), 0)
    # Filled from the tail in addition order, then a stable descending sort by size.
    order = sorted(reversed(range(len(buffers))), key=lambda i: -buffers[i].size)
    offsets = [0] * len(buffers)
    placed_offsets: list[int] = []  # sorted by offset; ties keep insertion order
    placed: list[int] = []
    for idx in order:
        want = buffers[idx]
        candidate, prior = 0, None
        for j in placed:
            other = buffers[j]
            if other.first > want.last or want.first > other.last:
                continue  # not alive at the same time
            if prior is not None:
                candidate = max(candidate, offsets[prior] + buffers[prior].size)
            if offsets[j] - candidate >= want.size:
                break
            prior = j
        else:
            if prior is not None:
                candidate = max(candidate, offsets[prior] + buffers[prior].size)
        offsets[idx] = candidate
        at = bisect.bisect_right(placed_offsets, candidate)
        placed_offsets.insert(at, candidate)
        placed.insert(at, idx)
    peak = max(offsets[i] + b.size for i, b in enumerate(buffers))
    return ArenaPlan(tuple(buffers), tuple(offsets), peak)


def plan_arena(graph: Graph, scratch: Sequence[tuple[int, int]] = ()) -> ArenaPlan:
    """The planner's layout of the graph's tensors and the given kernel scratch requests."""
    return greedy_plan(lifetimes(graph, scratch))
