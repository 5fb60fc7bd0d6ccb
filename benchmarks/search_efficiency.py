"""Search efficiency: the same wall-clock budget given to several ways of searching one dataset.

Arms (each a fresh study, searched by the library as `nas search` searches, one after another
in this one run, so the ratios share the machine's state):
  a  nas as shipped: TPE, candidates over budget rejected before training, multi-fidelity screening
  b  Optuna's random sampler with the same rejection and screening
  c  TPE *without* rejecting over-budget candidates before training (they are trained, then found over)
  d  NSGA-II with the same rejection and screening (the other sampler that reads set_constraint)
For each: trials run, candidates trained (fully; and screened out after a short training), infeasible
candidates trained, trials per hour, and the hypervolume of the feasible front of (int8 validation
accuracy, flash bytes) with reference point (accuracy 0, the flash budget), as a share of that box.
Every arm runs with --polish 0 --finalists 0: the measure is of the search within its wall clock, and the
polish and finalists that follow a search as shipped would take the same time after any of them.
With --seeds N the arms run N times (seeds S..S+N-1, arms interleaved per seed): one run's sampling
luck is as large as the differences between arms, so the ratios are given per seed and of the means.

Time-to-target (as HPO papers measure search efficiency): the target of a seed is the hypervolume TPE (arm a)
reached in its --minutes; every other arm runs --longer times as long, and the time it first reached that
target is read from its trials' completion times (from the study's first trial start). Printed per seed:
the times and their ratio to TPE's own time to the target; an arm that never reached it within its budget
counts as "> budget" (the ratio is then a lower bound).

Run: python benchmarks/search_efficiency.py [--data ../shared/data/ucr/OSULeaf.npz] [--minutes 6]
     [--jobs 2] [--arms abcd] [--seeds 1] [--longer 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARMS = {
    "a": ("nas as shipped (TPE)", {}),
    "b": ("random sampler", {"sampler": "random"}),
    "c": ("TPE, no rejection before training", {"reject_before_training": False}),
    "d": ("NSGA-II", {"sampler": "nsga2"}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ucr" / "OSULeaf.npz"))
    parser.add_argument("--device", default="nano33")
    parser.add_argument("--minutes", type=float, default=6.0, help="wall-clock budget per arm")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--arms", default="abcd")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="repeat every arm with this many seeds")
    parser.add_argument("--longer", type=float, default=1.0,
                        help="arms other than TPE (a) run this many times --minutes, for time-to-target")
    args = parser.parse_args()

    from common import nas_search  # beside this script

    if not Path(args.data).exists():
        sys.exit(f"benchmark data {args.data} not found (the UCR sets live in ../shared/data/ucr/)")


    from cost_models import Budget
    from nas.results import counts, hypervolume, study_rows
    from nas.schema import TrialRecord

    max_flash = Budget().max_flash_bytes
    results = {}  # (arm, seed) -> figures
    seeds = range(args.seed, args.seed + args.seeds)
    with tempfile.TemporaryDirectory() as tmp:
        for seed, arm in ((seed, arm) for seed in seeds for arm in args.arms):
            label, extra = ARMS[arm]
            minutes = args.minutes * (1 if arm == "a" else args.longer)
            wall, study = nas_search(Path(tmp), f"eff-{arm}-{seed}", space="spectral", device=args.device,
                                     data=str(Path(args.data).resolve()), timeout=minutes * 60, trials=100_000,
                                     jobs=args.jobs, seed=seed, polish=0, finalists=0, **extra,
                                     label=f"arm {arm} ({label}), seed {seed}")
            rows = [r for r in study_rows(study) if r["shipped"]]
            records = {t.number: TrialRecord.read(t) for t in study.get_trials(deepcopy=False)}
            c = counts(rows)
            feasible = [(r["score"], r["flash_bytes"]) for r in rows
                        if r["state"] == "complete" and r["feasible"] and r["score"] is not None]
            results[arm, seed] = {
                "label": label, "wall_s": wall, "trials": c["trials"], "trained": c["trained"],
                "screened": c["screened_out"], "rejected": c["pruned_before_training"],
                # trained fully and over budget after conversion, or screened out and over by the estimate
                "infeasible_trained": sum((r["trained"] and not r["feasible"])
                                          or (r["screened_out"] and bool(records[r["number"]].broken_by_estimate))
                                          for r in rows),
                "failed": c["failed"], "per_hour": c["trials"] / wall * 3600,
                "hv": hypervolume(feasible, max_flash),
                "best": max((a for a, _ in feasible), default=float("nan")),
                "curve": hypervolume_by_time(study, rows, max_flash), "minutes": minutes,
            }
            # the hypervolume at TPE's budget, for the ratios of equal time below
            results[arm, seed]["hv_same"] = max((hv for s, hv in results[arm, seed]["curve"]
                                                 if s <= args.minutes * 60), default=0.0)
            r = results[arm, seed]
            print(f"  {r['trials']} trials in {wall:.0f} s; hypervolume {r['hv']:.4f}", flush=True)

    print(f"\nSearch efficiency on {Path(args.data).stem}, device {args.device}, {args.minutes:g} min wall clock "
          f"per arm, --jobs {args.jobs}, budget {max_flash // 1024} KB flash / 50 KB RAM / 10 ms; hypervolume of "
          f"(int8 val accuracy, flash) over [0,1] x [0, {max_flash} B], reference point (0, {max_flash} B).")
    head = (f"{'arm':3} {'seed':>4} {'':34} {'trials':>6} {'trained':>7} {'screened':>8} {'rejected':>8} "
            f"{'infeas.trained':>14} {'failed':>6} {'trials/h':>8} {'best acc':>8} {'hypervol':>8}")
    print(head)
    print("-" * len(head))
    for (arm, seed), r in sorted(results.items()):
        print(f"{arm:3} {seed:>4} {r['label']:34} {r['trials']:>6} {r['trained']:>7} {r['screened']:>8} "
              f"{r['rejected']:>8} {r['infeasible_trained']:>14} {r['failed']:>6} {r['per_hour']:>8.0f} "
              f"{r['best']:>8.3f} {r['hv']:>8.4f}")
    for other in "bcd":
        if "a" not in args.arms or other not in args.arms:
            continue
        per_seed = [results["a", s]["hv"] / results[other, s]["hv_same"] for s in seeds
                    if results[other, s]["hv_same"] > 0]
        means = [sum(results[arm, s]["hv_same"] for s in seeds) / len(seeds) for arm in ("a", other)]
        print(f"hypervolume a/{other} after {args.minutes:g} min: {means[0] / means[1]:.2f} (of the means over "
              f"{len(seeds)} seed(s); per seed {', '.join(f'{v:.2f}' for v in per_seed)})")
    if "a" in args.arms and len(args.arms) > 1:
        print(f"\nTime-to-target: the hypervolume TPE (a) reached in {args.minutes:g} min, per seed; other arms ran "
              f"{args.longer:g}x as long")
        for other in args.arms.replace("a", ""):
            for s in seeds:
                target = results["a", s]["hv"]
                mine, theirs = (time_to(results[arm, s]["curve"], target) for arm in ("a", other))
                budget = results[other, s]["minutes"] * 60
                shown = f"{theirs:.0f} s" if theirs is not None else f"> {budget:.0f} s (never reached)"
                ratio = f"{theirs / mine:.2f}x" if theirs is not None else f"> {budget / mine:.2f}x"
                print(f"  seed {s}: target {target:.4f}; a reached it at {mine:.0f} s, {other} at {shown}: {ratio}")
    print("trained: fully trained and scored as int8; screened: stopped after a quarter of the epochs "
          "(multi-fidelity); rejected: over budget by the cost models, never trained.")


def hypervolume_by_time(study, rows: list[dict], max_flash: float) -> list[tuple[float, float]]:
    """(seconds since the study's first trial started, hypervolume of the feasible front) after each trial
    completed, in completion order."""
    from nas.results import hypervolume

    done = {t.number: t.datetime_complete for t in study.get_trials(deepcopy=False) if t.datetime_complete}
    starts = [t.datetime_start for t in study.get_trials(deepcopy=False) if t.datetime_start]
    if not starts:
        return []
    t0 = min(starts)
    points, curve = [], []
    for r in sorted((r for r in rows if r["number"] in done), key=lambda r: done[r["number"]]):
        if r["state"] == "complete" and r["feasible"] and r["score"] is not None:
            points.append((r["score"], r["flash_bytes"]))
        curve.append(((done[r["number"]] - t0).total_seconds(), hypervolume(points, max_flash)))
    return curve


def time_to(curve: list[tuple[float, float]], target: float) -> float | None:
    """The first time the curve reached `target` (to rounding), or None if it never did."""
    return next((s for s, hv in curve if hv >= target - 1e-12), None)


if __name__ == "__main__":
    main()
