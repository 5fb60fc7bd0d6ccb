"""Running a search on a study: the objective, the sampler, progress, and test scoring of the front."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cost_models import Budget, Device
from cost_models.device import device_from_dict
from nas.data import Dataset
from nas.objective import RECOVERABLE, make_objective
from nas.results import TEST_ACCURACY_KEY, study_rows
from nas.study import RunConfig, artifact_store

log = logging.getLogger(__name__)


def make_sampler(seed: int, n_startup_trials: int = 10):
    """TPE: it takes `set_constraint`, learns from infeasible (pruned) candidates as well as trained
    ones, and needs far fewer trials than NSGA-II's generations on budgets of tens of trials."""
    import optuna

    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials, multivariate=True,
                                      constant_liar=True)


def run(study, config: RunConfig, dataset: Dataset, *, n_trials: int | None, timeout: float | None,
        on_trial: Callable | None = None) -> float:
    """Optimise the study; returns wall seconds. Trials already in the study count toward nothing."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    device: Device = device_from_dict(config.device, "study configuration")
    budget = Budget(**config.budget)
    store = artifact_store(config)
    if config.space == "mlp":
        from nas import student

        task = student.task_from_config(config, store)
        if not any(t.user_attrs.get("kind") == "exact-reduction" and t.state.name == "COMPLETE"
                   for t in study.get_trials(deepcopy=False)):
            from nas.teacher import reduce_exactly

            student.seed_teacher_trials(study, task, reduce_exactly(task.teacher.chain, task.x_val), device,
                                        budget, config.seed, store, on_trial=on_trial)
        objective = student.make_objective(task=task, device=device, budget=budget, epochs=config.epochs,
                                           seed=config.seed, time_limit_s=config.trial_time_limit_s,
                                           artifact_store=store)
    else:
        objective = make_objective(space_name=config.space, dataset=dataset, device=device,
                                   budget=budget, epochs=config.epochs,
                                   seed=config.seed, time_limit_s=config.trial_time_limit_s,
                                   artifact_store=store)
    # a resumed study gets a sampler seeded by its trial count, so it does not replay old samples
    study.sampler = make_sampler(config.seed + len(study.trials))
    callbacks = [on_trial] if on_trial else []
    start = time.monotonic()
    study.optimize(objective, n_trials=n_trials, timeout=timeout, catch=RECOVERABLE,
                   callbacks=callbacks, gc_after_trial=True)
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
