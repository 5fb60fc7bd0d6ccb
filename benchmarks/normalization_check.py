"""Per-series z-normalization against one mean and SD per channel (`nas search --normalize`): paired seeds,
validation only.

The same file is loaded twice with the same split (nas.data: the split depends on labels and seed only), once
per normalization. --models architectures sampled at random among those feasible on the device are each
trained --seeds times under both, with the same seeds and the search's own recipe (or --recipe polish),
converted to int8 and scored in TFLM on the validation split (the test split is not read). Printed: per
architecture the seed pairs, each arm's means, and channel - series paired over architectures with its
standard error, wins/ties/losses and the log-loss change.

Run: python benchmarks/normalization_check.py --data ../shared/data/ucr/JapaneseVowels_eq_TRAIN.ts
     [--models 10] [--seeds 3] [--recipe search|polish] [--device nano33]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARMS = ("series", "channel")


def main() -> None:
    from benchmarks.paired import add_paired_options

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_paired_options(parser, recipe="search")
    args = parser.parse_args()

    from nas.quiet import import_tensorflow

    import_tensorflow()
    import keras
    import numpy as np
    import optuna

    from benchmarks.paired import int8_scores, print_paired, recipe
    from benchmarks.recipe_check import sample_feasible
    from cost_models import Budget, get_device
    from nas import data as data_mod
    from nas.train import as_model_input, configure_threads, train
    from search_spaces import spectral

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    configure_threads(1)
    start = time.monotonic()
    data = {arm: data_mod.load_file(args.data, seed=args.seed, normalize=arm) for arm in ARMS}
    ds = data["series"]
    assert all((d.y_val == ds.y_val).all() and (d.y_train == ds.y_train).all() for d in data.values())
    n_classes, n = len(ds.classes), len(ds.y_train)
    how = recipe(args.recipe, n)
    archs = sample_feasible(args.models, ds.input_shape, n_classes, get_device(args.device), Budget(), args.seed)
    print(f"{ds.name}: {n} train / {len(ds.y_val)} validation series, input {ds.input_shape}; {len(archs)} random "
          f"feasible architectures on {args.device}; recipe {args.recipe} ({how}); {args.seeds} seeds; int8 in TFLM",
          flush=True)

    result = np.zeros((len(archs), args.seeds, 2, 2))  # architecture, seed, arm, (accuracy, log-loss)
    for i, params in enumerate(archs):
        for s in range(args.seeds):
            for k, arm in enumerate(ARMS):
                d = data[arm]
                keras.backend.clear_session()
                model = spectral.build(optuna.trial.FixedTrial(params), input_shape=d.input_shape,
                                       n_outputs=n_classes)
                train(model, d.x_train, d.y_train, d.x_val, d.y_val, seed=args.seed + i + 1000 * s, **how)
                result[i, s, k] = int8_scores(model, as_model_input(d.x_train), d.x_val, d.y_val, args.seed)
        cells = "  ".join(f"{result[i, s, 0, 0]:.3f}->{result[i, s, 1, 0]:.3f}" for s in range(args.seeds))
        print(f"{i:>2} {spectral.describe(params)[:56]:56} {cells}", flush=True)

    print_paired(result, ARMS)
    print(f"({time.monotonic() - start:.0f} s)")


if __name__ == "__main__":
    main()
