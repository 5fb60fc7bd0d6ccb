"""How far the latency model is from published measurements, per core and kernel library: the loop-count
model (cost_models/kernels.py) fitted with held-out boards, models or kernels, against the per-op-kind
model it replaces.

Measurements (../shared/data/latency/, each row's source is in its CSV):
- m4-m33/cmsis-nn: MLPerf Tiny KWS, VWW, IC, AD with CMSIS-NN kernels on Cortex-M4F / M33 boards
  (microTVM on nRF5340 and L4R5ZI, ONNC on M467HJ and L4R5ZI) and person_detect with TFLM + CMSIS-NN
  on STM32F446RE (MicroNets) and STM32F413ZH. X-CUBE-AI, Plumerai, Bosch and the Cortex-M7 rows run
  other engines or cores and are left out.
- m0plus/cmsis-nn: the RP2040 per-op table of person_detect (31 ops) and its whole-model time.
- esp32s3/esp-nn: ESP-NN's per-kernel cycle table (optimized kernels) and person_detect (47 ms,
  arena in internal RAM).
- esp32/esp-nn: person_detect on the ESP32 (LX6) and ESP32-C3 (RISC-V), the generic optimized C.
The models are rebuilt layer for layer (benchmarks/reference_models.py; MAC counts match the data's).

For every group: "before" is the per-op-kind model of kernels.toml as it stood (a whole-model ratio per
core); "fit" is the loop-count model fitted on all the group's rows (in-sample); "held out" refits with
one board (or model, or kernel / op) left out and predicts it. Printed: median |error| and the worst
ratio (max of predicted/measured and its inverse). --write prints kernels.toml blocks of the fit.

Run: python benchmarks/latency_accuracy.py [--write]
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "latency"

MODEL_OF = {"AD FC-autoencoder": "ad", "IC ResNet-8": "ic", "KWS DS-CNN": "kws", "VWW MobileNetV1": "vww",
            "person_detect": "person_detect"}
GROUPS = {  # group -> (kernel path, the old model's core for "before")
    "m4-m33/cmsis-nn": ("cmsis-nn-dsp", "cortex-m4f"),
    "m0plus/cmsis-nn": ("cmsis-nn-c", "cortex-m0plus"),
    "esp32s3/esp-nn": ("esp-nn-s3", "xtensa-lx6"),
    "esp32/esp-nn": ("esp-nn-generic", "xtensa-lx6"),
}
# ESP-NN's per-kernel table: (input HxWxC, layer) built in Keras; "pad1" 5x5 is built on a pre-padded input
ESP_KERNELS = {
    "conv 1x1 in10x10x64": ((10, 10, 64), ("conv", 64, 1)),
    "conv 1x1 in8x8x16": ((8, 8, 16), ("conv", 16, 1)),
    "conv 3x3 in10x10x3": ((10, 10, 3), ("conv", 64, 3)),
    "depthwise 3x3 in18x18x16": ((18, 18, 16), ("dw", 1, 3)),
    "depthwise 5x5 in12x12x4 ch_mult8": ((14, 14, 4), ("dw", 8, 5)),
    "fully_connected len271": ((271,), ("fc", 3, 0)),
}


@dataclass
class Row:
    group: str
    board: str
    engine: str
    item: str  # model name, or model:op index, or kernel
    clock_hz: float
    cycles: float
    graph: object = None
    op_index: int | None = None  # a single op of `graph`
    features: dict = field(default_factory=dict)


def _kernel_graph(shape, layer):
    import keras

    from cost_models.keras_graph import graph_from_keras

    x = inputs = keras.Input(shape, batch_size=1)
    kind, n, k = layer
    if kind == "conv":
        x = keras.layers.Conv2D(n, k)(x)
    elif kind == "dw":
        x = keras.layers.DepthwiseConv2D(k, depth_multiplier=n)(x)
    else:
        x = keras.layers.Dense(n)(x)
    return graph_from_keras(keras.Model(inputs, x))


def measurements() -> list[Row]:
    from benchmarks.reference_models import graphs

    models = graphs()
    rows: list[Row] = []
    with (DATA / "mlperf_tiny_and_vendor_measurements.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            lib, core, what = r["library"], r["core"], r["model_or_op"]
            clock = float(r["clock_mhz"]) * 1e6
            cycles = float(r["measured_ms"]) * 1e-3 * clock
            model = next((m for key, m in MODEL_OF.items() if key in what), None)
            if re.search(r"\+ CMSIS-NN", lib) and re.search(r"M4F|M33", core) and model:
                rows.append(Row("m4-m33/cmsis-nn", r["board"], lib, model, clock, cycles, models[model]))
            elif lib.startswith("esp-tflite-micro + ESP-NN") and model:
                if r["board"] == "ESP32-S3" and "internal RAM" in what:
                    rows.append(Row("esp32s3/esp-nn", "ESP32-S3", lib, model, clock, cycles, models[model]))
                elif r["board"] in ("ESP32", "ESP32-C3"):
                    rows.append(Row("esp32/esp-nn", r["board"], lib, model, clock, cycles, models[model]))
            elif lib == "ESP-NN optimized (asm)":
                kernel = next(k for k in ESP_KERNELS if what.startswith(k))
                g = _kernel_graph(*ESP_KERNELS[kernel])
                op = next(i for i, o in enumerate(g.ops) if o.kind in ("CONV_2D", "DEPTHWISE_CONV_2D",
                                                                          "FULLY_CONNECTED"))
                rows.append(Row("esp32s3/esp-nn", "ESP32-S3 kernels", lib, kernel, clock, cycles, g, op))
    with (DATA / "person_detection_cross_device.csv").open(newline="") as f:
        for r in csv.DictReader(f):
            if r["device"].startswith("STM32F446RE"):
                clock = float(r["mhz"]) * 1e6
                rows.append(Row("m4-m33/cmsis-nn", "STM32F446RE", r["framework"], "person_detect", clock,
                                float(r["latency_ms"]) * 1e-3 * clock, models["person_detect"]))
    with (DATA / "rp2040_person_detection_per_op.csv").open(newline="") as f:
        per_op = list(csv.DictReader(f))
    pd = models["person_detect"]
    for r in per_op:
        i = int(r["idx"])
        assert pd.ops[i].kind == r["op"], (i, pd.ops[i].kind, r["op"])
        rows.append(Row("m0plus/cmsis-nn", "RP2040 per op", "pico-tflmicro", f"op{i:02d} {r['op']}", 125e6,
                        float(r["single_core_us"]) * 1e-6 * 125e6, pd, i))
    rows.append(Row("m0plus/cmsis-nn", "RP2040", "pico-tflmicro", "person_detect", 125e6, 823.658e-3 * 125e6, pd))
    return rows


def features_of(row: Row, path: str) -> dict:
    from cost_models.kernels import graph_features, op_features

    if row.op_index is None:
        return graph_features(row.graph, path)
    features = op_features(row.graph, row.graph.ops[row.op_index], path)
    if row.group == "esp32s3/esp-nn":
        features["op"] = 0.0  # ESP-NN's table times the kernel function alone, without TFLM's dispatch
    return features


BEFORE = ROOT / "benchmarks" / "data" / "kernels_per_op_kind_2925bb4.toml"  # kernels.toml before this model


def before_cycles(row: Row, core: str) -> float:
    """Cycles by the per-op-kind model that kernels.toml held at 2925bb4 (a whole-model ratio per core)."""
    from cost_models.latency import kernel_model_from_dict

    table = tomllib.loads(BEFORE.read_text())
    entry = dict(table[core]["cmsis-nn" if "cmsis" in row.group else "esp-nn"])
    if "scale_from" in entry:
        base_core, base_lib = entry["scale_from"].split(".")
        base = table[base_core][base_lib]
        entry.update(invoke=base["invoke"] * entry["scale"],
                     ops={k: {f: v * entry["scale"] for f, v in c.items()} for k, c in base["ops"].items()})
    km = kernel_model_from_dict(f"{core}.before", entry)
    if row.op_index is not None:
        return km.op_cycles(row.graph, row.graph.ops[row.op_index])
    return km.cycles(row.graph)


def engine_of(row: Row) -> str:
    """The runtime that calls the kernels: TFLM (what nas models), microTVM or ONNC."""
    for name in ("microTVM", "ONNC"):
        if name in row.engine:
            return name
    return "TFLM"  # ESP-NN's kernel table times the kernels alone: the op term is TFLM's dispatch


def fit(train: list[Row], prior: dict, weight: float):
    """(costs, engine multipliers) on `train`: TFLM is the reference engine, the one nas models."""
    from cost_models.kernels import fit_with_engines

    return fit_with_engines([r.features for r in train], [r.cycles for r in train], [engine_of(r) for r in train],
                            prior, "TFLM", weight)


def predict(row: Row, fitted) -> float:
    from cost_models.kernels import predict_cycles

    costs, factor = fitted
    return predict_cycles(row.features, costs) * factor.get(engine_of(row), 1.0)


def summary(errors: list[float]) -> str:
    if not errors:
        return f"{'-':>8} {'-':>7}"
    ratios = [max(1 + e, 1 / (1 + e)) for e in errors]
    return f"{100 * statistics.median(abs(e) for e in errors):>7.0f}% {max(ratios):>6.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="print kernels.toml blocks of the full fits")
    parser.add_argument("--prior-weight", type=float, default=0.05)
    args = parser.parse_args()

    from nas.quiet import import_tensorflow

    import_tensorflow()
    priors = tomllib.loads((ROOT / "cost_models" / "kernels.toml").read_text())["priors"]
    rows = measurements()
    print(f"{len(rows)} measurements; errors are predicted/measured - 1; worst = max ratio either way; "
          "held-out rows are predicted by a fit without them\n")
    print(f"{'group':17} {'split':27} {'n':>3} {'before':>16} {'loop model':>16}")
    fits = {}
    for group, (path, old_core) in GROUPS.items():
        members = [r for r in rows if r.group == group]
        for r in members:
            r.features = features_of(r, path)
        prior = {k: float(v) for k, v in priors[path].items() if k != "source"}
        scored = [r for r in members if r.op_index is None or group == "esp32s3/esp-nn"]
        full = fits[group] = fit(members, prior, args.prior_weight)

        def line(label, held, errors, group=group, old_core=old_core):
            before = [before_cycles(r, old_core) / r.cycles - 1 for r in held]
            print(f"{group:17} {label:27} {len(errors):>3} {summary(before):>16} {summary(errors):>16}")

        line("all rows (in-sample)", scored, [predict(r, full) / r.cycles - 1 for r in scored])
        splits = {"m0plus/cmsis-nn": [("leave one op out", lambda r: r.item)],
                  "esp32s3/esp-nn": [("leave one kernel/model out", lambda r: r.item)]}.get(
            group, [("leave one board out", lambda r: r.board), ("leave one model out", lambda r: r.item)])
        unseen: list[str] = []
        for label, key in splits:
            held, errors = [], []
            for value in sorted({key(r) for r in members}):
                if group == "m0plus/cmsis-nn" and value == "person_detect":
                    continue  # the whole model is the sum of the per-op rows
                train = [r for r in members if key(r) != value]
                if not train:
                    continue
                fitted = fit(train, prior, args.prior_weight)
                for r in (r for r in members if key(r) == value):
                    if engine_of(r) not in {engine_of(t) for t in train}:
                        unseen.append(f"{r.board} {r.item}")
                        continue  # nothing left to fit its engine's multiplier on
                    held.append(r)
                    errors.append(predict(r, fitted) / r.cycles - 1)
            line(label, held, errors)
        if unseen:
            print(f"{'':17} (not predicted: no row of their engine left to fit on: {'; '.join(unseen)})")
        parts = [r for r in members if r.op_index is not None]
        wholes = [r for r in members if r.op_index is None]
        if parts and wholes:  # fitted on kernels or ops only, predicting whole models
            fitted = fit(parts, prior, args.prior_weight)
            line("parts only -> whole model", wholes, [predict(r, fitted) / r.cycles - 1 for r in wholes])
    print("\nper measurement (in-sample fit; engine multiplier applied):")
    for group, (_, old_core) in GROUPS.items():
        for r in rows:
            if r.group == group and (r.op_index is None or group != "m0plus/cmsis-nn"):
                print(f"  {group:17} {r.board[:18]:18} {engine_of(r):8} {r.item[:24]:24} measured "
                      f"{r.cycles / r.clock_hz * 1e3:>8.2f} ms  before {before_cycles(r, old_core) / r.cycles:>5.2f}x"
                      f"  fit {predict(r, fits[group]) / r.cycles:>5.2f}x")
    for group, (costs, factor) in fits.items():
        print(f"\n{group} engine multipliers: " + ", ".join(f"{e} {v:.2f}" for e, v in factor.items()))
        if args.write:
            print("\n".join(f"{k} = {v:.4g}" for k, v in costs.items()))


if __name__ == "__main__":
    main()
