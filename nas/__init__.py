"""mcu-nas: neural architecture search with hardware-cost models for microcontrollers."""

__version__ = "0.1.0"
