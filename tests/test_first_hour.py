"""What a new user met in their first hour (issue 25), each re-tried as they tried it: data that cannot
make a search, searches in which nothing trained, broken pipes, late errors, noise on the terminal, a
study continued by surprise, counts that did not add up, a progress bar past its end."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest

from nas import schema
from nas.cli import main

ROOT = Path(__file__).resolve().parents[1]
OLD = Path(__file__).parent / "data" / "studies-ab83f66"


def _nas(*argv: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NAS_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    return subprocess.run([sys.executable, "-m", "nas", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def _one_line_error(capsys, argv, words):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


# ---------------------------------------------------------------- data that cannot make a search
def _csv(path: Path, rows: list[tuple[str, list[float]]]) -> Path:
    path.write_text("label," + ",".join(f"t{i}" for i in range(len(rows[0][1]))) + "\n"
                    + "".join(f"{label}," + ",".join(map(str, x)) + "\n" for label, x in rows))
    return path


def test_three_series_are_refused_before_any_trial(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    _csv(tmp_path / "three.csv", [(c, list(rng.normal(size=20))) for c in "abc"])
    monkeypatch.chdir(tmp_path)
    _one_line_error(capsys, ["search", "--data", "three.csv", "--study", "few"], "needs at least")
    assert not (tmp_path / "studies" / "few.db").exists()  # refused before a study was made


def test_a_class_too_small_to_split_is_named(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    rows = [("big", list(rng.normal(size=20))) for _ in range(12)] + [("tiny", list(rng.normal(size=20)))] * 2
    _csv(tmp_path / "small.csv", rows)
    monkeypatch.chdir(tmp_path)
    _one_line_error(capsys, ["search", "--data", "small.csv"], "class 'tiny'")


def test_constant_series_are_refused(tmp_path, monkeypatch, capsys):
    x = np.random.default_rng(0).normal(size=(40, 30))
    x[3] = 7.0  # no variance: nothing to learn from
    y = np.arange(40) % 2
    np.savez(tmp_path / "flat.npz", x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    monkeypatch.chdir(tmp_path)
    _one_line_error(capsys, ["search", "--data", "flat.npz"], "constant")


def test_a_missing_value_in_a_csv_names_its_line(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    lines = ["label,a,b,c"] + [f"{i % 2},{rng.normal()},{rng.normal()},{rng.normal()}" for i in range(20)]
    lines[5] = "1,0.5,?,0.25"
    (tmp_path / "gap.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(tmp_path)
    _one_line_error(capsys, ["search", "--data", "gap.csv"], "line 6")


@pytest.mark.slow
def test_a_search_in_which_every_trial_failed_exits_non_zero_with_the_reason(tmp_path, monkeypatch, capsys):
    from nas.lightcurves import generate

    x, y = generate(per_class=6, seed=0, length=64)
    np.savez(tmp_path / "d.npz", x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    monkeypatch.chdir(tmp_path)
    code = main(["search", "--data", "d.npz", "--trials", "2", "--epochs", "1", "--polish", "0",
                 "--max-latency-ms", "1000", "--trial-time-limit", "0.001", "--jobs", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert "every trial of this run failed" in err and "time limit" in err


# ---------------------------------------------------------------- the terminal
@pytest.fixture
def old_studies(tmp_path):
    shutil.copytree(OLD, tmp_path / "studies", ignore=shutil.ignore_patterns("README.md"))
    return tmp_path


@pytest.mark.parametrize("argv", [["show", "old-spectral", "--json"], ["studies"]])
def test_output_into_a_closed_pipe_is_no_traceback(old_studies, argv):
    proc = subprocess.Popen([sys.executable, "-m", "nas", *argv], cwd=old_studies, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()  # as `| head -1` does, then the reader goes away
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_a_missing_teacher_is_one_line_within_a_second(tmp_path):
    np.savez(tmp_path / "x.npz", x=np.zeros((5, 3)))
    start = time.monotonic()
    out = _nas("search", "--space", "mlp", "--teacher", "missing.h5", "--data", "x.npz", "--device", "nano33",
               cwd=tmp_path)
    elapsed = time.monotonic() - start
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "missing.h5" in out.stderr and "does not exist" in out.stderr
    assert elapsed < 1.0, f"{elapsed:.2f} s: checked after importing TensorFlow?"
    assert "tensorflow" not in _imported_modules(["search", "--space", "mlp", "--teacher", "missing.h5",
                                                  "--data", "x.npz"], tmp_path)


def _imported_modules(argv: list[str], cwd: Path) -> set[str]:
    """The top-level modules a failing command imported before it exited."""
    code = ("import sys; from nas.cli import main; code = main(sys.argv[1:]); "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, capture_output=True, text=True, timeout=60)
    return set(out.stdout.split())


def test_verify_refuses_a_classifier_study_before_importing_tensorflow(old_studies):
    assert "tensorflow" not in _imported_modules(["verify", "old-spectral", "--trial", "4"], old_studies)
    out = _nas("verify", "old-spectral", "--trial", "4", cwd=old_studies)
    assert out.returncode == 2 and "students against their teacher" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


NOISE = ("absl::InitializeLog", "oneDNN", "I0000", "W0000", "retracing", "UserWarning", "warnings.warn",
         "[I ", "[W ", "DeprecationWarning", "Traceback")
OURS = re.compile(r"^(\[[#.]{20}\] \d+/\d+ |\s*\d+s  trial |Polishing the front|Study |Pareto front|trial |-+$|"
                  r"\s+\d+ |Best score|Report: |Export: |Resume: |Trying again|Continuing study|$)")


@pytest.mark.slow
def test_a_search_prints_only_our_lines(tmp_path):
    from nas.lightcurves import generate

    x, y = generate(per_class=8, seed=1, length=96)
    np.savez(tmp_path / "d.npz", x_train=x[:36], y_train=y[:36], x_test=x[36:], y_test=y[36:])
    out = _nas("search", "--data", "d.npz", "--trials", "3", "--epochs", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    for line in (out.stdout + out.stderr).splitlines():
        assert not any(n in line for n in NOISE), line
        assert OURS.match(line), f"not one of our lines: {line!r}"
    # without --jobs the trials ran in one worker process per core (at most 4), their lines printed there too
    from nas.search import default_jobs
    from nas.study import load

    study, _ = load("spectral-nano33", f"sqlite:///{tmp_path / 'studies' / 'spectral-nano33.db'}")
    searched = [schema.TrialRecord.read(t) for t in study.trials if schema.TrialRecord.read(t).kind != "polish"]
    assert len({r.worker["pid"] for r in searched}) == min(default_jobs(), 3)


def test_default_jobs_is_one_worker_per_core_and_at_most_four(monkeypatch):
    import nas.search

    for cores, jobs in ((1, 1), (2, 2), (16, 4)):
        monkeypatch.setattr(nas.search, "usable_cores", lambda cores=cores: cores)
        assert nas.search.default_jobs() == jobs


# ---------------------------------------------------------------- studies and counts
@pytest.mark.slow
def test_a_bare_search_starts_a_new_study_instead_of_continuing_one(tmp_path, monkeypatch, capsys):
    from nas.lightcurves import generate

    x, y = generate(per_class=6, seed=2, length=64)
    np.savez(tmp_path / "d.npz", x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    monkeypatch.chdir(tmp_path)
    argv = ["search", "--data", "d.npz", "--trials", "1", "--epochs", "1", "--polish", "0", "--jobs", "1",
            "--cv-folds", "0", "--finalists", "0"]  # what is tested is the naming: no retraining on folds
    assert main(argv) == 0
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "spectral-nano33-2" in err and "nas resume spectral-nano33" in err
    assert (tmp_path / "studies" / "spectral-nano33-2.db").exists()
    assert main([*argv, "--study", "spectral-nano33"]) == 0  # named explicitly, it continues
    assert "Continuing study 'spectral-nano33'" in capsys.readouterr().err


def _trial(study, state="COMPLETE", **fields):
    values = [0.5, 1000.0] if state == "COMPLETE" else None
    study.add_trial(optuna.trial.create_trial(state=getattr(optuna.trial.TrialState, state), values=values,
                                              user_attrs=schema.attrs(**fields)))


def test_counts_add_up_and_an_interrupted_trial_is_not_a_failure():
    from nas.results import counts, study_rows

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(directions=["maximize", "minimize"])
    _trial(study, trained=True, feasible=True, val_accuracy_int8=0.5, cost={"flash_bytes": 1000})
    _trial(study, "PRUNED", feasible=False, broken=["latency"], estimate={"flash_bytes": 1})
    _trial(study, "PRUNED", screened_out=True)
    _trial(study, "PRUNED", repeat_of=[0, 2])
    _trial(study, "FAIL", fail_reason="NaN loss")
    _trial(study, "FAIL", fail_reason=schema.INTERRUPTED)
    c = counts(study_rows(study))
    assert (c["trained"], c["pruned_before_training"], c["screened_out"], c["repeats"], c["failed"],
            c["interrupted"]) == (1, 1, 1, 1, 1, 1)
    parts = ("trained", "seeded", "pruned_before_training", "screened_out", "repeats", "failed", "interrupted",
             "running", "waiting")
    assert sum(c[k] for k in parts) == c["trials"] == 6


def test_show_and_studies_print_every_count(old_studies, monkeypatch, capsys):
    monkeypatch.chdir(old_studies)
    assert main(["show", "old-spectral"]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert "screened out" in head and "interrupted" in head
    assert main(["studies"]) == 0
    out = capsys.readouterr().out
    assert "screened" in out and "interrupted" in out


def test_the_progress_bar_counts_this_runs_trials_and_stops_at_its_total(capsys):
    from nas.progress import Progress

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(directions=["maximize", "minimize"])
    _trial(study, run="old")  # an earlier run's trial
    progress = Progress(total=2, run_id="now")
    _trial(study, "FAIL", run="now", fail_reason="NaN loss")  # replaced: does not count
    _trial(study, run="now")
    screen = {"epoch": 3, "val_accuracy_float": 0.2, "assumed_gain": 0.1, "rival": 0, "rival_accuracy": 0.9}
    _trial(study, "PRUNED", run="now", screened_out=True, screen=screen)
    progress(study, study.trials[-1])
    assert "[####################] 2/2" in capsys.readouterr().err


# ---------------------------------------------------------------- the test run itself
PROBE = """
import faulthandler, sys
faulthandler.enable()  # as pytest does
import numpy as np, keras
from keras import layers
from nas.quantize import probe_arena, to_int8_tflite
inp = keras.Input(shape=(20,), batch_size=1)
out = layers.Dense(2)(layers.Dense(32, activation="tanh")(inp))
tflite = to_int8_tflite(keras.Model(inp, out), np.random.default_rng(0).normal(size=(16, 20)).astype(np.float32))
results = [probe_arena(tflite, size) for size in range(0, 480, 8)]
print("crashes" in results)
"""


def test_an_arena_probe_that_crashes_prints_no_stack_dump():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.stdout.strip() == "True", out.stderr[-1000:]  # the probes met crashing sizes (0-456 B)...
    assert "Fatal Python error" not in out.stderr  # ...and said nothing of them


def test_skipped_tests_show_their_reasons(tmp_path):
    (tmp_path / "test_skip.py").write_text("import pytest\n\n@pytest.mark.skip(reason='chromium is absent')\n"
                                           "def test_x():\n    pass\n")
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert "SKIPPED [1] test_skip.py:3: chromium is absent" in out.stdout, out.stdout[-800:]


def test_png_export_tries_chromium_again_once(tmp_path, monkeypatch):
    pytest.importorskip("kaleido")
    import plotly.graph_objects as go

    from nas.report import write_pngs

    calls = []

    def flaky(self, path, **kwargs):
        calls.append(path)
        if len(calls) == 1:
            raise RuntimeError("found no Chrome")  # what kaleido said once with chromium installed
        Path(path).write_bytes(b"\x89PNG")

    monkeypatch.setattr(go.Figure, "write_image", flaky)
    assert [p.name for p in write_pngs({"front": go.Figure()}, tmp_path)] == ["front.png"]
    assert len(calls) == 2


# ---------------------------------------------------------------- the report
def test_every_report_axis_has_a_title_and_the_front_table_reads_like_the_cli(old_studies, monkeypatch):
    from nas.report import figures, report_data, write_report
    from nas.study import default_storage, load

    monkeypatch.chdir(old_studies)
    study, config = load("old-spectral", default_storage("old-spectral"))
    data = report_data(study, config)
    from nas.results import study_rows

    for name, fig in figures(data, study_rows(study), config).items():
        layout = fig.to_plotly_json()["layout"]
        axes = {k: v for k, v in layout.items() if re.fullmatch(r"[xy]axis\d*", k)}
        shown = [k for k, v in axes.items() if v.get("showticklabels") is not False]  # a shared axis hides its own
        assert shown
        for key in shown:
            assert (axes[key].get("title") or {}).get("text"), f"{name}.{key} has no title"
        assert "ypervolume" not in (layout.get("title") or {}).get("text", ""), "a plain title, not jargon"
    page = write_report(study, config, old_studies / "reports" / "x").read_text()
    front = page.split("<h2>Front</h2>", 1)[1].split("</table>", 1)[0]
    assert "flash KB" in front and "architecture" in front and "conv8k5s2/p4" in front and "flash B" not in front


def test_flash_ticks_read_in_kb_and_importances_list_only_what_mattered():
    from nas.report import importance_figure, log_kb_axis

    axis = log_kb_axis([0.8, 3.5, 40.0, 100.0])
    assert axis["ticktext"][:4] == ["0.5 KB", "1 KB", "2 KB", "5 KB"] and axis["ticktext"][-1] == "200 KB"
    fig = importance_figure({"importances": {"params": {"kernel_0": 0.7, "stride_0": 0.3, "dense": 0.0},
                                             "method": "PED-ANOVA"}})
    assert list(fig.data[0].y) == ["stride_0", "kernel_0"]  # 'dense' at 0 is left out
    assert importance_figure({"importances": {"params": {"dense": 0.0}, "method": "PED-ANOVA"}}) is None
