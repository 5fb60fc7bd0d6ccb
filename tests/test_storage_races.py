"""Many processes starting together on a study file that does not exist yet (measured with Optuna 5.0:
16 workers on a new SQLite file crashed 9-12 of them at start-up). Through `nas.study.create_or_load`
every one of them must open the one study and record its trials, numbered without gaps or duplicates.
No TensorFlow here: the race is in the storage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

WORKER = """
import sys
import optuna
from cost_models import DEVICES, Budget
from nas.config import RunConfig
from nas.study import create_or_load
optuna.logging.set_verbosity(optuna.logging.ERROR)
config = RunConfig(space="spectral", space_version=1, device=DEVICES["nano33"], budget=Budget(), data={})
study, stored = create_or_load("race", sys.argv[1], config)
assert stored.space == "spectral", stored
for _ in range(3):
    trial = study.ask()
    study.tell(trial, [0.5, 1000.0])
"""


@pytest.mark.slow
def test_sixteen_processes_start_together_on_a_new_sqlite_study(tmp_path):
    import optuna

    storage = f"sqlite:///{tmp_path}/studies/race.db"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, storage], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(16)]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    failed = [err.strip().splitlines()[-1:] for code, err in results if code != 0]
    assert not failed, f"{len(failed)} of 16 failed: {failed[:3]}"
    trials = optuna.load_study(study_name="race", storage=storage).trials
    assert sorted(t.number for t in trials) == list(range(48))
    assert all(t.state.name == "COMPLETE" for t in trials)


def _four_at_once(script: str, *args: str, delay: float) -> list[str]:
    """Run `script` in 4 Python processes given `args` and a start time `delay` seconds ahead, at which each
    begins (so they race); their outputs, once every one has exited 0."""
    import time

    start = f"{time.time() + delay:.3f}"
    procs = [subprocess.Popen([sys.executable, "-c", script, *args, start], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-500:] for _, err in outputs]
    return [out for out, _ in outputs]


POPPER = """
import sys, time
import optuna
from nas.study import _storage
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name="queue", storage=_storage(sys.argv[1]))
start = float(sys.argv[2])
while time.time() < start:  # every process asks at the same moment
    pass
popped = []
while (trial_id := study._pop_waiting_trial_id()) is not None:
    popped.append(trial_id)
print(" ".join(map(str, popped)))
"""


@pytest.mark.slow
def test_a_queued_trial_is_handed_to_one_process_only(tmp_path):
    """Queued trials (baselines, polish, retries) are popped by whichever worker asks first. Without the
    write lock at BEGIN, 4 processes popping 60 queued trials from one SQLite file popped 72 and 77."""
    import optuna

    storage = f"sqlite:///{tmp_path}/queue.db"
    study = optuna.create_study(study_name="queue", storage=storage)
    for i in range(60):
        study.enqueue_trial({"x": i}, skip_if_exists=False)
    popped = [int(t) for out in _four_at_once(POPPER, storage, delay=6) for t in out.split()]
    assert sorted(popped) == sorted({t._trial_id for t in study.trials})  # each once, none twice


TAKER = """
import sys, time
from nas.search import Tickets
tickets, start, taken = Tickets(sys.argv[1]), float(sys.argv[2]), 0
time.sleep(max(0.0, start - time.time()))
while tickets.take():
    taken += 1
print(taken)
"""


@pytest.mark.slow
def test_the_tickets_of_a_run_are_each_taken_by_one_worker_process(tmp_path):
    """A run's worker processes share its trials as tickets; 4 processes taking 400 together take 400."""
    from nas.search import Tickets

    with Tickets.of(400) as tickets:
        assert sum(int(out) for out in _four_at_once(TAKER, tickets.path, delay=4)) == 400 and tickets.left() == 0
    assert not Path(tickets.path).exists()


QUEUED_ONLY = """
import sys, time
import optuna
from nas.search import NothingQueued, only_queued
from nas.study import _storage
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name="polish", storage=_storage(sys.argv[1]))
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
ran = []
try:
    with only_queued(study):  # each asks for every trial queued: the others take some of them meanwhile
        study.optimize(lambda t: ran.append(t.suggest_int("x", 0, 10**6)) or time.sleep(0.02) or 0.0, n_trials=40)
except NothingQueued:
    pass
print(" ".join(map(str, ran)))
"""


@pytest.mark.slow
def test_queued_only_workers_take_the_queued_trials_and_sample_none(tmp_path):
    """The polish's workers run queued trials until none is waiting. 4 processes each asking for all 40 queued
    trials run them once each; an ask with none left waiting must not sample a new trial (Optuna's ask would)."""
    import optuna

    storage = f"sqlite:///{tmp_path}/polish.db"
    study = optuna.create_study(study_name="polish", storage=storage)
    for i in range(40):
        study.enqueue_trial({"x": i}, skip_if_exists=False)
    ran = [int(x) for out in _four_at_once(QUEUED_ONLY, storage, delay=6) for x in out.split()]
    assert sorted(ran) == list(range(40))
    trials = optuna.load_study(study_name="polish", storage=storage).trials
    assert len(trials) == 40 and all(t.state.name == "COMPLETE" for t in trials)
