"""What would FCN cost on the device? FCN (Wang et al. 2017; the reference network of
result_quality.py) is three stride-1 convolutions of 128, 256 and 128 filters (kernels 8, 5, 3), each
followed by BatchNormalization (folded into the conv on conversion, so left out here) and ReLU, then
global average pooling and a softmax layer. This script builds it, and narrower copies of it (every
width divided by 2, 4, ...), as int8 models on a UCR set's input, and prints what the cost models
estimate for each on a device, against the budgets. These are the estimates the search itself uses to
reject a candidate before training.

With `--train K --data FILE`, it also trains the narrow copies named by `--widths` (divisors of FCN's
widths) K times each (seeds SEED..SEED+K-1), converts each to int8 as the search does, and prints its
int8 test accuracy scored in TFLM: what the published architecture reaches when shrunk towards the
budget, with nothing chosen on test. `--recipe polish` (default) trains with the long recipe the
search's polish uses (POLISH_FACTOR times the search's epochs and early-stopping patience on the
validation loss, augmented series) on the search's train/validation split, and prints int8 validation
accuracy too; `--recipe fcn` trains with FCN's own recipe (nas.train's "plateau" schedule for 2000
epochs, the lowest training loss kept) on all training series, as the published figures were obtained;
`--recipe fcn-split` the same on the search's train split only, so validation accuracy is held out;
`--recipe cosine` trains on the search's train split with nas.train's "cosine" schedule on augmented
series for --cosine-epochs (Adam from 1e-3 decayed to 0 along a cosine, the last weights kept, no
validation read). Every trained copy is also scored on its validation series with Gaussian noise of
SD --noise added (in the series' z-normalized units): how much the recipe's model relies on detail
that a sensor's noise would hide.
`--strides 4,2,1` strides FCN's convs (FCN's are 1): the cheapest way to make it fit a latency budget.

Run: python benchmarks/fcn_cost.py [--length 427] [--classes 6] [--device nano33]
     [--train K --data ../shared/data/ucr/OSULeaf.npz --widths 8,16,32
      --recipe polish|fcn|fcn-split|cosine]
     [--strides 1,1,1]
(defaults: OSULeaf's series length and classes; with --data, the data's own)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FCN = ((128, 8), (256, 5), (128, 3))  # (filters, kernel) of each conv


def fcn(filters: list[int], length: int, classes: int, channels: int = 1, keras=None,
        strides: tuple[int, ...] = (1, 1, 1)):
    """FCN with the given widths (and conv strides: FCN's are 1); `keras` defaults to the shape-only
    stand-in the cost models read."""
    if keras is None:
        from cost_models import symbolic

        keras = symbolic.keras
    layers = keras.layers
    inputs = keras.Input(shape=(1, length, channels), batch_size=1)  # as the spectral space lays out series
    x = inputs
    for n, (_, kernel), stride in zip(filters, FCN, strides, strict=True):
        x = layers.Conv2D(n, (1, kernel), strides=stride, padding="same")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)  # folded on conversion, as in the spectral space
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x))


def widths(divisor: int) -> list[int]:
    return [max(1, round(f / divisor)) for f, _ in FCN]


def train_narrow(args, divisors: list[int], ds) -> None:
    """Each narrow FCN trained `args.train` times with `args.recipe` on the dataset `ds`; int8 accuracy
    in TFLM."""
    from nas.quiet import import_tensorflow

    import_tensorflow()
    import time

    import keras
    import numpy as np

    from nas.objective import polish_recipe
    from nas.quantize import Int8Model, to_int8_tflite
    from nas.train import (
        COSINE_LEARNING_RATE,
        PLATEAU_BATCH_SIZE,
        PLATEAU_LEARNING_RATE,
        PLATEAU_PATIENCE,
        as_model_input,
        epochs_for,
        train,
    )

    n = len(ds.y_train)
    x_fit, y_fit = ds.x_train, ds.y_train
    if args.recipe == "polish":
        polish = polish_recipe(n, epochs_for(n))
        epochs, patience = polish["epochs"], polish["patience"]
        print(f"\nTrained on {ds.name} with the polish recipe: {n} train series, early stopping on {len(ds.y_val)} "
              f"validation series (the search's split, seed {args.seed}), up to {epochs} epochs, patience "
              f"{patience}, augmented: {polish['augment']}")
    elif args.recipe == "cosine":
        epochs = args.cosine_epochs
        print(f"\nTrained on {ds.name} with the cosine recipe: the search's {n} train series, augmented, {epochs} "
              f"epochs, Adam {COSINE_LEARNING_RATE:g} decayed to 0 along a cosine, batch <= {PLATEAU_BATCH_SIZE}, "
              f"the last weights kept; the {len(ds.y_val)} validation series are held out")
    else:
        epochs = args.fcn_epochs
        held_out = args.recipe == "fcn-split"
        if not held_out:
            x_fit, y_fit = np.concatenate([ds.x_train, ds.x_val]), np.concatenate([ds.y_train, ds.y_val])
        print(f"\nTrained on {ds.name} with FCN's recipe ({epochs} epochs, Adam {PLATEAU_LEARNING_RATE:g} halved after "
              f"{PLATEAU_PATIENCE} epochs without a lower training loss, batch <= {PLATEAU_BATCH_SIZE}, the lowest "
              f"training loss kept) on "
              + (f"the search's {n} train series; the {len(ds.y_val)} validation series are held out" if held_out
                 else f"all {len(y_fit)} training series (validation included: the recipe does not use it, so int8 "
                      "val is not shown)"))
    print(f"int8 accuracy scored in TFLM; test ({len(ds.y_test)} series) is printed, never used to choose; "
          f"'val+noise': validation series plus Gaussian noise of SD {args.noise:g}")
    noisy_val = ds.x_val + np.random.default_rng(args.seed).normal(0.0, args.noise, ds.x_val.shape).astype("float32")
    head = (f"{'width':>6} {'filters':>11} {'seed':>4} {'epochs':>6} {'s':>5} {'int8 val':>8} {'val+noise':>9} "
            f"{'int8 test':>9}")
    print(head)
    print("-" * len(head))
    for divisor in divisors:
        tests = []
        for k in range(args.train):
            keras.backend.clear_session()
            model = fcn(widths(divisor), ds.input_shape[0], len(ds.classes), ds.input_shape[1], keras=keras,
                        strides=args.strides)
            start = time.monotonic()
            if args.recipe == "polish":
                run = train(model, x_fit, y_fit, ds.x_val, ds.y_val, seed=args.seed + k, **polish).epochs_run
            else:
                run = train(model, x_fit, y_fit, None, None, epochs=epochs, seed=args.seed + k,
                            schedule="cosine" if args.recipe == "cosine" else "plateau",
                            augment=args.recipe == "cosine").epochs_run
            seconds = time.monotonic() - start
            int8 = Int8Model(to_int8_tflite(model, as_model_input(x_fit), seed=args.seed))
            held = args.recipe != "fcn"  # fcn trained on the validation series too
            val = f"{int8.accuracy(ds.x_val, ds.y_val):.3f}" if held else "-"
            noisy = f"{int8.accuracy(noisy_val, ds.y_val):.3f}" if held else "-"
            tests.append(int8.accuracy(ds.x_test, ds.y_test))
            print(f"{'1/' + str(divisor):>6} {'-'.join(map(str, widths(divisor))):>11} {args.seed + k:>4} "
                  f"{run:>6} {seconds:>5.0f} {val:>8} {noisy:>9} {tests[-1]:>9.3f}", flush=True)
        sd = f", SD over seeds {np.std(tests, ddof=1):.3f}" if len(tests) > 1 else ""
        print(f"{'':>6} mean int8 test {np.mean(tests):.3f}{sd}")


def main() -> None:
    from cost_models import Budget, estimate, get_device
    from cost_models.keras_graph import graph_from_keras

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--length", type=int, default=427)
    ap.add_argument("--classes", type=int, default=6)
    ap.add_argument("--device", default="nano33")
    ap.add_argument("--max-flash-kb", type=float, default=100.0)
    ap.add_argument("--max-ram-kb", type=float, default=50.0)
    ap.add_argument("--max-latency-ms", type=float, default=10.0)
    ap.add_argument("--train", type=int, default=0, metavar="K", help="train each of --widths K times (needs --data)")
    ap.add_argument("--data", help="the dataset to train on (.npz, .csv, UCR .tsv or .ts); sets length and classes")
    ap.add_argument("--widths", default="8,16,32", help="divisors of FCN's widths to train (default 8,16,32)")
    ap.add_argument("--recipe", choices=("polish", "fcn", "fcn-split", "cosine"), default="polish",
                    help="polish: the search's long recipe; cosine: long, augmented, cosine-decayed; "
                         "fcn: FCN's own (2000 epochs, no validation) on all "
                         "training series; fcn-split: FCN's own on the search's train split, validation held out")
    ap.add_argument("--strides", default="1,1,1", help="strides of the three convs (FCN's: 1,1,1)")
    ap.add_argument("--fcn-epochs", type=int, default=2000, help="FCN's recipe: epochs (2000, as published)")
    ap.add_argument("--cosine-epochs", type=int, default=1000, help="the cosine recipe: epochs")
    ap.add_argument("--noise", type=float, default=0.03,
                    help="SD of the noise added to the validation series for 'val+noise' (default 0.03, the "
                         "polish augmentation's jitter)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.train and not args.data:
        ap.error("--train needs --data (the series to train on)")
    divisors = [int(d) for d in args.widths.split(",")]
    args.strides = tuple(int(v) for v in args.strides.split(","))
    if len(args.strides) != len(FCN) or min(args.strides) < 1:
        ap.error(f"--strides takes {len(FCN)} positive integers, e.g. 4,2,1")
    channels, ds = 1, None
    if args.data:
        from nas import data as data_mod

        ds = data_mod.load_file(args.data, seed=args.seed)
        (args.length, channels), args.classes = ds.input_shape, len(ds.classes)
    device = get_device(args.device)
    budget = Budget(int(args.max_flash_kb * 1024), int(args.max_ram_kb * 1024), args.max_latency_ms)
    print(f"FCN on a ({args.length}, 1) series, {args.classes} classes, int8, estimated for {device.name} "
          f"(budget {args.max_flash_kb:g} KB flash, {args.max_ram_kb:g} KB RAM = arena + TFLM's persistent tail, "
          f"{args.max_latency_ms:g} ms); conv strides {','.join(map(str, args.strides))}")
    head = (f"{'width':>6} {'filters':>11} {'params':>8} {'MACs':>11} {'flash KB':>8} {'arena KB':>8} {'ms':>8}"
            "  over budget")
    print(head)
    print("-" * len(head))
    for halvings in range(6):
        filters = widths(2 ** halvings)
        cost = estimate(graph_from_keras(fcn(filters, args.length, args.classes, channels, strides=args.strides)),
                        device)
        over = cost.broken(budget)  # the search's own rule
        print(f"{'1/' + str(2 ** halvings) if halvings else '1':>6} {'-'.join(map(str, filters)):>11} "
              f"{cost.params:>8,} {cost.macs:>11,} "
              f"{cost.flash_bytes / 1024:>8.1f} {cost.arena_bytes / 1024:>8.1f} {cost.latency_ms:>8.1f}  "
              f"{', '.join(over) or '-'}")
    if args.train:
        train_narrow(args, divisors, ds)


if __name__ == "__main__":
    main()
