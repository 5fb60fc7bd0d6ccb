"""The mlp space's objective: estimate -> (over budget: stop) -> distil -> fold -> ship as int8, int16x8
(int16 activations, int8 weights) and float32 -> score every format in the TFLM interpreter on the
validation rows.

Objectives: fidelity (maximize), median absolute error (minimize: it still ranks students when none
is within a tight tolerance), shipped bytes (minimize). A trial's values are those of the format it
would ship: the feasible format with the best fidelity, then the lower error, then the fewer bytes;
every format's figures are recorded and each appears as a point in results and reports.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cost_models import Budget, Device, estimate, symbolic
from cost_models.tflite_reader import read_tflite
from nas import schema
from nas.distill import Tolerance, fidelity, fold_standardization, scales
from nas.formats import FORMATS, convert
from nas.objective import estimate_formats, reject_if_over_budget
from nas.quantize import Int8Model
from nas.teacher import DenseChain, Teacher, dense_chain
from nas.train import TrainingError, seeded, train

DIRECTIONS = ["maximize", "minimize", "minimize"]
TEMPERATURE = 2.0  # classifier teachers: students match p ** (1 / T), renormalized
BATCH_SIZE = 256


@dataclass
class DistillTask:
    teacher: Teacher
    x_val: np.ndarray  # the user's rows: every decision and verdict
    y_val: np.ndarray  # teacher outputs on them
    x_train: np.ndarray  # drawn around them (nas.distill.synthesize)
    y_train: np.ndarray
    tolerance: Tolerance
    output_names: list[str]

    @property
    def task(self) -> str:
        return self.teacher.task


def _soften(p: np.ndarray) -> np.ndarray:
    q = np.power(np.clip(p, 1e-12, 1), 1 / TEMPERATURE)
    return q / q.sum(1, keepdims=True)


def train_student(model, task: DistillTask, *, epochs: int, seed: int, time_limit_s: float) -> DenseChain:
    """Train on standardized data; return the chain with the standardization folded in."""
    x_mean, x_std = scales(task.x_train)
    xs, xv = (task.x_train - x_mean) / x_std, (task.x_val - x_mean) / x_std
    if task.task == "classification":
        train(model, xs, _soften(task.y_train), xv, _soften(task.y_val), epochs=epochs, seed=seed,
              time_limit_s=time_limit_s, loss="kl_divergence", batch_size=BATCH_SIZE, reshape=lambda a: a)
        return fold_standardization(dense_chain(model), x_mean, x_std)
    y_mean, y_std = scales(task.y_train)
    train(model, xs, (task.y_train - y_mean) / y_std, xv, (task.y_val - y_mean) / y_std, epochs=epochs,
          seed=seed, time_limit_s=time_limit_s, loss="mse", batch_size=BATCH_SIZE, reshape=lambda a: a)
    return fold_standardization(dense_chain(model), x_mean, x_std, y_mean, y_std)


def ship(chain: DenseChain, task: DistillTask, device: Device, budget: Budget, seed: int,
         formats: tuple[str, ...] = FORMATS) -> dict:
    """Each format of a chain: bytes, exact costs, TFLM-measured fidelity on the validation rows."""
    model = chain.to_keras()
    rep = task.x_train.astype(np.float32)
    files = {fmt: convert(model, fmt, rep, seed) for fmt in formats}
    out = {}
    for fmt, tflite in files.items():
        cost = estimate(read_tflite(tflite), device, flash_bytes=len(tflite))
        broken = cost.broken(budget)
        pred = Int8Model(tflite).predict(task.x_val.astype(np.float32))
        out[fmt] = {"tflite": tflite, "cost": cost.to_dict(), "violations": cost.violations(budget),
                    "feasible": not broken, "broken": broken,
                    "fidelity": fidelity(pred, task.y_val, task.tolerance, task.task, task.output_names)}
    return {"model": model, "formats": out}


def shipped_format(formats: dict) -> str:
    feasible = [f for f in formats if formats[f]["feasible"]] or list(formats)[:1]
    return max(feasible, key=lambda f: (formats[f]["fidelity"]["fidelity"],
                                        -formats[f]["fidelity"]["median_abs_error"],
                                        -formats[f]["cost"]["flash_bytes"]))


def record(trial, shipped: dict, artifact_store) -> tuple[float, float, float]:
    """Set the trial's attributes and constraints, upload its files; return its objective values."""
    formats = shipped["formats"]
    fmt = shipped_format(formats)
    chosen = formats[fmt]
    for key, value in chosen["violations"].items():
        trial.set_constraint(key, value)
    schema.write(trial, formats={f: {k: v for k, v in d.items() if k != "tflite"} for f, d in formats.items()},
                 shipped_format=fmt, cost=chosen["cost"], feasible=chosen["feasible"], broken=chosen["broken"],
                 verdict=chosen["fidelity"])
    if artifact_store is not None:
        from optuna.artifacts import upload_artifact

        with tempfile.TemporaryDirectory() as tmp:
            paths = {"keras": Path(tmp) / "model.keras"}
            shipped["model"].save(paths["keras"])
            for f, d in formats.items():
                paths[f"tflite_{f}"] = Path(tmp) / f"model_{f}.tflite"
                paths[f"tflite_{f}"].write_bytes(d["tflite"])
            ids = {kind: upload_artifact(artifact_store=artifact_store, file_path=str(p), study_or_trial=trial)
                   for kind, p in paths.items()}
        ids["tflite"] = ids[f"tflite_{fmt}"]
        schema.write(trial, artifacts=ids)
    v = chosen["fidelity"]
    return v["fidelity"], v["median_abs_error"], float(chosen["cost"]["flash_bytes"])


def make_objective(*, task: DistillTask, device: Device, budget: Budget, epochs: int, seed: int,
                   time_limit_s: float, artifact_store=None, formats: tuple[str, ...] = FORMATS):
    import optuna

    from search_spaces import mlp

    n_in, n_out = task.teacher.n_inputs, task.teacher.n_outputs
    out_act = "softmax" if task.task == "classification" else "linear"

    def objective(trial: optuna.Trial) -> tuple[float, float, float]:
        import keras

        shape_only = mlp.build(trial, input_shape=(n_in,), n_outputs=n_out, keras=symbolic.keras,
                               output_activation=out_act)
        schema.write(trial, architecture=mlp.describe(trial.params), kind=schema.STUDENT)
        reject_if_over_budget(trial, estimate_formats(shape_only, device, formats, budget), budget)
        keras.backend.clear_session()
        model = seeded(lambda: mlp.build(trial, input_shape=(n_in,), n_outputs=n_out, output_activation=out_act),
                       seed + trial.number)
        try:
            chain = train_student(model, task, epochs=epochs, seed=seed + trial.number, time_limit_s=time_limit_s)
            shipped = ship(chain, task, device, budget, seed, formats)
        except Exception as exc:  # one bad candidate must not end a search
            reason = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
            schema.write(trial, fail_reason=reason, trained=False)
            raise TrainingError(reason) from exc
        schema.write(trial, trained=True)
        return record(trial, shipped, artifact_store)

    return objective


def seed_teacher_trials(study, task: DistillTask, reduction, device: Device, budget: Budget, seed: int,
                        artifact_store=None, on_trial=None, formats: tuple[str, ...] = FORMATS) -> None:
    """The teacher and its exact reduction, as the study's first candidates (nothing is trained)."""
    candidates = [(schema.TEACHER, task.teacher.chain, "as given"),
                  (schema.EXACT_REDUCTION, reduction.chain, f"same outputs on the {len(task.x_val)} given rows")]
    for kind, chain, words in candidates:
        trial = study.ask()
        schema.write(trial, kind=kind, trained=False,
                     architecture=f"{kind} {'-'.join(map(str, chain.widths[1:-1]))} {chain.layers[0].activation}... "
                                  f"({words})")
        if kind == schema.EXACT_REDUCTION:
            schema.write(trial, reduction={"removed_per_layer": reduction.removed,
                                           "dead_over_box_per_layer": reduction.dead_over_box,
                                           "domain": reduction.domain, "params": chain.params,
                                           "teacher_params": task.teacher.chain.params})
        values = record(trial, ship(chain, task, device, budget, seed, formats), artifact_store)
        frozen = study.tell(trial, values)
        if on_trial is not None:
            on_trial(study, frozen)


def describe_rows(options) -> tuple[dict, None]:
    """A new distillation search's data description, from its options (teacher, data, rtol, atol,
    distill_samples, discrete_columns), after checking that the rows suit the teacher. `task_from_config`
    reads it back."""
    from nas.distill import Tolerance, detect_columns, load_rows
    from nas.teacher import load_teacher

    if not options.teacher or not options.data:
        raise ValueError("the mlp space distils a teacher: pass --teacher MODEL.(keras|h5) and "
                         "--data ROWS.(npz|csv) with the teacher's input rows")
    Tolerance(options.rtol, options.atol)  # refuses impossible tolerances before anything is loaded
    x = load_rows(options.data)  # before the teacher, which needs TensorFlow: input errors come at once
    teacher = load_teacher(options.teacher)
    if x.shape[1] != teacher.n_inputs:
        raise ValueError(f"the teacher takes {teacher.n_inputs} inputs per row (input shape "
                         f"{teacher.input_shape}); {options.data} has {x.shape[1]} columns")
    discrete = tuple(int(c) for c in options.discrete_columns.split(",")) if options.discrete_columns else ()
    if any(not 0 <= c < x.shape[1] for c in discrete):
        raise ValueError(f"--discrete-columns must be column numbers 0-{x.shape[1] - 1}")
    columns = detect_columns(x, discrete)
    spec = {"name": Path(options.data).name, "kind": "teacher-rows", "path": str(Path(options.data).resolve()),
            "rows": len(x), "features": x.shape[1], "samples": options.distill_samples,
            "columns": {"binary": list(columns.binary), "integer": list(columns.integer),
                        "continuous": list(columns.continuous)}}
    return spec, None


def task_from_config(config, store) -> DistillTask:
    """Rebuild the distillation task from what the study stores (the teacher is a study artifact)."""
    from optuna.artifacts import download_artifact

    from nas.distill import Columns, load_rows, synthesize
    from nas.teacher import load_teacher

    distillation, spec = config.distillation, config.data
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / distillation.teacher_file
        download_artifact(artifact_store=store, artifact_id=distillation.teacher_artifact, file_path=str(path))
        teacher = load_teacher(path)
    x_val = load_rows(spec["path"])
    columns = Columns(*(tuple(spec["columns"][k]) for k in ("binary", "integer", "continuous")))
    x_train = synthesize(x_val, spec["samples"], columns, seed=config.seed)
    names = [f"y{k}" for k in range(teacher.n_outputs)]
    if spec["path"].endswith(".npz"):  # names of the outputs, when the rows' file carries them
        with np.load(spec["path"], allow_pickle=False) as data:
            if "output_names" in data.files and len(data["output_names"]) == teacher.n_outputs:
                names = [str(n) for n in data["output_names"]]
    return DistillTask(teacher, x_val, teacher.predict(x_val), x_train, teacher.predict(x_train),
                       Tolerance(distillation.rtol, distillation.atol), names)
