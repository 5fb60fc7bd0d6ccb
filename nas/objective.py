"""The objective: build -> estimate -> record constraints -> (if infeasible, stop) -> train ->
convert to each format (int8 unless --formats says more) -> score each file in tflite-micro. Made in one
place so every search runs the same recipe."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from cost_models import DEVICES, Budget, Device, estimate, symbolic
from cost_models.keras_graph import graph_from_keras
from cost_models.tflite_reader import read_tflite
from nas import schema
from nas.baselines import Baseline
from nas.data import Dataset, extra_folds
from nas.formats import convert
from nas.quantize import ConversionError, Int8Model
from nas.results import architecture_key, earlier_polish
from nas.train import Screen, TrainingError, as_model_input, batch_size_for, epochs_for, patience_for, seeded, train
from search_spaces import get_space

log = logging.getLogger(__name__)

RECOVERABLE = (TrainingError, ConversionError)


def set_constraints(trial, violations: dict[str, float]) -> None:
    """Once per trial: Optuna keeps the first value of a constraint and ignores (with a warning) any
    later one, so a trained candidate gets the shipped model's figures, never the estimate's first."""
    for key, value in violations.items():
        trial.set_constraint(key, value)


def reject_if_over_budget(trial, cost, budget: Budget) -> None:
    """Over budget by the pre-training estimate: record it as the trial's constraints, never train it."""
    import optuna

    schema.write(trial, estimate=cost.to_dict())
    broken = cost.broken(budget)
    if broken:
        set_constraints(trial, cost.violations(budget))
        schema.write(trial, feasible=False, trained=False, broken=broken)
        raise optuna.TrialPruned(f"over budget before training: {', '.join(broken)}")


def estimate_formats(shape_only, device: Device, formats: tuple[str, ...], budget: Budget):
    """The pre-training estimate a candidate is judged by: that of the first of `formats` (fewest bytes per
    value first) the estimate says fits, else that of the first. So a candidate is rejected only when no
    format it would ship in fits."""
    costs = [estimate(graph_from_keras(shape_only, fmt), device) for fmt in formats]
    return next((c for c in costs if not c.broken(budget)), costs[0])


def ship_formats(model, formats: tuple[str, ...], dataset: Dataset, device: Device, budget: Budget,
                 seed: int) -> dict[str, dict]:
    """A trained classifier in each format: its .tflite and graph, exact costs, and its accuracy on the
    validation split as tflite-micro runs that file."""
    out = {}
    for fmt in formats:
        tflite = convert(model, fmt, as_model_input(dataset.x_train), seed)
        graph = read_tflite(tflite)
        cost = estimate(graph, device, flash_bytes=len(tflite))
        broken = cost.broken(budget)
        out[fmt] = {"tflite": tflite, "graph": graph, "cost": cost.to_dict(), "violations": cost.violations(budget),
                    "feasible": not broken, "broken": broken,
                    "val_accuracy": Int8Model(tflite).accuracy(dataset.x_val, dataset.y_val)}
    return out


def shipped_format(shipped: dict[str, dict]) -> str:
    """The format a trial ships (and is ranked by): the best-scoring one that fits, the fewer bytes on ties;
    the first format if none fits."""
    feasible = [f for f, d in shipped.items() if d["feasible"]] or list(shipped)[:1]
    return max(feasible, key=lambda f: (shipped[f]["score"], -shipped[f]["cost"]["flash_bytes"]))


SCREEN_DEFAULT_GAIN = 0.15  # assumed accuracy gain after the screening epoch until 5 trials measured it
SCREEN_MIN_GAIN = 0.02


def screening_epoch(epochs: int) -> int:
    return max(3, epochs // 4)


def searched_recipe(kind: str, schedule: str | None) -> bool:
    """Whether a trial of `kind` (schema.TrialRecord.kind) trained with `schedule` (TrialRecord.schedule) was
    trained with the search's own recipe: not a polish, not a published schedule."""
    return kind != schema.POLISH and not schedule


# Trainings of one sampled architecture with the search's recipe. TPE proposes a good point again and again: in a
# 40-minute OSULeaf search 21 of 54 full trainings were of architectures trained before (docs/benchmarks.md). A
# second seed says how noisy the first score was; further ones cost a new candidate's training each.
MAX_TRIES = 2


def earlier_tries(trials: list, trial) -> list[int]:
    """The other trials that trained, or are training, `trial`'s space architecture with the search's recipe
    (sampled or seeded in the space; not a polish, a baseline, a failed trial or a repeat). A trial counts once it
    has recorded its recipe, which the objective does before it counts; of two tries running at once only the
    lower-numbered one counts for the other, so the later one yields (two workers that started 0.25 s apart both
    trained a third try when each counted before the other had recorded its recipe)."""
    key = architecture_key(trial.params)
    tries = []
    for t in trials:
        if t.number == trial.number or t.state.name == "FAIL" or architecture_key(t.params) != key:
            continue
        if t.state.name == "RUNNING" and t.number > trial.number:
            continue
        r = schema.TrialRecord.read(t)
        if r.baseline is None and r.recipe is not None and searched_recipe(r.kind, r.schedule) and not r.repeat_of:
            tries.append(t.number)
    return tries


def make_screen(trial, epochs: int, flash_estimate: float) -> Screen | None:
    """Successive halving against the front: after a quarter of the epochs, stop a candidate whose
    validation accuracy plus the gain that later epochs have brought (90th percentile over this
    study's fully trained candidates) cannot reach the accuracy of a trained model that is no larger.
    Only models trained with the search's own recipe are rivals: a polish or a baseline trained with its
    published recipe (2000 epochs) reached its accuracy by a training the candidate will not get, and as a
    rival it screened out nearly every larger candidate (docs/benchmarks.md). A screened-out candidate gets
    no score, so every point on the front is a fully trained model."""
    import numpy as np
    import optuna

    rung = screening_epoch(epochs)
    if rung >= epochs:
        return None

    def keep(accuracy: float) -> bool:
        done = [(t, r) for t in trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                for r in [schema.TrialRecord.read(t)] if r.trained and r.feasible]
        gains = [r.val_accuracy_float - r.screen_accuracy for _, r in done if r.screen_accuracy is not None]
        gain = float(np.quantile(gains, 0.9)) if len(gains) >= 5 else SCREEN_DEFAULT_GAIN
        gain = max(gain, SCREEN_MIN_GAIN)
        rivals = [t for t, r in done if t.values[1] <= flash_estimate and searched_recipe(r.kind, r.schedule)]
        best = max(rivals, key=lambda t: t.values[0], default=None)
        passed = best is None or accuracy + gain >= best.values[0]
        schema.write(trial, screen={"epoch": rung, "val_accuracy_float": round(accuracy, 4),
                                       "assumed_gain": round(gain, 4), "kept": passed,
                                       "rival": None if best is None else best.number,
                                       "rival_accuracy": None if best is None else best.values[0]})
        return passed

    return Screen(rung, keep)


POLISH_FACTOR = 4  # the long recipe: this many times the epochs and the early-stopping patience...
POLISH_AUGMENT = "warp"  # ...on augmented series (nas.train.augmented); each member is also polished on...
JITTER_POLISH = {"augment": "jitter"}  # ...series jittered only: which suits a dataset differs by 0.1-0.3


def polish_recipe(n_train: int, epochs: int, augment: str = POLISH_AUGMENT) -> dict:
    """The long recipe for a training set of `n_train` series that the search trains for `epochs`: what a
    polish trial gets, and what the benchmarks call "polish"; `augment`, nas.train.augmented's kind."""
    patience = patience_for(n_train, batch_size_for(n_train))
    return {"epochs": epochs * POLISH_FACTOR, "patience": patience * POLISH_FACTOR, "augment": augment}


SCHEDULE_POLISH_EPOCHS = 500  # FCN's schedule as the second polish of an FCN-like front member (measured at 500)


def schedule_polish(params: dict, space, published_epochs: int = 0) -> dict | None:
    """A second polish recipe for a front member laid out like FCN (`space.like_fcn`, a search_spaces.Space;
    the spectral space has one): FCN's own schedule with its weights averaged (fcn_schedule), which lifted
    such nets 0.04-0.08 over the polish recipe on OSULeaf and lowered separable and pooled ones
    (docs/benchmarks.md, measured before the averaging); None for any other architecture.
    Never longer than FCN's published recipe as the study trains its baselines (`published_epochs`,
    `--baseline-epochs`; 0: not shortened). Both polishes are trials of their own; the finalists'
    cross-validation chooses between them."""
    if space.like_fcn is None or not space.like_fcn(params):
        return None
    return fcn_schedule(published_epochs)


def fcn_schedule(published_epochs: int = 0) -> dict:
    """FCN's own schedule with the weights of its second half averaged (nas.train's "swa"; the published one
    keeps the weights of the lowest training loss) for SCHEDULE_POLISH_EPOCHS, never longer than FCN's published
    recipe as the study trains its baselines (`published_epochs`; 0: not shortened): the recipe of a second
    polish (schedule_polish) and of the FCN layouts seeded in the space (nas.tasks.fcn_in_space,
    pooled_fcn_in_space). The baselines' own recipe stays the published one: they are the engineer's models."""
    epochs = min(SCHEDULE_POLISH_EPOCHS, published_epochs) if published_epochs else SCHEDULE_POLISH_EPOCHS
    return {"epochs": epochs, "patience": None, "augment": False, "schedule": "swa"}


def recipe_for(trial, dataset: Dataset, epochs: int) -> dict:
    """How a trial's model is trained: the search's recipe, for a polish trial the long one (on the augmentation
    it was queued with, POLISH_AUGMENT when none), and for a
    baseline seeded with its published recipe (nas.baselines.published_recipe), a polish queued with a
    schedule (schedule_polish) or an FCN layout seeded with one (fcn_schedule) that one, as it was queued. A
    recipe with a "schedule" names nas.train's schedule; without one it is "early_stop"."""
    n_train = len(dataset.y_train)
    record = schema.TrialRecord.read(trial)
    if (record.kind in (schema.BASELINE, schema.POLISH, schema.FCN_IN_SPACE) and record.recipe
            and record.recipe.get("schedule")):
        return {**record.recipe, **({"polish_of": record.polish_of} if record.kind == schema.POLISH else {})}
    if record.kind != schema.POLISH:
        return {"epochs": epochs, "patience": patience_for(n_train, batch_size_for(n_train)), "augment": False}
    augment = (record.recipe or {}).get("augment", POLISH_AUGMENT)  # as queued (JITTER_POLISH) or as it ran
    return {**polish_recipe(n_train, epochs, augment), "polish_of": record.polish_of}


def cross_validated_accuracy(build, dataset: Dataset, k: int, fold0_correct: dict[str, int], *, epochs: int,
                             seed: int, fold_seed: int, time_limit_s: float, patience: int | None = None,
                             augment: bool = False, schedule: str = "early_stop",
                             best_epoch: int | None = None) -> dict[str, tuple[float, list[float]]]:
    """Per format (the keys of `fold0_correct`), pooled accuracy over the folds of training + validation data
    that no training decision read: fold 0 is the model that ships (trained on the training split, scored on
    the validation split); folds 1..k-1 retrain the same architecture and recipe on the rest of the data, once,
    and score each format's file of it on their own held-out fold in TFLM. The folds depend on the study's seed
    only, so every candidate is scored on the same ones. Returns {format: (pooled accuracy, accuracy per fold)},
    fold 0 first.

    Early stopping reads the data it scores: it keeps the epoch of the lowest loss on the validation split, and
    on OSULeaf's 41 validation series that made the search's models score 0.10 higher there than on test while
    models of the blind schedules scored alike on both (docs/benchmarks.md, "Early stopping flatters"). So for
    the "early_stop" schedule the folds 1..k-1 train with the "fixed" schedule for the epochs early stopping
    kept in the shipped model (`best_epoch`; `epochs` when None) and never see their held-out fold, and fold 0,
    which chose those weights, is left out of the pooled accuracy. Scores of both kinds of recipe then rest on
    data held out from training alike, and can rank one against the other."""
    import numpy as np

    read_val = schedule == "early_stop"
    fold_schedule, fold_epochs = ("fixed", best_epoch or epochs) if read_val else (schedule, epochs)
    x_all = np.concatenate([dataset.x_train, dataset.x_val])
    y_all = np.concatenate([dataset.y_train, dataset.y_val])
    correct = {fmt: 0 if read_val else right for fmt, right in fold0_correct.items()}
    total = 0 if read_val else len(dataset.y_val)
    per_fold = {fmt: [right / len(dataset.y_val)] for fmt, right in fold0_correct.items()}
    for j, held in enumerate(extra_folds(dataset.y_train, k, fold_seed), start=1):
        keep = np.ones(len(y_all), bool)
        keep[held] = False
        model = seeded(build, seed + 1000 * j)
        train(model, x_all[keep], y_all[keep], None, None, epochs=fold_epochs, seed=seed + 1000 * j,
              time_limit_s=time_limit_s, patience=patience, augment=augment, schedule=fold_schedule)
        for fmt in fold0_correct:
            shipped = Int8Model(convert(model, fmt, as_model_input(x_all[keep]), seed))
            right = int(round(shipped.accuracy(x_all[held], y_all[held]) * len(held)))
            per_fold[fmt].append(right / len(held))
            correct[fmt] += right
        total += len(held)
    return {fmt: (correct[fmt] / total, per_fold[fmt]) for fmt in fold0_correct}


def latency_by_device(graph) -> dict[str, float]:
    from cost_models.latency import latency_ms

    return {name: round(latency_ms(graph, dev), 4) for name, dev in DEVICES.items()}


def make_objective(*, space_name: str, dataset: Dataset, device: Device, budget: Budget,
                   space_version: int | None = None, epochs: int | None, seed: int, time_limit_s: float,
                   artifact_store=None,
                   multi_fidelity: bool = True, reject_before_training: bool = True, cv_folds: int = 0,
                   targets=None, formats: tuple[str, ...] = ("int8",)):
    """`formats`: what every trained model is converted to and scored in (nas.formats); the trial ships, and
    is ranked by, the best of them that fits. `epochs=None` lets `nas.train.epochs_for` choose from the
    training set's size. `targets`: the training split's distillation targets (nas.class_teacher.load_targets),
    which polish trials train on instead of the labels, with the validation labels one-hot so early stopping
    reads the same loss. `cv_folds=k` scores a candidate by its k-fold cross-validated accuracy in each format
    (see cross_validated_accuracy).
    `space_version`: the study's (None: the space as this nas builds it now).
    `multi_fidelity=False` trains every feasible candidate fully; `reject_before_training=False`
    trains over-budget candidates too (only for the benchmark that measures what rejection saves)."""
    import optuna

    space = get_space(space_name, space_version)
    n_epochs = epochs or epochs_for(len(dataset.y_train))
    val_onehot = None
    if targets is not None:
        import numpy as np

        val_onehot = np.eye(len(dataset.classes), dtype=np.float32)[dataset.y_val]

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        import keras
        from optuna.artifacts import upload_artifact

        record = schema.TrialRecord.read(trial)
        if record.kind == schema.POLISH:
            first = earlier_polish(trial.study.get_trials(deepcopy=False), trial.number)
            if first is not None:  # queued twice by processes that finished together: train it once
                schema.write(trial, duplicate_of=first)
                raise optuna.TrialPruned(f"trial {first} polishes this architecture already")
        if record.baseline is None:  # the space's architecture
            def build(keras_module=None):
                return space.build(trial, input_shape=dataset.input_shape, n_outputs=len(dataset.classes),
                                   keras=keras_module)

            # Estimate on the shape-only build (~2 ms, no TensorFlow); build the real model only to train it.
            shape_only = build(symbolic.keras)
            schema.write(trial, architecture=space.describe(trial.params))
        else:  # a hand-made baseline (nas.baselines), or its polish
            baseline = Baseline.from_dict(record.baseline)

            def build(keras_module=None):
                return baseline.build(dataset.input_shape, len(dataset.classes), keras=keras_module)

            shape_only = build(symbolic.keras)
            published = record.recipe and record.recipe.get("schedule")
            schema.write(trial, architecture=baseline.describe() + (", its own recipe" if published else ""))
        predicted = estimate_formats(shape_only, device, formats, budget)
        if reject_before_training:
            reject_if_over_budget(trial, predicted, budget)
        else:  # benchmark arm: train it anyway, but keep what the estimate said
            schema.write(trial, estimate=predicted.to_dict(),
                         broken_by_estimate=predicted.broken(budget))
        recipe = recipe_for(trial, dataset, n_epochs)
        # distillation helped the long recipe only (docs/benchmarks.md): the search's own candidates learn labels
        distil = targets is not None and "polish_of" in recipe
        if distil:
            recipe = {**recipe, "distilled": True}
        schema.write(trial, recipe=recipe)  # first: a try that another worker counts (earlier_tries)
        if schema.sampled(trial):
            tries = earlier_tries(trial.study.get_trials(deepcopy=False), trial)
            if len(tries) >= MAX_TRIES:  # pruned: TPE counts it among the worse points and moves on
                set_constraints(trial, predicted.violations(budget))
                schema.write(trial, repeat_of=tries, trained=False)
                raise optuna.TrialPruned(f"trials {', '.join(map(str, tries))} trained this architecture already")

        keras.backend.clear_session()
        model = seeded(build, seed + trial.number)
        # a polish trial is a front member already; a baseline is the reference, trained whatever it scores
        screen = multi_fidelity and "polish_of" not in recipe and record.kind not in schema.SEEDED_KINDS

        try:
            result = train(model, dataset.x_train, targets if distil else dataset.y_train, dataset.x_val,
                           val_onehot if distil else dataset.y_val,
                           loss="categorical_crossentropy" if distil else "sparse_categorical_crossentropy",
                           epochs=recipe["epochs"], seed=seed + trial.number, time_limit_s=time_limit_s,
                           patience=recipe["patience"], augment=recipe["augment"],
                           schedule=recipe.get("schedule", "early_stop"),
                           screen=make_screen(trial, recipe["epochs"], predicted.flash_bytes) if screen else None)
            if result.screened_out:
                set_constraints(trial, predicted.violations(budget))  # not trained fully: the estimate stands
                schema.write(trial, trained=False, screened_out=True, epochs_run=result.epochs_run)
                raise optuna.TrialPruned(f"screened out after {result.epochs_run} epochs")
            shipped = ship_formats(model, formats, dataset, device, budget, seed)
        except optuna.TrialPruned:
            raise
        except Exception as exc:  # TensorFlow raises many types; one bad candidate must not end a search
            known = isinstance(exc, RECOVERABLE)
            text = str(exc).strip()
            reason = text if known else f"{type(exc).__name__}: {text.splitlines()[-1][:300] if text else ''}"
            schema.write(trial, fail_reason=reason, trained=False)
            if known:
                raise
            raise TrainingError(reason) from exc
        schema.write(trial, trained=True, epochs_run=result.epochs_run, epochs_planned=recipe["epochs"],
                     best_epoch=result.best_epoch, train_seconds=round(result.seconds, 2),
                     screen_accuracy=result.screen_accuracy)
        float_acc = float((model.predict(as_model_input(dataset.x_val), verbose=0).argmax(1)
                           == dataset.y_val).mean())
        schema.write(trial, val_accuracy_float=float_acc)  # for the quantization gap only

        for d in shipped.values():
            d["score"] = d["val_accuracy"]
        fits = {f: int(round(d["val_accuracy"] * len(dataset.y_val))) for f, d in shipped.items() if d["feasible"]}
        if cv_folds and fits:  # the formats that could ship
            try:
                pooled = cross_validated_accuracy(build, dataset, cv_folds, fits, epochs=recipe["epochs"],
                                                  seed=seed + trial.number, fold_seed=seed, time_limit_s=time_limit_s,
                                                  patience=recipe["patience"], augment=recipe["augment"],
                                                  schedule=recipe.get("schedule", "early_stop"),
                                                  best_epoch=result.best_epoch)
            except RECOVERABLE as exc:
                schema.write(trial, fail_reason=f"cross-validation: {exc}")
                raise
            for f, (score, per_fold) in pooled.items():
                shipped[f].update(score=score, cv_accuracy=score, cv_fold_accuracy=per_fold)
        fmt = shipped_format(shipped)
        chosen = shipped[fmt]
        set_constraints(trial, chosen["violations"])  # the shipped model's figures, not the estimate
        int8 = shipped.get("int8", {})
        schema.write(trial, cost=chosen["cost"], latency_ms_by_device=latency_by_device(chosen["graph"]),
                     feasible=chosen["feasible"], broken=chosen["broken"],
                     val_accuracy_int8=int8.get("val_accuracy"), cv_accuracy_int8=int8.get("cv_accuracy"),
                     cv_fold_accuracy_int8=int8.get("cv_fold_accuracy"))
        if formats != ("int8",):  # a study of int8 alone records what studies before formats did
            schema.write(trial, shipped_format=fmt, formats={
                f: {k: v for k, v in d.items() if k not in ("tflite", "graph")} for f, d in shipped.items()})

        if artifact_store is not None:
            with tempfile.TemporaryDirectory() as tmp:
                paths = {"keras": Path(tmp) / "model.keras"}
                model.save(paths["keras"])
                for f, d in shipped.items():
                    paths["tflite" if f == fmt else f"tflite_{f}"] = Path(tmp) / f"model_{f}.tflite"
                    Path(tmp, f"model_{f}.tflite").write_bytes(d["tflite"])
                ids = {kind: upload_artifact(artifact_store=artifact_store, file_path=str(path), study_or_trial=trial)
                       for kind, path in paths.items()}
            if formats != ("int8",):
                ids[f"tflite_{fmt}"] = ids["tflite"]
            schema.write(trial, artifacts=ids)
        log.debug("trial %d: %s score %.3f, flash %d B", trial.number, fmt, chosen["score"], len(chosen["tflite"]))
        return chosen["score"], float(len(chosen["tflite"]))

    return objective

