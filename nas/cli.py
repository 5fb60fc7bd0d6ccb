"""The `nas` command: parse, call library functions, print. One `main(argv) -> int`."""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from nas.baselines import PUBLISHED_EPOCHS
from nas.config import FINALISTS_DEFAULT, POLISH_DEFAULT
from nas.data import NORMALIZATIONS
from nas.formats import FORMATS, parse_formats
from nas.study import STUDIES_DIR, StudyError, default_storage, redact, validate_name

REPORTS_DIR = Path("reports")
EXIT_USAGE = 2
FINALISTS_TIMEOUT_HELP = ("classifiers: start no finalist (but the first) after SECONDS of cross-validating them "
                          "(default: as long as the search and polish took in this run, at least 5 minutes); "
                          "a resume cross-validates those left")
JOBS_HELP = ("worker processes on the study (default: one per core, at most 4); --jobs 1 makes a search "
             "reproducible trial by trial")


class UsageError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not a usage dump
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    return parse


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, got {text!r}")
    return value


# ---------------------------------------------------------------- search / resume
def _reports_dir(name: str) -> Path:
    out = REPORTS_DIR / name
    try:
        out.mkdir(parents=True, exist_ok=True)
        # a probe of its own: with one shared name, processes finishing a study together removed each
        # other's probe, and one failed with "No such file or directory"
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write reports to {out} ({exc.strerror}); make it writable or run "
                         "from another folder") from None
    return out


def _search(study, config, name: str, storage: str, args, data=None, takes_over=None) -> int:
    """Run the library's search loop on `study` with a progress line per trial and the report refreshed
    every few minutes; print the outcome."""
    from nas.progress import Progress
    from nas.report import Refresher, write_report
    from nas.search import WorkerDied, default_jobs, finished_count, search
    from nas.tasks import task_for

    n_trials = _trials_asked(args) if args.command == "search" else args.trials
    if config.objective.distill:  # a new study's teacher is trained (and announced) by the search
        from nas.schema import StudyRecord

        teacher = StudyRecord.read(study).class_teacher
        if teacher is not None:
            print(f"--distill: polished models learn from the study's teacher (float val accuracy "
                  f"{teacher['val_accuracy_float']:.3f}).", flush=True)
    try:
        outcome = search(study, config, storage=storage, n_trials=n_trials, timeout=args.timeout,
                         jobs=args.jobs or default_jobs(),
                         data=data, takes_over=takes_over, progress=Progress(n_trials),
                         every_trial=Refresher(name, storage, _reports_dir(name)),
                         finalists_timeout=args.finalists_timeout)
    except WorkerDied as exc:
        print(f"nas: {exc}. Resume with: nas resume {name}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nInterrupted: {finished_count(study)} finished trials are saved in {redact(storage)}; the "
              f"running one is recorded as interrupted. Resume with: nas resume {name}", file=sys.stderr)
        return 130
    from nas.results import counts, counts_line

    if outcome.failed and not outcome.finished:
        reason, times = outcome.fail_reasons.most_common(1)[0]
        print(f"nas: every trial of this run failed ({outcome.failed}); the commonest reason ({times}x): {reason}",
              file=sys.stderr)
        return 1
    task = task_for(config.space)
    path = write_report(study, config, _reports_dir(name), rows=outcome.rows)
    c = counts(outcome.rows)
    print(f"\nStudy {name!r} ({redact(storage)}): {counts_line(c)}; this run {outcome.wall_s:.0f} s.")
    print(f"Pareto front on {config.device.name} ({task.front_words}):")
    print(task.front_table(outcome.rows, config.data))
    print(f"\nReport: {path}")
    print(f"Export: nas export {name} --pareto   (writes {REPORTS_DIR / name / 'models'}/trial-N/)")
    print(f"Resume: nas resume {name} --trials N")
    return 0


def _cv_folds(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        k = -1
    if k == 1 or k < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (no cross-validation) or at least 2, got {text!r}")
    return k


def _formats(text: str) -> tuple[str, ...]:
    try:
        return parse_formats(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _trials_asked(args) -> int | None:
    """`nas search --trials`: 50 by default; with --timeout alone, no limit."""
    return args.trials if args.trials is not None else (None if args.timeout else 50)


def cmd_search(args) -> int:
    from nas.search import SearchOptions, open_search
    from search_spaces import get_space

    if args.distill and args.cv_folds:
        raise UsageError("--distill cannot be cross-validated (the teacher saw every training series); "
                         "drop --cv-folds")
    if args.distill and get_space(args.space).task != "classification":
        raise UsageError(f"--distill is for classifiers; the {args.space} space distils from --teacher already")

    base = f"{get_space(args.space).name}-{_device_name(args.device)}"
    name = validate_name(args.study or _unused_name(base, args.storage))
    storage = args.storage or default_storage(name)
    _reports_dir(name)
    options = SearchOptions(
        space=args.space, device=args.device, budget=_budget(args), data=args.data, label_column=args.label_column,
        normalize=args.normalize,
        seed=args.seed, epochs=args.epochs, trial_time_limit=args.trial_time_limit, artifacts=args.artifacts,
        sampler=args.sampler, multi_fidelity=not args.no_multi_fidelity, cv_folds=args.cv_folds, polish=args.polish,
        finalists=args.finalists,
        baselines=args.baselines, baseline_epochs=args.baseline_epochs, distill=args.distill, formats=args.formats,
        reject_before_training=not args.train_over_budget, teacher=args.teacher, rtol=args.rtol, atol=args.atol,
        distill_samples=args.distill_samples, discrete_columns=args.discrete_columns)
    study, config, data, is_new = open_search(name, storage, options)
    if not args.study and name != base:
        print(f"Study {base!r} exists: this search is {name!r} (continue the other with `nas resume {base}`).",
              file=sys.stderr)
    if not is_new:
        print(f"Continuing study {name!r} ({len(study.trials)} trials so far).", file=sys.stderr)
    _setup_tensorflow()
    if config.distillation is not None:
        d = config.distillation
        print(f"Teacher {d.teacher_file}: {d.teacher_params} params, {d.task}; {config.data['rows']} rows "
              f"(validation), {config.data['samples']} drawn around them for distillation; "
              f"tolerance rtol={d.rtol} atol={d.atol}", file=sys.stderr)
    return _search(study, config, name, storage, args, data=data)


def _unused_name(base: str, storage: str | None) -> str:
    """A search given no --study starts a study of its own: `base`, or `base-2`, `base-3`... when a study
    file of that name exists (a study is continued only when named: --study NAME, or nas resume NAME)."""
    if storage is not None and not storage.startswith("sqlite:"):
        return base  # a server's studies are shared on purpose: name them explicitly to start another
    name, k = base, 1
    while Path(default_storage(name).removeprefix("sqlite:///")).exists():
        k += 1
        name = f"{base}-{k}"
    return name


def _device_name(device: str) -> str:
    from cost_models import get_device

    return get_device(device).name


def _setup_tensorflow() -> None:
    """Import TensorFlow without its start-up notices; called once the command's input is checked."""
    from nas.quiet import import_tensorflow

    import_tensorflow()


def cmd_resume(args) -> int:
    from nas.study import check_space_version, load

    storage = args.storage or default_storage(args.name)
    study, config = load(args.name, storage)
    check_space_version(args.name, config)
    _reports_dir(args.name)
    debts = None
    if args.trials is None:  # finish what stopped searches were asked for, else 10 more
        from nas.search import owed

        debts = owed(study)
        args.trials = sum(debts.values()) or 10
    print(f"Resuming study {args.name!r}: {len(study.trials)} trials so far, space {config.space}, "
          f"device {config.device.name}; {args.trials} more.", file=sys.stderr)
    _setup_tensorflow()
    return _search(study, config, args.name, storage, args, takes_over=debts)


# ---------------------------------------------------------------- report / show / export
def _open(args):
    from nas.study import load

    storage = args.storage or default_storage(args.name)
    study, config = load(args.name, storage)
    return study, config, storage


def cmd_report(args) -> int:
    from nas.report import PngError, write_report

    study, config, _ = _open(args)
    out = _reports_dir(args.name)
    try:
        path = write_report(study, config, out, png=args.png)
    except PngError as exc:
        raise UsageError(f"{exc} (the HTML report was written to {out / 'index.html'})") from None
    print(path)
    if args.png:
        print(f"PNG figures: {', '.join(sorted(p.name for p in out.glob('*.png')))}")
    return 0


SHOW_FIELDS = ("number", "format", "kind", "score", "median_abs_error", "state", "params", "val_accuracy",
               "test_accuracy", "val_accuracy_int8", "test_accuracy_int8", "flash_bytes",
               "arena_bytes", "ram_bytes", "latency_ms", "macs", "feasible", "trained", "on_front",
               "architecture", "broken", "cost_source", "fail_reason")


def cmd_show(args) -> int:
    from nas.results import counts, counts_line, study_rows
    from nas.tasks import task_for

    study, config, storage = _open(args)
    rows = study_rows(study)
    if args.json:
        print(json.dumps([{k: r[k] for k in SHOW_FIELDS} for r in rows], indent=1, default=str))
        return 0
    c = counts(rows)
    print(f"Study {args.name!r}: space {config.space}, device {config.device.name}, {counts_line(c)}")
    print(task_for(config.space).front_table(rows, config.data))
    return 0


def cmd_export(args) -> int:
    from nas.export import export_trial
    from nas.results import recommended, study_rows

    if args.onnx and importlib.util.find_spec("tf2onnx") is None:
        raise UsageError("--onnx needs tf2onnx: pip install 'mcu-nas[onnx]'")
    study, config, storage = _open(args)
    if args.trial is not None:
        points = [(args.trial, args.format)]
        if not 0 <= args.trial < len(study.trials):
            raise UsageError(f"study {args.name!r} has no trial {args.trial} "
                             f"(trials 0-{len(study.trials) - 1})")
    else:  # every point of the front: a trial whose formats are several points exports each
        if args.format:
            raise UsageError("--format picks one file of one trial: pass --trial N with it")
        rows = study_rows(study)
        chosen = recommended(rows)  # a cross-validated finalist need not be on the front
        points = sorted({(r["number"], None if r["shipped"] else r["format"]) for r in rows
                         if r["on_front"] or r is chosen}, key=lambda p: (p[0], p[1] or ""))
        if not points:
            raise UsageError(f"study {args.name!r} has no trained model within its budget to export")
    out_root = Path(args.out) if args.out else REPORTS_DIR / args.name / "models"
    for n, fmt in points:
        print(export_trial(study, config, study.trials[n], out_root, storage, onnx=args.onnx, fmt=fmt))
    return 0


def cmd_verify(args) -> int:
    """Run the trial's shipped .tflite in TFLM on the study's rows against the teacher; exit 1 on fail."""
    from nas.schema import TrialRecord
    from nas.tasks import task_for

    study, config, _ = _open(args)
    task = task_for(config.space)
    if not 0 <= args.trial < len(study.trials):
        raise UsageError(f"study {args.name!r} has no trial {args.trial} (trials 0-{len(study.trials) - 1})")
    trial = study.trials[args.trial]
    v = task.verify(study, config, trial, args.rtol, args.atol)
    tol, record = v["tolerance"], TrialRecord.read(trial)
    print(f"trial {trial.number} ({record.architecture}), {record.shipped_format or '?'} .tflite run in TFLM "
          f"on the {v['rows']} rows of {config.data['name']}, against the teacher:")
    print(f"{'output':14} {'max abs':>10} {'median abs':>10} {'max rel':>10} {'median rel':>10}  verdict")
    for name, o in v["per_output"].items():
        print(f"{name[:14]:14} {o['max_abs']:>10.3e} {o['median_abs']:>10.3e} {o['max_rel']:>10.3e} "
              f"{o['median_rel']:>10.3e}  {'pass' if o['passes'] else 'fail'}")
    print("worst rows: " + ", ".join(f"#{w['row']} ({w['worst_output']}, {w['error_over_tolerance']:.2f}x tol)"
                                     for w in v["worst_rows"]))
    verdict = "PASS" if v["passes"] else "FAIL"
    print(f"{verdict} at rtol={tol.rtol}, atol={tol.atol}: {v['within_tolerance']:.1%} of rows within; "
          f"it would pass at {v['scale_to_pass']:.3g} x those tolerances "
          f"(rtol={tol.rtol * v['scale_to_pass']:.3g}, atol={tol.atol * v['scale_to_pass']:.3g})")
    return 0 if v["passes"] else 1


# ---------------------------------------------------------------- cost
def _load_model_bytes(path: Path) -> bytes:
    """An int8 .tflite as is, or a .keras model converted with the search's int8 recipe."""
    import numpy as np

    if not path.exists():
        raise UsageError(f"model file {path} does not exist")
    if path.suffix == ".tflite":
        return path.read_bytes()
    if path.suffix not in (".keras", ".h5"):
        raise UsageError(f"{path}: give a .keras model or an int8 .tflite")
    _setup_tensorflow()
    import keras

    from nas.quantize import to_int8_tflite

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a file that is not a model
        raise UsageError(f"{path} is not a loadable Keras model ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:150]})") from None
    shape = tuple(d or 1 for d in model.inputs[0].shape)
    # Activation ranges only set quantization scales; sizes, arena and latency do not depend on them.
    rep = np.random.default_rng(0).normal(size=(32, *shape[1:])).astype(np.float32)
    return to_int8_tflite(model, rep)


def _budget(args):
    from cost_models import Budget

    return Budget(int(args.max_flash_kb * 1024), int(args.max_ram_kb * 1024), args.max_latency_ms,
                  count_runtime=args.count_runtime, max_params=args.max_params, max_macs=args.max_macs)


def _add_budget_options(parser) -> None:
    parser.add_argument("--max-flash-kb", type=_positive(float), default=100.0)
    parser.add_argument("--max-ram-kb", type=_positive(float), default=50.0)
    parser.add_argument("--max-latency-ms", type=_positive(float), default=10.0)
    parser.add_argument("--max-params", type=_positive(int), help="weights and biases (default: no limit)")
    parser.add_argument("--max-macs", type=_positive(int),
                        help="multiply-accumulates per inference (default: no limit)")
    parser.add_argument("--count-runtime", action="store_true",
                        help="budgets also pay for the TFLM library (default: the model's own bytes only)")


def cmd_cost(args) -> int:
    from cost_models import DEVICES, get_device
    from cost_models.breakdown import op_table, verdicts
    from cost_models.tflite_reader import read_tflite

    devices = list(DEVICES.values()) if args.device == "all" else [get_device(args.device)]
    budget = _budget(args)
    tflite = _load_model_bytes(Path(args.model))
    graph = read_tflite(tflite)
    table = op_table(graph, devices[0])
    matrix = verdicts(graph, devices, budget, len(tflite))
    if args.json:
        print(json.dumps({"model": args.model, "budget": vars(budget), "ops_on": devices[0].name,
                          "ops": table, "devices": matrix}, indent=1))
        return 0
    print(f"{args.model}: {len(graph.ops)} ops, {graph.params} params, {graph.total_macs} MACs, "
          f"flash {len(tflite)} B")
    print(f"\nPer operator on {devices[0].name}:")
    print(f"{'#':>3} {'op':18} {'output':>16} {'MACs':>9} {'weights B':>9} {'arena live B':>12} "
          f"{'scratch B':>9} {'cycles':>9} {'ms':>7}")
    for r in table:
        shape = "x".join(str(d) for d in r["output_shape"])
        print(f"{r['index']:>3} {r['op']:18} {shape:>16} {r['macs']:>9} {r['weight_bytes']:>9} "
              f"{r['arena_live_bytes']:>12} {r['scratch_bytes']:>9} {r['cycles']:>9} {r['ms']:>7.3f}")
    counted = ("model + TFLM runtime" if budget.count_runtime
               else "the model's own figures; the TFLM runtime is beside them (--count-runtime to include it)")
    limits = "".join(f", {words} {value}" for words, value in (("params", budget.max_params), ("MACs", budget.max_macs))
                     if value is not None)
    print(f"\nBudget: flash {budget.max_flash_bytes} B, RAM {budget.max_ram_bytes} B, "
          f"latency {budget.max_latency_ms} ms{limits} ({counted})")
    print(f"{'device':9} {'kernels':9} {'flash B':>8} {'arena B':>8} {'scratch':>8} {'persist B':>9} "
          f"{'runtime flash/RAM B':>19} {'latency ms':>10}  verdict")
    for v in matrix:
        verdict = "fits" if v["fits"] else "over " + ", ".join(v["over_budget"] or ["board memory"])
        runtime = f"{v['runtime_flash_bytes']}/{v['runtime_ram_bytes']}"
        print(f"{v['device']:9} {v['kernels']:9} {v['flash_bytes']:>8} {v['arena_bytes']:>8} "
              f"{v['scratch_bytes']:>8} {v['persistent_bytes']:>9} {runtime:>19} {v['latency_ms']:>10.3f}  {verdict}")
    print("arena B: TFLM's planned arena with the kernels' scratch buffers (scratch: their share); "
          "persist B: the arena's persistent tail, 32-bit estimate.")
    for v in matrix:
        print(f"latency on {v['device']}: {v['latency_engine']}"
              + "".join(f"; {note}" for note in v["latency_assumptions"]))
    for source in sorted({v["runtime_source"] for v in matrix}):
        print(f"runtime: {source}")
    return 0


def cmd_calibrate(args) -> int:
    import numpy as np

    from cost_models import estimate, get_device
    from cost_models.calibrate import calibrate, device_toml, read_measurements
    from cost_models.tflite_reader import read_tflite

    device = get_device(args.device)
    rows = read_measurements(args.measurements)
    graphs = [read_tflite(_load_model_bytes(r.model)) for r in rows]
    result = calibrate(device, graphs, [r.latency_ms for r in rows])
    print(f"{'model':40} {'measured ms':>11} {'before':>8} {'after':>8}")
    for r, b, a in zip(rows, result.errors_before, result.errors_after, strict=True):
        print(f"{str(r.model)[-40:]:40} {r.latency_ms:>11.3f} {b:>+8.1%} {a:>+8.1%}")
    for label, err in (("before", result.errors_before), ("after", result.errors_after)):
        print(f"{label}: median |error| {np.median(np.abs(err)):.1%}, max |error| {np.max(np.abs(err)):.1%}")
    print("multipliers on " + result.before.key + ": "
          + ", ".join(f"{k} x{v:.2f}" for k, v in result.multipliers.items()))
    for r, g in zip(rows, graphs, strict=True):
        if r.arena_bytes is not None:
            ours = estimate(g, device).ram_bytes  # planned arena with the board's scratch + persistent tail
            print(f"arena {r.model.name}: measured {r.arena_bytes} B, estimated {ours} B "
                  f"({ours / r.arena_bytes - 1:+.1%})")
    name = args.name or f"{device.name}-calibrated"
    out = Path(args.out or f"{name}.toml")
    source = f"fitted by nas calibrate on {len(rows)} measurements in {args.measurements}"
    try:
        out.write_text(device_toml(device, name, result.after, source))
    except OSError as exc:
        raise UsageError(f"cannot write {out} ({exc.strerror})") from None
    print(f"wrote {out}: use it as --device {out}")
    return 0


# ---------------------------------------------------------------- listings
def cmd_studies(args) -> int:
    from nas.results import counts, recommended, study_rows
    from nas.study import load

    files = sorted(STUDIES_DIR.glob("*.db"))
    if not files:
        print(f"No studies under {STUDIES_DIR}/ yet. Start one with: nas search --space spectral --device nano33")
        return 0
    print(f"{'study':28} {'trials':>6} {'trained':>7} {'seeded':>6} {'rejected':>8} {'screened':>8} {'repeats':>7} "
          f"{'failed':>6} {'interrupted':>11} {'running':>7} {'front':>5}  "
          "best point: score (int8 val accuracy, or students' fraction within tolerance) @ flash, trial "
          "(the recommended finalist where finalists were cross-validated)")
    for path in files:
        name = path.stem
        try:
            study, _ = load(name, default_storage(name))
        except StudyError as exc:
            print(f"{name:28} unreadable: {exc}")
            continue
        rows = study_rows(study)
        c = counts(rows)
        front = [r for r in rows if r["on_front"]]
        best = recommended(rows)
        best_text = (f"{best['score']:.3f} @ {best['flash_bytes'] / 1024:.1f} KB, #{best['number']}"
                     if best else "-")
        print(f"{name:28} {c['trials']:>6} {c['trained']:>7} {c['seeded']:>6} {c['pruned_before_training']:>8} "
              f"{c['screened_out']:>8} {c['repeats']:>7} {c['failed']:>6} {c['interrupted']:>11} "
              f"{c['running'] + c['waiting']:>7} {len(front):>5}  {best_text}")
    return 0


def cmd_devices(args) -> int:
    from cost_models import DEVICES

    print(f"{'name':9} {'board':22} {'core':14} {'MHz':>5} {'SRAM KB':>9} {'flash KB':>9}  kernels")
    for d in DEVICES.values():
        print(f"{d.name:9} {d.title:22} {d.core:14} {d.clock_hz / 1e6:>5.0f} {d.sram_bytes // 1024:>9} "
              f"{d.flash_bytes // 1024:>9}  {d.kernels}")
    print("\nOr describe your own board in a .toml file (name, core, kernels, clock_hz, sram_bytes, "
          "flash_bytes) and pass its path to --device.")
    return 0


def cmd_spaces(args) -> int:
    from search_spaces import SPACES

    for s in SPACES.values():
        print(f"{s.name:10} v{s.version}  {s.summary}")
    return 0


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from nas.data import CV_BELOW_VAL, CV_FOLDS
    from nas.finalists import FINALISTS_BELOW_VAL

    p = _Parser(prog="nas", description="Neural architecture search for microcontrollers.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("search", help="search a space for models that fit a device")
    s.add_argument("--space", default="spectral")
    s.add_argument("--device", default="nano33", help="board name (`nas devices`) or a .toml file")
    s.add_argument("--data", help=".npz (x_train, y_train, x_test, y_test), .csv, UCR NAME_TRAIN.tsv or .ts "
                                  "(default: built-in synthetic light curves)")
    s.add_argument("--label-column", help="CSV: the column holding the labels (default: label/class/target/y, "
                                          "else the first)")
    s.add_argument("--normalize", choices=NORMALIZATIONS, default="channel",
                   help="channel (default): one mean and SD per channel, from the training split, so each series "
                        "keeps its level and amplitude; series: z-normalize each series and channel on its own "
                        "(when level and amplitude are nuisance, e.g. sensors of different gains)")
    s.add_argument("--study", help="study name (default: SPACE-DEVICE); an existing study continues")
    s.add_argument("--storage", help="Optuna storage URL (default: sqlite:///studies/NAME.db)")
    s.add_argument("--artifacts", help="folder for trained models (default: studies/NAME.artifacts)")
    s.add_argument("--trials", type=_positive(int), help="trials to run (default 50; with --timeout, no limit)")
    s.add_argument("--timeout", type=_positive(float),
                   help="stop starting trials after SECONDS (the front's polish follows)")
    s.add_argument("--jobs", type=_positive(int), help=JOBS_HELP)
    s.add_argument("--no-multi-fidelity", action="store_true",
                   help="train every feasible candidate for all its epochs (default: screen after a quarter)")
    s.add_argument("--cv-folds", type=_cv_folds, default=None,
                   help="score candidates by K-fold cross-validated int8 accuracy; 0: the validation split "
                        f"alone (default: {CV_FOLDS} when it has fewer than {CV_BELOW_VAL} series, else 0)")
    s.add_argument("--polish", type=_non_negative_int, default=POLISH_DEFAULT,
                   help="after the search, train the best K front members' architectures again for longer on "
                        "augmented series (time-warped, and jittered only), each scored as a trial of its own "
                        f"(default {POLISH_DEFAULT}; 0: off)")
    s.add_argument("--finalists", type=_non_negative_int, default=None,
                   help="classifiers: after the polish, train the best K front points and the seeded baselines "
                        f"again on {CV_FOLDS - 1} more folds, and recommend the best by pooled accuracy (default "
                        f"{FINALISTS_DEFAULT} when the validation split has fewer than {FINALISTS_BELOW_VAL} series, "
                        "else 0; skipped when candidates are cross-validated already)")
    s.add_argument("--finalists-timeout", type=_positive(float), help=FINALISTS_TIMEOUT_HELP)
    s.add_argument("--distill", action="store_true",
                   help="classifiers: train a full-width FCN first (a few minutes); the polished front members "
                        "train on targets mixed with its probabilities; turns cross-validation off")
    s.add_argument("--baselines", action="store_true",
                   help="first train FCN, ResNet and DS-CNN shrunk and strided until they fit the budget, as "
                        "trials of their own (FCN also unstrided, and trained with its own recipe too), then "
                        "FCN's layouts in the space (a strided FCN also pooled instead), each also trained with "
                        "FCN's schedule, weights averaged: the search starts where an engineer would")
    s.add_argument("--baseline-epochs", type=_non_negative_int, default=PUBLISHED_EPOCHS,
                   help=f"with --baselines: epochs of FCN's own recipe (default {PUBLISHED_EPOCHS}, as published; "
                        "0: the baselines learn with the search's recipe only); FCN's schedule as a polish "
                        "(500 epochs) is never longer")
    s.add_argument("--formats", type=_formats, default=None,
                   help="what every trained model is converted to, scored in TFLM and costed as, each a point of "
                        f"its own: any of {', '.join(FORMATS)} (default: int8 for classifiers, all three for "
                        "mlp students)")
    s.add_argument("--train-over-budget", action="store_true", help=argparse.SUPPRESS)  # benchmarks only
    s.add_argument("--sampler", choices=("tpe", "nsga2", "random"), default="tpe",
                   help="Optuna sampler (default tpe; see the README for why)")
    s.add_argument("--epochs", type=_positive(int), default=None,
                   help="epochs of a full training (default: 20, or up to 120 on a small training set "
                        "so a training takes at least 500 gradient steps)")
    s.add_argument("--seed", type=int, default=0)
    _add_budget_options(s)
    s.add_argument("--teacher", help="mlp space: the Keras teacher (.keras or .h5) its students reproduce")
    s.add_argument("--rtol", type=float, default=1e-2, help="mlp space: relative tolerance per output")
    s.add_argument("--atol", type=float, default=1e-3, help="mlp space: absolute tolerance per output")
    s.add_argument("--distill-samples", type=_positive(int), default=50_000,
                   help="mlp space: rows drawn around the given ones for the students to learn from")
    s.add_argument("--discrete-columns", help="mlp space: comma-separated columns to copy, never perturb")
    s.add_argument("--trial-time-limit", type=_positive(float), default=600.0,
                   help="seconds one training may take before the trial is failed")
    s.set_defaults(func=cmd_search)

    r = sub.add_parser("resume", help="continue a study with its stored configuration")
    r.add_argument("name")
    r.add_argument("--trials", type=_positive(int),
                   help="trials to add (default: what the last search asked for and did not finish, else 10)")
    r.add_argument("--timeout", type=_positive(float))
    r.add_argument("--finalists-timeout", type=_positive(float), help=FINALISTS_TIMEOUT_HELP)
    r.add_argument("--jobs", type=_positive(int), help=JOBS_HELP)
    r.add_argument("--storage")
    r.set_defaults(func=cmd_resume)

    for cmd, func, helptext in (("report", cmd_report, "write reports/NAME/index.html"),
                                ("show", cmd_show, "print the front (or every trial with --json)"),
                                ("export", cmd_export, "write models of a study under reports/NAME/models"),
                                ("verify", cmd_verify, "re-check a student against its teacher (mlp space)")):
        c = sub.add_parser(cmd, help=helptext)
        c.add_argument("name")
        c.add_argument("--storage")
        c.set_defaults(func=func)
        if cmd == "show":
            c.add_argument("--json", action="store_true")
        if cmd == "report":
            c.add_argument("--png", action="store_true", help="also write PNGs of the figures (kaleido + chromium)")
        if cmd == "verify":
            c.add_argument("--trial", type=int, required=True)
            c.add_argument("--rtol", type=float, help="default: the study's")
            c.add_argument("--atol", type=float, help="default: the study's")
        if cmd == "export":
            g = c.add_mutually_exclusive_group()
            g.add_argument("--trial", type=int)
            g.add_argument("--pareto", action="store_true", help="every model on the front (default)")
            c.add_argument("--out", help="folder (default: reports/NAME/models)")
            c.add_argument("--format", choices=FORMATS,
                           help="with --trial: export this format's file (default: the one the trial ships)")
            c.add_argument("--onnx", action="store_true",
                           help="also write model.onnx of the float model (needs: pip install 'mcu-nas[onnx]')")

    k = sub.add_parser("cost", help="cost a .keras or int8 .tflite model on a device, op by op")
    k.add_argument("model")
    k.add_argument("--device", default="nano33", help="board name, a .toml file, or 'all'")
    k.add_argument("--json", action="store_true")
    _add_budget_options(k)
    k.set_defaults(func=cmd_cost)

    cal = sub.add_parser("calibrate", help="fit a device's latency coefficients to measured latencies")
    cal.add_argument("--device", required=True, help="board name or .toml file to start from")
    cal.add_argument("--measurements", required=True,
                     help="CSV: model, measured_ms[, measured_arena_bytes]; paths relative to the CSV")
    cal.add_argument("--name", help="name of the calibrated board (default DEVICE-calibrated)")
    cal.add_argument("--out", help="device file to write (default NAME.toml)")
    cal.set_defaults(func=cmd_calibrate)

    sub.add_parser("studies", help="list the studies under studies/").set_defaults(func=cmd_studies)
    sub.add_parser("devices", help="list known boards").set_defaults(func=cmd_devices)
    sub.add_parser("spaces", help="list search spaces").set_defaults(func=cmd_spaces)
    verbose = "also show TensorFlow's, Keras's and Optuna's own messages"
    p.add_argument("--verbose", action="store_true", help=verbose)
    for command in sub.choices.values():  # before or after the command: nas --verbose search, nas search --verbose
        command.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose)
    return p


class _ToStderr(logging.Handler):
    """The library's notes to the user (nas.search: retried and polished trials), as plain lines on
    whatever sys.stderr is when they are written."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    from nas.quiet import VERBOSE_ENV, quiet_logs

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ours = logging.getLogger("nas")
    if not any(isinstance(h, _ToStderr) for h in ours.handlers):
        ours.addHandler(_ToStderr())
        ours.setLevel(logging.INFO)
        ours.propagate = False
    try:
        from nas.process import stop_on_sigterm

        stop_on_sigterm()
        args = build_parser().parse_args(argv)
        if getattr(args, "verbose", False):
            os.environ[VERBOSE_ENV] = "1"  # worker processes inherit it
        quiet_logs()
        return args.func(args)
    except (UsageError, StudyError, ValueError) as exc:
        print(f"nas: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("nas: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`nas studies | head -1`): what it wanted was printed
        _stdout_to_devnull()
        return 0


def _stdout_to_devnull() -> None:
    """Python flushes stdout again at exit; into a closed pipe that would print a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run() -> None:
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
    sys.exit(code)
