"""Training-recipe check on validation data only: the same sampled architectures trained with each
recipe, scored as int8 models in TFLM on the validation split (never the test split).

Architectures are drawn by Optuna's random sampler from the spectral space and kept if the cost model
says they fit the device's budget, so the comparison is over the models a search would train. Each
architecture is trained `--seeds K` times per recipe, with the same K seeds for every recipe. The
table gives the mean int8 validation accuracy and cross-entropy, how often each recipe beat the first
one on the same architecture (seed means), the mean paired difference in accuracy with its standard
error over architectures, and (K > 1) the spread of accuracy between seeds of one architecture and
recipe: the noise a single training's score carries.

Recipes: v1 (the space's version 1: no BatchNormalization), bn (version 2: BatchNormalization after
every conv, momentum 0.9, folded into the conv on conversion; the search's recipe), aug (bn on
augmented series, the search's epochs and patience), polish (bn trained with the recipe of the
polish after a search: POLISH_FACTOR times the epochs and the early-stopping patience, on augmented
series), plateau (FCN's schedule: nas.train's "plateau", --plateau-epochs) and cosine (nas.train's
"cosine" schedule on augmented series for --cosine-epochs: Adam from 1e-3 decayed to 0 along a cosine,
the last weights kept). The last two never read the validation split.

`--max-latency-ms` sets the budget the architectures must fit (default the product's); `--head global_avg`
keeps only architectures that average their features over time as FCN does (`flatten` only the others), and
`--max-downsampling F` those whose strides and pools together shorten the series at most F times (FCN: 1).
`--recalibrate` also scores every trained model again after nas.train.recalibrate_batchnorm (its
BatchNormalization statistics recomputed over the training series; the weights unchanged) as a column
"RECIPE+pbn", so each recipe is compared with itself recalibrated on the very same trainings. Since
nas.train recalibrates after the schedules that never read validation data, plateau and cosine come out of
training recalibrated already (their two columns agree); the comparison for them was measured before that.
`--fcn-baselines` also trains the FCN baselines a `--baselines` search seeds at the budget (nas.baselines.fitted:
the widest strided FCN and the widest unstrided one that fit), after the drawn architectures, with every recipe.
`--distill TEACHER.npz` also trains every recipe on distillation targets (nas.class_teacher: the label mixed
with a full-width FCN's softened probabilities, FCN's own schedule for --teacher-epochs on the training split)
as a column "RECIPE+kd" with the same seeds; the teacher is trained once and kept in that file (run once with
`--models 0` before starting parts), so every part distils from the same teacher.
`--architectures FILE.json` trains the architectures listed there instead of a random draw (and before
`--fcn-baselines`): a JSON list whose items are spectral parameters (as `nas show` prints them; `"dense": 0` for
pooled features straight into the softmax, as FCN has) or baselines (`{"baseline": "fcn", "divisor": 18,
"strides": [1, 1, 1]}`); each one's estimated costs are printed, and one over the budget is refused. It is for
ablations: one published architecture changed a step at a time toward what the search builds.
`--part K/N` trains architectures K, K+N, K+2N, ... of the same draw (a run split over N processes trains
each architecture with the seeds one run would), `--save FILE.npz` keeps the scores, and `--merge A.npz
B.npz ...` prints the table of the parts together.

Run: python benchmarks/recipe_check.py [--data ../shared/data/ucr/OSULeaf.npz] [--models 12] [--epochs N]
     [--recipes v1,bn,aug,polish,plateau,cosine] [--seeds K] [--plateau-epochs 2000]
     [--cosine-epochs 1000] [--no-dense] [--max-latency-ms MS] [--head global_avg|flatten] [--max-downsampling F]
     [--architectures FILE.json] [--recalibrate] [--fcn-baselines] [--distill TEACHER.npz [--teacher-epochs 200]]
     [--part K/N] [--save FILE.npz] [--threads T]
     python benchmarks/recipe_check.py --merge A.npz B.npz
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RECIPES = ("v1", "bn", "aug", "polish", "plateau", "cosine")


def sample_feasible(n: int, input_shape, n_classes: int, device, budget, seed: int,
                    head: str | None = None, max_downsampling: int | None = None) -> list[dict]:
    import optuna

    from cost_models import estimate, symbolic
    from cost_models.keras_graph import graph_from_keras
    from search_spaces import spectral

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed))
    chosen = []
    while len(chosen) < n:
        trial = study.ask()
        model = spectral.build(trial, input_shape=input_shape, n_outputs=n_classes, keras=symbolic.keras)
        study.tell(trial, 0.0)
        if head is not None and trial.params["head"] != head:
            continue
        if max_downsampling is not None and downsampling(trial.params) > max_downsampling:
            continue  # both filters before the cost estimate, the slow part of a draw
        cost = estimate(graph_from_keras(model), device)
        if not cost.broken(budget):
            chosen.append(dict(trial.params))
    return chosen


def listed(path: str, input_shape, n_classes: int, device, budget) -> list:
    """The architectures of an --architectures file: spectral parameter dicts and nas.baselines.Baseline, each
    checked against the budget by the cost models (a file naming one that does not fit is refused)."""
    import json

    import keras
    import optuna

    from cost_models import estimate
    from cost_models.keras_graph import graph_from_keras
    from nas.baselines import Baseline

    try:
        items = json.loads(Path(path).read_text())
        assert isinstance(items, list) and all(isinstance(item, dict) for item in items)
    except (OSError, ValueError, AssertionError) as err:
        raise SystemExit(f"--architectures {path}: not a JSON list of objects ({err}); "
                         "see this file's docstring") from None
    archs = [Baseline.from_dict({**item, "name": item["baseline"]}) if "baseline" in item else item for item in items]
    for arch in archs:
        keras.backend.clear_session()
        model = build(arch, input_shape, n_classes, optuna)
        cost = estimate(graph_from_keras(model), device)
        over = cost.broken(budget)
        print(f"  {describe(arch)}: {cost.flash_bytes / 1024:.1f} KB flash, {cost.latency_ms:.1f} ms, "
              f"{model.count_params()} parameters", flush=True)
        if over:
            raise SystemExit(f"--architectures: {describe(arch)} is over the budget ({', '.join(over)}); "
                             "change it or raise --max-latency-ms")
    return archs


def build(arch, input_shape, n_classes: int, optuna, batchnorm: bool = True):
    """The Keras model of a drawn or listed architecture; `"dense": 0` drops the hidden dense layer."""
    from nas.baselines import Baseline
    from search_spaces import spectral

    if isinstance(arch, Baseline):
        return arch.build(input_shape, n_classes)
    params = {**arch, "dense": arch["dense"] or spectral.DENSE[0]}
    model = spectral.build(optuna.trial.FixedTrial(params), input_shape=input_shape, n_outputs=n_classes,
                           batchnorm=batchnorm)
    return without_hidden_dense(model, arch, n_classes) if arch["dense"] == 0 else model


def downsampling(params: dict) -> int:
    """How many times the architecture's strides and pools together shorten the series."""
    factor = 1
    for i in range(params["n_blocks"]):
        factor *= params[f"stride_{i}"] * params[f"pool_{i}"]
    return factor


def describe(arch) -> str:
    """A drawn architecture (spectral parameters) or a baseline (nas.baselines.Baseline) in words."""
    from search_spaces import spectral

    if not isinstance(arch, dict):
        return arch.describe()
    text = spectral.describe(arch)
    return text.removesuffix(" > fc0") + " > softmax" if arch["dense"] == 0 else text


def teacher_targets(path: str, ds, epochs: int, seed: int):
    """The distillation targets of ds's training series (nas.class_teacher.mixed_targets) from the teacher kept
    in `path`; the teacher is trained there first (full-width FCN, FCN's schedule, `epochs`) when it is absent."""
    import json

    import numpy as np

    from nas.class_teacher import mixed_targets, train_teacher

    key = {"data": ds.name, "split_seed": seed, "n_train": len(ds.y_train), "epochs": epochs}
    if not Path(path).exists():
        soft, info = train_teacher(ds, epochs=epochs, seed=seed)
        np.savez(path, soft=soft, key=json.dumps(key), info=json.dumps(info))
        print(f"teacher trained and kept in {path}: {info}", flush=True)
    kept = np.load(path, allow_pickle=False)
    if json.loads(str(kept["key"])) != key:
        raise SystemExit(f"{path} holds a teacher for {str(kept['key'])}, not {json.dumps(key)}; give another file")
    print(f"teacher ({path}): {str(kept['info'])}", flush=True)
    return mixed_targets(ds.y_train, kept["soft"])


def without_hidden_dense(model, params: dict, n_classes: int):
    """The same network with its pooled or flattened features going straight into the softmax."""
    import keras

    features = model.get_layer("gap" if params["head"] == "global_avg" else "flatten").output
    return keras.Model(model.inputs, keras.layers.Dense(n_classes, activation="softmax", name="classes")(features))


def summary(scores: dict, recipes: list[str]) -> str:
    """The table under the per-architecture lines; `scores[recipe]` is (architectures, seeds, 2)."""
    import numpy as np

    from benchmarks.paired import paired_difference

    base = scores[recipes[0]][:, :, 0].mean(1)
    k = scores[recipes[0]].shape[1]
    lines = [f"\n{'recipe':10} {'mean val acc':>12} {'mean val xent':>13} {'wins/ties/losses vs ' + recipes[0]:>26} "
             f"{'paired diff ± SE':>17}" + (f" {'seed SD':>8}" if k > 1 else "")]
    for recipe in recipes:
        acc = scores[recipe][:, :, 0]
        mean, se, wins, ties, losses = paired_difference(acc.mean(1) - base)
        line = (f"{recipe:10} {acc.mean():>12.3f} {scores[recipe][:, :, 1].mean():>13.3f} "
                f"{f'{wins}/{ties}/{losses}':>26} {f'{mean:+.3f} ± {se:.3f}':>17}")
        if k > 1:  # pooled standard deviation between seeds of the same architecture and recipe
            line += f" {np.sqrt(acc.var(1, ddof=1).mean()):>8.3f}"
        lines.append(line)
    for recipe in recipes:  # a recalibrated column against the same trainings before it, a distilled one
        for suffix, paired_on in (("+pbn", "the same trainings"), ("+kd", "the same seeds")):  # against its labels
            if recipe.endswith(suffix) and recipe[:-len(suffix)] in scores:
                mean, se, wins, ties, losses = paired_difference(
                    scores[recipe][:, :, 0].mean(1) - scores[recipe[:-len(suffix)]][:, :, 0].mean(1))
                lines.append(f"{recipe} against {recipe[:-len(suffix)]} on {paired_on}: {mean:+.3f} ± {se:.3f}, "
                             f"wins/ties/losses {wins}/{ties}/{losses}")
    if len(base) >= 3:
        lines.append(rank_agreement(scores, recipes))
    return "\n".join(lines)


def rank_agreement(scores: dict, recipes: list[str]) -> str:
    """Whether the first recipe orders the architectures as each other recipe does: Spearman's rho between
    their seed means, and between one training of the first recipe (what a search ranks by; the mean over
    its seeds of rho) and the other recipe's seed mean. A short recipe that ranks as a long one does can
    choose the architectures for the long one to train."""
    import numpy as np
    from scipy.stats import spearmanr

    first = scores[recipes[0]][:, :, 0]
    lines = []
    for recipe in recipes[1:]:
        other = scores[recipe][:, :, 0].mean(1)
        singles = [spearmanr(first[:, s], other).statistic for s in range(first.shape[1])]
        lines.append(f"rank agreement of {recipe} with {recipes[0]} over {len(other)} architectures, Spearman's rho: "
                     f"{spearmanr(first.mean(1), other).statistic:+.2f} with {recipes[0]}'s seed means, "
                     f"{np.nanmean(singles):+.2f} with one {recipes[0]} training (mean over seeds)")
    return "\n".join(lines)


def merged(paths: list[str]) -> tuple[dict, list[str]]:
    """The scores of `--save`d parts as one table, architectures in their drawn order. Parts of several runs
    over the same draw (the same --models, --seed and filters) with different --recipes join side by side,
    the first file's first recipe the reference; a recipe that two runs trained is shown as "NAME(2)" for
    the second (and its recalibrated and distilled columns as "NAME(2)+pbn" and "NAME(2)+kd")."""
    import numpy as np

    runs: dict[tuple, list] = {}
    for path in paths:
        part = np.load(path, allow_pickle=False)
        runs.setdefault(tuple(str(r) for r in part["recipes"]), []).append(part)
    scores, order_of_first = {}, None
    for n, (recipes, parts) in enumerate(runs.items(), start=1):
        index = np.concatenate([part["index"] for part in parts])
        if len(set(index)) < len(index):
            raise SystemExit("two files hold the same architecture of one run; merge the parts of one run")
        if order_of_first is not None and sorted(index) != sorted(order_of_first):
            raise SystemExit("the runs trained different architectures; merge runs over one draw")
        order_of_first = index if order_of_first is None else order_of_first
        order = np.argsort(index)
        names = {}
        for r in recipes:  # a recalibrated or distilled column keeps the name of the run's column it pairs with
            suffix = next((x for x in ("+pbn", "+kd") if r.endswith(x)), "")
            base = names.get(r[:-len(suffix)]) if suffix else None
            names[r] = f"{base}{suffix}" if base else (r if r not in scores else f"{r}({n})")
            scores[names[r]] = np.concatenate([part[r] for part in parts])[order]
    return scores, list(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ucr" / "OSULeaf.npz"))
    parser.add_argument("--models", type=int, default=12)
    parser.add_argument("--epochs", type=int, help="default: as a search chooses them (nas.train.epochs_for)")
    parser.add_argument("--device", default="nano33")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="trainings per architecture and recipe")
    parser.add_argument("--plateau-epochs", type=int, default=2000, help="epochs of the plateau recipe")
    parser.add_argument("--cosine-epochs", type=int, default=1000, help="epochs of the cosine recipe")
    parser.add_argument("--no-dense", action="store_true",
                        help="drop the hidden dense layer: pooled features straight into softmax, as in FCN")
    parser.add_argument("--architectures", metavar="FILE.json",
                        help="train these architectures (spectral parameters or baselines) instead of a random draw")
    parser.add_argument("--max-latency-ms", type=float, help="the latency budget (default: the product's)")
    parser.add_argument("--head", choices=["global_avg", "flatten"], help="only architectures with this head")
    parser.add_argument("--max-downsampling", type=int,
                        help="only architectures whose strides and pools shorten the series at most this many times")
    parser.add_argument("--recalibrate", action="store_true",
                        help="also score each model with its BatchNormalization statistics recomputed (RECIPE+pbn)")
    parser.add_argument("--fcn-baselines", action="store_true",
                        help="also train the FCN baselines a --baselines search seeds at this budget")
    parser.add_argument("--distill", metavar="TEACHER.npz",
                        help="also train each recipe on a full-width FCN teacher's targets (RECIPE+kd); the teacher "
                             "is trained and kept in this file when it does not exist")
    parser.add_argument("--teacher-epochs", type=int, default=200, help="the teacher's epochs of FCN's schedule")
    parser.add_argument("--part", default="0/1", help="K/N: train architectures K, K+N, ... of the draw")
    parser.add_argument("--save", help="keep the scores in this .npz (for --merge)")
    parser.add_argument("--merge", nargs="+", metavar="NPZ", help="print the table of --save'd parts and stop")
    parser.add_argument("--threads", type=int, help="TensorFlow threads (default: TensorFlow's)")
    args = parser.parse_args()
    if args.merge:
        scores, recipes = merged(args.merge)
        print(summary(scores, recipes))
        return
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    try:
        part, n_parts = (int(v) for v in args.part.split("/"))
        assert 0 <= part < n_parts
    except (ValueError, AssertionError):
        parser.error(f"--part takes K/N with 0 <= K < N, not {args.part!r}")

    from nas.quiet import import_tensorflow

    import_tensorflow()
    if args.threads:
        from nas.train import configure_threads

        configure_threads(args.threads)
    import keras
    import numpy as np
    import optuna

    from benchmarks.paired import int8_scores
    from cost_models import Budget, get_device
    from nas import data as data_mod
    from nas.baselines import Baseline, fitted
    from nas.objective import polish_recipe
    from nas.train import as_model_input, batch_size_for, epochs_for, patience_for, recalibrate_batchnorm, train

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    recipes = args.recipes.split(",")
    unknown = sorted(set(recipes) - set(RECIPES))
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(unknown)}; known: {', '.join(RECIPES)}")
    ds = data_mod.load_file(args.data, seed=args.seed)
    device = get_device(args.device)
    epochs = args.epochs or epochs_for(len(ds.y_train))
    patience = patience_for(len(ds.y_train), batch_size_for(len(ds.y_train)))
    budget = Budget(max_latency_ms=args.max_latency_ms) if args.max_latency_ms else Budget()
    if args.architectures:
        drawn = listed(args.architectures, ds.input_shape, len(ds.classes), device, budget)
    else:
        drawn = sample_feasible(args.models, ds.input_shape, len(ds.classes), device, budget, args.seed, args.head,
                                args.max_downsampling)
    if args.fcn_baselines:  # as a search seeds them (nas.baselines.fitted), after the draw
        drawn += [b for b in fitted(ds.input_shape, len(ds.classes), device, budget) if b.name == "fcn"]
    targets = teacher_targets(args.distill, ds, args.teacher_epochs, args.seed) if args.distill else None
    index = list(range(part, len(drawn), n_parts))
    archs = [drawn[i] for i in index]
    print(f"{ds.name}: {len(ds.y_train)} train / {len(ds.y_val)} validation series; {len(drawn)} architectures "
          f"{'listed in ' + args.architectures if args.architectures else 'sampled at random'}"
          f"{' with a ' + args.head + ' head' if args.head else ''}"
          f"{f', shortened at most {args.max_downsampling}x' if args.max_downsampling else ''} and feasible on "
          f"{device.name} within {budget.max_latency_ms:g} ms (this part trains {len(archs)}); {epochs} epochs; "
          f"{args.seeds} training seed(s) per architecture and recipe; int8 scored in TFLM on the validation split",
          flush=True)
    if not archs:  # e.g. --models 0 --distill FILE: the teacher alone, before the parts start
        return

    def trainings_of(recipe: str) -> list[str]:
        return [recipe, recipe + "+kd"] if args.distill else [recipe]

    def columns_of(training: str) -> list[str]:
        return [training, training + "+pbn"] if args.recalibrate else [training]

    columns = [c for r in recipes for t in trainings_of(r) for c in columns_of(t)]
    scores = {c: np.zeros((len(archs), args.seeds, 2)) for c in columns}  # (accuracy, cross-entropy)
    start = time.monotonic()
    onehot = np.eye(len(ds.classes), dtype="float32")
    for row, (i, arch) in enumerate(zip(index, archs, strict=True)):
        line = [f"{i:>2} {describe(arch)[:60]:60}"]
        for recipe in recipes:
            for training in trainings_of(recipe):
                # distilled: the same recipe on mixed targets; early stopping still reads the validation labels
                y_train = targets if training.endswith("+kd") else ds.y_train
                y_val = onehot[ds.y_val] if training.endswith("+kd") else ds.y_val
                loss = {"loss": "categorical_crossentropy"} if training.endswith("+kd") else {}
                for s in range(args.seeds):
                    keras.backend.clear_session()
                    model = build(arch, ds.input_shape, len(ds.classes), optuna, batchnorm=recipe != "v1")
                    if args.no_dense and not isinstance(arch, Baseline):
                        model = without_hidden_dense(model, arch, len(ds.classes))
                    seed = args.seed + i + 1000 * s
                    if recipe == "plateau":
                        train(model, ds.x_train, y_train, None, None, epochs=args.plateau_epochs, seed=seed,
                              schedule="plateau", **loss)
                    elif recipe == "cosine":
                        train(model, ds.x_train, y_train, None, None, epochs=args.cosine_epochs, seed=seed,
                              schedule="cosine", augment=True, **loss)
                    else:  # v1, bn and aug: the search's epochs and patience; polish: its long recipe
                        how = (polish_recipe(len(ds.y_train), epochs) if recipe == "polish" else
                               {"epochs": epochs, "patience": patience, "augment": recipe == "aug"})
                        train(model, ds.x_train, y_train, ds.x_val, y_val, seed=seed, **how, **loss)
                    for column in columns_of(training):
                        if column.endswith("+pbn"):
                            recalibrate_batchnorm(model, ds.x_train)
                        scores[column][row, s] = int8_scores(model, as_model_input(ds.x_train), ds.x_val, ds.y_val,
                                                             args.seed)
                for column in columns_of(training):
                    acc = " ".join(f"{a:.3f}" for a in scores[column][row, :, 0])
                    line.append(f"{column} {acc}/{scores[column][row, :, 1].mean():.2f}")
        print("  ".join(line), flush=True)
    if args.save:
        np.savez(args.save, index=np.array(index), recipes=np.array(columns), **scores)
    print(summary(scores, columns))
    print(f"({time.monotonic() - start:.0f} s)")


if __name__ == "__main__":
    main()
