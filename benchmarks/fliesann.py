"""FLiESANN: the teacher, its exact reduction, the guide's four hand-made students, and our front.

Runs `nas search --space mlp` on the FLiESANN teacher and its 1,065 cal/val rows for nano33 with the
package's own tolerance (rtol 5e-4, atol 1e-4), retrains the guide's students the guide's way
(same architectures, teacher outputs on the cal/val rows, MSE, early stopping), ships everything as
float32 .tflite, runs it in the TFLM interpreter on the cal/val rows and prints one table.
Run: python benchmarks/fliesann.py [--trials 24] [--epochs 25] [--samples 30000] [--out /tmp/fliesann]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from nas.distill import Tolerance, fidelity  # noqa: E402
from tests.helpers import SHARED_DATA  # noqa: E402

DATA = SHARED_DATA / "fliesann"
GUIDE = {"slim": [80, 40], "minimal": [48, 24], "micro": [32, 16], "balanced": [64, 32, 16]}
TOL = Tolerance(5e-4, 1e-4)


def shipped_metrics(model, x, y_teacher) -> tuple[int, dict]:
    from nas.quantize import Int8Model, to_float_tflite

    tflite = to_float_tflite(model)
    return len(tflite), fidelity(Int8Model(tflite).predict(x.astype(np.float32)), y_teacher, TOL, "regression")


def guide_student(widths: list[int], x, y, seed: int = 0):
    """The guide's recipe: the architecture on the cal/val rows, teacher outputs, MSE, early stopping."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(x.shape[1],), batch_size=None)
    h = inp
    for w in widths:
        h = keras.layers.Dense(w, activation="relu")(h)
    model = keras.Model(inp, keras.layers.Dense(y.shape[1])(h))
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    model.fit(x, y, validation_split=0.2, epochs=500, batch_size=32, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping(patience=20, restore_best_weights=True)])
    inp1 = keras.Input(shape=(x.shape[1],), batch_size=1)
    out = inp1
    for layer in model.layers[1:]:
        out = layer(out)
    return keras.Model(inp1, out)


def row(name, params, nbytes, fmt, v) -> str:
    return (f"{name:34} {params:>7} {nbytes:>8} {fmt:>7} {v['within_tolerance']:>10.3f} "
            f"{v['max_abs_error']:>9.2e} {v['median_abs_error']:>10.2e}  {'pass' if v['passes'] else 'fail'}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--samples", type=int, default=30_000)
    ap.add_argument("--out", default="/tmp/fliesann-benchmark")
    args = ap.parse_args()
    if not (DATA / "FLiESANN.h5").exists():
        sys.exit(f"{DATA} is absent: this benchmark needs the FLiESANN teacher and cal/val rows")

    from common import nas_search  # beside this script

    from nas.results import study_rows
    from nas.schema import TrialRecord
    from nas.teacher import load_teacher

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wall, study = nas_search(out, "fliesann", space="mlp", teacher=str(DATA / "FLiESANN.h5"),
                             data=str(DATA / "calval_features.npz"), device="nano33", rtol=TOL.rtol, atol=TOL.atol,
                             trials=args.trials, epochs=args.epochs, distill_samples=args.samples)

    teacher = load_teacher(DATA / "FLiESANN.h5")
    x = np.load(DATA / "calval_features.npz")["x"].astype(np.float64)
    y = teacher.predict(x)
    rows = study_rows(study)
    print(f"\nFLiESANN on nano33, {len(x)} cal/val rows, tolerance rtol={TOL.rtol} atol={TOL.atol}; every "
          "figure from the shipped .tflite run in the TFLM interpreter against the teacher's outputs")
    print(f"search: {args.trials} trials, {args.epochs} epochs, {args.samples} distillation rows; "
          f"wall {wall:.0f} s on this machine")
    head = (f"{'model':34} {'params':>7} {'bytes':>8} {'format':>7} {'within tol':>10} {'max err':>9} "
            f"{'median err':>10}  verdict")
    print(head + "\n" + "-" * len(head))
    for kind in ("teacher", "exact-reduction"):
        r = next(r for r in rows if r["kind"] == kind and r["format"] == "float32")
        v = TrialRecord.read(study.trials[r["number"]]).formats["float32"]["fidelity"]
        print(row(kind, r["params_count"], r["flash_bytes"], "float32", v))
    guide = {}
    for name, widths in GUIDE.items():
        model = guide_student(widths, x.astype(np.float32), y.astype(np.float32))
        params = model.count_params()
        nbytes, v = shipped_metrics(model, x, y)
        guide[name] = (params, nbytes, v)
        print(row(f"guide {name} {'-'.join(map(str, widths))}", params, nbytes, "float32", v))
    front = sorted((r for r in rows if r["on_front"] and r["kind"] == "student"), key=lambda r: r["flash_bytes"])
    for r in front:
        v = TrialRecord.read(study.trials[r["number"]]).formats[r["format"]]["fidelity"]
        print(row(f"ours #{r['number']} {r['architecture']}", r["params_count"], r["flash_bytes"], r["format"], v))
    print("\nAt each hand-made student's size (bytes), our best student of no more bytes, per format and any:")
    students = [r for r in rows if r["kind"] == "student" and r["median_abs_error"] is not None]
    for name, (_params, nbytes, v) in guide.items():
        for fmt in ("int8", "int16x8", "float32", "any"):
            ours = [r for r in students if r["flash_bytes"] <= nbytes and fmt in ("any", r["format"])]
            if not ours:
                print(f"  {name:9} {nbytes:>7} B {fmt:>7}: no student of ours that small")
                continue
            best = min(ours, key=lambda r: r["median_abs_error"])
            print(f"  {name:9} {nbytes:>7} B {fmt:>7}: guide median err {v['median_abs_error']:.2e} vs ours "
                  f"#{best['number']} {best['format']} {best['flash_bytes']} B, median err "
                  f"{best['median_abs_error']:.2e}: "
                  + (f"{v['median_abs_error'] / best['median_abs_error']:.1f}x lower"
                     if best["median_abs_error"] < v["median_abs_error"]
                     else f"{best['median_abs_error'] / v['median_abs_error']:.1f}x HIGHER"))


if __name__ == "__main__":
    main()
