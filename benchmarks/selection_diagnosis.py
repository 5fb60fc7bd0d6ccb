"""Diagnosis, not a selection rule: the int8 *test* accuracy of every trained feasible model of a study,
grouped by the score the search ranked it by (int8 validation accuracy, or the cross-validated int8
accuracy when the study used it), with the rank correlation of score and test accuracy, and per kind of recipe
how much higher its models scored on validation than on test (early stopping chooses on the validation split).
It shows how well the score can tell models apart (on GunPoint's 10 validation series, many models tie at
1.000 with very different test accuracies). Nothing here feeds back into a search.

Run: python benchmarks/selection_diagnosis.py STUDY --storage sqlite:///DIR/STUDY.db
     (e.g. a study kept by `benchmarks/result_quality.py --keep DIR`)
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study")
    parser.add_argument("--storage", required=True)
    args = parser.parse_args()

    import numpy as np
    from common import shipped_models  # beside this script

    from nas.data import load as load_data
    from nas.results import best_of, recommended, study_rows
    from nas.study import load

    study, config = load(args.study, args.storage)
    dataset = load_data(config.data)
    from scipy.stats import spearmanr

    by_score: dict[float, list[float]] = defaultdict(list)
    pairs = []
    tests: dict[int, float] = {}
    cross_validated = False
    val_test: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for t, record, model in shipped_models(study, config):
        test = model.accuracy(dataset.x_test, dataset.y_test)
        if record.val_accuracy_int8 is not None:
            val_test[recipe_kind(record)].append((record.val_accuracy_int8, test))
        cross_validated |= record.cv_accuracy_int8 is not None
        by_score[t.values[0]].append(test)
        pairs.append((t.values[0], test))
        tests[t.number] = test
    label = "int8 cv" if cross_validated else "int8 val"
    print(f"{args.study}: {len(pairs)} trained feasible models, {len(dataset.y_val)} validation and "
          f"{len(dataset.y_test)} test series; score: {label}")
    print(f"{label:>8} {'models':>6} {'test min':>8} {'median':>8} {'max':>8}")
    for score in sorted(by_score, reverse=True):
        accs = np.array(by_score[score])
        print(f"{score:>8.3f} {len(accs):>6} {accs.min():>8.3f} {np.median(accs):>8.3f} {accs.max():>8.3f}")
    if len({s for s, _ in pairs}) > 1:
        rho = spearmanr([s for s, _ in pairs], [t for _, t in pairs]).statistic
        print(f"Spearman rank correlation of score and test accuracy: {rho:.2f}")
    rows = [r for r in study_rows(study) if r["shipped"]]
    chosen = recommended(rows)  # the best cross-validated finalist where the search had finalists
    if chosen is not None and tests:
        best = max(tests.values())
        print(f"chosen: trial {chosen['number']} (score {chosen['score']:.3f}), test {tests[chosen['number']]:.3f}; "
              f"best test of all {len(tests)}: {best:.3f}; regret {100 * (best - tests[chosen['number']]):.1f} points")
    # the hand-made baselines the study was seeded with (--baselines), and their polish: the engineer's
    # models inside the same search, chosen among by the same score
    engineer = [r for r in rows if r["number"] in tests and (r["baseline"] is not None)]
    for r in engineer:
        print(f"baseline trial {r['number']}{' (polish)' if r['polish_of'] is not None else ''}: "
              f"{r['architecture']}: score {r['score']:.3f}, test {tests[r['number']]:.3f}")
    if engineer:
        top = best_of(engineer)
        print(f"best baseline by score: trial {top['number']}, test {tests[top['number']]:.3f}")
    own = [r for r in rows if r["number"] in tests and r["baseline"] is None]
    if own:
        top = max(own, key=lambda r: tests[r["number"]])
        print(f"the search's own models (the space's, polishes included): best test {tests[top['number']]:.3f}, "
              f"trial {top['number']} ({top['architecture']})")
    print(sampled_effort(study))
    print(flattery(val_test))


def recipe_kind(record) -> str:
    """How a trial was trained, as the early-stopping question needs it: a blind schedule (never read the
    validation split), the polish recipe (early stopping, long), or the search's recipe (early stopping)."""
    if record.schedule:
        return f"blind ({record.schedule})"
    return "polish recipe (early stopping)" if record.kind == "polish" else "search recipe (early stopping)"


def flattery(val_test: dict[str, list[tuple[float, float]]]) -> str:
    """Per kind of recipe: how much higher the trained models scored on the validation split than on test.
    Early stopping keeps the weights of the lowest validation loss, so its models' validation scores are chosen
    on the data that scores them; a blind schedule's are not."""
    import numpy as np

    lines = ["int8 validation minus test accuracy, per kind of recipe (models trained in the study):"]
    for kind, pairs in sorted(val_test.items()):
        a = np.array(pairs)
        diff = a[:, 0] - a[:, 1]
        se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
        lines.append(f"  {kind:32} {len(a):>4} models: val {a[:, 0].mean():.3f}, test {a[:, 1].mean():.3f}, "
                     f"val - test {diff.mean():+.3f} (SE {se:.3f})")
    return "\n".join(lines)


def sampled_effort(study) -> str:
    """Where the sampler's proposals went: how many, how many distinct architectures, and how many of them
    were trained fully, screened out, or not trained again (repeats)."""
    from nas.results import architecture_key
    from nas.schema import TrialRecord, sampled

    proposed, trained, screened, repeats = [], [], 0, 0
    for t in study.get_trials(deepcopy=False):
        if not sampled(t) or not t.params:
            continue
        record, key = TrialRecord.read(t), architecture_key(t.params)
        proposed.append(key)
        screened += bool(record.screened_out)
        repeats += bool(record.repeat_of)
        if record.trained:
            trained.append(key)
    return (f"sampled: {len(proposed)} proposals of {len(set(proposed))} architectures; {len(trained)} trained "
            f"fully ({len(set(trained))} architectures), {screened} screened out, {repeats} not trained again "
            "(repeats)")


if __name__ == "__main__":
    main()
