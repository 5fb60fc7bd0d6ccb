"""Speed-up of `--jobs 2` over `--jobs 1`: the same search (data, device, trials, seed) run as shipped
with one worker process and then with two, one after the other in this one run.

Each worker sets TensorFlow to cores / jobs threads. The two runs sample different architectures
(each worker has its own sampler seed), so besides wall time this prints what was trained and the
training seconds per trained trial, summed from the trials' own records: the speed-up in trials per
hour, and in trained trials per hour, are the ratios that matter. The polish of the front that follows
a search is turned off (--polish 0): it is a few trainings, not the search being timed.

Run: python benchmarks/worker_speedup.py [--data ../shared/data/ucr/OSULeaf.npz] [--trials 40]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ucr" / "OSULeaf.npz"))
    parser.add_argument("--device", default="nano33")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from common import nas_search  # beside this script

    from nas.schema import TrialRecord

    if not Path(args.data).exists():
        sys.exit(f"benchmark data {args.data} not found (the UCR sets live in ../shared/data/ucr/)")

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    print(f"{args.trials} trials on {Path(args.data).name} for {args.device}, --epochs {args.epochs}, "
          f"seed {args.seed}; {os.cpu_count()} cores")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in (1, 2):
            wall, study = nas_search(Path(tmp), f"jobs{jobs}", space="spectral", device=args.device,
                                     data=str(Path(args.data).resolve()), trials=args.trials, epochs=args.epochs,
                                     seed=args.seed, jobs=jobs, polish=0)
            trials = study.trials
            trained = [r for r in map(TrialRecord.read, trials) if r.trained]
            train_s = sum(r.train_seconds or 0.0 for r in trained)
            results[jobs] = (len(trials), len(trained), wall, train_s)

    head = (f"{'jobs':>4} {'trials':>6} {'trained':>7} {'wall s':>7} {'trials/h':>8} {'trained/h':>9} "
            f"{'train s/trained':>15}")
    print(head)
    print("-" * len(head))
    for jobs, (n, k, wall, train_s) in results.items():
        print(f"{jobs:>4} {n:>6} {k:>7} {wall:>7.0f} {3600 * n / wall:>8.0f} {3600 * k / wall:>9.0f} "
              f"{train_s / max(k, 1):>15.2f}")
    (n1, k1, w1, _), (n2, k2, w2, _) = results[1], results[2]
    print(f"speed-up of 2 workers over 1: {(n2 / w2) / (n1 / w1):.2f}x in trials per hour, "
          f"{(k2 / w2) / (k1 / w1):.2f}x in trained trials per hour (one run; wall includes start-up)")


if __name__ == "__main__":
    main()
