"""Result quality: the int8 test accuracy `nas` reaches under a device's budgets, against published
deep-learning results on the same UCR splits (FCN and ResNet, Fawaz et al. 2019, "Deep learning for
time series classification: a review", mean of runs; ~250k-500k float32 parameters, which fit no
microcontroller).

For each dataset: `nas search` (as shipped, `--jobs 2`) with a wall-clock budget for the search, which
the polish of the front's best members follows (the wall time printed includes it); then the front with
int8 validation and test accuracy, and each polished model beside the one it polished. The model
*chosen* is the front's best score (int8 validation accuracy; cross-validated on GunPoint, whose
validation split is 10 series; the smaller on ties): choosing by test accuracy would be selecting on
the test set. Where the finalists were cross-validated (`nas search --finalists`, the default when the
candidates are scored on the validation split alone), the model chosen is the one the search recommends: the
best finalist by pooled cross-validated int8 accuracy. Its int8 test accuracy, with the 95 % interval the test
split's size allows (Wilson), is compared with FCN's and ResNet's, in points, and with `--baselines` with the
engineer's: the seeded baseline (or its polish) with the best score, as that study trained it.

Run: python benchmarks/result_quality.py [--minutes 15] [--epochs N] [--datasets GunPoint,OSULeaf] [--cv-folds K]
     [--max-latency-ms 10] [--baselines] [--finalists K] [--seed S]
(without --epochs, nas chooses them as shipped)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
UCR = ROOT.parent / "shared" / "data" / "ucr"
# test accuracy in %, Fawaz et al. 2019 (table in ../shared/data/README.md)
PUBLISHED = {"GunPoint": {"FCN": 100.0, "ResNet": 99.1}, "OSULeaf": {"FCN": 97.7, "ResNet": 97.9},
             "JapaneseVowels": {"FCN": 99.3, "ResNet": 99.2}}  # JapaneseVowels: the original, unequal lengths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="GunPoint,OSULeaf")
    parser.add_argument("--minutes", type=float, default=15.0, help="wall-clock budget per dataset")
    parser.add_argument("--epochs", type=int, help="default: as shipped (nas chooses)")
    parser.add_argument("--device", default="nano33")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", help="folder to keep the studies in (default: a temporary one)")
    parser.add_argument("--max-latency-ms", type=float, default=10.0,
                        help="latency budget (default 10, as shipped); a larger one shows what the budget costs")
    parser.add_argument("--baselines", action="store_true", help="seed each study with the hand-made baselines")
    parser.add_argument("--distill", action="store_true", help="distil every candidate from a full-width FCN")
    parser.add_argument("--formats", help="passed to nas search (default: int8, as shipped)")
    parser.add_argument("--finalists", type=int, help="passed to nas search (default: as shipped)")
    parser.add_argument("--cv-folds", type=int, help="passed to nas search for every dataset (default: as shipped, "
                                                     "cross-validated only when the validation split is small)")
    parser.add_argument("--seed", type=int, default=0,
                        help="passed to nas search: the validation split, the folds, the sampler and the trainings' "
                             "seeds (default 0, as shipped)")
    args = parser.parse_args()

    from common import nas_search, ucr_file  # beside this script

    from cost_models import Budget
    from nas.formats import parse_formats
    from nas.results import accuracy_interval, best_of, recommended, study_rows
    from nas.study import read_config
    from nas.tasks import finalists_lines

    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(args.keep or tmp).resolve()
        where.mkdir(parents=True, exist_ok=True)
        for name in args.datasets.split(","):
            data = ucr_file(name)
            wall, study = nas_search(where, f"quality-{name}", space="spectral", device=args.device, data=str(data),
                                     timeout=args.minutes * 60, trials=100_000, jobs=args.jobs, seed=args.seed,
                                     budget=Budget(max_latency_ms=args.max_latency_ms), epochs=args.epochs,
                                     cv_folds=args.cv_folds, baselines=args.baselines, distill=args.distill,
                                     formats=parse_formats(args.formats) if args.formats else None,
                                     **({} if args.finalists is None else {"finalists": args.finalists}),
                                     label=name)
            every = study_rows(study)
            rows = [r for r in every if r["shipped"]]  # one per trial
            front = sorted((r for r in every if r["on_front"]), key=lambda r: r["flash_bytes"])  # one per point
            n_trained = sum(r["trained"] for r in rows)
            print(f"\n{name}: {len(rows)} trials ({n_trained} trained) in {wall:.0f} s; front (each file scored in "
                  "TFLM; int8 unless named):")
            print(f"{'trial':>5} {'score':>6} {'val':>6} {'test':>6} {'flash KB':>8} {'arena KB':>8} {'ms':>6} "
                  f"{'params':>7}  architecture")
            for r in front:
                print(f"{r['number']:>5} {r['score']:>6.3f} {r['val_accuracy']:>6.3f} "
                      f"{r['test_accuracy']:>6.3f} {r['flash_bytes'] / 1024:>8.1f} "
                      f"{r['arena_bytes'] / 1024:>8.1f} {r['latency_ms']:>6.2f} "
                      f"{r['params_count'] or 0:>7}  {'' if r['format'] == 'int8' else r['format'] + ': '}"
                      f"{r['architecture']}"
                      + (f"  (polish of {r['polish_of']})" if r["polish_of"] is not None else ""))
            print_polish(study, f"sqlite:///{where}/quality-{name}.db", every)
            print("\n".join(finalists_lines(every)))
            chosen = recommended(every)
            engineer = best_of([r for r in rows if r["baseline"] is not None and r["state"] == "complete"
                                and r["trained"] and r["feasible"]])
            if engineer is not None and engineer["test_accuracy"] is None:  # not on the front, not a finalist
                engineer["test_accuracy"] = test_scorer(study, f"sqlite:///{where}/quality-{name}.db")(
                    engineer["number"])
            n_test = read_config(study).data["n_test"]
            summary.append((name, f"{len(rows)}/{n_trained}", wall, chosen, n_test, engineer))

    print(f"\nResult quality on {args.device} (budget 100 KB flash, 50 KB arena, {args.max_latency_ms:g} ms), "
          f"{args.minutes:g} min per dataset, --jobs {args.jobs}, --seed {args.seed}, "
          f"--epochs {args.epochs or 'as shipped'}; "
          "chosen = the recommended model (the best cross-validated finalist; without finalists, the front's best "
          "score); engineer = the seeded baseline with the best score.\nscore: " + score_meaning(args.cv_folds)
          + "; val: the shipped model's "
          "own int8 validation accuracy; test: its int8 test accuracy, never used to choose.")
    head = (f"{'dataset':9} {'trials/trained':>14} {'trial':>5} {'params':>7} {'flash KB':>8} {'int8 test %':>11} "
            f"{'95 % interval':>13} {'engineer':>25} {'FCN %':>6} {'ResNet %':>8} {'gap to FCN':>10}")
    print(head)
    print("-" * len(head))
    for name, n, _, r, n_test, engineer in summary:
        test = 100 * r["test_accuracy"]  # of the chosen point's format (int8 unless --formats says more)
        lo, hi = (100 * v for v in accuracy_interval(r["test_accuracy"], n_test))
        published = PUBLISHED.get(name, {})  # ACSF1: no published figure
        fcn, resnet = published.get("FCN"), published.get("ResNet")
        print(f"{name:9} {n:>14} {r['number']:>5} {r['params_count'] or 0:>7} {r['flash_bytes'] / 1024:>8.1f} "
              f"{test:>11.1f} {f'{lo:.1f}-{hi:.1f}':>13} {engineer_text(engineer):>25} {fcn or '-':>6} "
              f"{resnet or '-':>8} "
              f"{f'{test - fcn:+.1f}' if fcn else '-':>10}")
    print("95 % interval: Wilson score interval of the int8 test accuracy on the test split's series.")


def engineer_text(row: dict | None) -> str:
    """'#205 fcn 1/8: 90.5 %': the engineer's model and its int8 test accuracy, or '-' without baselines."""
    if row is None:
        return "-"
    return f"#{row['number']} {' '.join(row['architecture'].split()[:2])}: {100 * row['test_accuracy']:.1f} %"


def test_scorer(study, storage: str):
    """A function of a trial number: that trial's shipped file run in TFLM on the test split (a diagnosis: nothing
    is chosen by it). The study and its data are opened once."""
    from nas.data import load as load_data
    from nas.export import load_tflite
    from nas.quantize import Int8Model
    from nas.study import load

    study, config = load(study.study_name, storage)
    dataset = load_data(config.data)

    def test(number: int) -> float:
        return Int8Model(load_tflite(study, config, study.trials[number])).accuracy(dataset.x_test, dataset.y_test)

    return test


def score_meaning(cv_folds: int | None) -> str:
    if cv_folds is None:
        return ("int8 validation accuracy, or 5-fold cross-validated int8 accuracy when the validation split "
                "has < 30 series (GunPoint)")
    return f"{cv_folds}-fold cross-validated int8 accuracy" if cv_folds else "int8 validation accuracy"


def print_polish(study, storage: str, rows: list[dict]) -> None:
    """Each polish trial beside the trial it polished: score, and int8 test accuracy of both (a diagnosis
    of what the long recipe did; the search chose by score alone)."""
    polished = [r for r in rows if r["polish_of"] is not None and r["state"] == "complete"]
    if not polished:
        return
    test = test_scorer(study, storage)
    print("polish (the long recipe on the front's best architectures; test shown as a diagnosis, never used):")
    print(f"{'trial':>5} {'of':>5} {'score':>6} {'was':>6} {'test':>6} {'was':>6}")
    by_number = {r["number"]: r for r in rows}
    for r in polished:
        was = by_number[r["polish_of"]]
        print(f"{r['number']:>5} {r['polish_of']:>5} {r['score']:>6.3f} {was['score']:>6.3f} "
              f"{test(r['number']):>6.3f} {test(was['number']):>6.3f}")


if __name__ == "__main__":
    main()
