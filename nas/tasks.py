"""What a search space's kind of search does beyond the shared loop: one task object per kind.

A space names its task (`search_spaces.Space.task`); everything that differs between searching
classifiers on labelled series and distilling a teacher into students lives here, behind the same
methods: which options it takes, how it loads its data, its objective, what seeds a study, whether the
front is polished, how the front is scored on test, and the table a user sees.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from nas.config import Distillation, RunConfig
from nas.results import precision_line, recommended


class Task:
    """The base carries the behaviour most tasks share; a task overrides what it does differently."""

    name = ""
    directions: tuple[str, ...] = ("maximize", "minimize")
    front_words = ""  # what the front's score is, in the line above the front table
    input_layout = ""  # for the model card
    default_formats: tuple[str, ...] = ("int8",)  # what a trained model ships as when --formats is not given

    def formats(self, config: RunConfig) -> tuple[str, ...]:
        """The formats every trained model of the study is converted to and scored in (nas.formats)."""
        return config.objective.formats or self.default_formats

    def prepare(self, options) -> tuple[dict, Any]:
        """From a new search's options: (the data description the study stores, the loaded data)."""
        raise NotImplementedError

    def on_created(self, study, config: RunConfig, options) -> RunConfig:
        """A new study was just created with `config`; return the configuration to use."""
        return config

    def open(self, config: RunConfig) -> Any:
        """The data of a stored study, for its objective (each worker process opens its own)."""
        raise NotImplementedError

    def objective(self, config: RunConfig, data, artifact_store, study=None):
        raise NotImplementedError

    def seed(self, study, config: RunConfig, data, on_trial=None) -> None:
        """Trials that start a study before the sampler's own (once per study)."""

    def queue_polish(self, study, config: RunConfig) -> dict[int, list[str | None]]:
        """Front members queued to be trained again after the search: their trial numbers, each with the
        variants queued for it (nas.search.queue_polish)."""
        return {}

    def cross_validate_finalists(self, study, config: RunConfig, data, *, jobs: int = 1,
                                 storage: str | None = None, deadline: float | None = None) -> list[int]:
        """After the polish: the finalists scored again on more folds (nas.finalists), in `jobs` worker
        processes on the study at `storage` when there are several, none started after `deadline` (time.time())
        but the first; their trial numbers."""
        return []

    def score_front(self, study, config: RunConfig, data, rows: list[dict]) -> list[dict]:
        """Rows with held-out scores filled in for the front, where the task has a test split."""
        return rows

    def front_table(self, rows: list[dict], data_spec: dict) -> str:
        raise NotImplementedError

    def score_label(self, config: RunConfig) -> str:
        raise NotImplementedError

    def example(self, config: RunConfig) -> tuple[Any, str] | None:
        """One input as the model takes it, and words saying what it is (for the exported sketch); None
        when the study's data cannot be opened here."""
        return None

    def verify(self, study, config: RunConfig, trial, rtol: float | None, atol: float | None) -> dict:
        raise ValueError(f"study {study.study_name!r} searched the {config.space} space; verify checks "
                         "students against their teacher")


def finalists_lines(rows: list[dict]) -> list[str]:
    """The cross-validated finalists (nas.finalists), best first, in one line each; none in a study without."""
    finalists = sorted((r for r in rows if r["finalist_accuracy"] is not None),
                       key=lambda r: (-r["finalist_accuracy"], r["flash_bytes"]))
    if not finalists:
        return []
    lines = ["Finalists, trained again on more folds of the training and validation series (pooled "
             "cross-validated accuracy; the first is recommended):"]
    for r in finalists:
        test = f", test {r['test_accuracy']:.3f}" if r["test_accuracy"] is not None else ""
        lines.append(f"  #{r['number']}: {r['finalist_accuracy']:.3f} (validation split {r['val_accuracy']:.3f}"
                     f"{test}), {r['flash_bytes'] / 1024:.1f} KB, {r['architecture']}")
    return lines


def _no_front() -> str:
    return "No trained model within the budget yet."


def fcn_in_space(config: RunConfig, found: list, input_shape: tuple[int, int], n_classes: int) -> list[dict]:
    """The FCN baselines among `found` (nas.baselines) as the study's space's parameters (its `fcn_params`),
    once each. As baselines they are outside the space, so the sampler learns nothing from them; as these
    seeds, trained with the search's recipe, its first good points are the engineer's layout and its
    neighbours get sampled. The space's layout of an FCN is not the baseline's (its widths and kernels, a hidden
    dense layer), and a baseline that just fits may not: then FCN's narrower widths 1/d (nas.baselines.fit's), at
    the same strides, until it fits by the cost models (OSULeaf at 10 ms: FCN 1/8 strides 8,2,1 at 9.74 ms, its
    layout in the space 10.30 ms). None for a space (or a version of one) that cannot lay a net out as FCN."""
    from nas.baselines import Baseline
    from search_spaces import get_space

    space = get_space(config.space, config.space_version)
    if space.fcn_params is None:
        return []
    seeds = []
    for b in found:
        if b.name == "fcn":
            fit = _widest_that_fits(space, config, input_shape, n_classes, b.divisor,
                                    lambda d, b=b: space.fcn_params(Baseline("fcn", d, b.strides).widths(), b.strides))
            if fit is not None and fit[0] not in seeds:
                seeds.append(fit[0])
    return seeds


def _widest_that_fits(space, config: RunConfig, input_shape: tuple[int, int], n_classes: int, divisor: int,
                      layout) -> tuple[dict, int] | None:
    """The first of `layout(d)` (the space's parameters at FCN's widths 1/d, or None where the space has none)
    for d from `divisor` narrower and narrower (nas.baselines.UNSTRIDED_DIVISORS) whose net fits the study's
    budget on its device by the cost models, with its multiply-accumulates; None when none does."""
    from optuna.trial import FixedTrial

    from cost_models import estimate, symbolic
    from cost_models.keras_graph import graph_from_keras
    from nas.baselines import UNSTRIDED_DIVISORS

    for d in (d for d in UNSTRIDED_DIVISORS if d >= divisor):
        params = layout(d)
        if params is None:
            return None
        model = space.build(FixedTrial(params), input_shape=input_shape, n_outputs=n_classes, keras=symbolic.keras)
        cost = estimate(graph_from_keras(model), config.device)
        if not cost.broken(config.budget):
            return params, cost.macs
    return None


POOLED_FCN_POOLS = (2, 4)  # the first block's max-pooling a pooled FCN layout is tried with


def pooled_fcn_in_space(config: RunConfig, found: list, input_shape: tuple[int, int], n_classes: int) -> list[dict]:
    """For each strided FCN baseline among `found`, FCN's layout with the reduction done the other way: its
    first convolution at full resolution and FCN's narrowest width (1/32: on one input channel its cost grows
    with the series' length times its width), then max-pooled by one of POOLED_FCN_POOLS, the other two
    unstrided at FCN's widths 1/d for the d from the baseline's divisor to 1/32, the fitting one with the most
    multiply-accumulates by the cost models (as nas.baselines.fit chooses). On OSULeaf at 10 ms that is
    conv4k7/p4 > conv12k5 > conv8k3, which cross-validated 0.885 with FCN's schedule where the strided FCN 1/8
    (strides 8,2,1) reached 0.790, and FCN's layout pooled at FCN's own widths (4-8-4) 0.780-0.795 (5 folds of
    training + validation series; docs/benchmarks.md). [] for a space that cannot lay FCN out."""
    from nas.baselines import DIVISORS, Baseline
    from search_spaces import get_space

    space = get_space(config.space, config.space_version)
    if space.fcn_params is None:
        return []
    first = Baseline("fcn", max(DIVISORS), (1, 1, 1)).widths()[0]

    def pooled(pool):
        def layout(d):
            _, second, third = Baseline("fcn", d, (1, 1, 1)).widths()
            return space.fcn_params((first, second, third), (1, 1, 1), (pool, 1, 1))
        return layout

    seeds = []
    for b in found:
        if b.name != "fcn" or set(b.strides) == {1}:
            continue
        fits = [fit for pool in POOLED_FCN_POOLS
                if (fit := _widest_that_fits(space, config, input_shape, n_classes, b.divisor, pooled(pool)))]
        if fits:
            params, _ = max(fits, key=lambda fit: fit[1])  # the most multiply-accumulates; the first on ties
            if params not in seeds:
                seeds.append(params)
    return seeds


class ClassificationTask(Task):
    """Classifiers of labelled series, scored as int8 in TFLM; the front is polished and scored on test."""

    name = "classification"
    front_words = "accuracy of each deployed file, as tflite-micro runs it"
    input_layout = "(1, 1, length, channels)"

    def prepare(self, options):
        from nas import data

        if getattr(options, "teacher", None):
            raise ValueError("--teacher is for the mlp space: nas search --space mlp --teacher T --data ROWS")
        # the built-in light curves are generated normalized: --normalize is for a file's series
        dataset = data.open_data(options.data, seed=options.seed, label_column=options.label_column,
                                 normalize=options.normalize)
        return dataset.describe(), dataset

    def open(self, config):
        from nas import data

        return data.load(config.data)

    def objective(self, config, data, artifact_store, study=None):
        from nas.objective import make_objective

        o = config.objective
        targets = None
        if o.distill:  # seed() trained the teacher before any worker starts
            from nas.class_teacher import load_targets
            from nas.schema import StudyRecord

            targets = load_targets(StudyRecord.read(study), config, data)
        return make_objective(space_name=config.space, space_version=config.space_version, dataset=data,
                              device=config.device, budget=config.budget,
                              epochs=config.epochs, seed=config.seed, time_limit_s=config.trial_time_limit_s,
                              artifact_store=artifact_store, multi_fidelity=o.multi_fidelity,
                              reject_before_training=o.reject_before_training, cv_folds=o.cv_folds,
                              targets=targets, formats=self.formats(config))

    def seed(self, study, config, data, on_trial=None):
        """With `baselines`: the published architectures shrunk to fit (nas.baselines), queued as the first
        candidates (once per study), so the search starts where an engineer would: each trained with the
        search's recipe, then those with a published recipe with that one too (`baseline_epochs` epochs); then
        FCN's layouts as the space's parameters (fcn_in_space), and FCN's layout pooled where the baseline is
        strided (pooled_fcn_in_space), each trained both with the search's recipe and with FCN's schedule with
        its weights averaged (nas.objective.fcn_schedule): the engineer's layouts trained as well as we can."""
        from nas import schema
        from nas.baselines import fitted, published_recipe
        from nas.objective import fcn_schedule

        if config.objective.distill:
            from nas.class_teacher import ensure_teacher

            ensure_teacher(study, config, data)
        if not config.objective.baselines or any(schema.TrialRecord.read(t).kind == schema.BASELINE
                                                 for t in study.get_trials(deepcopy=False)):
            return
        found = fitted(data.input_shape, len(data.classes), config.device, config.budget)
        for baseline in found:
            schema.enqueue(study, {}, kind=schema.BASELINE, baseline=baseline.to_dict())
        for baseline in found:  # then each again with its own recipe, where it has one: an engineer tries both
            recipe = published_recipe(baseline, config.objective.baseline_epochs)
            if recipe is not None:
                schema.enqueue(study, {}, kind=schema.BASELINE, baseline=baseline.to_dict(), recipe=recipe)
        in_space = fcn_in_space(config, found, data.input_shape, len(data.classes))
        pooled = pooled_fcn_in_space(config, found, data.input_shape, len(data.classes))
        for params in in_space + pooled:  # FCN's layouts as the space's own, for the sampler, then pooled ones
            schema.enqueue(study, params, kind=schema.FCN_IN_SPACE)
        for params in pooled + in_space:  # and each with FCN's schedule, weights averaged
            schema.enqueue(study, params, kind=schema.FCN_IN_SPACE,
                           recipe=fcn_schedule(config.objective.baseline_epochs))

    def queue_polish(self, study, config):
        """The front's polish, on time-warped and on jittered series; an FCN-like member also gets FCN's schedule
        when the finalists are cross-validated, which then choose between its early-stopped polish and that one
        (one split cannot)."""
        from nas.objective import schedule_polish
        from nas.search import queue_polish
        from search_spaces import get_space

        space = get_space(config.space, config.space_version)
        second = (partial(schedule_polish, space=space, published_epochs=config.objective.baseline_epochs)
                  if config.objective.finalists > 0 and space.like_fcn
                  else None)
        return queue_polish(study, config.objective.polish, second)

    def cross_validate_finalists(self, study, config, data, *, jobs=1, storage=None, deadline=None):
        from nas.data import CV_FOLDS
        from nas.finalists import cross_validate

        return cross_validate(study, config, data, config.objective.finalists, CV_FOLDS, jobs=jobs, storage=storage,
                              deadline=deadline)

    def score_front(self, study, config, data, rows):
        """*Test* accuracy for the front's members and the finalists (never used for any search decision)."""
        from nas import schema
        from nas.export import load_tflite
        from nas.formats import score_key
        from nas.quantize import Int8Model

        scored = dict(schema.StudyRecord.read(study).test_scores)
        for row in rows:
            if (row["on_front"] or row["finalist_accuracy"] is not None) and row["test_accuracy"] is None:
                trial = study.trials[row["number"]]
                tflite = load_tflite(study, config, trial, row["format"])
                acc = Int8Model(tflite).accuracy(data.x_test, data.y_test)
                scored[score_key(row["number"], row["format"])] = acc
                row["test_accuracy"] = acc
                if row["format"] == "int8":
                    row["test_accuracy_int8"] = acc
        schema.write_test_scores(study, scored)
        return rows

    def example(self, config):
        from nas import data

        try:
            dataset = data.load(config.data)
        except (OSError, ValueError):
            return None
        label = dataset.classes[int(dataset.y_val[0])]
        return dataset.x_val[0], (f"validation series 0 of {dataset.name} (class {label!r}), normalized as "
                                  "the search saw it: replace it with your own, prepared the same way")

    def front_table(self, rows, data_spec):
        front = sorted((r for r in rows if r["on_front"]), key=lambda r: r["flash_bytes"])
        if not front:
            return _no_front()
        # one format: named in the header, as before; several: a column of its own, scores of the row's format
        several = any(r["format"] != "int8" for r in rows)
        score = "cv" if any(r["cv_accuracy"] is not None for r in front) else "val"
        fmt_head = f"{'format':>8}  " if several else ""
        score, test_head = (score, "test") if several else (f"int8 {score}", "int8 test")
        head = (f"{'trial':>5}  {fmt_head}{score:>8}  {test_head:>9}  {'flash KB':>8}  {'RAM KB':>7}  "
                f"{'ms':>6}  {'MACs':>9}  architecture")
        lines = [head, "-" * len(head)]
        for r in front:
            test = f"{r['test_accuracy']:.3f}" if r["test_accuracy"] is not None else "-"
            fmt = f"{r['format']:>8}  " if several else ""
            lines.append(f"{r['number']:>5}  {fmt}{r['score']:>8.3f}  {test:>9}  "
                         f"{r['flash_bytes'] / 1024:>8.1f}  {r['ram_bytes'] / 1024:>7.1f}  "
                         f"{r['latency_ms']:>6.2f}  {r['macs']:>9}  {r['architecture']}"
                         + (f"  (polish of {r['polish_of']})" if r["polish_of"] is not None else ""))
        precision = precision_line(recommended(rows), data_spec)
        return "\n".join(lines + finalists_lines(rows) + ([precision] if precision else []))

    def score_label(self, config):
        folds = config.objective.cv_folds
        fmt = "int8" if self.formats(config) == ("int8",) else "each format's"
        return f"{fmt} accuracy, {folds}-fold cross-validated" if folds else f"{fmt} val accuracy"


class DistillationTask(Task):
    """MLP students of a Keras teacher, shipped as int8, int16x8 and float32 (or the --formats given), scored
    by fidelity to the teacher on the user's rows (nas.student); the teacher and its exact reduction seed the
    study."""

    name = "distillation"
    default_formats = ("int8", "int16x8", "float32")
    directions = ("maximize", "minimize", "minimize")
    front_words = "fidelity to the teacher of each shipped file, measured in TFLM on your rows"
    input_layout = "(1, features): the teacher's raw inputs, standardization folded in"

    def prepare(self, options):
        from nas.student import describe_rows

        if getattr(options, "cv_folds", None):
            raise ValueError("--cv-folds is for classifier spaces; the mlp space scores fidelity to its teacher")
        return describe_rows(options)

    def on_created(self, study, config, options):
        """The teacher file becomes an artifact of the study, so every worker and `resume` reads it."""
        from optuna.artifacts import upload_artifact

        from nas import schema
        from nas.study import artifact_store
        from nas.teacher import load_teacher

        teacher = load_teacher(options.teacher)
        teacher_id = upload_artifact(artifact_store=artifact_store(config), file_path=options.teacher,
                                     study_or_trial=study)
        config = replace(config, distillation=Distillation(
            teacher_artifact=teacher_id, teacher_file=Path(options.teacher).name,
            teacher_params=teacher.chain.params, task=teacher.task, rtol=options.rtol, atol=options.atol))
        schema.write_config(study, config.to_dict())
        return config

    def open(self, config):
        from nas.student import task_from_config
        from nas.study import artifact_store

        return task_from_config(config, artifact_store(config))

    def objective(self, config, data, artifact_store, study=None):
        from nas import student
        from nas.train import DEFAULT_EPOCHS

        return student.make_objective(task=data, device=config.device, budget=config.budget,
                                      epochs=config.epochs or DEFAULT_EPOCHS, seed=config.seed,
                                      time_limit_s=config.trial_time_limit_s, artifact_store=artifact_store,
                                      formats=self.formats(config))

    def seed(self, study, config, data, on_trial=None):
        """The teacher and its exact reduction are the first candidates (once per study)."""
        from nas import schema, student
        from nas.study import artifact_store
        from nas.teacher import reduce_exactly

        if any(schema.TrialRecord.read(t).kind == schema.EXACT_REDUCTION and t.state.name == "COMPLETE"
               for t in study.get_trials(deepcopy=False)):
            return
        student.seed_teacher_trials(study, data, reduce_exactly(data.teacher.chain, data.x_val), config.device,
                                    config.budget, config.seed, artifact_store(config), on_trial=on_trial,
                                    formats=self.formats(config))

    def front_table(self, rows, data_spec):
        front = sorted((r for r in rows if r["on_front"]), key=lambda r: r["flash_bytes"])
        if not front:
            return _no_front()
        head = (f"{'trial':>5}  {'format':>7}  {'within tol':>10}  {'median err':>10}  {'max err':>9}  "
                f"{'verdict':>7}  {'flash KB':>8}  {'RAM KB':>7}  {'ms':>6}  architecture")
        lines = [head, "-" * len(head)]
        for r in front:
            lines.append(f"{r['number']:>5}  {r['format']:>7}  {r['score']:>10.3f}  {r['median_abs_error']:>10.2e}  "
                         f"{r['max_abs_error']:>9.2e}  {'pass' if r['passes'] else 'fail':>7}  "
                         f"{r['flash_bytes'] / 1024:>8.1f}  {r['ram_bytes'] / 1024:>7.1f}  "
                         f"{r['latency_ms']:>6.2f}  {r['architecture']}")
        return "\n".join(lines)

    def score_label(self, config):
        d = config.distillation
        return f"fraction of rows within rtol={d.rtol}, atol={d.atol}"

    def example(self, config):
        from nas.distill import load_rows

        try:
            return load_rows(config.data["path"])[0], f"row 0 of {config.data['name']}, the teacher's raw inputs"
        except (OSError, ValueError):
            return None

    def verify(self, study, config, trial, rtol, atol):
        """Run the trial's shipped .tflite in TFLM on the study's rows against the teacher."""
        from nas.distill import Tolerance, fidelity
        from nas.export import load_tflite
        from nas.quantize import Int8Model

        tflite = load_tflite(study, config, trial)  # a trial that was never trained is refused here, at once
        data = self.open(config)
        tol = Tolerance(rtol if rtol is not None else data.tolerance.rtol,
                        atol if atol is not None else data.tolerance.atol)
        result = fidelity(Int8Model(tflite).predict(data.x_val.astype("float32")), data.y_val, tol, data.task,
                          data.output_names)
        return {**result, "tolerance": tol}


TASKS: dict[str, Task] = {"classification": ClassificationTask(), "distillation": DistillationTask()}


def task_for(space_name: str) -> Task:
    """The task of a registered search space (raises ValueError for an unknown space)."""
    from search_spaces import get_space

    return TASKS[get_space(space_name).task]
