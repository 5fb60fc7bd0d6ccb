"""Search efficiency: the same wall-clock budget given to several ways of searching one dataset.

Arms (each a fresh study, run by the shipped `nas search` command in a subprocess, one after another
in this one run, so the ratios share the machine's state):
  a  nas as shipped: TPE, candidates over budget rejected before training, multi-fidelity screening
  b  Optuna's random sampler with the same rejection and screening
  c  TPE *without* rejecting over-budget candidates before training (they are trained, then found over)
  d  NSGA-II with the same rejection and screening (the other sampler that reads set_constraint)
For each: trials run, candidates trained (fully; and screened out after a short training), infeasible
candidates trained, trials per hour, and the hypervolume of the feasible front of (int8 validation
accuracy, flash bytes) with reference point (accuracy 0, the flash budget), as a share of that box.

Run: python benchmarks/search_efficiency.py [--data ../shared/data/ucr/OSULeaf.npz] [--minutes 6]
     [--jobs 2] [--arms abcd]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARMS = {
    "a": ("nas as shipped (TPE)", []),
    "b": ("random sampler", ["--sampler", "random"]),
    "c": ("TPE, no rejection before training", ["--train-over-budget"]),
    "d": ("NSGA-II", ["--sampler", "nsga2"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ucr" / "OSULeaf.npz"))
    parser.add_argument("--device", default="nano33")
    parser.add_argument("--minutes", type=float, default=6.0, help="wall-clock budget per arm")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--arms", default="abcd")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from common import nas_search  # beside this script

    if not Path(args.data).exists():
        sys.exit(f"benchmark data {args.data} not found (the UCR sets live in ../shared/data/ucr/)")


    from cost_models import Budget
    from nas.results import counts, hypervolume, study_rows

    max_flash = Budget().max_flash_bytes
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arm in args.arms:
            label, extra = ARMS[arm]
            wall, study = nas_search(Path(tmp), f"eff-{arm}", "--space", "spectral", "--device", args.device,
                                     "--data", str(Path(args.data).resolve()), "--timeout", str(args.minutes * 60),
                                     "--trials", "100000", "--jobs", str(args.jobs), "--seed", str(args.seed), *extra,
                                     label=f"arm {arm} ({label})")
            rows = [r for r in study_rows(study) if r["shipped"]]
            attrs = {t.number: t.user_attrs for t in study.get_trials(deepcopy=False)}
            c = counts(rows)
            feasible = [(r["score"], r["flash_bytes"]) for r in rows
                        if r["state"] == "complete" and r["feasible"] and r["score"] is not None]
            results[arm] = {
                "label": label, "wall_s": wall, "trials": c["trials"], "trained": c["trained"],
                "screened": c["screened_out"], "rejected": c["pruned_before_training"],
                # trained fully and over budget after conversion, or screened out and over by the estimate
                "infeasible_trained": sum((r["trained"] and not r["feasible"])
                                          or (r["screened_out"] and bool(attrs[r["number"]].get("broken_by_estimate")))
                                          for r in rows),
                "failed": c["failed"], "per_hour": c["trials"] / wall * 3600,
                "hv": hypervolume(feasible, max_flash),
                "best": max((a for a, _ in feasible), default=float("nan")),
            }
            r = results[arm]
            print(f"  {r['trials']} trials in {wall:.0f} s; hypervolume {r['hv']:.4f}", flush=True)

    print(f"\nSearch efficiency on {Path(args.data).stem}, device {args.device}, {args.minutes:g} min wall clock "
          f"per arm, --jobs {args.jobs}, budget {max_flash // 1024} KB flash / 50 KB RAM / 10 ms; hypervolume of "
          f"(int8 val accuracy, flash) over [0,1] x [0, {max_flash} B], reference point (0, {max_flash} B).")
    head = (f"{'arm':3} {'':34} {'trials':>6} {'trained':>7} {'screened':>8} {'rejected':>8} {'infeas.trained':>14} "
            f"{'failed':>6} {'trials/h':>8} {'best acc':>8} {'hypervol':>8}")
    print(head)
    print("-" * len(head))
    for arm, r in results.items():
        print(f"{arm:3} {r['label']:34} {r['trials']:>6} {r['trained']:>7} {r['screened']:>8} {r['rejected']:>8} "
              f"{r['infeasible_trained']:>14} {r['failed']:>6} {r['per_hour']:>8.0f} {r['best']:>8.3f} "
              f"{r['hv']:>8.4f}")
    if "a" in results:
        for other in "bcd":
            if other in results and results[other]["hv"] > 0:
                print(f"hypervolume a/{other}: {results['a']['hv'] / results[other]['hv']:.2f}")
    print("trained: fully trained and scored as int8; screened: stopped after a quarter of the epochs "
          "(multi-fidelity); rejected: over budget by the cost models, never trained.")


if __name__ == "__main__":
    main()
