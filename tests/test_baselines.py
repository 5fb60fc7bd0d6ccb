"""The hand-made baselines at equal cost (nas.baselines): each published architecture, shrunk and strided by
the cost models until it fits, is a model the search's own pipeline converts and runs in TFLM."""

from __future__ import annotations

import numpy as np
import pytest

from cost_models import DEVICES, Budget


@pytest.mark.parametrize("name", ["fcn", "resnet", "dscnn"])
def test_a_fitted_baseline_fits_its_budget_converts_and_runs_in_tflm(name):
    from cost_models import estimate
    from cost_models.tflite_reader import read_tflite
    from nas.baselines import Baseline, fit
    from nas.quantize import Int8Model, to_int8_tflite
    from tests.helpers import randomize_weights

    budget = Budget(max_latency_ms=10.0)
    baseline, cost = fit(name, (150, 1), 3, DEVICES["nano33"], budget)
    assert not any(v > 0 for v in cost.violations(budget).values())
    full = Baseline(name, 1, (1, 1, 1))
    assert (baseline.divisor, baseline.strides) != (full.divisor, full.strides)  # the published size does not fit
    model = baseline.build((150, 1), 3)
    randomize_weights(model)
    x = np.random.default_rng(0).normal(size=(8, 1, 150, 1)).astype(np.float32)
    tflite = to_int8_tflite(model, x)
    shipped = estimate(read_tflite(tflite), DEVICES["nano33"], flash_bytes=len(tflite))
    assert shipped.macs == cost.macs and abs(shipped.latency_ms - cost.latency_ms) < 0.05 * cost.latency_ms
    assert Int8Model(tflite).predict(x[:2, 0]).shape == (2, 3)


def test_an_unknown_baseline_is_named():
    from nas.baselines import fit

    with pytest.raises(ValueError, match="unknown baseline 'lstm'"):
        fit("lstm", (150, 1), 3, DEVICES["nano33"], Budget())


def test_fcn_is_also_tried_unstrided_at_the_widest_width_that_fits():
    from nas.baselines import UNSTRIDED_DIVISORS, Baseline, fits_budget, fitted, widest_unstrided

    device, budget = DEVICES["nano33"], Budget(max_latency_ms=40.0)
    plain = widest_unstrided("fcn", (427, 1), 6, device, budget)
    assert plain.strides == (1, 1, 1) and fits_budget(plain, (427, 1), 6, device, budget)[0]
    wider = UNSTRIDED_DIVISORS[UNSTRIDED_DIVISORS.index(plain.divisor) - 1]
    assert not fits_budget(Baseline("fcn", wider, (1, 1, 1)), (427, 1), 6, device, budget)[0]  # the widest fitting
    found = fitted((427, 1), 6, device, budget)
    assert [b.name for b in found] == ["fcn", "resnet", "dscnn", "fcn"] and found[-1] == plain
    assert found[0].strides != (1, 1, 1)  # the most MACs came from striding a wider FCN


def test_only_fcn_has_a_published_recipe_here():
    from nas.baselines import PUBLISHED_EPOCHS, Baseline, published_recipe

    fcn = Baseline("fcn", 8, (2, 2, 1))
    assert published_recipe(fcn, PUBLISHED_EPOCHS) == {"epochs": 2000, "patience": None, "augment": False,
                                                       "schedule": "plateau"}
    assert published_recipe(fcn, 0) is None
    assert published_recipe(Baseline("dscnn", 1, (4, 2, 2)), PUBLISHED_EPOCHS) is None


def test_only_models_trained_with_the_search_recipe_can_screen_a_candidate_out():
    import optuna

    from nas import schema
    from nas.objective import make_screen

    study = optuna.create_study(directions=["maximize", "minimize"])
    search = {"epochs": 20, "patience": 5, "augment": False}
    for acc, flash, extra in [(0.70, 5000, {"recipe": search}),
                              (0.95, 4000, {"kind": schema.BASELINE, "baseline": {"name": "fcn"},
                                            "recipe": {**search, "epochs": 2000, "schedule": "plateau"}}),
                              (0.96, 3000, {"kind": schema.POLISH, "polish_of": 0,
                                            "recipe": {**search, "epochs": 80, "polish_of": 0}})]:
        study.add_trial(optuna.trial.create_trial(values=[acc, flash], user_attrs=schema.attrs(
            trained=True, feasible=True, val_accuracy_int8=acc, **extra)))
    trial = study.ask()
    screen = make_screen(trial, 20, 6000.0)
    assert screen.keep(0.60)  # 0.60 + the assumed gain 0.15 can reach trial 0's 0.70; not the others' 0.95-0.96
    assert schema.TrialRecord.read(study.trials[-1]).screen["rival"] == 0
    assert not make_screen(study.ask(), 20, 6000.0).keep(0.50)  # and below trial 0's reach it is screened out


@pytest.mark.slow
def test_a_search_with_baselines_trains_them_first_as_seeded_trials(tmp_path, monkeypatch):
    from nas.baselines import Baseline
    from nas.cli import main
    from nas.lightcurves import generate
    from nas.results import counts, study_rows
    from nas.schema import BASELINE, FCN_IN_SPACE, POLISH, TrialRecord
    from nas.study import default_storage, load
    from search_spaces.spectral import fcn_params

    x, y = generate(per_class=6, seed=3, length=150)
    np.savez(tmp_path / "d.npz", x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    monkeypatch.chdir(tmp_path)
    assert main(["search", "--data", "d.npz", "--trials", "2", "--epochs", "2", "--baselines", "--study", "b", "--jobs",
                 "1", "--baseline-epochs", "3", "--cv-folds", "0", "--finalists", "0"]) == 0  # test_finalists does them
    study, config = load("b", default_storage("b"))
    records = [TrialRecord.read(t) for t in study.trials]
    seeded = [r for r in records if r.kind == BASELINE]
    # the most-MACs configuration of each, FCN unstrided, then the two FCNs again with FCN's own recipe
    assert config.objective.baselines and config.objective.baseline_epochs == 3
    assert [r.baseline["name"] for r in seeded] == ["fcn", "resnet", "dscnn", "fcn", "fcn", "fcn"]
    assert seeded[3].baseline["strides"] == [1, 1, 1] and [r.baseline for r in seeded[4:]] == [
        seeded[0].baseline, seeded[3].baseline]
    assert [t.number for t in study.trials if TrialRecord.read(t).kind == BASELINE] == list(range(6))  # first
    for r in seeded[:4]:
        assert r.recipe["epochs"] == 2 and "schedule" not in r.recipe  # the search's recipe
    for r in seeded[4:]:
        assert r.recipe == {"epochs": 3, "patience": None, "augment": False, "schedule": "plateau"}
        assert r.epochs_run == 3 and r.architecture.endswith(", its own recipe")  # every epoch: it stops on none
    for r in seeded:
        assert r.trained and not r.screened_out and r.architecture.startswith(r.baseline["name"] + " 1/")
        assert r.feasible and r.cost["latency_ms"] <= 10.0  # fitted by the estimate, confirmed by the shipped file
    # then FCN's two layouts as the space's own parameters, trained fully with the search's recipe
    expected = [fcn_params(Baseline.from_dict(seeded[i].baseline).widths(), tuple(seeded[i].baseline["strides"]))
                for i in (0, 3)]  # None: a stride the space does not have
    expected = [p for p in expected if p is not None]
    in_space = [(t.params, TrialRecord.read(t)) for t in study.trials[6:6 + len(expected)]]
    assert expected and [params for params, _ in in_space] == expected
    assert all(r.kind == FCN_IN_SPACE and r.trained and not r.screened_out for _, r in in_space)
    # then the strided FCN's layout pooled instead (pooled_fcn_in_space), then each layout with FCN's schedule
    # (weights averaged): the pooled one, then FCN's layouts in the space's order
    later = [(t.params, TrialRecord.read(t)) for t in study.trials[6 + len(expected):]
             if TrialRecord.read(t).kind == FCN_IN_SPACE]
    pooled = [later[0], later[1]]
    assert len(later) == 2 + len(expected) and pooled[0][0] == pooled[1][0] and pooled[0][0]["pool_0"] > 1
    assert not any(pooled[0][0][f"stride_{i}"] > 1 for i in range(3))
    assert "schedule" not in pooled[0][1].recipe
    assert [params for params, _ in later[2:]] == expected
    for _, r in later[1:]:
        assert r.recipe == {"epochs": 3, "patience": None, "augment": False, "schedule": "swa"}
    assert all(r.trained and r.feasible and not r.screened_out for _, r in later)
    assert sum(r.kind not in (BASELINE, FCN_IN_SPACE, POLISH) for r in records) == 2  # --trials: the search's own
    for r in records:  # a polished baseline is the same baseline, trained longer with the polish recipe; one
        if r.kind == POLISH and records[r.polish_of].baseline:  # trained with its own recipe is not polished
            original = records[r.polish_of]
            assert r.baseline == original.baseline and not original.schedule
            assert r.architecture == original.architecture
    c = counts(study_rows(study))
    assert c["trained"] == sum(r.trained for r in records) and c["trials"] == len(records)
    assert main(["resume", "b", "--trials", "1", "--jobs", "1"]) == 0  # seeded once per study
    assert sum(TrialRecord.read(t).kind == BASELINE for t in load("b", default_storage("b"))[0].trials) == 6


def test_fcn_s_layout_in_the_space_takes_the_widest_widths_not_above_fcn_s():
    import optuna

    from cost_models import symbolic
    from nas.baselines import Baseline
    from search_spaces import get_space
    from search_spaces.spectral import fcn_params, like_fcn

    assert Baseline("fcn", 18, (1, 1, 1)).widths() == (7, 14, 7)
    params = fcn_params((7, 14, 7), (1, 1, 1))
    assert [params[f"filters_{i}"] for i in range(3)] == [6, 12, 6] and like_fcn(params)
    assert [params[f"kernel_{i}"] for i in range(3)] == [7, 5, 3]
    strided = fcn_params((16, 32, 16), (2, 2, 1))
    assert [strided[f"filters_{i}"] for i in range(3)] == [16, 32, 16] and not like_fcn(strided)
    assert fcn_params((3, 6, 3), (1, 1, 1)) is None  # narrower than the space's narrowest
    assert fcn_params((16, 32, 16), (16, 1, 1)) is None  # a stride the space does not have
    study = optuna.create_study()
    study.enqueue_trial(params)
    trial = study.ask()
    get_space("spectral").build(trial, input_shape=(427, 1), n_outputs=6, keras=symbolic.keras)
    assert trial.params == params  # every parameter one of the space's choices


def test_fcn_s_layouts_are_seeded_only_in_a_space_version_that_can_take_them():
    from types import SimpleNamespace

    from cost_models import Budget, get_device
    from nas.baselines import Baseline
    from nas.tasks import fcn_in_space
    from search_spaces import get_space

    found = [Baseline("fcn", 18, (1, 1, 1)), Baseline("resnet", 16, (1, 1, 1)), Baseline("fcn", 18, (1, 1, 1))]
    spectral = get_space("spectral")
    nano33 = get_device("nano33")
    config = SimpleNamespace(space="spectral", space_version=spectral.version, device=nano33,
                             budget=Budget(max_latency_ms=40.0))
    osuleaf = ((427, 1), 6)
    assert fcn_in_space(config, found, *osuleaf) == [spectral.fcn_params((7, 14, 7), (1, 1, 1))]  # FCN's, once
    # v2's widths are 8, 16, 32: the current version's parameters would not be its choices
    assert fcn_in_space(SimpleNamespace(space="spectral", space_version=2), found, *osuleaf) == []
    assert fcn_in_space(SimpleNamespace(space="mlp", space_version=get_space("mlp").version), found, *osuleaf) == []


def test_a_strided_fcn_s_layout_is_seeded_at_the_width_that_fits_the_space_s_net():
    from types import SimpleNamespace

    import optuna

    from cost_models import Budget, estimate, get_device, symbolic
    from cost_models.keras_graph import graph_from_keras
    from nas.baselines import Baseline
    from nas.tasks import fcn_in_space
    from search_spaces import get_space

    spectral = get_space("spectral")
    config = SimpleNamespace(space="spectral", space_version=spectral.version, device=get_device("nano33"),
                             budget=Budget(max_latency_ms=10.0))

    def latency(params):
        model = spectral.build(optuna.trial.FixedTrial(params), input_shape=(427, 1), n_outputs=6,
                               keras=symbolic.keras)
        return estimate(graph_from_keras(model), config.device).latency_ms

    # OSULeaf's FCN at 10 ms strides its first layer by 8 (a choice of the space since v4); at the baseline's
    # widths the space's net (its kernels, its hidden dense layer) is over 10 ms, so the next narrower FCN's
    baseline = Baseline("fcn", 8, (8, 2, 1))
    assert latency(spectral.fcn_params(baseline.widths(), baseline.strides)) > 10.0
    [params] = fcn_in_space(config, [baseline], (427, 1), 6)
    assert [params[f"stride_{i}"] for i in range(3)] == [8, 2, 1] and latency(params) <= 10.0
    assert params["filters_1"] < baseline.widths()[1]


def test_a_strided_fcn_is_also_seeded_pooled_after_a_narrow_first_convolution():
    from types import SimpleNamespace

    import optuna

    from cost_models import Budget, estimate, get_device, symbolic
    from cost_models.keras_graph import graph_from_keras
    from nas.baselines import Baseline
    from nas.tasks import pooled_fcn_in_space
    from search_spaces import get_space

    spectral = get_space("spectral")
    config = SimpleNamespace(space="spectral", space_version=spectral.version, device=get_device("nano33"),
                             budget=Budget(max_latency_ms=10.0))
    strided = Baseline("fcn", 8, (8, 2, 1))  # OSULeaf's FCN at 10 ms: unstrided, no width fits

    def latency(params):
        model = spectral.build(optuna.trial.FixedTrial(params), input_shape=(427, 1), n_outputs=6,
                               keras=symbolic.keras)
        return estimate(graph_from_keras(model), config.device).latency_ms

    [params] = pooled_fcn_in_space(config, [strided, Baseline("resnet", 8, (16, 2, 2))], (427, 1), 6)
    assert params["pool_0"] > 1 and [params[f"stride_{i}"] for i in range(3)] == [1, 1, 1]
    assert params["filters_0"] == 4 and params["filters_1"] >= params["filters_2"]  # FCN's 1/32, then FCN's
    assert [params[f"pool_{i}"] for i in (1, 2)] == [1, 1] and params["head"] == "global_avg"
    assert latency(params) <= 10.0
    wider = dict(params, filters_1=params["filters_1"] * 2, filters_2=params["filters_2"] * 2)
    assert latency(wider) > 10.0  # the widest of FCN's widths that fits
    assert pooled_fcn_in_space(config, [Baseline("fcn", 18, (1, 1, 1))], (427, 1), 6) == []  # nothing to pool
    assert pooled_fcn_in_space(SimpleNamespace(space="spectral", space_version=2, device=config.device,
                                               budget=config.budget), [strided], (427, 1), 6) == []
