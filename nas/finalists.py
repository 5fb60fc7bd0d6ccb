"""The finalists of a classifier search, cross-validated before one is recommended.

One validation split of a few tens of series cannot rank the top of a search: the models that reach it
are the ones its noise favoured, and many tie (docs/benchmarks.md, "Choosing among the finalists"). So
after the polish, the front's best members and every seeded hand-made baseline (and FCN layout seeded in
the space) are trained again on k-1
more folds of training + validation data, each with the recipe it was trained with
(nas.objective.cross_validated_accuracy: fold 0 is the model that ships, on the validation split; a recipe
that stops early trains the other folds for the epochs it kept, and its fold 0 does not count, since early
stopping chose those weights on it). The pooled accuracy of its shipped format over the folds held out from
training is stored in the study, one attribute per finalist, and the
model a search recommends is the best of them (nas.results.recommended). The front itself stays ranked
by the search's score.

By default only where the validation split has fewer than FINALISTS_BELOW_VAL series (finalists_for): the
measurements were on splits of 41-54 series; a split of hundreds ranks the top well enough on its own, and the
4 more trainings per finalist would lengthen a default search on the built-in light curves (246 series).
They run best first (pick's order) and none but the first starts after a deadline (deadline_for: by default as long
as the search and polish took, at least FINALISTS_MIN_S); a resume cross-validates those left.
Not done when the study is cross-validated already (every score is a k-fold one) or distilled (the
teacher saw every training series, so folds of them are not held out from a distilled training).
"""

from __future__ import annotations

import logging
import time

from nas import schema
from nas.config import FINALISTS_DEFAULT
from nas.results import architecture_key, study_rows

log = logging.getLogger("nas")

FINALISTS_BELOW_VAL = 100  # finalists by default when the validation split has fewer series than this
FINALISTS_MIN_S = 300.0  # the finalists' least time by default, however short the search before them was


def deadline_for(began: float, finalists_timeout: float | None, now: float | None = None) -> float:
    """When the finalists of a search that began at `began` (time.time()) stop starting: `finalists_timeout`
    seconds from `now`, or by default as long from now as the search and polish took, at least FINALISTS_MIN_S.
    On a small validation split each finalist trains 4 more times, with its recipe (FCN's published one runs
    2,000 epochs), and the baselines are finalists too: on JapaneseVowels at 40 ms they ran over 20 minutes
    after a 15-minute search and were not done (docs/benchmarks.md)."""
    now = time.time() if now is None else now
    return now + (finalists_timeout if finalists_timeout is not None else max(now - began, FINALISTS_MIN_S))


def finalists_for(n_val: int | None) -> int:
    """FINALISTS_DEFAULT when the validation split is too small to rank the top (fewer than FINALISTS_BELOW_VAL
    series), else 0. A split small enough for cross-validated candidates (nas.data.cv_folds_for) needs none."""
    return FINALISTS_DEFAULT if n_val is not None and n_val < FINALISTS_BELOW_VAL else 0


def pick(study, k: int) -> list[int]:
    """Trial numbers of the finalists: the k best-scoring points of the front (fewer bytes on ties) and, for a
    polish among them, the best other polish of the same architecture with the other kind of recipe (FCN's
    schedule beside the early-stopped polish recipe: one split cannot choose between them, and the one it ranks
    lower is off the front, same bytes, lower score; the polishes on time-warped and on jittered series are both
    early-stopped, so the split ranks those), then
    each seeded baseline architecture at its best score (itself or its polish) and each FCN layout seeded in the
    space at its best, once among its trainings that early stopping chose and once among those of a blind
    schedule (its published recipe, FCN's schedule): early stopping reads the validation split it is scored
    on, so those scores cannot rank one kind against the other; trained, within budget."""
    rows = [r for r in study_rows(study) if r["shipped"] and r["state"] == "complete" and r["trained"]
            and r["feasible"] and r["score"] is not None]
    ranked = sorted(rows, key=lambda r: (-r["score"], r["flash_bytes"]))
    chosen = [r["number"] for r in ranked if r["on_front"]][:k]
    had = {(r["polish_of"], bool(r["schedule"])) for r in ranked
           if r["number"] in chosen and r["polish_of"] is not None}
    polished = {original for original, _ in had}
    for r in ranked:  # best first: each polished architecture's best polish of the other kind of recipe
        kind = (r["polish_of"], bool(r["schedule"]))
        if r["polish_of"] in polished and kind not in had:
            had.add(kind)
            chosen.append(r["number"])
    best_baseline: dict = {}  # per architecture and kind of recipe: early stopping flatters its validation scores
    for r in ranked:
        if r["baseline"] is not None or r["kind"] == schema.FCN_IN_SPACE:
            best_baseline.setdefault((architecture_key(r["params"], r["baseline"]), bool(r["schedule"])), r["number"])
    return chosen + [n for n in best_baseline.values() if n not in chosen]


def builder(space, trial, record: schema.TrialRecord, input_shape, n_classes: int):
    """A function that builds the trial's architecture afresh: the space's, or its hand-made baseline."""
    from optuna.trial import FixedTrial

    from nas.baselines import Baseline

    if record.baseline is not None:
        baseline = Baseline.from_dict(record.baseline)
        return lambda: baseline.build(input_shape, n_classes)
    return lambda: space.build(FixedTrial(trial.params), input_shape=input_shape, n_outputs=n_classes)


def cross_validate(study, config, data, k: int, folds: int, *, jobs: int = 1, storage: str | None = None,
                   deadline: float | None = None) -> list[int]:
    """Cross-validate (`folds` folds) the finalists (`pick(study, k)`) the study has not cross-validated
    yet, in pick's order (the front's best first, the baselines last), and store each one's pooled accuracy.
    With `jobs` > 1 and the study's `storage`, they are shared among that many worker processes. No finalist
    starts after `deadline` (a time.time() value; None: no limit), but the first always does, so each resume
    gets further: those not started are left for a resume, which cross-validates only what the study lacks.
    Returns the trial numbers done."""
    o = config.objective
    if k <= 0 or folds < 2 or o.cv_folds or o.distill:
        return []
    known = schema.StudyRecord.read(study).finalists
    todo = []
    for n in pick(study, k):
        recipe = schema.TrialRecord.read(study.trials[n]).recipe
        if n not in known and recipe and not recipe.get("distilled"):
            todo.append(n)
    if not todo:
        return []
    log.info("Cross-validating the finalists, trial(s) %s: each trained %d more times (--finalists 0: off).",
             ", ".join(map(str, todo)), folds - 1)
    if jobs > 1 and len(todo) > 1 and storage is not None:
        done, started = _in_workers(study, storage, todo, folds, jobs, deadline)
    else:
        done, started = [], []
        for n in todo:
            if not _may_start(started, deadline):
                break
            started.append(n)
            if _logged(study, n, cross_validate_one(study, config, data, n, folds)):
                done.append(n)
    left = [n for n in todo if n not in started]
    if left:
        log.warning("Finalist trial(s) %s not cross-validated: the finalists' time ran out "
                    "(--finalists-timeout); a resume of the study cross-validates them.",
                    ", ".join(map(str, left)))
    return done


def _may_start(started: list[int], deadline: float | None) -> bool:
    """Whether another finalist may start: the first always (so each resume gets further), the rest until
    `deadline`."""
    return not started or deadline is None or time.time() < deadline


def _logged(study, n: int, done: bool) -> bool:
    """Log finalist `n`'s stored outcome (here, not in the worker that ran it, whose log is not shown)."""
    finalist = schema.StudyRecord.read(study).finalists.get(n) if done else None
    if finalist is None:
        log.warning("Finalist trial %d was not cross-validated (it could not be trained again).", n)
        return False
    log.info("Finalist trial %d: %d-fold %s accuracy %.3f.", n, len(finalist["folds"]), finalist["format"],
             finalist["accuracy"])
    return True


def cross_validate_one(study, config, data, n: int, folds: int) -> bool:
    """Train trial `n`'s architecture with its own recipe on the `folds` - 1 other folds, and store its pooled
    accuracy (schema.write_finalist). False when it cannot be trained again (the caller says so)."""
    import keras

    from nas.objective import RECOVERABLE, cross_validated_accuracy
    from search_spaces import get_space

    trial = study.trials[n]
    record = schema.TrialRecord.read(trial)
    fmt = record.shipped_format or "int8"
    val = record.formats[fmt]["val_accuracy"] if record.formats else record.val_accuracy_int8
    keras.backend.clear_session()
    try:
        space = get_space(config.space, config.space_version)
        pooled = cross_validated_accuracy(
            builder(space, trial, record, data.input_shape, len(data.classes)), data, folds,
            {fmt: int(round(val * len(data.y_val)))}, epochs=record.recipe["epochs"], seed=config.seed + n,
            fold_seed=config.seed, time_limit_s=config.trial_time_limit_s, patience=record.recipe["patience"],
            augment=record.recipe["augment"], schedule=record.schedule or "early_stop", best_epoch=kept_epoch(record))
    except RECOVERABLE as exc:  # one finalist that cannot be trained again must not lose the search
        log.debug("Finalist trial %d: %s", n, exc)
        return False
    accuracy, per_fold = pooled[fmt]
    schema.write_finalist(study, n, accuracy, per_fold, fmt)
    return True


def kept_epoch(record: schema.TrialRecord) -> int | None:
    """The epoch (from 1) whose weights early stopping kept in the trial's model: as recorded, or for a trial
    recorded before that, its epochs run less the patience when it stopped before its last epoch (early stopping
    runs that many past the best). None for a trial that did not stop early and a blind schedule's."""
    if record.best_epoch is not None or record.schedule or record.epochs_run is None or not record.recipe:
        return record.best_epoch
    planned, patience = record.recipe["epochs"], record.recipe.get("patience")
    if patience and record.epochs_run < planned:
        return max(1, record.epochs_run - patience)
    return None


def _in_workers(study, storage: str, todo: list[int], folds: int, jobs: int,
                deadline: float | None) -> tuple[list[int], list[int]]:
    """cross_validate_one for `todo` in worker processes (nas.search.worker_pool), in its order, one per
    worker at a time, none started after `deadline` but the first. Returns (those done, those started)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    from nas.search import usable_cores, worker_pool

    jobs = min(jobs, len(todo))
    threads = max(1, usable_cores() // jobs)
    queue, started, done = list(todo), [], set()
    with worker_pool(jobs) as pool:
        running: dict = {}
        while queue or running:
            while queue and len(running) < jobs and _may_start(started, deadline):
                n = queue.pop(0)
                started.append(n)
                running[pool.submit(_worker, study.study_name, storage, n, folds, threads)] = n
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                n = running.pop(future)
                if _logged(study, n, future.result()):
                    done.add(n)
    return [n for n in todo if n in done], started


def _worker(name: str, storage: str, n: int, folds: int, threads: int) -> bool:
    """One finalist in a worker process (nas.search.open_in_worker), on the study's data opened afresh."""
    from nas.search import open_in_worker
    from nas.tasks import task_for

    study, config = open_in_worker(name, storage, threads)
    return cross_validate_one(study, config, task_for(config.space).open(config), n, folds)
