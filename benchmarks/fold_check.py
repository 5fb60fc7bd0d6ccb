"""Architectures compared by k-fold cross-validation over the training + validation series, never the test split:
a check of a layout rule on more held-out series than one validation split has (OSULeaf: 200 against 41).

Each architecture of `--architectures FILE.json` (recipe_check.py's format: spectral parameters, or
`{"baseline": "fcn", "divisor": 8, "strides": [8, 2, 1]}`) is trained once per fold with FCN's schedule
(nas.train's "plateau", `--epochs`, the BatchNorm statistics recomputed at the end; it never reads held-out
data), converted to int8 and scored in TFLM on that fold. The folds are the search's own (nas.data.extra_folds
with seed 0; fold 0 is the validation split), so every architecture is scored on the same series, and fold j's
training uses seed 1000 j for all of them. It prints the series right per fold, the pooled accuracy with its
95 % Wilson interval, and each architecture's paired difference from the first one, fold by fold.

With --fewer, each fold is also trained once more without the next fold's series (three of the four training
folds, the same seed) and scored on the same held-out fold: what a quarter more training series bring, the
question of shipping a model retrained on training + validation series (159 -> 200 on OSULeaf) after it was
chosen, asked without the test split. It prints both scores per fold and their paired difference.

Run: python benchmarks/fold_check.py --architectures FILE.json [--dataset OSULeaf] [--epochs 500]
     [--max-latency-ms 10] [--only 0,2] [--threads 1] [--fewer]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architectures", required=True)
    parser.add_argument("--dataset", default="OSULeaf")
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--max-latency-ms", type=float, default=10.0)
    parser.add_argument("--device", default="nano33")
    parser.add_argument("--only", help="the indices of the file's architectures to train (default: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fewer", action="store_true",
                        help="also train each fold without the next fold's series: what more training series bring")
    args = parser.parse_args()

    from common import ucr_file  # beside this script
    from recipe_check import build, describe, listed

    from nas.quiet import import_tensorflow

    import_tensorflow()
    import keras
    import numpy as np
    import optuna

    from cost_models import Budget, get_device
    from nas.data import CV_FOLDS, extra_folds, load_file
    from nas.quantize import Int8Model, to_int8_tflite
    from nas.results import accuracy_interval
    from nas.train import as_model_input, configure_threads, train

    configure_threads(args.threads)
    ds = load_file(ucr_file(args.dataset))
    archs = listed(args.architectures, ds.input_shape, len(ds.classes), get_device(args.device),
                   Budget(max_latency_ms=args.max_latency_ms))
    chosen = [int(i) for i in args.only.split(",")] if args.only else list(range(len(archs)))
    x_all = np.concatenate([ds.x_train, ds.x_val])
    y_all = np.concatenate([ds.y_train, ds.y_val])
    folds = [np.arange(len(ds.y_train), len(y_all)), *extra_folds(ds.y_train, CV_FOLDS, 0)]
    print(f"{args.dataset}: {len(y_all)} training + validation series in {len(folds)} folds "
          f"({', '.join(str(len(f)) for f in folds)}); FCN's schedule, {args.epochs} epochs; int8 in TFLM", flush=True)
    def trained_right(arch, held, also_out, seed: int) -> int:
        """Series of `held` that `arch` gets right, trained on every series outside `held` and `also_out`."""
        keep = np.ones(len(y_all), bool)
        keep[held] = False
        keep[also_out] = False
        keras.backend.clear_session()
        model = build(arch, ds.input_shape, len(ds.classes), optuna)
        train(model, x_all[keep], y_all[keep], None, None, epochs=args.epochs, seed=seed, schedule="plateau")
        int8 = Int8Model(to_int8_tflite(model, as_model_input(x_all[keep]), seed=0))
        return int(round(int8.accuracy(x_all[held], y_all[held]) * len(held)))

    right, fewer = {}, {}
    for i in chosen:
        right[i], fewer[i] = [], []
        for j, held in enumerate(folds):
            start = time.monotonic()
            right[i].append(trained_right(archs[i], held, [], 1000 * j))
            line = f"  {i} fold {j}: {right[i][-1]}/{len(held)}"
            if args.fewer:
                after = (j + 1) % len(folds)
                fewer[i].append(trained_right(archs[i], held, folds[after], 1000 * j))
                line += f", without fold {after}: {fewer[i][-1]}/{len(held)}"
            print(f"{line} ({time.monotonic() - start:.0f} s)", flush=True)
        pooled = sum(right[i]) / len(y_all)
        lo, hi = accuracy_interval(pooled, len(y_all))
        print(f"{i} {describe(archs[i])}: folds {right[i]}, pooled {pooled:.3f} ({lo:.3f}-{hi:.3f})", flush=True)
        if args.fewer:
            print(f"{i} with one fold fewer: folds {fewer[i]}, pooled {sum(fewer[i]) / len(y_all):.3f}; "
                  f"all - fewer {paired(right[i], fewer[i], len(y_all))}", flush=True)
    first = chosen[0]
    for i in chosen[1:]:
        print(f"{i} - {first}: {paired(right[i], right[first], len(y_all))}")


def paired(right: list[int], other: list[int], n: int) -> str:
    """The fold-by-fold difference of two lists of series right, in words: per fold, pooled over `n` series,
    and in how many folds the first is higher."""
    diff = [a - b for a, b in zip(right, other, strict=True)]
    return (f"{diff} series per fold, {sum(diff) / n:+.3f} pooled, higher in {sum(d > 0 for d in diff)} of "
            f"{len(diff)} folds")


if __name__ == "__main__":
    main()
