"""Fit per-op latency coefficients for Cortex-M0+ (TFLM + CMSIS-NN) from the RP2040 per-op table.

Model per op kind: cycles = fixed + macs * cycles_per_mac + output_elements * cycles_per_output.
Data: ../shared/data/latency/rp2040_person_detection_per_op.csv (pico-tflmicro, 125 MHz, 1 core).
Run: python benchmarks/fit_rp2040_coefficients.py [path/to/csv]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

CLOCK_HZ = 125e6
path = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/latency/rp2040_person_detection_per_op.csv")
rows = list(csv.DictReader(path.open()))
for kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
    sel = [r for r in rows if r["op"] == kind]
    macs = np.array([float(r["macs"]) for r in sel])
    outs = np.array([np.prod([int(v) for v in r["output"].split("x")]) for r in sel], float)
    cycles = np.array([float(r["single_core_us"]) * 1e-6 * CLOCK_HZ for r in sel])
    a = np.stack([np.ones_like(macs), macs, outs], axis=1)
    # Relative-error fit: every op counts alike, whatever its size.
    coef, _ = nnls(a / cycles[:, None], np.ones_like(cycles))
    pred = a @ coef
    err = np.abs(pred - cycles) / cycles
    print(f"{kind:18s} n={len(sel):2d} fixed={coef[0]:8.0f} cyc  per_mac={coef[1]:6.2f}  "
          f"per_output={coef[2]:6.1f}  median|err|={np.median(err):.1%} max|err|={err.max():.1%}")
for r in rows:
    if r["op"] in ("RESHAPE", "SOFTMAX", "AVERAGE_POOL_2D"):
        n_in = np.prod([int(v) for v in r["input"].split("x")])
        cyc = float(r["single_core_us"]) * 1e-6 * CLOCK_HZ
        print(f"{r['op']:18s} input elements={n_in:5d} cycles={cyc:8.0f}  per input element={cyc / n_in:7.1f}")
