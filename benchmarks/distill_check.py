"""Does distilling from a strong float teacher train better candidates? Paired seeds, validation only.

A teacher (full-width FCN, nas.baselines, with FCN's own "plateau" recipe for --teacher-epochs) is trained
once on the search's training split. Then --models architectures sampled at random among those feasible on
the device are each trained --seeds times under two arms with the same seeds:
  label    the recipe a front member ships with (--recipe polish: nas.objective.polish_recipe; or search),
           on the training labels;
  distill  the same recipe on targets mixing the label (weight --alpha) with the teacher's probabilities
           softened by --temperature (Hinton et al. 2015; a mixed-target cross-entropy is KD's loss up to
           a constant). Early stopping still reads the hard validation labels' loss.
Both are converted to int8 and scored in TFLM on the validation split (the test split is not read).
Printed: the teacher's float validation accuracy, per-architecture seed means, the paired difference
(distill - label) with its standard error over architectures, wins/ties/losses, and log-loss.

Run: python benchmarks/distill_check.py [--data ../shared/data/ucr/OSULeaf.npz] [--models 10] [--seeds 3]
     [--recipe polish|search] [--alpha 0.5] [--temperature 2] [--teacher-epochs 300] [--device nano33]
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
    add_paired_options(parser, recipe="polish")
    parser.add_argument("--alpha", type=float, default=0.5, help="weight of the hard label in the target")
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--teacher-epochs", type=int, default=300)
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
    from nas.class_teacher import TEACHER, mixed_targets, soften
    from nas.train import as_model_input, configure_threads, train
    from search_spaces import spectral

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    configure_threads(1)
    ds = data_mod.load_file(args.data, seed=args.seed)
    n_classes, n = len(ds.classes), len(ds.y_train)
    how = recipe(args.recipe, n)
    start = time.monotonic()
    keras.backend.clear_session()
    teacher = TEACHER.build(ds.input_shape, n_classes)
    train(teacher, ds.x_train, ds.y_train, None, None, epochs=args.teacher_epochs, seed=args.seed,
          schedule="plateau")
    p_train = teacher.predict(as_model_input(ds.x_train), verbose=0, batch_size=64)
    teacher_val = float((teacher.predict(as_model_input(ds.x_val), verbose=0).argmax(1) == ds.y_val).mean())
    onehot = np.eye(n_classes, dtype="float32")
    mixed = mixed_targets(ds.y_train, soften(p_train, args.temperature), args.alpha)
    archs = sample_feasible(args.models, ds.input_shape, n_classes, get_device(args.device), Budget(), args.seed)
    print(f"{ds.name}: {n} train / {len(ds.y_val)} validation series; teacher FCN (full width, plateau "
          f"{args.teacher_epochs} epochs, {time.monotonic() - start:.0f} s): float val accuracy {teacher_val:.3f}, "
          f"train {float((p_train.argmax(1) == ds.y_train).mean()):.3f}; {len(archs)} random feasible architectures; "
          f"recipe {args.recipe} ({how}); alpha {args.alpha}, T {args.temperature}; {args.seeds} seeds; int8 in TFLM",
          flush=True)

    def score(model):
        return int8_scores(model, as_model_input(ds.x_train), ds.x_val, ds.y_val, args.seed)

    def build(params):
        keras.backend.clear_session()
        return spectral.build(optuna.trial.FixedTrial(params), input_shape=ds.input_shape, n_outputs=n_classes)

    result = np.zeros((len(archs), args.seeds, 2, 2))  # architecture, seed, arm (label, distill), (acc, log-loss)
    for i, params in enumerate(archs):
        for s in range(args.seeds):
            seed = args.seed + i + 1000 * s
            model = build(params)
            train(model, ds.x_train, ds.y_train, ds.x_val, ds.y_val, seed=seed, **how)
            result[i, s, 0] = score(model)
            model = build(params)
            train(model, ds.x_train, mixed, ds.x_val, onehot[ds.y_val], seed=seed, loss="categorical_crossentropy",
                  **how)
            result[i, s, 1] = score(model)
        cells = "  ".join(f"{result[i, s, 0, 0]:.3f}->{result[i, s, 1, 0]:.3f}" for s in range(args.seeds))
        print(f"{i:>2} {spectral.describe(params)[:56]:56} {cells}", flush=True)

    print_paired(result, ("label", "distill"))
    print(f"({time.monotonic() - start:.0f} s)")


if __name__ == "__main__":
    main()
