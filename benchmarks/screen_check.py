"""Does the screen stop candidates that would have reached the front? On a kept study (e.g. from
result_quality.py --keep DIR), the screened-out candidates whose screen came closest to passing (--top K by
the margin: float validation accuracy at the screening epoch plus the gain the screen assumed, minus the
rival's score) are trained again to the end: with the trial's own seed and recipe, so the first epochs repeat
what the search saw (the screening epoch's accuracy is printed beside the stored one), and a screen that
keeps everything. Each is then scored as the search scores it (int8 validation accuracy in TFLM) and
compared with the rival that screened it out. Printed per trial: the layout (FCN-like or not), the margin,
the int8 validation accuracy it reached, the rival's, and the int8 test accuracy (a diagnosis: test chooses
nothing), beside the best test accuracy of any model the study trained.

A "missed" candidate is one whose full training scored at least its rival's score: the screen stopped a model
that would have been on the front by the rule the screen itself uses.

Run: python benchmarks/screen_check.py STUDY --storage sqlite:///DIR/STUDY.db [--top 10] [--like-fcn]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def margin(record) -> float:
    """How far a screened-out candidate fell short of its rival at the screening epoch (negative)."""
    s = record.screen
    return s["val_accuracy_float"] + s["assumed_gain"] - s["rival_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--like-fcn", action="store_true",
                        help="only the candidates laid out like FCN (the space's like_fcn): slow starters?")
    args = parser.parse_args()

    from nas.quiet import import_tensorflow

    import_tensorflow()
    import keras
    from optuna.trial import FixedTrial

    from benchmarks.common import shipped_models
    from nas.data import load as load_data
    from nas.quantize import Int8Model, to_int8_tflite
    from nas.schema import TrialRecord, sampled
    from nas.study import load
    from nas.train import Screen, as_model_input, seeded, train
    from search_spaces import get_space

    study, config = load(args.study, args.storage)
    dataset = load_data(config.data)
    space = get_space(config.space, config.space_version)
    best_test = max(m.accuracy(dataset.x_test, dataset.y_test) for _, _, m in shipped_models(study, config))
    screened = [(t, r) for t in study.trials if sampled(t)
                for r in [TrialRecord.read(t)] if r.screened_out and r.screen and r.screen.get("rival") is not None]
    like = [(t, r) for t, r in screened if space.like_fcn and space.like_fcn(t.params)]
    chosen = sorted(like if args.like_fcn else screened, key=lambda tr: -margin(tr[1]))[: args.top]
    print(f"{args.study}: {len(screened)} candidates screened out against a rival ({len(like)} laid out like FCN); "
          f"the {len(chosen)}{' FCN-like' if args.like_fcn else ''} closest to "
          f"passing trained again to the end ({len(dataset.y_val)} validation, {len(dataset.y_test)} test series); "
          f"best int8 test of any trained model {best_test:.3f}")
    print(f"{'trial':>5} {'FCN-like':>8} {'epoch':>5} {'screen acc (stored/now)':>23} {'margin':>7} {'int8 val':>8} "
          f"{'rival':>11} {'missed':>6} {'int8 test':>9}")

    def retrain(t, r) -> tuple[float, float, float]:
        """The trial trained again to the end as the search began it: (float validation accuracy at the
        screening epoch, int8 validation accuracy, int8 test accuracy)."""
        seen = []
        keras.backend.clear_session()
        model = seeded(lambda: space.build(FixedTrial(t.params), input_shape=dataset.input_shape,
                                           n_outputs=len(dataset.classes)), config.seed + t.number)
        recipe = r.recipe
        train(model, dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val, epochs=recipe["epochs"],
              seed=config.seed + t.number, patience=recipe["patience"], augment=recipe["augment"],
              schedule=recipe.get("schedule", "early_stop"),
              screen=Screen(r.screen["epoch"], lambda accuracy: seen.append(accuracy) or True))
        int8 = Int8Model(to_int8_tflite(model, as_model_input(dataset.x_train), seed=config.seed))
        return seen[0], int8.accuracy(dataset.x_val, dataset.y_val), int8.accuracy(dataset.x_test, dataset.y_test)

    missed = 0
    for t, r in chosen:
        at_screen, val, test = retrain(t, r)
        s = r.screen
        missed += val >= s["rival_accuracy"]
        like = bool(space.like_fcn and space.like_fcn(t.params))
        print(f"{t.number:>5} {'yes' if like else 'no':>8} {s['epoch']:>5} "
              f"{s['val_accuracy_float']:>11.3f}/{at_screen:<11.3f} {margin(r):>+7.3f} {val:>8.3f} "
              f"{s['rival_accuracy']:>6.3f} #{s['rival']:<3} {'yes' if val >= s['rival_accuracy'] else 'no':>6} "
              f"{test:>9.3f}", flush=True)
    print(f"missed: {missed} of {len(chosen)} retrained would have reached their rival's score")


if __name__ == "__main__":
    main()
