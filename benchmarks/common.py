"""What the benchmarks share: a search run through the library, as `nas search` runs it."""

from __future__ import annotations

import sys
from pathlib import Path


def nas_search(where: Path, name: str, *, trials: int | None = None, timeout: float | None = None, jobs: int = 1,
               label: str | None = None, **options):
    """A new study NAME with its own SQLite file and artifact folder in `where`, searched to the end with
    nas.search.search: `options` are nas.search.SearchOptions fields (space, device, data, budget, seed...).
    Prints what it runs; exits with the reason if the study cannot be made or no trial succeeded. Returns
    (wall seconds, the study)."""
    from nas.quiet import import_tensorflow
    from nas.search import SearchOptions, open_search, search

    import_tensorflow()
    where = Path(where).resolve()
    storage = f"sqlite:///{where}/{name}.db"
    chosen = SearchOptions(artifacts=str(where / f"{name}.art"), **options)
    shown = {k: v for k, v in options.items()} | {"trials": trials, "timeout": timeout, "jobs": jobs}
    print(f"{label or name}: {', '.join(f'{k}={v}' for k, v in shown.items() if v is not None)}", flush=True)
    try:
        study, config, data, _ = open_search(name, storage, chosen)
    except ValueError as exc:
        sys.exit(f"{label or name}: {exc}")
    outcome = search(study, config, storage=storage, n_trials=trials, timeout=timeout, jobs=jobs, data=data)
    if outcome.finished == 0 and outcome.failed:
        reason, _ = outcome.fail_reasons.most_common(1)[0]
        sys.exit(f"{label or name}: every trial failed, e.g. {reason}")
    return outcome.wall_s, study


def shipped_models(study, config):
    """(trial, record, the Int8Model of the file it shipped) for every complete, trained, within-budget trial
    of a kept study: what the diagnosis benchmarks score on the test split (which never chooses)."""
    from nas.export import load_tflite
    from nas.quantize import Int8Model
    from nas.schema import TrialRecord

    for t in study.trials:
        record = TrialRecord.read(t)
        if t.state.name == "COMPLETE" and record.trained and record.feasible:
            yield t, record, Int8Model(load_tflite(study, config, t))


UCR = Path(__file__).resolve().parents[2] / "shared" / "data" / "ucr"


def ucr_file(name: str) -> Path:
    """The UCR set NAME in ../shared/data/ucr/: NAME.npz, or the archive's NAME_TRAIN.ts (with its _TEST
    beside it; JapaneseVowels is stored as JapaneseVowels_eq, the archive's equal-length version)."""
    for candidate in (UCR / f"{name}.npz", UCR / f"{name}_TRAIN.ts", UCR / f"{name}_eq_TRAIN.ts"):
        if candidate.exists():
            return candidate
    sys.exit(f"UCR set {name} not found in {UCR} (as {name}.npz or {name}_TRAIN.ts)")
