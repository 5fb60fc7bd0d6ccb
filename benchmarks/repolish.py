"""The end of a search again, with this code's rules, on a copy of a kept study: the polish of the front and
the finalists' cross-validation, as `nas search` runs them after its last trial, and nothing else (no new
candidate). The copy keeps every trial the search trained and the polishes and finalists it had; what this code
adds is printed, and `selection_diagnosis.py STUDY --storage sqlite:///COPY` then compares the recommendation
and the regret with the original's. It is how a change to the polish or the finalists is measured on searches
already run, the same candidates on both sides, without running a search per rule.

The copy's trials write their models to the study's artifact folder (as the original's did); the original
database is only read.

`--polish K` and `--finalists K` replace the study's own counts for this run (not in the stored configuration).
`--fresh-finalists all` removes the copy's cross-validated finalists first, so this code picks and cross-validates
them again (a change to the finalists' folds is measured on the same trained candidates); `--fresh-finalists
early-stopped` only those whose recipe stopped early (the ones whose folds changed with 2026-12-07's rule), and
keeps the stored accuracy of those trained with a blind schedule (FCN's published recipe: 4 trainings of 2000
epochs each to redo).

Run: python benchmarks/repolish.py STUDY --storage sqlite:///DIR/STUDY.db --copy COPY.db [--jobs 2] [--polish K]
     [--finalists K] [--fresh-finalists all|early-stopped]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study")
    parser.add_argument("--storage", required=True, help="the kept study (sqlite:///PATH), only read")
    parser.add_argument("--copy", required=True, help="a new database file for the copy")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--polish", type=int, help="front members to polish (default: the study's --polish)")
    parser.add_argument("--finalists", type=int, help="finalists to cross-validate (default: the study's)")
    parser.add_argument("--fresh-finalists", choices=("all", "early-stopped"),
                        help="cross-validate the finalists again (all, or those whose recipe stopped early)")
    args = parser.parse_args()
    source = Path(args.storage.removeprefix("sqlite:///"))
    copy = Path(args.copy)
    if not args.storage.startswith("sqlite:///") or not source.is_file():
        sys.exit(f"--storage must be an existing SQLite study (sqlite:///PATH); {args.storage} is not")
    if copy.exists():
        sys.exit(f"{copy} exists; give --copy a new file")
    shutil.copyfile(source, copy)
    if args.fresh_finalists:
        drop_finalists(args.study, copy, early_stopped_only=args.fresh_finalists == "early-stopped")
    storage = f"sqlite:///{copy.resolve()}"

    from nas.quiet import import_tensorflow
    from nas.results import study_rows
    from nas.schema import StudyRecord, TrialRecord
    from nas.search import search
    from nas.study import load

    study, config = load(args.study, storage)
    overrides = {k: v for k, v in (("polish", args.polish), ("finalists", args.finalists)) if v is not None}
    config = replace(config, objective=replace(config.objective, **overrides))
    before = {t.number for t in study.trials}
    known = set(StudyRecord.read(study).finalists)
    import_tensorflow()
    started = time.perf_counter()
    outcome = search(study, config, storage=storage, n_trials=0, jobs=args.jobs)
    rows = {r["number"]: r for r in study_rows(study)}
    print(f"{args.study}: the end of the search again on {copy} in {time.perf_counter() - started:.0f} s "
          f"({len(before)} trials kept)")
    for t in study.trials:
        if t.number not in before:
            r, record = rows.get(t.number), TrialRecord.read(t)
            score = "not trained" if r is None or r["score"] is None else f"int8 val {r['score']:.3f}"
            original = rows.get(record.polish_of)
            was = "" if original is None or original["score"] is None else f" (the original {original['score']:.3f})"
            schedule = (record.recipe or {}).get("schedule") or "polish recipe"
            print(f"  trial {t.number}: {record.kind} of {record.polish_of} with the {schedule}: {score}{was}")
    new = {n: v for n, v in StudyRecord.read(study).finalists.items() if n not in known}
    for n, v in sorted(new.items(), key=lambda item: -item[1]["accuracy"]):
        print(f"  new finalist {n}: pooled {v['accuracy']:.3f}")
    print(f"Polished: {outcome.polished or 'none'}; cross-validated: {outcome.finalists or 'none'}.")


def drop_finalists(name: str, copy: Path, *, early_stopped_only: bool) -> None:
    """Remove the cross-validated finalists stored in the study copy (all, or those trained with early stopping)."""
    from nas.schema import FINALIST_PREFIX, StudyRecord, TrialRecord
    from nas.study import load

    study, _ = load(name, f"sqlite:///{copy.resolve()}")
    drop = [n for n in StudyRecord.read(study).finalists
            if not early_stopped_only or TrialRecord.read(study.trials[n]).schedule is None]
    db = sqlite3.connect(copy)  # Optuna has no call that removes a study attribute
    with db:
        db.executemany("DELETE FROM study_user_attributes WHERE key = ?", [(f"{FINALIST_PREFIX}{n}",) for n in drop])
    db.close()
    print(f"{name}: finalist(s) {', '.join(map(str, drop)) or 'none'} removed from the copy, to be cross-validated "
          "again")


if __name__ == "__main__":
    main()
