"""The polish after a search: which front members get the long recipe, and the augmented batches it
trains on."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from nas import schema
from nas.schema import POLISH, TrialRecord
from nas.search import polish_message, queue_polish
from search_spaces import get_space

SPECTRAL = get_space("spectral")

DIST = {"width": optuna.distributions.IntDistribution(1, 100)}


def _study(points):
    """A study of trained, feasible candidates: (width, int8 val accuracy, flash bytes) each."""
    study = optuna.create_study(directions=["maximize", "minimize"])
    for width, acc, flash in points:
        study.add_trial(optuna.trial.create_trial(
            params={"width": width}, distributions=DIST, values=[acc, flash],
            user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=acc, cost={"flash_bytes": flash})))
    return study


def _waiting(study):
    return [t for t in study.get_trials(deepcopy=False) if t.state.name == "WAITING"]


def test_the_best_front_members_are_queued_once_each():
    # front: #0 (0.90, 5 KB), #1 (0.80, 3 KB), #2 (0.95, 9 KB); #3 is dominated by #0
    study = _study([(10, 0.90, 5000), (20, 0.80, 3000), (30, 0.95, 9000), (40, 0.70, 6000)])
    assert queue_polish(study, 2) == {2: [None, "jitter"], 0: [None, "jitter"]}  # best score first
    queued = _waiting(study)
    assert [(t.system_attrs["fixed_params"], TrialRecord.read(t).kind, TrialRecord.read(t).polish_of,
             TrialRecord.read(t).polish_variant) for t in queued] == [
        ({"width": 30}, POLISH, 2, None), ({"width": 30}, POLISH, 2, "jitter"),
        ({"width": 10}, POLISH, 0, None), ({"width": 10}, POLISH, 0, "jitter")]
    assert queue_polish(study, 2) == {1: [None, "jitter"]}  # the queued ones are not queued again
    assert queue_polish(study, 2) == {}
    assert queue_polish(_study([(10, 0.9, 5000)]), 0) == {}


def test_a_polished_model_on_the_front_is_not_polished_again():
    study = _study([(10, 0.90, 5000)])
    study.add_trial(optuna.trial.create_trial(
        params={"width": 10}, distributions=DIST, values=[0.97, 5000],
        user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=0.97, cost={"flash_bytes": 5000},
                                kind=POLISH, polish_of=0)))
    study.add_trial(optuna.trial.create_trial(  # a new front member after a resume: it gets its turn
        params={"width": 50}, distributions=DIST, values=[0.85, 2000],
        user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=0.85, cost={"flash_bytes": 2000})))
    assert list(queue_polish(study, 3)) == [2]


def test_a_front_member_trained_with_its_published_schedule_is_not_polished():
    # #1, a baseline trained with FCN's own recipe (2000 epochs), tops the front; the polish recipe is shorter
    study = _study([(10, 0.90, 5000)])
    study.add_trial(optuna.trial.create_trial(
        params={"width": 20}, distributions=DIST, values=[0.95, 9000],
        user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=0.95, cost={"flash_bytes": 9000},
                                kind=schema.BASELINE, recipe={"epochs": 2000, "schedule": "plateau"})))
    study.add_trial(optuna.trial.create_trial(
        params={"width": 30}, distributions=DIST, values=[0.80, 3000],
        user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=0.80, cost={"flash_bytes": 3000})))
    assert list(queue_polish(study, 2)) == [0, 2]  # the slot goes to the next member trained as the search trains


def test_a_polished_model_that_ties_its_original_takes_its_place_on_the_front():
    from nas.results import study_rows

    study = _study([(10, 1.0, 5000), (20, 0.9, 3000)])
    for acc in (1.0, 0.8):  # a tie with #0, then a polish of #1 that did worse than it
        study.add_trial(optuna.trial.create_trial(
            params={"width": 10 if acc == 1.0 else 20}, distributions=DIST, values=[acc, 5000 if acc == 1.0 else 3000],
            user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=acc,
                                    cost={"flash_bytes": 5000 if acc == 1.0 else 3000}, kind=POLISH,
                                    polish_of=0 if acc == 1.0 else 1)))
    assert sorted(r["number"] for r in study_rows(study) if r["on_front"]) == [1, 2]


def test_augmented_batches_keep_shapes_and_labels_and_differ_every_epoch():
    tf = pytest.importorskip("tensorflow")
    from nas.train import augmented

    t = np.linspace(0, 2 * np.pi, 50)
    x = np.stack([np.stack([np.sin(t * (1 + i % 3) + i), np.cos(t + i)], -1)[None] for i in range(12)])
    x = x.astype("float32")
    y = np.arange(12)
    data = augmented(x, y, batch_size=12, seed=3)  # "warp"
    (xa, ya), (xb, yb) = list(data.take(1)) + list(data.take(1))
    for xs, ys in ((xa, ya), (xb, yb)):
        assert xs.shape == x.shape and xs.dtype == tf.float32
        assert sorted(ys.numpy().tolist()) == y.tolist()  # every series once, with its own label
        back = x[ys.numpy()]
        assert np.isfinite(xs.numpy()).all() and not np.allclose(xs.numpy(), back)
        # a distortion, not new data: each series stays close to its original
        for got, want in zip(xs.numpy(), back, strict=True):
            assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.5
    assert not np.allclose(xa.numpy()[np.argsort(ya.numpy())], xb.numpy()[np.argsort(yb.numpy())])


def test_jittered_series_keep_every_sample_at_its_time():
    """The mean of many "jitter" draws of a series is the series: nothing is stretched or shifted."""
    pytest.importorskip("tensorflow")
    from nas.train import augmented

    t = np.linspace(0, 8 * np.pi, 200)
    series = np.stack([np.sin(t), np.sign(np.sin(3 * t))], -1).astype("float32")
    x = np.repeat(series[None, None], 4000, axis=0)
    draws = np.concatenate([xb.numpy() for xb, _ in augmented(x, np.zeros(len(x), int), batch_size=500, seed=0,
                                                               kind="jitter")])
    assert draws.shape == x.shape
    assert np.abs(draws.mean(0)[0] - series).max() < 0.02  # gain mean 1, jitter mean 0, nothing moved


def test_the_time_warp_stretches_as_often_as_it_squeezes(monkeypatch):
    """What a model trains on is not stretched against what it is scored on: on a ramp (value = time step) each
    batch's slope is its time scale, and the scales spread evenly about 1 within [WARP, 1 / WARP]. Window
    slicing, before, stretched every batch (scale 0.9)."""
    pytest.importorskip("tensorflow")
    import nas.train

    monkeypatch.setattr(nas.train, "SCALE_SD", 0.0)
    monkeypatch.setattr(nas.train, "JITTER_SD", 0.0)
    x = np.repeat(np.arange(200, dtype="float32")[None, None, :, None], 3000, axis=0)
    scales = np.array([np.diff(xb.numpy()[0, 0, :, 0]).max()
                       for xb, _ in nas.train.augmented(x, np.zeros(len(x), int), batch_size=10, seed=0)])
    assert len(scales) == 300
    assert scales.min() >= nas.train.WARP - 1e-4 and scales.max() <= 1 / nas.train.WARP + 1e-4
    assert abs(np.log(scales).mean()) < 0.01 and 0.4 < (scales < 1).mean() < 0.6


TINY_PARAMS = {"n_blocks": 2, "head": "global_avg", "dense": 8,
               **{f"{name}_{i}": value for i in range(2) for name, value in
                  (("filters", 8), ("kernel", 3), ("separable", False), ("stride", 1), ("pool", 2))}}


def _tiny_objective():
    """The search's objective on 24 training series, one epoch, no screen."""
    pytest.importorskip("tensorflow")
    from cost_models import Budget
    from cost_models.device import DEVICES
    from nas.data import Dataset
    from nas.lightcurves import generate
    from nas.objective import make_objective

    x, y = generate(per_class=6, seed=0, length=64)
    dataset = Dataset(x[:24], y[:24], x[24:30], y[24:30], x[30:], y[30:], tuple("abcdef"), "tiny", "test")
    return make_objective(space_name="spectral", dataset=dataset, device=DEVICES["nano33"], budget=Budget(),
                          epochs=1, seed=0, time_limit_s=300, multi_fidelity=False)


def test_a_polish_queued_twice_by_processes_finishing_together_trains_once():
    """Two processes ending a search on one study each read the front, then queue the same polish:
    the lower-numbered trial trains, the other stops before training and is no candidate of its own."""
    from nas.results import study_rows

    objective = _tiny_objective()
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.enqueue_trial(TINY_PARAMS)
    for _ in range(2):
        schema.enqueue(study, TINY_PARAMS, kind=POLISH, polish_of=0)
    study.optimize(objective, n_trials=3)

    original, polish, duplicate = study.trials
    assert TrialRecord.read(original).trained and TrialRecord.read(polish).trained
    assert TrialRecord.read(polish).recipe["polish_of"] == 0
    assert duplicate.state.name == "PRUNED"
    assert TrialRecord.read(duplicate) == TrialRecord(kind=POLISH, polish_of=0, duplicate_of=1)
    assert [r["number"] for r in study_rows(study)] == [0, 1]


def test_a_sampled_architecture_is_trained_twice_at_most_with_the_search_s_recipe():
    """The sampler proposing one architecture a third time gets it pruned before training, its earlier
    trainings named; a polish of it, or a failed training, is not one of them."""
    from nas.objective import MAX_TRIES
    from nas.results import counts, study_rows

    objective = _tiny_objective()
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.enqueue_trial(TINY_PARAMS)
    study.optimize(objective, n_trials=1)
    study.add_trial(optuna.trial.create_trial(  # a training of it that failed: not a try
        state=optuna.trial.TrialState.FAIL, params=TINY_PARAMS, distributions=study.trials[0].distributions,
        user_attrs=schema.attrs(recipe={"epochs": 1}, fail_reason="NaN loss")))
    schema.enqueue(study, TINY_PARAMS, kind=POLISH, polish_of=0)  # nor is a polish
    for _ in range(2):
        study.enqueue_trial(TINY_PARAMS)
    study.optimize(objective, n_trials=3)

    first, _, polish, second, third = study.trials
    assert MAX_TRIES == 2 and all(TrialRecord.read(t).trained for t in (first, polish, second))
    assert third.state.name == "PRUNED" and third.params == TINY_PARAMS
    record = TrialRecord.read(third)
    assert record.repeat_of == [0, 3] and not record.trained and record.estimate is not None
    c = counts(study_rows(study))
    assert (c["repeats"], c["pruned_before_training"], c["trained"]) == (1, 0, 3)
    assert queue_polish(study, 3) == {0: ["jitter"]}  # and the architecture is not queued a third time,
    assert queue_polish(study, 3) == {}  # only on the augmentation it has not had


def test_of_two_tries_running_at_once_the_later_numbered_one_yields():
    # #0 trained the architecture; #1 and #2 are tries of it that two workers started at once, each recording its
    # recipe before counting: #2 counts #0 and #1 and is a repeat, #1 does not count #2 and trains
    from nas.objective import MAX_TRIES, earlier_tries

    study = optuna.create_study(directions=["maximize", "minimize"])
    study.add_trial(optuna.trial.create_trial(
        params={"width": 10}, distributions=DIST, values=[0.80, 5000],
        user_attrs=schema.attrs(trained=True, feasible=True, recipe={"epochs": 1}, cost={"flash_bytes": 5000})))
    for _ in range(2):
        study.enqueue_trial({"width": 10})
        schema.write(study.ask(fixed_distributions=DIST), recipe={"epochs": 1})
    trials = study.get_trials(deepcopy=False)
    later, earlier = trials[2], trials[1]
    assert MAX_TRIES == 2
    assert earlier_tries(trials, later) == [0, 1]
    assert earlier_tries(trials, earlier) == [0]


def _like_fcn(n_blocks=3, **changes):
    params = {"n_blocks": n_blocks, "head": "global_avg", "dense": 8,
              **{f"{name}_{i}": value for i in range(n_blocks) for name, value in
                 (("filters", 6), ("kernel", 7), ("separable", False), ("stride", 1), ("pool", 1))}}
    return params | changes


def test_only_fcn_like_architectures_get_fcn_s_schedule_as_a_second_polish():
    from nas.objective import schedule_polish

    assert schedule_polish(_like_fcn(), SPECTRAL)["schedule"] == "swa"
    # FCN's schedule, never longer than FCN's own recipe as the study trains it (--baseline-epochs)
    assert [schedule_polish(_like_fcn(), SPECTRAL, n)["epochs"] for n in (0, 2000, 40)] == [500, 500, 40]
    for changes in ({"separable_1": True}, {"stride_0": 2}, {"pool_2": 2}, {"head": "flatten"}):
        assert schedule_polish(_like_fcn(**changes), SPECTRAL) is None, changes
    assert schedule_polish(_like_fcn(), get_space("mlp")) is None  # a space that lays nothing out as FCN


def test_a_second_recipe_is_queued_beside_the_polish_and_each_only_once():
    from nas.objective import schedule_polish

    dist = {"arch": optuna.distributions.CategoricalDistribution(["fcn", "pooled"])}
    study = optuna.create_study(directions=["maximize", "minimize"])
    archs = {"fcn": _like_fcn(), "pooled": _like_fcn(pool_0=2)}
    for name, acc, flash in (("fcn", 0.9, 5000), ("pooled", 0.8, 3000)):
        study.add_trial(optuna.trial.create_trial(
            params={"arch": name}, distributions=dist, values=[acc, flash],
            user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=acc, cost={"flash_bytes": flash})))

    def second(params):
        return schedule_polish(archs[params["arch"]], SPECTRAL)

    assert queue_polish(study, 2, second) == {0: [None, "jitter", "swa"], 1: [None, "jitter"]}
    queued = [(TrialRecord.read(t).polish_of, TrialRecord.read(t).polish_variant) for t in _waiting(study)]
    # the pooled net gets the polish recipe alone, on both augmentations
    assert queued == [(0, None), (0, "jitter"), (0, "swa"), (1, None), (1, "jitter")]
    assert queue_polish(study, 2, second) == {}  # queued already, each recipe
    # a study polished before the second recipe existed: the FCN-like member gets the missing one only
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.add_trial(optuna.trial.create_trial(
        params={"arch": "fcn"}, distributions=dist, values=[0.9, 5000],
        user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=0.9, cost={"flash_bytes": 5000})))
    schema.enqueue(study, {"arch": "fcn"}, kind=POLISH, polish_of=0)
    assert queue_polish(study, 2, second) == {0: ["jitter", "swa"]}
    assert [TrialRecord.read(t).polish_variant for t in _waiting(study)] == [None, "jitter", "swa"]



def test_the_polish_line_says_which_trials_get_which_recipe():
    assert polish_message({12: [None, "jitter"], 33: ["jitter"]}) == (
        "Polishing the front: trial(s) 12, 33 trained again for 4x the epochs on augmented series (time-warped, and "
        "jittered only).")
    assert polish_message({12: [None, "jitter", "plateau"], 33: [None, "jitter"]}) == (
        "Polishing the front: trial(s) 12, 33 trained again for 4x the epochs on augmented series (time-warped, and "
        "jittered only), and 12 (laid out as FCN) with FCN's schedule as well.")
    # a member polished before the second recipe existed gets FCN's schedule alone: not "4x the epochs"
    assert polish_message({5: ["plateau"]}) == (
        "Polishing the front: trial(s) 5 (laid out as FCN) trained again with FCN's schedule.")

def test_a_polish_queued_with_a_schedule_trains_with_it():
    from types import SimpleNamespace

    from nas.objective import JITTER_POLISH, recipe_for, schedule_polish

    study = optuna.create_study(directions=["maximize", "minimize"])
    schema.enqueue(study, {}, kind=POLISH, polish_of=3, recipe=schedule_polish(_like_fcn(), SPECTRAL))
    schema.enqueue(study, {}, kind=POLISH, polish_of=3)
    schema.enqueue(study, {}, kind=POLISH, polish_of=3, recipe=JITTER_POLISH)
    data = SimpleNamespace(y_train=np.zeros(159))
    scheduled, plain, jittered = (recipe_for(t, data, 56) for t in _waiting(study))
    assert scheduled == {**schedule_polish(_like_fcn(), SPECTRAL), "polish_of": 3}
    assert "schedule" not in plain and plain["epochs"] == 4 * 56 and plain["polish_of"] == 3
    assert plain["augment"] == "warp" and jittered == {**plain, "augment": "jitter"}


def test_an_interrupted_baseline_or_scheduled_polish_is_queued_again_as_it_was():
    from nas.objective import schedule_polish
    from nas.search import requeue_interrupted

    baseline = {"name": "fcn", "divisor": 18, "strides": [1, 1, 1]}
    recipe = {**schedule_polish(_like_fcn(), SPECTRAL), "polish_of": 0}
    jittered = {"epochs": 224, "patience": 20, "augment": "jitter", "polish_of": 0}
    study = optuna.create_study(directions=["maximize", "minimize"])
    for attrs in ({"kind": schema.BASELINE, "baseline": baseline, "recipe": {"schedule": "plateau", "epochs": 9}},
                  {"kind": POLISH, "polish_of": 0, "recipe": recipe},
                  {"kind": POLISH, "polish_of": 0, "recipe": jittered}):
        study.add_trial(optuna.trial.create_trial(
            state=optuna.trial.TrialState.FAIL, params={}, distributions={},
            user_attrs=schema.attrs(fail_reason=schema.INTERRUPTED, **attrs)))
    assert requeue_interrupted(study) == [0, 1, 2]
    again = [TrialRecord.read(t) for t in _waiting(study)]
    assert again[0].baseline == baseline and again[0].recipe["schedule"] == "plateau"
    assert again[1].polish_of == 0 and again[1].recipe == recipe
    assert again[2].polish_of == 0 and again[2].polish_variant == "jitter"  # not the time-warped polish


def test_the_diagnosis_says_where_the_sampler_s_proposals_went():
    from tests.helpers import benchmark

    study = optuna.create_study(directions=["maximize", "minimize"])
    dist = {"a": optuna.distributions.CategoricalDistribution([1, 2, 3])}
    for a, state, attrs in ((1, "COMPLETE", {"trained": True}), (1, "COMPLETE", {"trained": True}),
                            (1, "PRUNED", {"repeat_of": [0, 1]}), (2, "PRUNED", {"screened_out": True}),
                            (3, "PRUNED", {"broken": ["flash"]}),
                            (1, "COMPLETE", {"trained": True, "kind": POLISH, "polish_of": 0}),
                            (2, "COMPLETE", {"trained": True, "kind": schema.FCN_IN_SPACE})):
        study.add_trial(optuna.trial.create_trial(
            state=getattr(optuna.trial.TrialState, state), params={"a": a}, distributions=dist,
            values=[0.5, 1.0] if state == "COMPLETE" else None, user_attrs=schema.attrs(**attrs)))
    assert benchmark("selection_diagnosis").sampled_effort(study) == (
        "sampled: 5 proposals of 3 architectures; 2 trained fully (1 architectures), 1 screened out, "
        "1 not trained again (repeats)")


def test_a_published_schedule_s_front_place_polishes_its_architecture_s_searched_training():
    # #1 and #2 are one baseline: #2, its own recipe, tops the front and hides #1 (the search's recipe) behind it
    baseline = {"name": "fcn", "divisor": 16, "strides": [8, 2, 2]}
    study = _study([(30, 0.80, 3000)])
    for acc, recipe in ((0.90, None), (0.95, {"epochs": 2000, "schedule": "plateau"})):
        study.add_trial(optuna.trial.create_trial(
            params={}, distributions={}, values=[acc, 9000],
            user_attrs=schema.attrs(trained=True, feasible=True, val_accuracy_int8=acc, cost={"flash_bytes": 9000},
                                    kind=schema.BASELINE, baseline=baseline, **({"recipe": recipe} if recipe else {}))))
    assert queue_polish(study, 2) == {1: [None, "jitter"], 0: [None, "jitter"]}  # in #2's place, its score's rank
    assert {TrialRecord.read(t).baseline["divisor"] for t in _waiting(study) if TrialRecord.read(t).polish_of == 1} \
        == {16}
    assert queue_polish(study, 2) == {}  # the architecture had its polish
