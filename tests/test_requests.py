"""What each `nas search` invocation was asked for, and what a resume owes: per-invocation counting."""

from __future__ import annotations

import optuna

from nas import schema
from nas.search import finished_count, owed, request, settle


def _trial(study, run_id, state="COMPLETE", kind=None):
    attrs = schema.attrs(run=run_id, **({"kind": kind} if kind else {}))
    values = [0.5, 1000.0] if state == "COMPLETE" else None
    study.add_trial(optuna.trial.create_trial(state=getattr(optuna.trial.TrialState, state), values=values,
                                              user_attrs=attrs))


def test_each_invocation_counts_its_own_trials_and_a_resume_takes_over_what_is_owed():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(directions=["maximize", "minimize"])
    request(study, "a", 3)  # two processes on one study, each asked for 3
    request(study, "b", 3)
    for run_id, state in [("a", "COMPLETE"), ("b", "COMPLETE"), ("a", "FAIL"), ("b", "PRUNED"), ("b", "COMPLETE")]:
        _trial(study, run_id, state)
    _trial(study, "a", kind="teacher")  # seeded teacher trials count toward nothing
    assert (finished_count(study, "a"), finished_count(study, "b"), finished_count(study)) == (1, 3, 4)
    assert owed(study) == {"a": 2}  # b finished; a stopped after one finished trial (its failure is not counted)

    debts = owed(study)
    request(study, "resume", sum(debts.values()))
    settle(study, debts)
    assert owed(study) == {"resume": 2}  # owed once, by the resume, not also by a
    _trial(study, "resume")
    _trial(study, "resume", "PRUNED")
    assert owed(study) == {}
