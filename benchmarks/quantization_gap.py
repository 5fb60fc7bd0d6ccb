"""What int8 costs a study's models: float validation accuracy (Keras, before conversion) against the
int8 file's validation accuracy in TFLM, for every trained trial, on the same series (paired).

Run: python benchmarks/quantization_gap.py STUDY --storage sqlite:///path/STUDY.db
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
    args = parser.parse_args()

    import numpy as np

    from nas.schema import TrialRecord
    from nas.study import load

    study, config = load(args.study, args.storage)
    pairs = [(r.val_accuracy_float, r.val_accuracy_int8) for r in map(TrialRecord.read, study.trials)
             if r.trained and r.val_accuracy_float is not None and r.val_accuracy_int8 is not None]
    if not pairs:
        sys.exit(f"study {args.study!r} has no trained trial with both accuracies")
    f, q = np.array(pairs).T
    gap = f - q
    n_val = config.data.get("n_val")
    print(f"{args.study}: {len(gap)} trained models, validation split of {n_val} series; float (Keras) minus "
          f"int8 (TFLM) accuracy: mean {gap.mean():+.4f} ± {gap.std(ddof=1) / np.sqrt(len(gap)):.4f} (SE), "
          f"median {np.median(gap):+.4f}, worst {gap.max():+.4f}; int8 lower on {(gap > 0).sum()}, equal on "
          f"{(gap == 0).sum()}, higher on {(gap < 0).sum()}")


if __name__ == "__main__":
    main()
