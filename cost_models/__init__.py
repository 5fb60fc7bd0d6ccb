"""Hardware cost models: flash, TFLM arena and latency of int8 models on microcontrollers."""

from cost_models.device import DEVICES, Device, get_device
from cost_models.estimate import Budget, Cost, estimate
from cost_models.graph import Graph, UnsupportedOpError

__all__ = ["DEVICES", "Budget", "Cost", "Device", "Graph", "UnsupportedOpError", "estimate", "get_device"]
