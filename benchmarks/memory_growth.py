"""Memory over a long study: a search of --trials trials with worker processes recycled every 25 trials
(as shipped). Every trial records its worker's pid and resident memory (VmRSS) when it ends; this
prints, per worker process, its trials, first and last RSS and growth per trained trial (least
squares), then the largest RSS of the study against what one process that never restarts would have
reached (its first RSS + the median growth per trained trial x all trained trials).

Run: python benchmarks/memory_growth.py [--trials 200] [--epochs 5] [--data FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data", help="data file (default: the built-in light curves)")
    parser.add_argument("--keep", help="folder to keep the study in (default: a temporary one)")
    args = parser.parse_args()

    import numpy as np
    from common import nas_search  # beside this script

    from nas.schema import TrialRecord

    with tempfile.TemporaryDirectory() as scratch:
        tmp = str(Path(args.keep).resolve()) if args.keep else scratch
        Path(tmp).mkdir(parents=True, exist_ok=True)
        data = str(Path(args.data).resolve()) if args.data else None
        wall, study = nas_search(Path(tmp), "mem", trials=args.trials, epochs=args.epochs, jobs=1, data=data)
        trials = study.trials

    by_pid: dict[int, list] = {}
    for t in trials:
        r = TrialRecord.read(t)
        if r.worker and r.worker_rss_mib is not None:
            by_pid.setdefault(r.worker["pid"], []).append(r)
    print(f"\n{len(trials)} trials in {wall:.0f} s, {len(by_pid)} worker processes (recycled every 25 trials)")
    print(f"{'worker pid':>10} {'trials':>6} {'trained':>7} {'first RSS MiB':>13} {'last RSS MiB':>12} "
          f"{'MiB / trained trial':>19}")
    slopes, firsts, peak = [], [], 0.0
    for pid, ts in by_pid.items():
        rss = [r.worker_rss_mib for r in ts]
        trained = np.cumsum([r.trained or r.screened_out for r in ts])
        slope = float(np.polyfit(trained, rss, 1)[0]) if trained[-1] >= 3 else float("nan")
        if slope == slope:
            slopes.append(slope)
        firsts.append(rss[0])
        peak = max(peak, max(rss))
        print(f"{pid:>10} {len(ts):>6} {int(trained[-1]):>7} {rss[0]:>13.0f} {rss[-1]:>12.0f} {slope:>19.2f}")
    n_trained = sum(r.trained or r.screened_out for r in map(TrialRecord.read, trials))
    growth = statistics.median(slopes) if slopes else float("nan")
    print(f"\nlargest worker RSS over the study: {peak:.0f} MiB")
    print(f"growth within a worker: median {growth:.2f} MiB per trained trial; a single process that never "
          f"restarted would reach about {statistics.median(firsts) + growth * n_trained:.0f} MiB after "
          f"{n_trained} trained trials")


if __name__ == "__main__":
    main()
