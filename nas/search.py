"""Running a search on a study: the loop (`search`, which returns what happened), the sampler, worker
processes, the per-invocation trial requests, and the polish of the front."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from cost_models import Budget
from nas import finalists, schema
from nas.baselines import PUBLISHED_EPOCHS
from nas.config import POLISH_DEFAULT, ObjectiveOptions, RunConfig
from nas.objective import JITTER_POLISH, POLISH_FACTOR, RECOVERABLE, searched_recipe
from nas.process import raise_if_stop_requested, rss_mib, stop_on_sigterm
from nas.progress import Progress
from nas.quiet import import_tensorflow
from nas.results import architecture_key, polished_architecture, study_rows
from nas.study import artifact_store
from nas.tasks import task_for

log = logging.getLogger(__name__)


SAMPLERS = ("tpe", "nsga2", "random")


def make_sampler(name: str, seed: int, n_startup_trials: int = 10):
    """TPE (default): it reads `set_constraint`, learns from the candidates rejected before training as
    well as the trained ones, and works from the first tens of trials; with several workers its
    constant liar keeps them from sampling the same point. NSGA-II needs generations of trained
    candidates; random is the baseline. `benchmarks/search_efficiency.py` measures the three."""
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials, multivariate=True,
                                          constant_liar=True)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=20)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")


class WorkerDied(RuntimeError):
    """A worker process ended abruptly; what finished is stored."""


RECYCLE_EVERY = 25  # trials a worker process runs before it exits (TensorFlow grows ~7-10 MiB a trial)


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


MAX_DEFAULT_JOBS = 4  # each worker holds a TensorFlow of its own (0.6-1.0 GB); SQLite serves a few processes


def default_jobs() -> int:
    """Worker processes when `--jobs` is not given: one per core, at most MAX_DEFAULT_JOBS. These small models
    train as fast on one TensorFlow thread as on two, so on 2 cores two workers run 1.86x the trials per hour
    of one (docs/benchmarks.md, Workers); the order in which workers take trials varies, so a search is
    reproducible trial by trial only with --jobs 1."""
    return min(usable_cores(), MAX_DEFAULT_JOBS)


def guarded(objective, run_id: str | None = None):
    """Record which invocation and process ran the trial and its memory; an interrupted trial says so."""
    def wrapped(trial):
        schema.write(trial, worker={"host": socket.gethostname(), "pid": os.getpid()})
        if run_id:
            schema.write(trial, run=run_id)
        try:
            raise_if_stop_requested()
            return objective(trial)
        except KeyboardInterrupt:
            schema.write(trial, fail_reason=schema.INTERRUPTED)
            raise
        finally:
            schema.write(trial, worker_rss_mib=rss_mib())

    return wrapped


def new_run_id() -> str:
    return uuid.uuid4().hex[:10]


def finished_count(study, run_id: str | None = None) -> int:
    """Finished trials of the study, or of one invocation: several processes or machines on one study
    each finish what they were asked for."""
    if run_id is None:
        return sum(1 for t in study.get_trials(deepcopy=False) if schema.counts_toward_request(t))
    return _finished_by_run(study)[run_id]


def _finished_by_run(study) -> Counter:
    return Counter(schema.TrialRecord.read(t).run for t in study.get_trials(deepcopy=False)
                   if schema.counts_toward_request(t))


def _waiting_seeded(study) -> int:
    """Seeded trials (baselines, a teacher) queued and not run yet: they do not count toward a request."""
    from optuna.trial import TrialState

    waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    return sum(schema.TrialRecord.read(t).seeded for t in waiting)


def request(study, run_id: str, n_trials: int) -> None:
    """Store what an invocation was asked for (one attribute per invocation: no read-modify-write
    race between processes), so a resume after a crash knows what is owed."""
    schema.write_request(study, run_id, n_trials)


def owed(study) -> dict[str, int]:
    """Invocations that stopped (crash, kill, interrupt) short of their request: run id -> trials owed."""
    done = _finished_by_run(study)
    requests = schema.StudyRecord.read(study).requests
    return {run_id: n - done[run_id] for run_id, n in requests.items() if n > done[run_id]}


def settle(study, debts: dict[str, int]) -> None:
    """A resume that took over `debts` (having stored its own request first): the old invocations'
    requests shrink to what they finished, so nothing is owed twice."""
    done = _finished_by_run(study)
    for run_id in debts:
        request(study, run_id, done[run_id])


def fail_orphaned(study) -> list[int]:
    """Fail the running trials whose worker process on this machine is gone (killed, out of memory) and queue
    each again, as Optuna's heartbeat check does (RetryHeartbeatStaleTrialCallback), but without waiting out the
    grace and without needing the trial's heartbeat: a trial of a search killed with SIGKILL twice stayed
    running through a resume in CI, the heartbeat check notwithstanding (tests/test_faults.py). Trials of other
    machines are left to the heartbeat check. Returns their numbers."""
    import optuna

    from nas.study import MAX_RETRY

    running = optuna.trial.TrialState.RUNNING
    host, orphaned = socket.gethostname(), []
    for t in study.get_trials(deepcopy=False, states=(running,)):
        worker = schema.TrialRecord.read(t).worker or {}
        pid = worker.get("pid")
        if worker.get("host") != host or pid is None or pid == os.getpid() or process_alive(pid):
            continue
        try:
            if not study._storage.set_trial_state_values(t._trial_id, state=optuna.trial.TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another process failed it first
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
        retry(study, study._storage.get_trial(t._trial_id))
        orphaned.append(t.number)
    return orphaned


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process has that number now
        return True
    return True


def requeue_interrupted(study) -> list[int]:
    """Queue again the parameters of trials interrupted by Ctrl-C / SIGTERM (once each). Trials of a
    killed worker are failed and queued by Optuna's heartbeat check (RetryHeartbeatStaleTrialCallback)."""
    done = schema.StudyRecord.read(study).requeued
    again = [(t, r) for t in study.get_trials(deepcopy=False) if t.state.name == "FAIL" and t.number not in done
             for r in [schema.TrialRecord.read(t)] if r.fail_reason == schema.INTERRUPTED]
    for t, r in again:
        carried = {"kind": r.kind, **({"polish_of": r.polish_of} if r.polish_of is not None else {}),
                   **({"baseline": r.baseline} if r.baseline else {}),
                   **({"recipe": r.recipe} if schema.recipe_variant(r.recipe) else {})}  # as it was queued
        schema.enqueue(study, t.params, retry_of=t.number, **carried)
    if again:
        schema.write_requeued(study, set(done) | {t.number for t, _ in again})
    again = [t for t, _ in again]
    return [t.number for t in again]


AUGMENTED_POLISHES = (None, JITTER_POLISH)  # the polish recipe (None: time-warped) on each augmentation, every member


def queue_polish(study, k: int, second: Callable[[dict], dict | None] | None = None
                 ) -> dict[int, list[str | None]]:
    """Queue the long recipe (nas.objective.recipe_for) for the k best-scoring members of the front whose
    architecture has not had it yet (for a member trained with a published schedule, its architecture's
    training with the search's recipe), twice: on time-warped series and on series
    jittered only (JITTER_POLISH), since which suits a dataset differs by 0.1-0.3 (docs/benchmarks.md); and for a
    space architecture that `second` gives a recipe for (nas.objective.schedule_polish), that recipe as well. Each
    polish becomes a trial of its own, so it joins the front only if its own int8 score earns it, and the shipped
    model is always the one whose score is reported. Returns the trials polished, best score first, each with the
    variants queued for it (schema.recipe_variant: None for the time-warped polish, "jitter", and "swa" for
    FCN's schedule with its weights averaged)."""
    if k <= 0:
        return {}
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    done = {polished_architecture(t, trials) for t in trials.values()} - {None}

    def missing(r: dict, scheduled: bool) -> list[dict | None]:  # the recipes (None: the polish recipe) r has not had
        extra = second(r["params"]) if second is not None and r["baseline"] is None and not scheduled else None
        key = architecture_key(r["params"], r["baseline"])
        return [recipe for recipe in (*AUGMENTED_POLISHES, *([extra] if extra else []))
                if (key, schema.recipe_variant(recipe)) not in done]

    # A member trained with a published schedule (a baseline with its own recipe, an FCN layout seeded with FCN's
    # schedule) is not polished itself: it had a longer training than the polish recipe, and polished, both such
    # FCNs lost ~0.05 validation (docs/benchmarks.md). Its architecture's training with the search's recipe is
    # polished in its place (without the published schedule it already had), even off the front, where that
    # member hides it: on ACSF1 the jittered polish of FCN 1/16 scored 68 % on test against 63 % for both its
    # trainings, and at 10 ms the FCN's published training hid its searched one from the polish.
    rows = study_rows(study)
    searched = {}  # architecture -> its best-scoring training with the search's recipe
    trained = [r for r in rows if r["state"] == "complete" and r["feasible"] and r["score"] is not None]
    for r in sorted(trained, key=lambda r: r["score"]):
        if searched_recipe(r["kind"], r["schedule"]):
            searched[architecture_key(r["params"], r["baseline"])] = r
    front = []
    for member in (r for r in rows if r["on_front"] and r["kind"] != schema.POLISH):
        scheduled = bool(member["schedule"])
        r = searched.get(architecture_key(member["params"], member["baseline"])) if scheduled else member
        if r is not None and (wanted := missing(r, scheduled)):
            front.append((member, r, wanted))
    chosen, seen = [], set()
    for _member, r, wanted in sorted(front, key=lambda item: (-item[0]["score"], item[0]["flash_bytes"])):
        if r["number"] not in seen and len(chosen) < k:  # a trial with several formats on the front: once
            seen.add(r["number"])
            chosen.append((r, wanted))
    for r, wanted in chosen:
        for recipe in wanted:
            schema.enqueue(study, r["params"], kind=schema.POLISH, polish_of=r["number"],
                           **({"baseline": r["baseline"]} if r["baseline"] else {}),
                           **({"recipe": recipe} if recipe else {}))
    return {r["number"]: [schema.recipe_variant(recipe) for recipe in wanted] for r, wanted in chosen}


def polish_message(polished: dict[int, list[str | None]]) -> str:
    """What queue_polish queued, as the line a search prints before training it."""
    augmented = {schema.recipe_variant(recipe) for recipe in AUGMENTED_POLISHES}
    long = ", ".join(str(n) for n, variants in polished.items() if augmented & set(variants))
    fcn = ", ".join(str(n) for n, variants in polished.items() if set(variants) - augmented)
    recipe = f"{POLISH_FACTOR}x the epochs on augmented series (time-warped, and jittered only)"
    if long and fcn:
        return (f"Polishing the front: trial(s) {long} trained again for {recipe}, and {fcn} (laid out as FCN) "
                "with FCN's schedule as well.")
    if long:
        return f"Polishing the front: trial(s) {long} trained again for {recipe}."
    return f"Polishing the front: trial(s) {fcn} (laid out as FCN) trained again with FCN's schedule."


def sampler_seed(study, seed: int, worker: int, shared: bool = False) -> int:
    """Reproducible for a lone process; distinct for processes on a database server (`shared`: several
    machines may each run `nas search` on it) or joining a study others are running."""
    trials = study.get_trials(deepcopy=False)
    value = seed + len(trials) + 7919 * worker
    if shared or any(t.state.name == "RUNNING" for t in trials):
        value += zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode())
    return value % 2**32


class NothingQueued(Exception):
    """A queued-only run asked for a trial and no queued (waiting) trial was left."""


@contextmanager
def only_queued(study):
    """While inside, the study's ask takes a queued (waiting) trial or raises NothingQueued; it never creates a
    trial for the sampler. Optuna's ask pops a waiting trial if one is left and otherwise creates a trial with
    the storage's create_new_trial and no template (an enqueued trial is created with one). Checking for a
    waiting trial before asking is not enough: another process may take it in between, and the ask would then
    sample a new candidate where a fixed training was meant (on PostgreSQL, 4 processes ran 17 trials for 12)."""
    storage = study._storage
    create = storage.create_new_trial

    def create_only_from_template(study_id, template_trial=None):
        if template_trial is None:
            raise NothingQueued
        return create(study_id, template_trial)

    storage.create_new_trial = create_only_from_template
    try:
        yield
    finally:
        del storage.create_new_trial


def run(study, config: RunConfig, data, *, n_trials: int | None, timeout: float | None,
        on_trial: Callable | None = None, worker: int = 0, shared: bool = False, run_id: str | None = None,
        tickets: Tickets | None = None, queued_only: bool = False) -> float:
    """Optimise the study in this process, on its task's `data` (None: opened from the configuration);
    returns wall seconds. With `tickets`, each trial after the first takes one, and the run stops when none
    is left (the caller took the first). With `queued_only`, it runs queued trials only, and stops when none
    is waiting (see only_queued)."""
    import optuna

    # failures are reported by our progress line; Optuna's own warning would print a traceback
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    task = task_for(config.space)
    data = task.open(config) if data is None else data
    objective = guarded(task.objective(config, data, artifact_store(config), study), run_id)
    # a resumed study (or another worker) gets its own sampler seed, so it does not replay old samples
    study.sampler = make_sampler(config.sampler, sampler_seed(study, config.seed, worker, shared))
    callbacks = [*([on_trial] if on_trial else []), lambda study, trial: raise_if_stop_requested()]
    if tickets is not None:
        ran = [0]

        def next_ticket(study, trial):  # only for a trial this call would still start
            ran[0] += 1
            if (n_trials is None or ran[0] < n_trials) and not tickets.take():
                study.stop()

        callbacks.append(next_ticket)
    start = time.monotonic()
    try:
        with only_queued(study) if queued_only else nullcontext():
            study.optimize(objective, n_trials=n_trials, timeout=timeout, catch=RECOVERABLE,
                           callbacks=callbacks, gc_after_trial=True)
    except NothingQueued:
        pass
    return time.monotonic() - start


def open_in_worker(name: str, storage_url: str, threads: int):
    """In a spawned worker process: stop cleanly on SIGTERM, limit TensorFlow to `threads`, and reopen the
    study. Returns (study, config)."""
    stop_on_sigterm()
    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
    import_tensorflow()
    from nas.study import load
    from nas.train import configure_threads

    configure_threads(threads)
    return load(name, storage_url)


class Tickets:
    """The trials a run's local worker processes may still start, one count in a file under a lock. Each worker
    takes a ticket before each trial, so a worker whose trials were quick (rejected before training, screened
    out) goes on with trials another would have run: with fixed shares, one worker of a 50-trial search on
    2 cores finished its 25 at 82 s and the other ran its last trials alone until 176 s."""

    def __init__(self, path: str):
        self.path = path

    @classmethod
    @contextmanager
    def of(cls, n: int | None):
        """`n` tickets for the duration of a run (None: no limit, no tickets)."""
        if n is None:
            yield None
            return
        import tempfile

        fd, path = tempfile.mkstemp(prefix="nas-tickets-")
        try:
            os.write(fd, str(n).encode())
            os.close(fd)
            yield cls(path)
        finally:
            Path(path).unlink(missing_ok=True)

    def _update(self, take: bool) -> int:
        import fcntl

        with open(self.path, "r+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes, or its process dies
            left = int(f.read())
            if take and left > 0:
                f.seek(0)
                f.truncate()
                f.write(str(left - 1))
            return left

    def take(self) -> bool:
        return self._update(take=True) > 0

    def left(self) -> int:
        return self._update(take=False)


def _worker(name: str, storage_url: str, n_trials: int, deadline: float | None, threads: int, index: int,
            progress: Progress | None, run_id: str | None = None, tickets: Tickets | None = None,
            queued_only: bool = False) -> int:
    """One worker process: TensorFlow limited to `threads`, the study reopened from storage; it runs up to
    `n_trials` trials: while `tickets` are left, or (`queued_only`) while queued trials are waiting."""
    if tickets is not None and not tickets.take():  # before TensorFlow's start-up, which takes seconds
        return 0
    study, config = open_in_worker(name, storage_url, threads)
    timeout = None if deadline is None else deadline - time.time()
    if timeout is not None and timeout <= 0:
        return 0
    if progress is not None:
        progress.worker = f"w{index}"
    before = len(study.trials)
    run(study, config, None, n_trials=n_trials, timeout=timeout, on_trial=progress, worker=index + 1,
        run_id=run_id, tickets=tickets, queued_only=queued_only)
    return len(study.trials) - before


@contextmanager
def worker_pool(jobs: int):
    """A pool of `jobs` spawned processes, each running one task and exiting (TensorFlow's growth stays
    bounded). A worker that dies raises WorkerDied; on any other error or Ctrl-C the workers are stopped
    (SIGTERM reached only this process: it is passed on) before the error goes on."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1)
    try:
        yield pool
    except BrokenProcessPool:
        pool.shutdown(wait=False, cancel_futures=True)
        raise WorkerDied("a worker process died (killed, or out of memory); its trial is failed by the "
                         "heartbeat check and tried again on resume") from None
    except BaseException:
        for process in list(getattr(pool, "_processes", {}).values()):
            if process.is_alive():
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def run_workers(name: str, storage_url: str, config: RunConfig, *, jobs: int, n_trials: int | None,
                timeout: float | None, progress: Progress | None = None, recycle_every: int = RECYCLE_EVERY,
                while_waiting: Callable | None = None, run_id: str | None = None, queued_only: bool = False) -> float:
    """Optimise with `jobs` worker processes on one study (created beforehand by the caller), `n_trials` trials
    among them (shared as Tickets) or until `timeout`. Each runs at most `recycle_every` trials and exits, so
    TensorFlow's growth per trial is bounded; the next chunk starts in a fresh process. With `queued_only`,
    `jobs` workers each run queued trials until none is waiting or it has run `recycle_every` (the caller
    runs it again while its trials wait). Returns wall seconds."""
    from concurrent.futures import FIRST_COMPLETED, wait

    threads = max(1, usable_cores() // jobs)
    deadline = None if timeout is None else time.time() + timeout
    start = time.monotonic()
    pending: set = set()
    chunk = 0
    with worker_pool(jobs) as pool, Tickets.of(n_trials) as tickets:
        while True:
            # a worker that found no ticket left none: the tickets only go down
            while (len(pending) < jobs and (tickets is None or tickets.left() > 0)
                   and (deadline is None or time.time() < deadline) and not (queued_only and chunk == jobs)):
                pending.add(pool.submit(_worker, name, storage_url, recycle_every, deadline, threads, chunk, progress,
                                         run_id, tickets, queued_only))
                chunk += 1
            if not pending:
                break
            done, pending = wait(pending, timeout=30, return_when=FIRST_COMPLETED)
            raise_if_stop_requested()
            if while_waiting is not None:
                while_waiting()
            for future in done:
                future.result()  # a worker's unexpected error ends the run with its message
    return time.monotonic() - start


ROUNDS = 3  # rounds of replacing failed trials before a run gives up on reaching its target


@dataclass(frozen=True)
class SearchOptions:
    """What a new search is asked to do: `nas search`'s options (benchmarks build it directly). Each task
    reads the options it takes (nas.tasks) and refuses the others' when given."""

    space: str = "spectral"
    device: str = "nano33"  # a board name or a .toml file describing one
    budget: Budget = field(default_factory=Budget)
    data: str | None = None  # classification: the data file (None: built-in light curves); mlp: the rows
    label_column: str | None = None
    # nas.data.Normalization: "channel" (one mean and SD per channel, the training split's) or "series" (z-normalize
    # each); studies made before this option read back as "series", which is what they used
    normalize: str = "channel"
    seed: int = 0
    epochs: int | None = None  # None: chosen from the training set's size (nas.train.epochs_for)
    trial_time_limit: float = 600.0  # seconds
    artifacts: str | None = None  # default: studies/NAME.artifacts
    sampler: str = "tpe"
    multi_fidelity: bool = True
    baselines: bool = False  # seed the study with the hand-made baselines at equal cost
    baseline_epochs: int = PUBLISHED_EPOCHS  # ...and train those with a published recipe with it too (0: not)
    distill: bool = False  # distil every candidate from a full-width FCN trained first (nas.class_teacher)
    teacher_epochs: int = 200
    formats: tuple[str, ...] | None = None  # what trained models ship as (nas.formats); None: the task's default
    cv_folds: int | None = None  # None: nas.data.cv_folds_for the validation split's size
    polish: int = POLISH_DEFAULT
    finalists: int | None = None  # None: nas.finalists.finalists_for the validation split's size
    reject_before_training: bool = True  # False only for the benchmark that measures what it saves
    teacher: str | None = None  # distillation: the teacher's .keras / .h5 file
    rtol: float = 1e-2  # distillation: tolerance per output
    atol: float = 1e-3
    distill_samples: int = 50_000
    discrete_columns: str | None = None  # distillation: "0,3,4", columns copied, never perturbed


def open_search(name: str, storage: str, options: SearchOptions):
    """The study `name` for a search: created with `options` if new (its data prepared and checked first),
    else continued with its own stored configuration (which must be of the same space, device and budget).
    Returns (study, config, data, is_new); data is None for a continued study (`search` opens it)."""
    from cost_models import get_device
    from nas.data import cv_folds_for
    from nas.finalists import finalists_for
    from nas.study import STUDIES_DIR, open_for_search
    from search_spaces import get_space

    device = get_device(options.device)
    space = get_space(options.space)
    task = task_for(space.name)
    spec, data = task.prepare(options)
    config = RunConfig(
        space=space.name, space_version=space.version, device=device, budget=options.budget, data=spec,
        seed=options.seed, epochs=options.epochs, trial_time_limit_s=options.trial_time_limit,
        artifacts=options.artifacts or str(Path(STUDIES_DIR, f"{name}.artifacts").resolve()), sampler=options.sampler,
        objective=ObjectiveOptions(
            multi_fidelity=options.multi_fidelity, reject_before_training=options.reject_before_training,
            baselines=options.baselines, baseline_epochs=options.baseline_epochs if options.baselines else 0,
            distill=options.distill, teacher_epochs=options.teacher_epochs,
            # the teacher saw every training series, so folds of them cannot score a distilled recipe
            cv_folds=0 if options.distill else cv_folds_for(spec.get("n_val")) if options.cv_folds is None
            else options.cv_folds,
            polish=options.polish, formats=options.formats,
            finalists=finalists_for(spec.get("n_val")) if options.finalists is None else options.finalists))
    study, config, is_new = open_for_search(name, storage, config, task.directions)
    if not is_new:
        return study, config, None, False
    return study, task.on_created(study, config, options), data, True


@dataclass
class SearchOutcome:
    """What one invocation of `search` did."""

    finished: int = 0  # this invocation's trials that finished (complete or pruned): what it was asked for
    failed: int = 0  # this invocation's trials that failed
    fail_reasons: Counter = field(default_factory=Counter)  # their reasons, commonest first via most_common()
    requeued: list[int] = field(default_factory=list)  # interrupted trials whose parameters were tried again
    polished: list[int] = field(default_factory=list)  # front members trained again after the search
    finalists: list[int] = field(default_factory=list)  # cross-validated after the polish (nas.finalists)
    wall_s: float = 0.0
    rows: list[dict] = field(default_factory=list)  # every trial's rows, front marked and scored on test


def search(study, config: RunConfig, *, storage: str, n_trials: int | None, timeout: float | None = None,
           jobs: int = 1, data=None, takes_over: dict[str, int] | None = None, progress: Progress | None = None,
           every_trial: Callable[[], None] | None = None, finalists_timeout: float | None = None) -> SearchOutcome:
    """Run the study until this invocation has finished `n_trials` trials (failed ones are replaced, for up
    to ROUNDS rounds) or until `timeout` seconds; then polish the front, cross-validate the finalists
    (nas.finalists) and score them and the front on test. No finalist but the first starts after
    `finalists_timeout` seconds of cross-validating them (None: as long as the search and polish took in this
    invocation, at least 5 minutes; nas.finalists.deadline_for): the finalists at most about double the time
    before them, plus those still running at the deadline.

    Other processes on the same study count their own trials. The request is stored, so a resume after a
    crash or an interrupt finishes what was asked (`takes_over`: the requests of stopped invocations it
    finishes; see `owed`). `data`: the task's data if the caller has it open (else opened here). With
    `jobs` > 1, or more trials than one process should run, trials run in worker processes. `progress`
    prints a line per trial wherever it ran; `every_trial` is called in this process after each trial it
    ran, and every 30 s while workers run (the CLI refreshes the report with it). Raises KeyboardInterrupt
    (finished trials are stored; the running one is recorded as interrupted) and WorkerDied."""
    began = time.time()
    task = task_for(config.space)
    data = task.open(config) if data is None else data

    def on_trial(study, trial):
        if progress is not None:
            progress(study, trial)
        if every_trial is not None:
            every_trial()

    run_id = new_run_id()
    if progress is not None:
        progress.run_id = run_id
    if n_trials is not None:
        request(study, run_id, n_trials)
        settle(study, takes_over or {})
    orphaned = fail_orphaned(study)
    if orphaned:
        log.info("Trial(s) %s lost their worker process (killed?): failed, and queued again.",
                 ", ".join(map(str, orphaned)))
    outcome = SearchOutcome(requeued=requeue_interrupted(study))
    if outcome.requeued:
        log.info("Trying again the parameters of interrupted trial(s) %s.", ", ".join(map(str, outcome.requeued)))
    shared = not storage.startswith("sqlite:")
    task.seed(study, config, data, on_trial)
    for _ in range(ROUNDS if n_trials is not None else 1):
        remaining = None if n_trials is None else n_trials - finished_count(study, run_id)
        if remaining is not None and remaining <= 0:
            break
        if remaining is not None:  # seeded trials still queued run first, beside what was asked for
            remaining += _waiting_seeded(study)
        if jobs == 1 and remaining is not None and remaining <= RECYCLE_EVERY and timeout is None:
            outcome.wall_s += run(study, config, data, n_trials=remaining, timeout=None, on_trial=on_trial,
                                  shared=shared, run_id=run_id)
        else:  # worker processes, recycled every RECYCLE_EVERY trials so memory stays bounded
            outcome.wall_s += run_workers(study.study_name, storage, config, jobs=jobs, n_trials=remaining,
                                          timeout=timeout, progress=progress, while_waiting=every_trial,
                                          run_id=run_id)
        if timeout is not None:
            break
    polished = task.queue_polish(study, config)
    outcome.polished = list(polished)
    if polished:
        log.info(polish_message(polished))
        outcome.wall_s += _run_queued(study, config, data, storage, jobs, outcome.polished, on_trial, progress, run_id)
    started = time.perf_counter()
    outcome.finalists = task.cross_validate_finalists(study, config, data, jobs=jobs, storage=storage,
                                                      deadline=finalists.deadline_for(began, finalists_timeout))
    outcome.wall_s += time.perf_counter() - started
    mine = [t for t in study.get_trials(deepcopy=False) if schema.TrialRecord.read(t).run == run_id]
    outcome.finished = finished_count(study, run_id)
    failures = [schema.TrialRecord.read(t).fail_reason or "unknown" for t in mine if t.state.name == "FAIL"]
    outcome.failed, outcome.fail_reasons = len(failures), Counter(failures)
    outcome.rows = task.score_front(study, config, data, study_rows(study))
    return outcome


def _run_queued(study, config, data, storage, jobs, queued, on_trial, progress, run_id) -> float:
    """Run the polish trials queued for `queued` front members; returns wall seconds. Their parameters and
    recipes are fixed and every model is built after seeding (nas.train.seeded), so which process trains one
    does not change it: they train in worker processes on every core, whatever `jobs` sampled the search (these
    models train as fast on one TensorFlow thread as on two; docs/benchmarks.md, Workers). Another process
    searching the same study may take some of them (they are polished all the same); these workers take queued
    trials only (only_queued), so none samples a new candidate in their place. On SQLite,
    nas.study._lock_on_begin keeps two processes from taking the same queued trial."""
    from optuna.trial import TrialState

    wall = 0.0
    while left := sum(schema.TrialRecord.read(t).polish_of in queued
                      for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))):
        workers = min(max(jobs, usable_cores()), left)
        if workers == 1:
            # no sampler seed to set apart (`shared`): a queued trial's parameters are fixed, nothing is sampled
            wall += run(study, config, data, n_trials=None, timeout=None, on_trial=on_trial, run_id=run_id,
                        queued_only=True)
        else:
            wall += run_workers(study.study_name, storage, config, jobs=workers, n_trials=None, timeout=None,
                                progress=progress, run_id=run_id, queued_only=True)
    return wall
