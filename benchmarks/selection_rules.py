"""Which validation score would have chosen better, on studies already run: every trained feasible model of
each study is run again in tflite-micro on the validation split (its int8 probabilities) and on the test split,
and each rule below picks one model from the validation figures alone. Printed per study and rule: the model
picked, its test accuracy, and the regret (the best test accuracy of all the study's trained models minus the
picked one's). Test accuracy only judges the rules afterwards; it picks nothing.

Rules:
- accuracy: the highest int8 validation accuracy, the fewer bytes on ties (what `nas search` reports first);
- log-loss: the lowest int8 validation cross-entropy (a finer score: it sees how sure each answer was);
- accuracy, then log-loss: the highest accuracy, the lower cross-entropy on ties.

Run: python benchmarks/selection_rules.py DIR/STUDY.db [DIR/STUDY.db ...]   (studies kept by
     `benchmarks/result_quality.py --keep DIR`; the study's name is the file's stem)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EPS = 1e-4  # an int8 softmax can output 0 for the true class: its log-loss is clipped there

RULES = {
    "accuracy": lambda m: (m["val"], -m["flash"]),
    "log-loss": lambda m: (-m["logloss"], -m["flash"]),
    "accuracy, then log-loss": lambda m: (m["val"], -m["logloss"], -m["flash"]),
}


def measure(db: Path) -> list[dict]:
    import numpy as np
    from common import shipped_models  # beside this script

    from nas.data import load as load_data
    from nas.study import load

    study, config = load(db.stem, f"sqlite:///{db.resolve()}")
    data = load_data(config.data)
    models = []
    for t, record, model in shipped_models(study, config):
        p = model.predict(data.x_val)
        models.append({"trial": t.number, "flash": t.values[1], "val": float((p.argmax(1) == data.y_val).mean()),
                       "logloss": float(-np.log(np.clip(p[np.arange(len(p)), data.y_val], EPS, 1)).mean()),
                       "test": model.accuracy(data.x_test, data.y_test), "kind": record.kind})
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("studies", nargs="+", type=Path)
    args = parser.parse_args()

    from scipy.stats import spearmanr

    from nas.quiet import import_tensorflow

    import_tensorflow()
    regrets = {rule: [] for rule in RULES}
    for db in args.studies:
        models = measure(db)
        best = max(m["test"] for m in models)
        rho_acc = spearmanr([m["val"] for m in models], [m["test"] for m in models]).statistic
        rho_ll = spearmanr([-m["logloss"] for m in models], [m["test"] for m in models]).statistic
        print(f"\n{db.stem} ({db}): {len(models)} trained feasible models; best test {best:.3f}; Spearman with "
              f"test: accuracy {rho_acc:.2f}, -log-loss {rho_ll:.2f}")
        print(f"{'rule':24} {'trial':>5} {'val acc':>7} {'log-loss':>8} {'test':>6} {'regret':>7}")
        for rule, key in RULES.items():
            m = max(models, key=key)
            regrets[rule].append(best - m["test"])
            print(f"{rule:24} {m['trial']:>5} {m['val']:>7.3f} {m['logloss']:>8.3f} {m['test']:>6.3f} "
                  f"{100 * (best - m['test']):>6.1f}p")
    if len(args.studies) > 1:
        print("\nmean regret over the studies (points): "
              + ", ".join(f"{rule} {100 * sum(r) / len(r):.1f}" for rule, r in regrets.items()))


if __name__ == "__main__":
    main()
