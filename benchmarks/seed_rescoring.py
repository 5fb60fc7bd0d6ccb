"""Does choosing by the mean of several trainings beat choosing by one? On a kept study (e.g. from
result_quality.py --keep DIR), the --top K trained, feasible candidates by score are trained again
--seeds more times each with the search's own recipe (seeds the search did not use) and scored as int8
in TFLM on the validation split. It prints, for each rule of choice:
  one   the search's rule: the best score of one training (ties: the smaller model);
  mean  the best mean int8 validation accuracy over the original training and the new ones;
the chosen architecture, its shipped model's int8 test accuracy and the mean test accuracy of all its
trainings, and the regret against the best test accuracy of any trained model of the study. Test
accuracy is a diagnosis here: it chooses nothing.

Run: python benchmarks/seed_rescoring.py STUDY --storage sqlite:///DIR/STUDY.db [--top 12] [--seeds 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()

    from nas.quiet import import_tensorflow

    import_tensorflow()
    import keras
    import numpy as np
    from optuna.trial import FixedTrial

    from nas.data import load as load_data
    from nas.export import load_tflite
    from nas.objective import recipe_for
    from nas.quantize import Int8Model, to_int8_tflite
    from nas.schema import TrialRecord
    from nas.study import load
    from nas.train import as_model_input, epochs_for, train
    from search_spaces import get_space

    study, config = load(args.study, args.storage)
    dataset = load_data(config.data)
    space = get_space(config.space)
    epochs = config.epochs or epochs_for(len(dataset.y_train))
    trained = [t for t in study.trials if t.state.name == "COMPLETE" and TrialRecord.read(t).trained
               and TrialRecord.read(t).feasible and TrialRecord.read(t).kind == "candidate"]
    tests = {t.number: Int8Model(load_tflite(study, config, t)).accuracy(dataset.x_test, dataset.y_test)
             for t in trained}
    best_test = max(tests.values())
    top = sorted(trained, key=lambda t: (-t.values[0], t.values[1]))[: args.top]
    print(f"{args.study}: {len(trained)} trained feasible candidates; best int8 test of any: {best_test:.3f}; "
          f"the top {len(top)} by score trained {args.seeds} more times each ({len(dataset.y_val)} validation, "
          f"{len(dataset.y_test)} test series)")
    print(f"{'trial':>5} {'flash KB':>8} {'score':>6} {'vals (orig, new...)':>28} {'mean val':>8} {'test':>6} "
          f"{'mean test':>9}")
    rows = []
    for t in top:
        recipe = recipe_for(t, dataset, epochs)
        vals, test_all = [TrialRecord.read(t).val_accuracy_int8], [tests[t.number]]
        for k in range(args.seeds):
            keras.backend.clear_session()
            model = space.build(FixedTrial(t.params), input_shape=dataset.input_shape, n_outputs=len(dataset.classes))
            train(model, dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val, epochs=recipe["epochs"],
                  seed=10_000 + 1000 * k + t.number, patience=recipe["patience"], augment=recipe["augment"])
            int8 = Int8Model(to_int8_tflite(model, as_model_input(dataset.x_train), seed=config.seed))
            vals.append(int8.accuracy(dataset.x_val, dataset.y_val))
            test_all.append(int8.accuracy(dataset.x_test, dataset.y_test))
        rows.append((t, float(np.mean(vals)), float(np.mean(test_all))))
        print(f"{t.number:>5} {t.values[1] / 1024:>8.1f} {t.values[0]:>6.3f} "
              f"{', '.join(f'{v:.3f}' for v in vals):>28} {np.mean(vals):>8.3f} {tests[t.number]:>6.3f} "
              f"{np.mean(test_all):>9.3f}", flush=True)
    one = top[0]
    mean = max(rows, key=lambda r: (r[1], -r[0].values[1]))
    for rule, t, mean_test in (("one", one, next(r[2] for r in rows if r[0] is one)), ("mean", mean[0], mean[2])):
        print(f"rule {rule:4}: trial {t.number}, shipped model's int8 test {tests[t.number]:.3f} "
              f"(regret {100 * (best_test - tests[t.number]):.1f} points), mean test of its trainings "
              f"{mean_test:.3f}")


if __name__ == "__main__":
    main()
