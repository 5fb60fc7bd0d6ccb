"""What the paired-seed training checks share: scoring an int8 model in TFLM and the paired summary."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def add_paired_options(parser, recipe: str) -> None:
    """--data, --models, --seeds, --recipe (default `recipe`), --device, --seed."""
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ucr" / "OSULeaf.npz"))
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--recipe", choices=("search", "polish"), default=recipe)
    parser.add_argument("--device", default="nano33")
    parser.add_argument("--seed", type=int, default=0)


def recipe(name: str, n_train: int) -> dict:
    """The training recipe an arm uses for `n_train` series: "search" (the search's own: its epochs and early-
    stopping patience, no augmentation) or "polish" (nas.objective.polish_recipe)."""
    from nas.objective import polish_recipe
    from nas.train import batch_size_for, epochs_for, patience_for

    epochs = epochs_for(n_train)
    if name == "polish":
        return polish_recipe(n_train, epochs)
    return {"epochs": epochs, "patience": patience_for(n_train, batch_size_for(n_train)), "augment": False}


def int8_scores(model, representative, x, y, seed: int) -> tuple[float, float]:
    """(accuracy, log-loss) of `model` converted to int8 (calibrated on `representative`, (N, 1, L, C))
    and run in TFLM on x, y."""
    import numpy as np

    from nas.quantize import Int8Model, to_int8_tflite

    prob = np.clip(Int8Model(to_int8_tflite(model, representative, seed=seed)).predict(x), 1e-6, 1.0)
    return float((prob.argmax(1) == y).mean()), float(-np.mean(np.log(prob[np.arange(len(y)), y])))


def paired_difference(diff) -> tuple[float, float, int, int, int]:
    """For per-architecture differences (seed means) of one arm over another: the mean, its standard error
    over architectures (NaN for one), and the wins, ties and losses."""
    import numpy as np

    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
    return float(diff.mean()), se, int((diff > 0).sum()), int((diff == 0).sum()), int((diff < 0).sum())


def print_paired(result, arms: tuple[str, str]) -> None:
    """`result[architecture, seed, arm, (accuracy, log-loss)]`: each arm's means, then arm 1 - arm 0 paired
    over architectures (seed means) with its standard error, wins/ties/losses and the log-loss change."""
    acc = result[:, :, :, 0].mean(1)
    diff = acc[:, 1] - acc[:, 0]
    mean, se, wins, ties, losses = paired_difference(diff)
    loss_diff = result[:, :, 1, 1].mean(1) - result[:, :, 0, 1].mean(1)
    print(f"\n{'arm':8} {'mean acc':>9} {'mean log-loss':>14}")
    for k, arm in enumerate(arms):
        print(f"{arm:8} {result[:, :, k, 0].mean():>9.3f} {result[:, :, k, 1].mean():>14.3f}")
    print(f"{arms[1]} - {arms[0]}, paired over {len(diff)} architectures (seed means): accuracy {mean:+.3f} "
          f"± {se:.3f} (SE); wins/ties/losses {wins}/{ties}/{losses}; "
          f"log-loss {loss_diff.mean():+.3f}")
