"""Flash: the bytes of the .tflite that ships, estimated from the graph before conversion (one fit per
format: int8, int16x8, float32).

The flatbuffer holds each constant buffer (aligned to 16 bytes by the converter), a table per tensor
(shape, type, name, quantization: a float scale and an int64 zero point per channel), a table per
operator, and fixed metadata. The size is linear in those counts; its coefficients are fitted on
converted models by `python benchmarks/fit_flash.py` and stored in flash_fit.toml with the fit's
error. After conversion the exact size is simply `len(tflite_bytes)`.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

from cost_models.arena import align_up
from cost_models.graph import MAC_OPS, Graph

FEATURES = ("fixed", "constant_bytes", "tensors", "quant_channels", "op_kinds", "fc_ops", "conv_ops", "dw_ops",
            "other_ops")


def features(graph: Graph) -> dict[str, float]:
    used = {i for op in graph.ops for i in op.inputs if i >= 0}
    constant = [graph.tensors[i] for i in sorted(used) if graph.tensors[i].constant]
    channels = 0
    for op in graph.ops:
        if op.kind in MAC_OPS:
            # per-channel scales and zero points on the weights and on the bias
            out_c = graph.tensors[op.outputs[0]].shape[-1]
            channels += out_c * (2 if len(op.inputs) > 2 and op.inputs[2] >= 0 else 1)
    n_tensors = len(constant) + sum(1 for t in graph.tensors if not t.constant)
    return {
        "fixed": 1.0,
        "constant_bytes": float(sum(align_up(t.nbytes) for t in constant)),
        "tensors": float(n_tensors),
        "quant_channels": float(channels),
        "op_kinds": float(len({op.kind for op in graph.ops})),
        # per kind of op: their options tables differ (tensor names are stripped: nas.quantize.strip_names)
        "fc_ops": float(sum(op.kind == "FULLY_CONNECTED" for op in graph.ops)),
        "conv_ops": float(sum(op.kind == "CONV_2D" for op in graph.ops)),
        "dw_ops": float(sum(op.kind == "DEPTHWISE_CONV_2D" for op in graph.ops)),
        "other_ops": float(sum(op.kind not in MAC_OPS for op in graph.ops)),
    }


_FORMAT_OF_ACTIVATION_BYTES = {1: "int8", 2: "int16x8", 4: "float32"}


@functools.cache
def _table() -> dict:
    """flash_fit.toml, read once per process (an estimate is made for every sampled candidate)."""
    return tomllib.loads(resources.files("cost_models").joinpath("flash_fit.toml").read_text())


def _coefficients(fmt: str) -> dict[str, float]:
    return _table()["coefficients" if fmt == "int8" else f"coefficients_{fmt}"]


def estimate_flash_bytes(graph: Graph) -> int:
    """The fit of the graph's format (told by its input's bytes per element: int8, int16x8, float32)."""
    fmt = _FORMAT_OF_ACTIVATION_BYTES.get(graph.tensors[graph.inputs[0]].itemsize, "int8") if graph.inputs else "int8"
    coef = _coefficients(fmt)
    f = features(graph)
    return int(round(sum(coef[k] * f[k] for k in FEATURES)))
