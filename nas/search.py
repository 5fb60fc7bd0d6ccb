"""Running a search on a study: the objective, the sampler, progress, and test scoring of the front."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from cost_models import Budget, Device
from cost_models.device import device_from_dict
from nas.data import Dataset
from nas.objective import RECOVERABLE, make_objective, quiet_tensorflow
from nas.progress import Progress
from nas.results import TEST_ACCURACY_KEY, study_rows
from nas.study import RunConfig, artifact_store

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
                                      epochs=config.epochs, seed=config.seed,
                                      time_limit_s=config.trial_time_limit_s, artifact_store=store)
    return make_objective(space_name=config.space, dataset=dataset, device=device, budget=budget,
                          epochs=config.epochs, seed=config.seed, time_limit_s=config.trial_time_limit_s,
                          artifact_store=store, **config.extra.get("objective", {}))


def run(study, config: RunConfig, dataset: Dataset | None, *, n_trials: int | None, timeout: float | None,
        on_trial: Callable | None = None, worker: int = 0) -> float:
    """Optimise the study in this process; returns wall seconds."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if worker == 0:
        seed_teachers(study, config, on_trial)
    objective = objective_for(config, dataset)
    # a resumed study (or another worker) gets its own sampler seed, so it does not replay old samples
    study.sampler = make_sampler(config.sampler, config.seed + len(study.trials) + 7919 * worker)
    callbacks = [on_trial] if on_trial else []
    start = time.monotonic()
    study.optimize(objective, n_trials=n_trials, timeout=timeout, catch=RECOVERABLE,
                   callbacks=callbacks, gc_after_trial=True)
    return time.monotonic() - start


def _worker(name: str, storage_url: str, n_trials: int, deadline: float | None, threads: int, index: int,
            progress: Progress | None) -> int:
    """One worker process: TensorFlow limited to `threads`, the study reopened from storage."""
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
    run(study, config, dataset, n_trials=n_trials, timeout=timeout, on_trial=progress, worker=index + 1)
    return len(study.trials) - before


def run_workers(name: str, storage_url: str, config: RunConfig, *, jobs: int, n_trials: int | None,
                timeout: float | None, progress: Progress | None = None, recycle_every: int = RECYCLE_EVERY) -> float:
    """Optimise with `jobs` worker processes on one study (created beforehand by the caller). Each
    runs at most `recycle_every` trials and exits, so TensorFlow's growth per trial is bounded; the
    next chunk starts in a fresh process. Returns wall seconds."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

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
                size = recycle_every if remaining is None else min(recycle_every, remaining)
                pending.add(pool.submit(_worker, name, storage_url, size, deadline, threads, chunk, progress))
                chunk += 1
                if remaining is not None:
                    remaining -= size
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # a worker's unexpected error ends the run with its message
    except BaseException:
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
