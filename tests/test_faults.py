"""Studies survive: a worker killed with SIGKILL mid-training, SIGTERM, and trials that fail."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from nas.cli import main
from nas.schema import TrialRecord
from tests.helpers import write_light_curves

pytestmark = pytest.mark.slow
GRACE_S = 12  # heartbeat grace for these tests (production default 60 s; NAS_GRACE_S)


@pytest.fixture()
def tiny(tmp_path):
    write_light_curves(tmp_path / "tiny.npz")
    return tmp_path


def _load(root, name):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.load_study(study_name=name, storage=f"sqlite:///{root}/studies/{name}.db")


def _start(root, *argv):
    env = {**os.environ, "NAS_GRACE_S": str(GRACE_S), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "nas", *argv], cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_training(root, name, proc, after_finished: int = 1, timeout: float = 240):
    """Block until a trial is being trained (passed its budget check, not yet trained) and at least
    `after_finished` trials are finished; returns that trial's number. It must be seen so in two polls: a
    repeated architecture is in that state for a moment before it is pruned as a repeat (CI once killed the
    search just after, and found its victim PRUNED)."""
    deadline, candidates = time.monotonic() + timeout, set()
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"search ended early: {proc.stderr.read()[-500:]}"
        if (root / "studies" / f"{name}.db").exists():
            try:
                trials = _load(root, name).get_trials(deepcopy=False)
            except Exception:  # the study is being created
                trials = []
            finished = sum(t.state.is_finished() for t in trials)
            training = {t.number for t in trials for r in [TrialRecord.read(t)]  # past the estimate, not rejected
                        if t.state.name == "RUNNING" and r.estimate is not None and r.feasible is None}
            if finished >= after_finished and training & candidates:
                return min(training & candidates)
            candidates = training
        time.sleep(0.2)
    raise AssertionError("no trial reached training in time")


# --cv-folds 0, --polish 0, --finalists 0: these tests are about faults, not scores; one training per candidate
# keeps them short
SEARCH = ["search", "--data", "tiny.npz", "--cv-folds", "0", "--polish", "0", "--finalists", "0", "--trials", "6",
          "--epochs", "40", "--max-latency-ms", "8", "--no-multi-fidelity", "--jobs", "1"]


def test_kill_9_mid_training_then_resume_retries_it(tiny):
    proc = _start(tiny, *SEARCH, "--study", "k")
    victim = _wait_for_training(tiny, "k", proc)
    before = {t.number: (t.state.name, t.values) for t in _load(tiny, "k").trials if t.state.is_finished()}
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _load(tiny, "k").trials[victim].state.name == "RUNNING"  # nobody said it ended
    time.sleep(GRACE_S + 2)  # its heartbeat is now stale

    resumed = _start(tiny, "resume", "k", "--jobs", "1")  # no --trials: finishes what the search asked for
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-800:]
    study = _load(tiny, "k")
    trials = study.trials
    assert [t.number for t in trials] == list(range(len(trials)))  # numbered without gaps or duplicates
    for n, (state, values) in before.items():  # every finished trial is still there, unchanged
        assert (trials[n].state.name, trials[n].values) == (state, values)
    # this failed once in CI (the victim still RUNNING after the resume) and never since: say what the resume did
    assert trials[victim].state.name == "FAIL", (trials[victim].state.name, len(trials), err[-1500:])
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == victim]
    assert len(retries) == 1 and retries[0].params == trials[victim].params
    assert retries[0].state.name in ("COMPLETE", "PRUNED")
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 6


def test_sigterm_stops_cleanly_and_resume_tries_the_trial_again(tiny):
    proc = _start(tiny, *SEARCH, "--study", "t")
    victim = _wait_for_training(tiny, "t", proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert "Resume with: nas resume t" in err and "Traceback" not in err
    trials = _load(tiny, "t").trials
    assert trials[victim].state.name == "FAIL"
    assert TrialRecord.read(trials[victim]).fail_reason.startswith("interrupted")

    resumed = _start(tiny, "resume", "t", "--jobs", "1")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-800:]
    assert f"interrupted trial(s) {victim}" in err
    trials = _load(tiny, "t").trials
    retry = [t for t in trials if TrialRecord.read(t).retry_of == victim]
    assert len(retry) == 1 and retry[0].params == trials[victim].params
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials) == 6


def test_failing_trials_are_recorded_with_their_reason_and_replaced(tiny, monkeypatch, capsys):
    """NaN loss, an exception in training, a converter rejection and a time limit: each trial fails
    with its reason, and the search still reaches the number of finished trials it was asked for."""
    import nas.objective as objective
    from nas.quantize import ConversionError
    from nas.train import TrainingError

    real_train, real_convert = objective.train, objective.convert  # nas.formats.convert: every format
    calls = {"train": 0, "convert": 0}

    def train(*args, **kwargs):
        calls["train"] += 1
        if calls["train"] == 1:
            raise TrainingError("training loss became NaN or infinite")
        if calls["train"] == 2:
            raise MemoryError("out of memory in a kernel")
        if calls["train"] == 4:
            return real_train(*args, **{**kwargs, "time_limit_s": 1e-6})
        return real_train(*args, **kwargs)

    def convert(*args, **kwargs):
        calls["convert"] += 1
        if calls["convert"] == 1:
            raise ConversionError("the converter rejected the model: unsupported op")
        return real_convert(*args, **kwargs)

    monkeypatch.setattr(objective, "train", train)
    monkeypatch.setattr(objective, "convert", convert)
    monkeypatch.chdir(tiny)
    assert main(["search", "--data", "tiny.npz", "--cv-folds", "0", "--polish", "0", "--finalists", "0", "--study", "f",
                 "--trials", "6",
                 "--epochs", "2", "--max-latency-ms", "1000", "--max-flash-kb", "1000", "--max-ram-kb", "1000",
                 "--jobs", "1"]) == 0
    trials = _load(tiny, "f").trials
    reasons = [TrialRecord.read(t).fail_reason or "" for t in trials if t.state.name == "FAIL"]
    assert any("NaN" in r for r in reasons)
    assert any("MemoryError: out of memory" in r for r in reasons)
    assert any("converter rejected" in r for r in reasons)
    assert any("time limit" in r for r in reasons)
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials) == 6
    err = capsys.readouterr().err
    assert "failed: training loss became NaN" in err


def test_four_local_workers_share_one_sqlite_study(tiny, monkeypatch, capfd):
    """--jobs 4 on the default SQLite storage: the study is created before the workers start, each
    worker reopens it; the trials asked for all finish, numbered without gaps or duplicates."""
    monkeypatch.chdir(tiny)
    assert main(["search", "--data", "tiny.npz", "--cv-folds", "0", "--finalists", "0", "--study", "j", "--trials", "8",
                 "--epochs", "2",
                 "--jobs", "4", "--max-latency-ms", "5"]) == 0
    trials = _load(tiny, "j").trials
    assert [t.number for t in trials] == list(range(len(trials)))
    searched = [t for t in trials if TrialRecord.read(t).kind != "polish"]
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in searched) == 8
    polished = [t for t in trials if TrialRecord.read(t).kind == "polish"]  # by the workers too, after the 8
    assert all(t.state.name == "COMPLETE" and t.number >= 8 for t in polished)
    pids = {TrialRecord.read(t).worker["pid"] for t in trials if TrialRecord.read(t).worker}
    assert len(pids) >= 2 and os.getpid() not in pids  # the search and its polish ran in worker processes
    assert "[w" in capfd.readouterr().err  # progress lines name the worker (printed by the worker processes)


def test_processes_finishing_together_can_all_check_the_reports_folder(tmp_path, monkeypatch):
    """Four searches on one PostgreSQL study ended together in CI; one failed its check that reports/
    is writable because another removed the probe file of the same name."""
    from concurrent.futures import ThreadPoolExecutor

    import nas.cli

    monkeypatch.setattr(nas.cli, "REPORTS_DIR", tmp_path / "reports")
    with ThreadPoolExecutor(8) as pool:
        folders = list(pool.map(lambda _: nas.cli._reports_dir("pg"), range(400)))
    assert set(folders) == {tmp_path / "reports" / "pg"}
    assert list(folders[0].iterdir()) == []  # no probe left behind


def test_a_running_trial_whose_worker_process_is_gone_is_failed_and_queued_again():
    import socket

    import optuna

    from nas import schema
    from nas.search import fail_orphaned

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a process number nobody has now
    study = optuna.create_study(directions=["maximize", "minimize"])
    dist = {"a": optuna.distributions.IntDistribution(0, 9)}
    here = socket.gethostname()
    for pid, host in ((gone.pid, here), (os.getpid(), here), (gone.pid, "another-machine")):
        trial = study.ask(dist)
        schema.write(trial, worker={"host": host, "pid": pid})
    assert fail_orphaned(study) == [0]  # alive, or on a machine the heartbeat check watches: left running
    states = [t.state.name for t in study.trials]
    assert states == ["FAIL", "RUNNING", "RUNNING", "WAITING"]
    retry = study.trials[3]
    assert retry.system_attrs["failed_trial"] == 0 and retry.params == study.trials[0].params
    assert fail_orphaned(study) == []  # once
