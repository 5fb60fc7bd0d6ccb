"""How cheap is a cost estimate next to training? Prints, per search space:
- the median time to estimate one candidate (sample params -> shape-only build -> flash, arena,
  latency on nano33), over --n candidates;
- the median time of one training epoch of the same kind of candidate on the built-in light curves,
  over --epochs-of candidates; and their ratio, both measured in this one run.
Run: python benchmarks/estimate_speed.py [--n 200] [--epochs-of 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    import optuna

    from cost_models import DEVICES, estimate, symbolic
    from cost_models.keras_graph import graph_from_keras
    from nas.data import builtin_lightcurves
    from nas.train import as_model_input
    from search_spaces import SPACES

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--epochs-of", type=int, default=5)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = builtin_lightcurves(seed=0)
    device = DEVICES["nano33"]
    print(f"data: built-in light curves, train {data.x_train.shape}, device nano33, "
          f"{os.cpu_count()} cores")
    rng = np.random.default_rng(0)
    # what one trial trains on: light curves for spectral; for mlp, a FLiESANN-sized distillation set
    # (30,000 rows of 14 inputs, 7 outputs, MSE, batch 256, as nas.student trains)
    setups = {"spectral": (data.input_shape, len(data.classes), as_model_input(data.x_train), data.y_train,
                           "sparse_categorical_crossentropy", 32),
              "mlp": ((14,), 7, rng.normal(size=(30_000, 14)).astype(np.float32),
                      rng.normal(size=(30_000, 7)).astype(np.float32), "mse", 256)}
    for space in SPACES.values():
        shape, n_out, x, y, loss, batch = setups[space.name]
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        est, trials = [], []
        for _ in range(args.n):
            start = time.perf_counter()
            trial = study.ask()
            model = space.build(trial, input_shape=shape, n_outputs=n_out, keras=symbolic.keras)
            estimate(graph_from_keras(model), device)
            est.append(time.perf_counter() - start)
            trials.append(trial.params)
            study.tell(trial, 0.0)
        import keras

        epochs = []
        for params in trials[: args.epochs_of]:
            keras.backend.clear_session()
            model = space.build(optuna.trial.FixedTrial(params), input_shape=shape, n_outputs=n_out)
            model.compile("adam", loss)
            model.fit(x[:batch], y[:batch], epochs=1, verbose=0)  # graph tracing, not timed
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
            epochs.append(time.perf_counter() - start)
        e, t = float(np.median(est)), float(np.median(epochs))
        print(f"space {space.name}: estimate median {e * 1e3:.2f} ms (p90 {np.percentile(est, 90) * 1e3:.2f} ms, "
              f"n={len(est)}); one training epoch median {t * 1e3:.0f} ms (n={len(epochs)}); "
              f"epoch / estimate = {t / e:.0f}x")


if __name__ == "__main__":
    main()
