"""Distributed search on a real PostgreSQL server (Debian's package, started here on localhost):
four `nas search` processes on one study, as four machines would run it; then resume and report."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from nas.schema import TrialRecord
from tests.helpers import write_light_curves

pytestmark = pytest.mark.slow
PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
PASSWORD = "pg-s3cret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str], **kwargs):
    """PostgreSQL refuses to run as root: run its tools as the postgres user when we are root."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def postgres_url():
    if not PG_BIN:
        pytest.skip("PostgreSQL server binaries not found (Debian's postgresql package; .ci/run installs it)")
    pytest.importorskip("psycopg", reason="the postgres extra (psycopg) is not installed")
    bin_dir = Path(PG_BIN[-1])
    root = Path(tempfile.mkdtemp(prefix="nas-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()
    _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "nas"])
    _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o",
                  f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"])
    try:
        _as_postgres([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "nas", "studies"])
        yield f"postgresql://nas:{PASSWORD}@127.0.0.1:{port}/studies"
    finally:
        _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def test_four_workers_on_one_postgres_study_then_resume_and_report(postgres_url, tmp_path):
    import optuna

    from nas.results import architecture_key

    write_light_curves(tmp_path / "tiny.npz")
    argv = [sys.executable, "-m", "nas", "search", "--data", "tiny.npz", "--study", "pg", "--storage", postgres_url,
            "--trials", "3", "--epochs", "2", "--max-latency-ms", "5", "--jobs", "1"]
    # a crash of a subprocess shows its stack, unless it comes while C output is captured: exports
    # segfaulted silently in CI when the arena bisection tried a size that crashes tflite-micro
    # (test_arena.py::test_minimal_arena_is_found_past_arena_sizes_that_crash_the_interpreter)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONFAULTHANDLER": "1"}
    workers = [subprocess.Popen(argv + ["--seed", "0"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(4)]  # started together
    outputs = [w.communicate(timeout=900) for w in workers]
    for w, (out, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, err[-1000:]
        assert PASSWORD not in out + err

    study = optuna.load_study(study_name="pg", storage=postgres_url)
    numbers = [t.number for t in study.trials]
    assert sorted(numbers) == list(range(len(numbers)))  # no gaps, no duplicates
    searched = [t for t in study.trials if TrialRecord.read(t).kind != "polish"]  # the polish comes on top
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in searched) == 12  # 4 workers x 3 trials
    # the four each queued a polish of the front they read; each architecture is trained once per augmentation
    polished = [(architecture_key(study.trials[r.polish_of].params), r.polish_variant)
                for t in study.trials for r in [TrialRecord.read(t)] if r.kind == "polish" and r.trained]
    assert polished and len(set(polished)) == len(polished)

    resume = subprocess.run([sys.executable, "-m", "nas", "resume", "pg", "--storage", postgres_url, "--trials", "1"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert resume.returncode == 0, resume.stderr[-1000:]
    study = optuna.load_study(study_name="pg", storage=postgres_url)
    searched = [t for t in study.trials if TrialRecord.read(t).kind != "polish"]
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in searched) == 13

    report = subprocess.run([sys.executable, "-m", "nas", "report", "pg", "--storage", postgres_url],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-1000:]
    page = (tmp_path / "reports" / "pg" / "index.html").read_text()
    assert "Pareto front" in page and PASSWORD not in page
    export = subprocess.run([sys.executable, "-m", "nas", "export", "pg", "--storage", postgres_url],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert export.returncode == 0, export.stderr[-1000:]
    for card in (tmp_path / "reports" / "pg" / "models").glob("*/model_card.json"):
        assert PASSWORD not in card.read_text()
