"""Running a search on a study: the objective, the sampler, progress, and test scoring of the front."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable

from cost_models import Budget, Device
from cost_models.device import device_from_dict
from nas.data import Dataset
from nas.objective import RECOVERABLE, make_objective, quiet_tensorflow
from nas.process import raise_if_stop_requested, rss_mib, stop_on_sigterm
from nas.progress import POLISH, SEEDED_KINDS, Progress
from nas.results import TEST_ACCURACY_KEY, architecture_key, polished_architecture, study_rows
from nas.study import RunConfig, artifact_store
from nas.train import DEFAULT_EPOCHS

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


def seed_teachers(study, config: RunConfig, on_trial: Callable | None = None) -> None:
    """mlp space: the teacher and its exact reduction are the first candidates (once per study)."""
    if config.space != "mlp" or any(t.user_attrs.get("kind") == "exact-reduction" and t.state.name == "COMPLETE"
                                    for t in study.get_trials(deepcopy=False)):
        return
    from nas import student
    from nas.teacher import reduce_exactly

    store = artifact_store(config)
    task = student.task_from_config(config, store)
    student.seed_teacher_trials(study, task, reduce_exactly(task.teacher.chain, task.x_val),
                                device_from_dict(config.device, "study configuration"), Budget(**config.budget),
                                config.seed, store, on_trial=on_trial)


def objective_for(config: RunConfig, dataset: Dataset | None):
    device: Device = device_from_dict(config.device, "study configuration")
    budget = Budget(**config.budget)
    store = artifact_store(config)
    if config.space == "mlp":
        from nas import student

        return student.make_objective(task=student.task_from_config(config, store), device=device, budget=budget,
                                      epochs=config.epochs or DEFAULT_EPOCHS, seed=config.seed,
                                      time_limit_s=config.trial_time_limit_s, artifact_store=store)
    return make_objective(space_name=config.space, dataset=dataset, device=device, budget=budget,
                          epochs=config.epochs, seed=config.seed, time_limit_s=config.trial_time_limit_s,
                          artifact_store=store, **config.extra.get("objective", {}))


def guarded(objective, run_id: str | None = None):
    """Record which invocation and process ran the trial and its memory; an interrupted trial says so."""
    def wrapped(trial):
        trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
        if run_id:
            trial.set_user_attr(RUN_KEY, run_id)
        try:
            raise_if_stop_requested()
            return objective(trial)
        except KeyboardInterrupt:
            trial.set_user_attr("fail_reason", INTERRUPTED)
            raise
        finally:
            trial.set_user_attr("worker_rss_mib", rss_mib())

    return wrapped


INTERRUPTED = "interrupted (Ctrl-C or SIGTERM); its parameters are tried again on resume"
REQUEUED_KEY = "requeued_trials"
RUN_KEY = "run"  # trial attr: the `nas search` / `nas resume` invocation that ran it
REQUEST_PREFIX = "request:"  # study attr per invocation: how many finished trials it was asked for


def new_run_id() -> str:
    return uuid.uuid4().hex[:10]


def _counts(t) -> bool:
    """Trials that count toward a request: complete or pruned (rejected, screened), not failed, not the
    teacher trials the mlp space seeds, not the polish trials that follow a search."""
    return t.state.name in ("COMPLETE", "PRUNED") and t.user_attrs.get("kind") not in (*SEEDED_KINDS, POLISH)


def finished_count(study, run_id: str | None = None) -> int:
    """Finished trials of the study, or of one invocation: several processes or machines on one study
    each finish what they were asked for."""
    if run_id is None:
        return sum(1 for t in study.get_trials(deepcopy=False) if _counts(t))
    return _finished_by_run(study)[run_id]


def _finished_by_run(study) -> Counter:
    return Counter(t.user_attrs.get(RUN_KEY) for t in study.get_trials(deepcopy=False) if _counts(t))


def request(study, run_id: str, n_trials: int) -> None:
    """Store what an invocation was asked for (one attribute per invocation: no read-modify-write
    race between processes), so a resume after a crash knows what is owed."""
    study.set_user_attr(REQUEST_PREFIX + run_id, n_trials)


def owed(study) -> dict[str, int]:
    """Invocations that stopped (crash, kill, interrupt) short of their request: run id -> trials owed."""
    done = _finished_by_run(study)
    requests = {key.removeprefix(REQUEST_PREFIX): n for key, n in study.user_attrs.items()
                if key.startswith(REQUEST_PREFIX)}
    return {run_id: n - done[run_id] for run_id, n in requests.items() if n > done[run_id]}


def settle(study, debts: dict[str, int]) -> None:
    """A resume that took over `debts` (having stored its own request first): the old invocations'
    requests shrink to what they finished, so nothing is owed twice."""
    done = _finished_by_run(study)
    for run_id in debts:
        request(study, run_id, done[run_id])


def requeue_interrupted(study) -> list[int]:
    """Queue again the parameters of trials interrupted by Ctrl-C / SIGTERM (once each). Trials of a
    killed worker are failed and queued by Optuna's heartbeat check (RetryHeartbeatStaleTrialCallback)."""
    done = set(study.user_attrs.get(REQUEUED_KEY, []))
    again = [t for t in study.get_trials(deepcopy=False)
             if t.state.name == "FAIL" and t.user_attrs.get("fail_reason") == INTERRUPTED and t.number not in done]
    for t in again:
        carried = {k: t.user_attrs[k] for k in ("kind", "polish_of") if k in t.user_attrs}
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number, **carried}, skip_if_exists=False)
    if again:
        study.set_user_attr(REQUEUED_KEY, sorted(done | {t.number for t in again}))
    return [t.number for t in again]


def queue_polish(study, k: int) -> list[int]:
    """Queue the long recipe (nas.objective.recipe_for) for the k best-scoring members of the front whose
    architecture has not had it yet. Each becomes a trial of its own, so it joins the front only if its
    own int8 score earns it, and the shipped model is always the one whose score is reported. Returns
    the trial numbers polished."""
    if k <= 0:
        return []
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    done = {polished_architecture(t, trials) for t in trials.values()} - {None}
    front = [r for r in study_rows(study)
             if r["on_front"] and r["kind"] != POLISH and architecture_key(r["params"]) not in done]
    chosen = sorted(front, key=lambda r: (-r["score"], r["flash_bytes"]))[:k]
    for r in chosen:
        study.enqueue_trial(r["params"], user_attrs={"kind": POLISH, "polish_of": r["number"]}, skip_if_exists=False)
    return [r["number"] for r in chosen]


def sampler_seed(study, seed: int, worker: int, shared: bool = False) -> int:
    """Reproducible for a lone process; distinct for processes on a database server (`shared`: several
    machines may each run `nas search` on it) or joining a study others are running."""
    trials = study.get_trials(deepcopy=False)
    value = seed + len(trials) + 7919 * worker
    if shared or any(t.state.name == "RUNNING" for t in trials):
        value += zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode())
    return value % 2**32


def run(study, config: RunConfig, dataset: Dataset | None, *, n_trials: int | None, timeout: float | None,
        on_trial: Callable | None = None, worker: int = 0, shared: bool = False, run_id: str | None = None) -> float:
    """Optimise the study in this process; returns wall seconds."""
    import optuna

    # failures are reported by our progress line; Optuna's own warning would print a traceback
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    objective = guarded(objective_for(config, dataset), run_id)
    # a resumed study (or another worker) gets its own sampler seed, so it does not replay old samples
    study.sampler = make_sampler(config.sampler, sampler_seed(study, config.seed, worker, shared))
    callbacks = [*([on_trial] if on_trial else []), lambda study, trial: raise_if_stop_requested()]
    start = time.monotonic()
    study.optimize(objective, n_trials=n_trials, timeout=timeout, catch=RECOVERABLE,
                   callbacks=callbacks, gc_after_trial=True)
    return time.monotonic() - start


def _worker(name: str, storage_url: str, n_trials: int, deadline: float | None, threads: int, index: int,
            progress: Progress | None, run_id: str | None = None) -> int:
    """One worker process: TensorFlow limited to `threads`, the study reopened from storage."""
    stop_on_sigterm()
    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = str(threads)
    quiet_tensorflow()
    from nas import data
    from nas.study import load
    from nas.train import configure_threads

    configure_threads(threads)
    study, config = load(name, storage_url)
    dataset = None if config.space == "mlp" else data.load(config.data)
    timeout = None if deadline is None else deadline - time.time()
    if timeout is not None and timeout <= 0:
        return 0
    if progress is not None:
        progress.worker = f"w{index}"
    before = len(study.trials)
    run(study, config, dataset, n_trials=n_trials, timeout=timeout, on_trial=progress, worker=index + 1,
        run_id=run_id)
    return len(study.trials) - before


def run_workers(name: str, storage_url: str, config: RunConfig, *, jobs: int, n_trials: int | None,
                timeout: float | None, progress: Progress | None = None, recycle_every: int = RECYCLE_EVERY,
                while_waiting: Callable | None = None, run_id: str | None = None) -> float:
    """Optimise with `jobs` worker processes on one study (created beforehand by the caller). Each
    runs at most `recycle_every` trials and exits, so TensorFlow's growth per trial is bounded; the
    next chunk starts in a fresh process. Returns wall seconds."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, usable_cores() // jobs)
    deadline = None if timeout is None else time.time() + timeout
    remaining = n_trials
    start = time.monotonic()
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1)
    pending: set = set()
    chunk = 0
    try:
        while True:
            while (len(pending) < jobs and (remaining is None or remaining > 0)
                   and (deadline is None or time.time() < deadline)):
                # share what is left among the free workers; never more than recycle_every per process
                size = (recycle_every if remaining is None
                        else min(recycle_every, -(-remaining // (jobs - len(pending)))))
                pending.add(pool.submit(_worker, name, storage_url, size, deadline, threads, chunk, progress,
                                         run_id))
                chunk += 1
                if remaining is not None:
                    remaining -= size
            if not pending:
                break
            done, pending = wait(pending, timeout=30, return_when=FIRST_COMPLETED)
            raise_if_stop_requested()
            if while_waiting is not None:
                while_waiting()
            for future in done:
                future.result()  # a worker's unexpected error ends the run with its message
    except BrokenProcessPool:
        pool.shutdown(wait=False, cancel_futures=True)
        raise WorkerDied("a worker process died (killed, or out of memory); its trial is failed by the "
                         "heartbeat check and tried again on resume") from None
    except BaseException:  # Ctrl-C reaches the workers too; SIGTERM reached only us: pass it on
        for process in list(getattr(pool, "_processes", {}).values()):
            if process.is_alive():
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return time.monotonic() - start


def score_front_on_test(study, config: RunConfig, dataset: Dataset) -> list[dict]:
    """int8 *test* accuracy for the front's members (never used for any search decision)."""
    from nas.export import load_tflite
    from nas.quantize import Int8Model

    rows = study_rows(study)
    if config.space == "mlp":  # students are judged on the user's rows; there is no test split
        return rows
    scored = dict(study.user_attrs.get(TEST_ACCURACY_KEY, {}))
    for row in rows:
        if row["on_front"] and row["test_accuracy_int8"] is None:
            trial = study.trials[row["number"]]
            acc = Int8Model(load_tflite(study, config, trial)).accuracy(dataset.x_test, dataset.y_test)
            scored[str(row["number"])] = acc
            row["test_accuracy_int8"] = acc
    # finished trials are immutable in Optuna: the study keeps the scores, keyed by trial number
    study.set_user_attr(TEST_ACCURACY_KEY, scored)
    return rows
