"""Fit flash-estimate coefficients (cost_models/flash_fit.toml) on really converted models.

Samples N architectures from each search space, gives them non-zero random weights (as training
would: the converter drops all-zero biases and merges identical buffers), converts each in every
format (int8, int16x8, float32: nas.quantize) and regresses the .tflite size on the graph features of
cost_models.flash, one fit per format. Prints the fit error on the fitting set and on a held-out set.
Run: python benchmarks/fit_flash.py [--n 60] [--write]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cost_models.flash import FEATURES, features  # noqa: E402
from cost_models.keras_graph import graph_from_keras  # noqa: E402
from search_spaces import SPACES  # noqa: E402
from tests.helpers import converted_samples  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    from nas.quantize import to_float_tflite, to_int8_tflite

    per_space = {name: list(converted_samples(args.n, seed=123, space=name)) for name in SPACES}
    converters = {"int8": None,
                  "int16x8": lambda m, rep: to_int8_tflite(m, rep, activations="int16"),
                  "float32": lambda m, rep: to_float_tflite(m)}
    sections, worst = [], {}
    for fmt, convert in converters.items():
        rows, sizes = [], []
        for i in range(args.n):  # interleaved, so the fit and held-out thirds hold every space
            for samples in per_space.values():
                model, tflite = samples[i]
                if convert is not None:
                    rep = np.random.default_rng(i).normal(size=(16, *model.inputs[0].shape[1:])).astype(np.float32)
                    tflite = convert(model, rep)
                f = features(graph_from_keras(model, fmt))
                rows.append([f[k] for k in FEATURES])
                sizes.append(len(tflite))
        a, y = np.array(rows), np.array(sizes, float)
        half = len(y) * 2 // 3
        coef, *_ = np.linalg.lstsq(a[:half] / y[:half, None], np.ones(half), rcond=None)
        for label, sl in (("fit", slice(0, half)), ("held-out", slice(half, None))):
            err = (a[sl] @ coef - y[sl]) / y[sl]
            print(f"{fmt:8s} {label:9s} n={len(err):3d} sizes {int(y[sl].min())}-{int(y[sl].max())} B  "
                  f"max |err| {np.abs(err).max():.2%}  median |err| {np.median(np.abs(err)):.2%}")
        coef, *_ = np.linalg.lstsq(a / y[:, None], np.ones(len(y)), rcond=None)
        worst[fmt] = np.abs((a @ coef - y) / y).max()
        print(f"{fmt} coefficients:", dict(zip(FEATURES, np.round(coef, 3), strict=True)))
        header = "[coefficients]" if fmt == "int8" else f"[coefficients_{fmt}]"
        sections += ["", header, *[f"{k} = {v:.6f}" for k, v in zip(FEATURES, coef, strict=True)]]
    if args.write:
        out = Path(__file__).resolve().parents[1] / "cost_models" / "flash_fit.toml"
        import tensorflow as tf

        lines = [
            "# Written by `python benchmarks/fit_flash.py --write`: relative least squares of the",
            f"# converted .tflite size on graph features, {len(y)} models of spaces {', '.join(SPACES)} per",
            f"# format, TensorFlow {tf.__version__}. Max |relative error| on those models: "
            + ", ".join(f"{f} {w:.2%}" for f, w in worst.items()) + ".",
            *sections,
        ]
        out.write_text("\n".join(lines) + "\n")
        print("wrote", out)


if __name__ == "__main__":
    main()
