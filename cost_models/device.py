"""Target boards as data: each number comes from a datasheet named in the board's TOML file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Device:
    """A target board. Budgets are what the deployed model may use; these are the board's limits."""

    name: str
    title: str
    core: str  # "cortex-m4f", "cortex-m33", "cortex-m0plus", "xtensa-lx6", "xtensa-lx7", "arm1176"
    clock_hz: int
    sram_bytes: int
    flash_bytes: int
    kernels: str  # kernel library TFLM is built with: "cmsis-nn", "esp-nn", "reference"
    source: str  # datasheet or measurement these numbers come from
    coefficients: dict | None = None  # latency coefficients fitted for this very board (calibrate)
    runtime_flash_bytes: int | None = None  # TFLM library code, if measured (cost_models/runtime.py)
    runtime_ram_bytes: int | None = None  # TFLM objects outside the arena, if measured

    @property
    def kernel_key(self) -> str:
        return f"{self.core}.{self.kernels}"


KERNEL_LIBRARIES = ("reference", "cmsis-nn", "esp-nn")
_REQUIRED_POSITIVE = ("clock_hz", "sram_bytes", "flash_bytes")
_REQUIRED_TEXT = ("name", "core", "kernels")


def device_from_dict(data: dict, origin: str) -> Device:
    """Validate a board description; every problem is a ValueError naming the field and the file."""
    missing = [f for f in (*_REQUIRED_TEXT, *_REQUIRED_POSITIVE) if f not in data]
    if missing:
        raise ValueError(f"device file {origin} is missing {', '.join(missing)}; "
                         "each board needs name, core, kernels, clock_hz, sram_bytes, flash_bytes")
    for key in _REQUIRED_POSITIVE:
        value = data[key]
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"device file {origin}: {key} must be a positive number, got {value!r}")
    if data["kernels"] not in KERNEL_LIBRARIES:
        raise ValueError(f"device file {origin}: kernels must be one of {', '.join(KERNEL_LIBRARIES)}, "
                         f"got {data['kernels']!r}")
    known = {f.name for f in fields(Device)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"device file {origin}: unknown field(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(known))}")
    values = {k: data[k] for k in known if k in data}
    values.setdefault("title", data["name"])
    values.setdefault("source", f"user description in {origin}")
    for key in ("runtime_flash_bytes", "runtime_ram_bytes"):
        value = values.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"device file {origin}: {key} must be a whole number of bytes >= 0, got {value!r}")
    for key in _REQUIRED_POSITIVE:
        values[key] = int(values[key])
    return Device(**values)


def _load_builtin() -> dict[str, Device]:
    boards = {}
    for entry in sorted(resources.files("cost_models.boards").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text())
            boards[data["name"]] = device_from_dict(data, entry.name)
    return boards


DEVICES: dict[str, Device] = _load_builtin()


def load_device_file(path: str | Path) -> Device:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"device file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"device file {path} is not valid TOML ({exc})") from None
    return device_from_dict(data, str(path))


def get_device(name_or_path: str) -> Device:
    """A built-in board by name, or a user's board described in a .toml file."""
    if name_or_path in DEVICES:
        return DEVICES[name_or_path]
    if name_or_path.endswith(".toml"):
        return load_device_file(name_or_path)
    raise ValueError(f"unknown device {name_or_path!r}; known: {', '.join(DEVICES)} "
                     "(or a .toml file describing your board)")
