"""What the TFLM library itself adds to the firmware, beside the model's own flash and arena.

Flash: the TFLM framework (interpreter, allocator, memory planner; no kernels) is 9,732 bytes of
code on an Arm Cortex-M3 "bluepill" board, measured by the TFLM team as the difference between
their `interpreter_memory_footprint` and `baseline_memory_footprint` builds
(tflite-micro, tensorflow/lite/micro/examples/memory_footprint/README.md). Cortex-M0+ and M4F
use the same Thumb instruction encoding and take that figure (so does the M33); the Xtensa LX6 / LX7 and the
Pi Zero's ARM1176 have no published figure and BORROW it. Kernel code is not included: it
depends on which kernels the firmware registers and on the library (CMSIS-NN, ESP-NN); measure
it with `size` on your own firmware and put it in the device file (`runtime_flash_bytes`).

RAM outside the arena: the `MicroInterpreter` object (about 200 B on a 32-bit target, counted
from its members in micro_interpreter.h: TfLiteContext, graph, context, tensor pointers) and the
`MicroMutableOpResolver`, 36 B per registered operator kind on a 32-bit target (a TFLMRegistration
of five function pointers, a builtin code and a name pointer, plus the builtin code and parser
pointer arrays: micro_mutable_op_resolver.h, micro_common.h). The allocator itself lives in the
arena's persistent tail (cost_models/persistent.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from cost_models.device import Device
from cost_models.graph import Graph

FRAMEWORK_FLASH_BYTES = 9_732
INTERPRETER_BYTES = 200
RESOLVER_BYTES_PER_OP_KIND = 36
_MEASURED_CORES = frozenset({"cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m4f", "cortex-m33", "cortex-m7"})


@dataclass(frozen=True)
class Runtime:
    flash_bytes: int
    ram_bytes: int
    source: str


def runtime_footprint(graph: Graph, device: Device) -> Runtime:
    if device.runtime_flash_bytes is not None:
        flash, source = device.runtime_flash_bytes, f"device file {device.name}"
    elif device.core in _MEASURED_CORES:
        flash, source = FRAMEWORK_FLASH_BYTES, "TFLM framework on Cortex-M3 (memory_footprint README)"
    else:
        flash = FRAMEWORK_FLASH_BYTES
        source = f"no published figure for {device.core}: borrows TFLM's Cortex-M3 framework size"
    kinds = len({op.kind for op in graph.ops})
    ram = (device.runtime_ram_bytes if device.runtime_ram_bytes is not None
           else INTERPRETER_BYTES + RESOLVER_BYTES_PER_OP_KIND * kinds)
    return Runtime(flash, ram, source + "; kernel code not included")
