"""What would FCN cost on the device? FCN (Wang et al. 2017; the reference network of
result_quality.py) is three stride-1 convolutions of 128, 256 and 128 filters (kernels 8, 5, 3), each
followed by BatchNormalization (folded into the conv on conversion, so left out here) and ReLU, then
global average pooling and a softmax layer. This script builds it, and narrower copies of it (every
width divided by 2, 4, ...), as int8 models on a UCR set's input, and prints what the cost models
estimate for each on a device, against the budgets. Nothing is trained or converted: these are the
estimates the search itself uses to reject a candidate before training.

Run: python benchmarks/fcn_cost.py [--length 427] [--classes 6] [--device nano33]
(defaults: OSULeaf's series length and classes)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FCN = ((128, 8), (256, 5), (128, 3))  # (filters, kernel) of each conv


def fcn(filters: list[int], length: int, classes: int):
    from cost_models import symbolic

    layers = symbolic.keras.layers
    inputs = symbolic.keras.Input(shape=(1, length, 1), batch_size=1)  # as the spectral space lays out series
    x = inputs
    for n, (_, kernel) in zip(filters, FCN, strict=True):
        x = layers.Conv2D(n, (1, kernel), padding="same")(x)
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return symbolic.keras.Model(inputs, layers.Dense(classes, activation="softmax")(x))


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
    args = ap.parse_args()
    device = get_device(args.device)
    budget = Budget(int(args.max_flash_kb * 1024), int(args.max_ram_kb * 1024), args.max_latency_ms)
    print(f"FCN on a ({args.length}, 1) series, {args.classes} classes, int8, estimated for {device.name} "
          f"(budget {args.max_flash_kb:g} KB flash, {args.max_ram_kb:g} KB RAM = arena + TFLM's persistent tail, "
          f"{args.max_latency_ms:g} ms)")
    head = (f"{'width':>6} {'filters':>11} {'params':>8} {'MACs':>11} {'flash KB':>8} {'arena KB':>8} {'ms':>8}"
            "  over budget")
    print(head)
    print("-" * len(head))
    for halvings in range(6):
        filters = [max(1, round(f * 0.5 ** halvings)) for f, _ in FCN]
        cost = estimate(graph_from_keras(fcn(filters, args.length, args.classes)), device)
        over = [name for name, excess in cost.violations(budget).items() if excess > 0]  # the search's own rule
        print(f"{'1/' + str(2 ** halvings) if halvings else '1':>6} {'-'.join(map(str, filters)):>11} "
              f"{cost.params:>8,} {cost.macs:>11,} "
              f"{cost.flash_bytes / 1024:>8.1f} {cost.arena_bytes / 1024:>8.1f} {cost.latency_ms:>8.1f}  "
              f"{', '.join(over) or '-'}")


if __name__ == "__main__":
    main()
