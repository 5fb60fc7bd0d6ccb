"""Hand-made baselines at equal cost: what an engineer gets from the published architectures (FCN, ResNet,
DS-CNN; nas.baselines) made narrower and strided until the cost models say they fit the budget, trained
and scored as int8 in TFLM exactly as the search scores its candidates.

For each dataset and latency budget it prints each architecture's fitted configuration (as a search seeds
them: nas.baselines.fitted, so FCN also unstrided where that fits) and its costs, then trains it --seeds
times with each recipe in --recipes:
  ours  the recipe the search gives its front (nas.objective.polish_recipe: the search's epochs and
        early-stopping patience x POLISH_FACTOR, augmented series), on the search's train split;
  own   the published FCN/ResNet recipe (nas.train's "plateau" schedule: Adam 1e-3 halved on training-loss
        plateaus, the lowest training loss kept) for --own-epochs, on the same train split.
It prints int8 validation and test accuracy per seed and their means. The reference "engineer at equal
cost" is the (architecture, recipe) with the best mean *validation* accuracy; its test accuracy is
printed with the 95 % Wilson interval of the test split's size. Test never chooses anything.

Run: python benchmarks/baselines.py [--datasets GunPoint,OSULeaf] [--budgets-ms 10,40] [--seeds 3]
     [--recipes ours,own] [--own-epochs 500] [--device nano33]
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
    parser.add_argument("--datasets", default="GunPoint,OSULeaf")
    parser.add_argument("--budgets-ms", default="10")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--recipes", default="ours")
    parser.add_argument("--own-epochs", type=int, default=500)
    parser.add_argument("--architectures", default="fcn,resnet,dscnn")
    parser.add_argument("--device", default="nano33")
    args = parser.parse_args()

    from common import ucr_file  # beside this script

    from nas.quiet import import_tensorflow

    import_tensorflow()
    import keras
    import numpy as np

    from cost_models import Budget, get_device
    from nas.baselines import fits_budget, fitted
    from nas.data import load_file
    from nas.objective import polish_recipe
    from nas.quantize import Int8Model, to_int8_tflite
    from nas.results import accuracy_interval
    from nas.train import as_model_input, epochs_for, train

    device = get_device(args.device)
    for name in args.datasets.split(","):
        ds = load_file(ucr_file(name))
        n = len(ds.y_train)
        print(f"\n{name}: {n} train / {len(ds.y_val)} val / {len(ds.y_test)} test series, input {ds.input_shape}, "
              f"{len(ds.classes)} classes; int8 accuracy in TFLM", flush=True)
        for ms in (float(v) for v in args.budgets_ms.split(",")):
            budget = Budget(max_latency_ms=ms)
            results = {}
            chosen = [b for b in fitted(ds.input_shape, len(ds.classes), device, budget)
                      if b.name in args.architectures.split(",")]  # as a search seeds them
            for arch in sorted(set(args.architectures.split(",")) - {b.name for b in chosen}):
                print(f"  {ms:g} ms {arch}: no width or stride pattern fits")
            for baseline in chosen:
                cost = fits_budget(baseline, ds.input_shape, len(ds.classes), device, budget)[1]
                print(f"  {ms:g} ms {baseline.describe()}: {cost.macs} MACs, {cost.flash_bytes / 1024:.1f} KB flash, "
                      f"{cost.ram_bytes / 1024:.1f} KB RAM, {cost.latency_ms:.2f} ms (estimates)", flush=True)
                for recipe in args.recipes.split(","):
                    vals, tests = [], []
                    for seed in range(args.seeds):
                        keras.backend.clear_session()
                        model = baseline.build(ds.input_shape, len(ds.classes))
                        start = time.monotonic()
                        if recipe == "ours":
                            r = train(model, ds.x_train, ds.y_train, ds.x_val, ds.y_val, seed=seed,
                                      **polish_recipe(n, epochs_for(n)))
                        else:
                            r = train(model, ds.x_train, ds.y_train, None, None, epochs=args.own_epochs, seed=seed,
                                      schedule="plateau")
                        int8 = Int8Model(to_int8_tflite(model, as_model_input(ds.x_train), seed=seed))
                        vals.append(int8.accuracy(ds.x_val, ds.y_val))
                        tests.append(int8.accuracy(ds.x_test, ds.y_test))
                        print(f"    {recipe:4} seed {seed}: {r.epochs_run} epochs, {time.monotonic() - start:.0f} s, "
                              f"int8 val {vals[-1]:.3f}, test {tests[-1]:.3f}", flush=True)
                    results[baseline.describe(), recipe] = (np.mean(vals), np.mean(tests))
                    print(f"    {recipe:4} mean over {args.seeds} seeds: int8 val {np.mean(vals):.3f}, "
                          f"test {np.mean(tests):.3f}", flush=True)
            if results:
                (what, recipe), (val, test) = max(results.items(), key=lambda kv: kv[1][0])
                lo, hi = accuracy_interval(test, len(ds.y_test))
                print(f"  {name} at {ms:g} ms: engineer at equal cost = {what}, recipe {recipe} (best mean int8 "
                      f"val {val:.3f}): int8 test {100 * test:.1f} % ({100 * lo:.1f}-{100 * hi:.1f} %)", flush=True)


if __name__ == "__main__":
    main()
