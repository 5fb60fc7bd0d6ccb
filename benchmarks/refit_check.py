"""Does retraining a chosen model on training + validation data (the epoch count found by early stopping)
ship a better model than the one trained on the training split alone? Measured without the test split.

The search's training split is split again (nas.data.stratified_split, VAL_FRACTION): an inner training
split and an inner validation split. The search's validation split is held out and only scores.
  search  the model as a search ships it: trained on the inner training split with early stopping on the
          inner validation split (the search's recipe, or --recipe polish: the polish recipe);
  refit   the same architecture and seed retrained from scratch on inner training + inner validation
          for the epoch at which `search` kept its weights, the last weights kept (nas.train "fixed").
Both are converted to int8 and scored in TFLM on the held-out split. Architectures are sampled at random
among those feasible on the device (as recipe_check.py does); every architecture gets the same --seeds
seeds under both arms. The table gives each arm's mean accuracy and log-loss, the paired difference
(refit - search) with its standard error over architectures, and wins/ties/losses.

Run: python benchmarks/refit_check.py [--data ../shared/data/ucr/OSULeaf.npz] [--models 10] [--seeds 3]
     [--recipe search|polish] [--device nano33]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


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
    configure_threads(1)  # one core: these small models train as fast on one thread as on two
    ds = data_mod.load_file(args.data, seed=args.seed)
    x_in, y_in, x_iv, y_iv = data_mod.stratified_split(ds.x_train, ds.y_train, data_mod.VAL_FRACTION, args.seed + 7)
    x_all, y_all = np.concatenate([x_in, x_iv]), np.concatenate([y_in, y_iv])
    x_out, y_out = ds.x_val, ds.y_val
    n = len(y_in)
    how = recipe(args.recipe, n)
    device = get_device(args.device)
    archs = sample_feasible(args.models, ds.input_shape, len(ds.classes), device, Budget(), args.seed)
    print(f"{ds.name}: inner train {len(y_in)} / inner validation {len(y_iv)} / held-out {len(y_out)} series "
          f"(the search's validation split; test untouched); {len(archs)} random feasible architectures on "
          f"{device.name}; recipe {args.recipe} ({how['epochs']} epochs max, patience {how['patience']}, "
          f"augment {how['augment']}); {args.seeds} seeds per architecture and arm; int8 in TFLM", flush=True)

    def score(model):
        return int8_scores(model, as_model_input(x_all), x_out, y_out, args.seed)

    def build(params):
        keras.backend.clear_session()
        return spectral.build(optuna.trial.FixedTrial(params), input_shape=ds.input_shape, n_outputs=len(ds.classes))

    result = np.zeros((len(archs), args.seeds, 2, 2))  # architecture, seed, arm (search, refit), (acc, log-loss)
    start = time.monotonic()
    for i, params in enumerate(archs):
        cells = []
        for s in range(args.seeds):
            seed = args.seed + i + 1000 * s
            model = build(params)
            first = train(model, x_in, y_in, x_iv, y_iv, seed=seed, **how)
            result[i, s, 0] = score(model)
            model = build(params)
            train(model, x_all, y_all, None, None, epochs=first.best_epoch, seed=seed, augment=how["augment"],
                  schedule="fixed")
            result[i, s, 1] = score(model)
            cells.append(f"{result[i, s, 0, 0]:.3f}->{result[i, s, 1, 0]:.3f} (ep {first.best_epoch})")
        print(f"{i:>2} {spectral.describe(params)[:56]:56} " + "  ".join(cells), flush=True)

    print_paired(result, ("search", "refit"))
    print(f"({time.monotonic() - start:.0f} s)")


if __name__ == "__main__":
    main()
