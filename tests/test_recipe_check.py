"""The recipe benchmark's summary: paired differences and seed noise computed as its header says."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.helpers import benchmark


def _rows(text: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in text.strip().splitlines()[1:]}


def test_summary_pairs_architectures_and_pools_seed_spread():
    # 3 architectures x 2 seeds; "b" beats "a" by 0.1, 0.2 and 0.0 on the seed means
    a = np.array([[0.5, 0.7], [0.4, 0.4], [0.8, 0.6]])
    b = np.array([[0.7, 0.7], [0.6, 0.6], [0.6, 0.8]])
    scores = {name: np.stack([acc, np.ones_like(acc)], axis=-1) for name, acc in (("a", a), ("b", b))}
    rows = _rows(benchmark("recipe_check").summary(scores, ["a", "b"]))

    diffs = np.array([0.1, 0.2, 0.0])
    assert rows["b"][1] == f"{b.mean():.3f}"
    assert rows["b"][3] == "2/1/0"
    assert rows["b"][4] == f"{diffs.mean():+.3f}"
    assert rows["b"][6] == f"{diffs.std(ddof=1) / np.sqrt(3):.3f}"
    pooled = np.sqrt(np.mean([np.var(r, ddof=1) for r in b]))
    assert rows["b"][7] == f"{pooled:.3f}"
    assert rows["a"][3] == "0/3/0" and rows["a"][4] == "+0.000"


def test_summary_has_no_seed_column_for_one_seed():
    scores = {"a": np.full((2, 1, 2), 0.5), "b": np.full((2, 1, 2), 0.75)}
    text = benchmark("recipe_check").summary(scores, ["a", "b"])
    assert "seed SD" not in text
    assert _rows(text)["b"][4] == "+0.250"


@pytest.mark.parametrize("head", ["global_avg", "flatten"])
def test_without_hidden_dense_feeds_the_pooled_features_to_the_softmax(head):
    import optuna

    from search_spaces import spectral

    params = {"n_blocks": 2, "head": head, "dense": 16}
    for i in range(2):
        params |= {f"filters_{i}": 8, f"kernel_{i}": 3, f"separable_{i}": i == 1, f"stride_{i}": 2, f"pool_{i}": 2}
    model = spectral.build(optuna.trial.FixedTrial(params), input_shape=(64, 1), n_outputs=3)
    slim = benchmark("recipe_check").without_hidden_dense(model, params, 3)
    names = [layer.name for layer in slim.layers]
    assert "dense" in [layer.name for layer in model.layers] and "dense" not in names
    assert names[-2] == ("gap" if head == "global_avg" else "flatten") and slim.output.shape == (1, 3)
    assert slim.count_params() == model.count_params() - model.get_layer("dense").count_params() - (
        model.get_layer("classes").count_params() - slim.get_layer("classes").count_params())


def test_parts_merge_back_into_the_drawn_order(tmp_path):
    module = benchmark("recipe_check")
    # a run of 5 architectures split into parts 0/2 (0, 2, 4) and 1/2 (1, 3); accuracy = index / 10
    for part, index in ((0, [0, 2, 4]), (1, [1, 3])):
        acc = np.array(index, float)[:, None, None] / 10 * np.ones((1, 2, 2))
        np.savez(tmp_path / f"p{part}.npz", index=np.array(index), recipes=np.array(["a"]), a=acc)
    scores, recipes = module.merged([str(tmp_path / "p1.npz"), str(tmp_path / "p0.npz")])
    assert recipes == ["a"] and scores["a"].shape == (5, 2, 2)
    assert list(scores["a"][:, 0, 0]) == [0.0, 0.1, 0.2, 0.3, 0.4]


def test_downsampling_multiplies_every_blocks_stride_and_pool():
    params = {"n_blocks": 2, "stride_0": 2, "pool_0": 4, "stride_1": 1, "pool_1": 2, "stride_2": 4, "pool_2": 4}
    assert benchmark("recipe_check").downsampling(params) == 16  # block 2 is not in the net


def test_runs_with_other_recipes_over_the_same_draw_join_side_by_side(tmp_path):
    module = benchmark("recipe_check")
    for name, recipes, index in (("a0", ["a", "b"], [0]), ("a1", ["a", "b"], [1]), ("c", ["b", "c"], [1, 0])):
        arrays = {r: np.full((len(index), 1, 2), 0.0) + np.array(index, float)[:, None, None] + 10 * k
                  for k, r in enumerate(recipes)}
        np.savez(tmp_path / f"{name}.npz", index=np.array(index), recipes=np.array(recipes), **arrays)
    scores, recipes = module.merged([str(tmp_path / f"{n}.npz") for n in ("a0", "a1", "c")])
    assert recipes == ["a", "b", "b(2)", "c"]
    assert list(scores["a"][:, 0, 0]) == [0, 1] and list(scores["c"][:, 0, 0]) == [10, 11]  # in drawn order
    with pytest.raises(SystemExit):  # a part given twice
        module.merged([str(tmp_path / "a0.npz"), str(tmp_path / "a0.npz")])
    np.savez(tmp_path / "other.npz", index=np.array([5]), recipes=np.array(["d"]), d=np.zeros((1, 1, 2)))
    with pytest.raises(SystemExit):
        module.merged([str(tmp_path / "a0.npz"), str(tmp_path / "a1.npz"), str(tmp_path / "other.npz")])


def test_a_recalibrated_column_stays_paired_with_its_own_run(tmp_path):
    module = benchmark("recipe_check")
    for name, recipes in (("u", ["a", "p"]), ("r", ["p", "p+pbn"])):
        arrays = {r: np.full((2, 1, 2), float(k)) for k, r in enumerate(recipes)}
        np.savez(tmp_path / f"{name}.npz", index=np.array([0, 1]), recipes=np.array(recipes), **arrays)
    scores, recipes = module.merged([str(tmp_path / "u.npz"), str(tmp_path / "r.npz")])
    assert recipes == ["a", "p", "p(2)", "p(2)+pbn"]
    assert "p(2)+pbn against p(2) on the same trainings: +1.000" in module.summary(scores, recipes)


def test_a_distilled_column_pairs_with_its_own_runs_labels(tmp_path):
    module = benchmark("recipe_check")
    for name, recipes in (("u", ["p", "q"]), ("k", ["p", "p+pbn", "p+kd", "p+kd+pbn"])):
        arrays = {r: np.full((2, 1, 2), float(k)) for k, r in enumerate(recipes)}
        np.savez(tmp_path / f"{name}.npz", index=np.array([0, 1]), recipes=np.array(recipes), **arrays)
    scores, recipes = module.merged([str(tmp_path / "u.npz"), str(tmp_path / "k.npz")])
    assert recipes == ["p", "q", "p(2)", "p(2)+pbn", "p(2)+kd", "p(2)+kd+pbn"]
    text = module.summary(scores, recipes)
    assert "p(2)+kd against p(2) on the same seeds: +2.000" in text
    assert "p(2)+kd+pbn against p(2)+kd on the same trainings: +1.000" in text


def test_the_teacher_file_serves_only_the_split_it_was_trained_on(tmp_path):
    import json
    from types import SimpleNamespace

    module = benchmark("recipe_check")
    ds = SimpleNamespace(name="Leaves", y_train=np.array([0, 1, 1]))
    soft = np.array([[0.8, 0.2], [0.4, 0.6], [0.5, 0.5]], dtype="float32")
    key = {"data": "Leaves", "split_seed": 0, "n_train": 3, "epochs": 7}
    np.savez(tmp_path / "t.npz", soft=soft, key=json.dumps(key), info=json.dumps({}))
    targets = module.teacher_targets(str(tmp_path / "t.npz"), ds, 7, 0)  # kept: not trained again
    assert np.allclose(targets, 0.5 * np.eye(2)[[0, 1, 1]] + 0.5 * soft)
    for epochs, seed in ((8, 0), (7, 1)):  # another teacher or another split: refused, nothing trained
        with pytest.raises(SystemExit, match="holds a teacher for"):
            module.teacher_targets(str(tmp_path / "t.npz"), ds, epochs, seed)


def test_listed_architectures_are_built_as_written_and_refused_over_budget(tmp_path):
    from cost_models import Budget, get_device

    module = benchmark("recipe_check")
    blocks = {f"{k}_{i}": v for i in range(2) for k, v in
              (("filters", 8), ("kernel", 3), ("separable", False), ("stride", 1), ("pool", 1))}
    plain = {"n_blocks": 2, **blocks, "head": "global_avg", "dense": 0}
    path = tmp_path / "archs.json"
    path.write_text(json.dumps([{"baseline": "fcn", "divisor": 32, "strides": [4, 2, 1]}, plain]))
    device = get_device("nano33")
    fcn, spectral_net = module.listed(str(path), (64, 1), 3, device, Budget())
    assert fcn.describe() == "fcn 1/32 strides 4,2,1" and module.describe(spectral_net).endswith("global_avg > softmax")
    import optuna

    model = module.build(spectral_net, (64, 1), 3, optuna)
    assert [layer.name for layer in model.layers][-2:] == ["gap", "classes"]  # no hidden dense layer
    with pytest.raises(SystemExit, match="over the budget"):
        module.listed(str(path), (64, 1), 3, device, Budget(max_latency_ms=0.01))
    path.write_text("{}")
    with pytest.raises(SystemExit, match="not a JSON list"):
        module.listed(str(path), (64, 1), 3, device, Budget())


def test_rank_agreement_says_whether_the_first_recipe_orders_the_architectures_as_another_does():
    # 4 architectures x 2 seeds: "same" orders them as "a" does, "reverse" the other way round
    a = np.array([[0.5, 0.5], [0.6, 0.6], [0.7, 0.7], [0.8, 0.8]])
    scores = {name: np.stack([acc, np.ones_like(acc)], axis=-1)
              for name, acc in (("a", a), ("same", a + 0.1), ("reverse", a[::-1]))}
    text = benchmark("recipe_check").summary(scores, ["a", "same", "reverse"])
    rho = "over 4 architectures, Spearman's rho:"
    assert f"rank agreement of same with a {rho} +1.00 with a's seed means, +1.00 with one a training" in text
    assert f"rank agreement of reverse with a {rho} -1.00 with a's seed means, -1.00 with one a training" in text
