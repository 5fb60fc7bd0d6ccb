"""Diagnosis, not a selection rule: the int8 *test* accuracy of every trained feasible model of a study,
grouped by its int8 validation accuracy. It shows how well the validation split can tell models
apart (on GunPoint, 10 validation series: many models tie at 1.000 with very different test
accuracies). Nothing here feeds back into a search.

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

    from nas.data import load as load_data
    from nas.export import load_tflite
    from nas.quantize import Int8Model
    from nas.study import load

    study, config = load(args.study, args.storage)
    dataset = load_data(config.data)
    by_val: dict[float, list[float]] = defaultdict(list)
    for t in study.trials:
        if t.state.name == "COMPLETE" and t.user_attrs.get("trained") and t.user_attrs.get("feasible"):
            model = Int8Model(load_tflite(study, config, t))
            by_val[t.user_attrs["val_accuracy_int8"]].append(model.accuracy(dataset.x_test, dataset.y_test))
    print(f"{args.study}: {sum(map(len, by_val.values()))} trained feasible models, "
          f"{len(dataset.y_val)} validation and {len(dataset.y_test)} test series")
    print(f"{'int8 val':>8} {'models':>6} {'test min':>8} {'median':>8} {'max':>8}")
    for val in sorted(by_val, reverse=True):
        accs = np.array(by_val[val])
        print(f"{val:>8.3f} {len(accs):>6} {accs.min():>8.3f} {np.median(accs):>8.3f} {accs.max():>8.3f}")


if __name__ == "__main__":
    main()
