"""Would cross-validating the finalists choose better than one validation split? On studies already run
(kept by `benchmarks/result_quality.py --keep DIR`), the finalists are picked as `nas search` picks them
(nas.finalists.pick: the --top K points of the front by score, and each seeded hand-made baseline at its best).
Each finalist is trained again on k-1 more folds of training + validation data with the recipe it was
trained with (nas.objective.cross_validated_accuracy), and scored by its pooled int8 accuracy over all k folds
in TFLM. Rules, each picking from validation-side figures alone:
  score  the search's rule: the best score (int8 val accuracy), the smaller model on ties;
  cv     the best pooled k-fold int8 accuracy among the finalists, the smaller model on ties (what
         `nas search --finalists K` recommends);
  new    the same over folds 1..k-1 only: fold 0 is the validation split that made them finalists, so its
         score carries the winner's curse of the search's choice.
Printed per study: each finalist's score, pooled CV accuracy and test accuracy, the model each rule picks,
and its regret (the best int8 test accuracy of any trained model of the study minus the picked one's).
Test accuracy judges the rules afterwards; it picks nothing. Distilled trainings are left out (the teacher
saw every training series, so folds of them would not be held out; a --distill search skips the finalists),
and studies scored by CV already are reported as such (the rule is then the search's own).

Run: python benchmarks/finalist_cv.py DIR/STUDY.db [DIR/STUDY.db ...] [--top 3] [--folds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nas.config import FINALISTS_DEFAULT  # noqa: E402


def measure(db: Path, top: int, folds: int) -> dict:
    import keras
    from common import shipped_models  # beside this script

    from nas.data import load as load_data
    from nas.finalists import builder, pick
    from nas.objective import cross_validated_accuracy
    from nas.results import best_of, study_rows
    from nas.study import load
    from search_spaces import get_space

    study, config = load(db.stem, f"sqlite:///{db.resolve()}")
    data = load_data(config.data)
    space = get_space(config.space, config.space_version)
    n_val = len(data.y_val)
    rows, trials = [], {}
    for t, record, model in shipped_models(study, config):
        trials[t.number] = (t, record)
        rows.append({"trial": t.number, "score": t.values[0], "flash": t.values[1], "kind": record.kind,
                     "distilled": bool((record.recipe or {}).get("distilled")),
                     "cv_before": record.cv_accuracy_int8 is not None, "architecture": record.architecture,
                     "test": model.accuracy(data.x_test, data.y_test)})
    best_test = max(r["test"] for r in rows)
    product = best_of([r for r in study_rows(study) if r["shipped"] and r["on_front"]])["number"]
    by_number = {r["trial"]: r for r in rows}
    out = {"study": db.stem, "n_val": n_val, "n_test": len(data.y_test), "models": len(rows), "best_test": best_test,
           "score": by_number[product], "cv": None, "finalists": []}
    if any(r["cv_before"] for r in rows):
        return out
    started = time.perf_counter()
    for n in pick(study, top):
        t, record = trials[n]
        r = by_number[n]
        if r["distilled"]:
            continue
        keras.backend.clear_session()
        recipe = record.recipe
        pooled = cross_validated_accuracy(builder(space, t, record, data.input_shape, len(data.classes)), data, folds,
                                          {"int8": int(round(record.val_accuracy_int8 * n_val))},
                                          epochs=recipe["epochs"], seed=config.seed + t.number, fold_seed=config.seed,
                                          time_limit_s=config.trial_time_limit_s, patience=recipe["patience"],
                                          augment=recipe["augment"])
        r["cv"], r["folds"] = pooled["int8"]
        r["new"] = sum(r["folds"][1:]) / (len(r["folds"]) - 1)  # equal folds but for rounding
        out["finalists"].append(r)
        print(f"  trial {r['trial']:>4} {r['kind']:9} {r['flash'] / 1024:5.1f} KB score {r['score']:.3f} "
              f"cv {r['cv']:.3f} (folds {', '.join(f'{a:.2f}' for a in r['folds'])}) test {r['test']:.3f}  "
              f"{r['architecture'][:60]}", flush=True)
    out["seconds"] = time.perf_counter() - started
    out["cv"] = max(out["finalists"], key=lambda r: (r["cv"], -r["flash"]))
    out["new"] = max(out["finalists"], key=lambda r: (r["new"], -r["flash"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("studies", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=FINALISTS_DEFAULT,
                        help="points of the front by score, besides the seeded baselines (as nas search --finalists)")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    from nas.quiet import import_tensorflow

    import_tensorflow()
    regrets: dict[str, list[float]] = {"score": [], "cv": [], "new": []}
    for db in args.studies:
        print(f"\n{db.stem} ({db})", flush=True)
        m = measure(db, args.top, args.folds)
        print(f"{m['models']} trained feasible models, {m['n_val']} validation / {m['n_test']} test series; "
              f"best test of any {m['best_test']:.3f}")
        if m["cv"] is None:
            print("scored by cross-validation already: the search's rule is the cv rule here")
            continue
        print(f"{len(m['finalists'])} finalists cross-validated ({args.folds} folds) in {m['seconds']:.0f} s")
        for rule in regrets:
            r = m[rule]
            regrets[rule].append(m["best_test"] - r["test"])
            print(f"rule {rule:5}: trial {r['trial']} ({r['kind']}, {r['flash'] / 1024:.1f} KB), score {r['score']:.3f}"
                  f"{f', {rule} {r[rule]:.3f}' if rule != 'score' else ''}, test {r['test']:.3f}, "
                  f"regret {100 * (m['best_test'] - r['test']):.1f} points")
    if regrets["cv"]:
        for rule, values in regrets.items():
            print(f"mean regret, rule {rule}: {100 * sum(values) / len(values):.1f} points over {len(values)} studies "
                  f"({', '.join(f'{100 * v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
