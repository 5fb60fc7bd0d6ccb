"""Training-recipe check on validation data only: the same sampled architectures trained with each
recipe, scored as int8 models in TFLM on the validation split (never the test split).

Architectures are drawn by Optuna's random sampler from the spectral space and kept if the cost model
says they fit the device's budget, so the comparison is over the models a search would train. Each
architecture is trained once per recipe with the same seed; the table gives the mean int8 validation
accuracy and cross-entropy, and how often each recipe beat the baseline on the same architecture.

Recipes: v1 (the space's version 1: no BatchNormalization), bn (version 2: BatchNormalization after
every conv, momentum 0.9, folded into the conv on conversion; the search's recipe) and polish (bn
trained with the recipe of the polish after a search: POLISH_FACTOR times the epochs and the
early-stopping patience, on augmented series).

Run: python benchmarks/recipe_check.py [--data ../shared/data/ucr/OSULeaf.npz] [--models 12] [--epochs N]
     [--recipes v1,bn,polish]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RECIPES = ("v1", "bn", "polish")


def sample_feasible(n: int, input_shape, n_classes: int, device, budget, seed: int) -> list[dict]:
    import optuna

    from cost_models import estimate, symbolic
    from cost_models.keras_graph import graph_from_keras
    from search_spaces import spectral

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed))
    chosen = []
    while len(chosen) < n:
        trial = study.ask()
        model = spectral.build(trial, input_shape=input_shape, n_outputs=n_classes, keras=symbolic.keras)
        cost = estimate(graph_from_keras(model), device)
        study.tell(trial, 0.0)
        if not any(v > 0 for v in cost.violations(budget).values()):
            chosen.append(dict(trial.params))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ucr" / "OSULeaf.npz"))
    parser.add_argument("--models", type=int, default=12)
    parser.add_argument("--epochs", type=int, help="default: as a search chooses them (nas.train.epochs_for)")
    parser.add_argument("--device", default="nano33")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from nas.objective import quiet_tensorflow

    quiet_tensorflow()
    import keras
    import numpy as np
    import optuna

    from cost_models import Budget, get_device
    from nas import data as data_mod
    from nas.objective import POLISH_AUGMENT, POLISH_FACTOR
    from nas.quantize import Int8Model, to_int8_tflite
    from nas.train import as_model_input, batch_size_for, epochs_for, patience_for, train
    from search_spaces import spectral

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    recipes = args.recipes.split(",")
    ds = data_mod.load_file(args.data, seed=args.seed)
    device = get_device(args.device)
    epochs = args.epochs or epochs_for(len(ds.y_train))
    patience = patience_for(len(ds.y_train), batch_size_for(len(ds.y_train)))
    archs = sample_feasible(args.models, ds.input_shape, len(ds.classes), device, Budget(), args.seed)
    print(f"{ds.name}: {len(ds.y_train)} train / {len(ds.y_val)} validation series; {len(archs)} architectures "
          f"sampled at random and feasible on {device.name}; {epochs} epochs; int8 scored in TFLM on "
          "the validation split", flush=True)
    scores = {r: [] for r in recipes}
    start = time.monotonic()
    for i, params in enumerate(archs):
        line = [f"{i:>2} {spectral.describe(params)[:60]:60}"]
        for recipe in recipes:
            keras.backend.clear_session()
            model = spectral.build(optuna.trial.FixedTrial(params), input_shape=ds.input_shape,
                                   n_outputs=len(ds.classes), batchnorm=recipe != "v1")
            factor = POLISH_FACTOR if recipe == "polish" else 1
            train(model, ds.x_train, ds.y_train, ds.x_val, ds.y_val, epochs=epochs * factor, seed=args.seed + i,
                  patience=patience * factor, augment=recipe == "polish" and POLISH_AUGMENT)
            int8 = Int8Model(to_int8_tflite(model, as_model_input(ds.x_train), seed=args.seed))
            prob = np.clip(int8.predict(ds.x_val), 1e-6, 1.0)
            acc = float((prob.argmax(1) == ds.y_val).mean())
            xent = float(-np.mean(np.log(prob[np.arange(len(ds.y_val)), ds.y_val])))
            scores[recipe].append((acc, xent))
            line.append(f"{recipe} {acc:.3f}/{xent:.2f}")
        print("  ".join(line), flush=True)
    base = np.array(scores[recipes[0]])
    print(f"\n{'recipe':12} {'mean val acc':>12} {'mean val xent':>13} {'wins/ties/losses vs ' + recipes[0]:>26}")
    for recipe in recipes:
        a = np.array(scores[recipe])
        wins, ties = int((a[:, 0] > base[:, 0]).sum()), int((a[:, 0] == base[:, 0]).sum())
        print(f"{recipe:12} {a[:, 0].mean():>12.3f} {a[:, 1].mean():>13.3f} "
              f"{f'{wins}/{ties}/{len(a) - wins - ties}':>26}")
    print(f"({time.monotonic() - start:.0f} s)")


if __name__ == "__main__":
    main()
