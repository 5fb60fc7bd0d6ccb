"""Loop counts of the kernels a TFLM operator runs, per kernel library path: what a latency model
multiplies by per-iteration cycle costs (kernels.toml).

Which kernel runs, and which of its loops do the work, follows the libraries' dispatch code (read with
`fetch`, CMSIS-NN @99f736a, esp-nn @d45b843; nothing is copied):

- "cmsis-nn-dsp" (Cortex-M4/M33: ARM_MATH_DSP). CONV_2D 1x1 stride 1 -> arm_convolve_1x1_s8_fast ->
  arm_nn_mat_mult_nt_t_s8 (no im2col; SMLAD on 4 channels at a time, a scalar tail for the rest).
  Other CONV_2D -> arm_convolve_s8 (the 1xN kernel is MVE-only): im2col of kh*kw*cin values per output
  pixel, widened to int16, then arm_nn_mat_mult_kernel_s8_s16 (2 pixels x 2 channels per pass, 4
  columns per SMLAD step, the col_len % 4 rest scalar). DEPTHWISE_CONV_2D with multiplier 1 ->
  arm_depthwise_conv_s8_opt (an im2col copy per output pixel, 4 channels per SMLAD pass, channels % 4
  scalar); multiplier > 1 -> arm_depthwise_conv_s8 (plain scalar loops). FULLY_CONNECTED ->
  arm_nn_vec_mat_mult_t_s8 (SMLAD, in % 4 scalar). Every MAC op requantizes each output.
- "cmsis-nn-c" (Cortex-M0+: no DSP extension): the same dispatch, every loop scalar; the depthwise
  opt kernel needs DSP, so depthwise runs arm_depthwise_conv_s8's loops.
- "esp-nn-generic" (ESP32, ESP32-C3: esp_nn_generic_opt.h): esp_nn_conv_s8_opt / _1x1 and
  esp_nn_depthwise_conv_s8_opt: no im2col; for every output value and filter tap an inner loop over
  input channels unrolled by 4, with a scalar rest.
- "esp-nn-s3" (ESP32-S3 PIE SIMD): 1x1 stride-1 convs run esp_nn_conv_s8_mult8_1x1 on channels padded
  to a multiple of 8; other convs pad channels to 16 (esp_nn_conv_s8_filter_aligned_input_padded);
  depthwise with multiplier 1 and channels % 8 == 0 runs the s16 SIMD kernels, anything else the
  unrolled C kernel. Padded channels cost as real ones: they are counted in the MACs.

Features (per op): op (one dispatch), conv_mac / pw_mac / dw_mac / dw_slow_mac / fc_mac (MACs on each
kernel family's main path), tail_mac (MACs in scalar remainder loops), im2col (values copied into an
im2col buffer), taps (inner-loop entries: output values x filter taps, where loops are not blocked),
requant (outputs of MAC ops), elem (values through any other op).
"""

from __future__ import annotations

from cost_models.graph import Graph, Op

PATHS = ("cmsis-nn-dsp", "cmsis-nn-c", "esp-nn-generic", "esp-nn-s3")
FEATURES = ("op", "conv_mac", "pw_mac", "dw_mac", "dw_slow_mac", "fc_mac", "tail_mac", "im2col", "taps",
            "requant", "elem")


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def op_features(graph: Graph, op: Op, path: str) -> dict[str, float]:
    """The loop counts of `op` on kernel library `path` (see the module text)."""
    if path not in PATHS:
        raise ValueError(f"unknown kernel path {path!r}; known: {', '.join(PATHS)}")
    f = dict.fromkeys(FEATURES, 0.0)
    f["op"] = 1.0
    t = graph.tensors
    if op.kind == "CONV_2D":
        x, w, y = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
        cout, kh, kw, cin = w.shape
        pixels = y.elements // cout
        in_pixels = x.elements // cin
        pointwise = kh == kw == 1 and in_pixels == pixels  # 1x1, stride 1, no padding
        f["requant"] = y.elements
        if path == "esp-nn-s3":
            lanes = 8 if pointwise else 16
            f["pw_mac" if pointwise else "conv_mac"] = y.elements * kh * kw * _round_up(cin, lanes)
            return f
        macs = y.elements * kh * kw * cin
        if path.startswith("cmsis-nn"):
            col_len = kh * kw * cin
            f["pw_mac" if pointwise else "conv_mac"] = macs
            if not pointwise:
                f["im2col"] = pixels * col_len
            if path == "cmsis-nn-dsp":
                f["tail_mac"] = y.elements * (col_len % 4)
        else:  # esp-nn-generic: a tap loop over input channels, 4 at a time
            f["pw_mac" if pointwise else "conv_mac"] = macs
            f["taps"] = y.elements * kh * kw
            f["tail_mac"] = y.elements * kh * kw * (cin % 4)
        return f
    if op.kind == "DEPTHWISE_CONV_2D":
        x, w, y = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
        _, kh, kw, cout = w.shape
        cin = x.shape[-1]
        macs = y.elements * kh * kw
        f["requant"] = y.elements
        multiplier = cout // cin
        if path == "esp-nn-s3":
            fast = multiplier == 1 and cin % 8 == 0
            f["dw_mac" if fast else "dw_slow_mac"] = macs
            return f
        if path == "cmsis-nn-dsp" and multiplier == 1:
            f["dw_mac"] = macs
            f["im2col"] = macs  # kh*kw*cin values per output pixel
            f["tail_mac"] = macs * (cin % 4) / cin
        elif path == "esp-nn-generic" and multiplier == 1:
            f["dw_mac"] = macs
            f["taps"] = y.elements * kh * kw
        else:
            f["dw_slow_mac"] = macs
            f["taps"] = y.elements * kh * kw
        return f
    if op.kind == "FULLY_CONNECTED":
        w, y = t[op.inputs[1]], t[op.outputs[0]]
        n_in = w.shape[-1]
        f["fc_mac"] = y.elements * n_in
        f["requant"] = y.elements
        if path in ("cmsis-nn-dsp", "esp-nn-generic"):
            f["tail_mac"] = y.elements * (n_in % 4)
        return f
    inputs = [i for i in op.inputs if i >= 0 and not t[i].constant]
    f["elem"] = max([t[i].elements for i in inputs] + [t[o].elements for o in op.outputs])
    return f


def graph_features(graph: Graph, path: str) -> dict[str, float]:
    """The sum of op_features over the graph's operators."""
    total = dict.fromkeys(FEATURES, 0.0)
    for op in graph.ops:
        for k, v in op_features(graph, op, path).items():
            total[k] += v
    return total


def fit_coefficients(features: list[dict[str, float]], cycles: list[float], prior: dict[str, float],
                     prior_weight: float = 0.05) -> dict[str, float]:
    """Per-iteration cycle costs (>= 0) that minimise the squared relative error of
    sum(cost[f] * features[f]) against `cycles`, plus `prior_weight` times the squared relative
    distance of each cost from the prior: `prior[f]` times one scale fitted first (the priors are
    instruction counts, so their ratios are trusted more than their level). A cost the measurements
    do not see stays at its scaled prior. Features absent from `prior` are not used."""
    import numpy as np
    from scipy.optimize import lsq_linear

    names = [f for f in FEATURES if f in prior]
    y = np.asarray(cycles, float)
    a = np.array([[row.get(f, 0.0) for f in names] for row in features], float) / y[:, None]
    p = np.array([prior[f] for f in names], float)
    ratio = a @ p  # the unscaled prior's prediction / measured, per row
    p = p * float(ratio.sum() / (ratio ** 2).sum())
    scale = np.where(p > 0, p, 1.0)  # solve for cost / prior so every column is on one scale
    a_scaled = np.vstack([a * scale, np.sqrt(prior_weight) * np.eye(len(names))])
    b = np.concatenate([np.ones(len(y)), np.sqrt(prior_weight) * (p > 0)])
    solution = lsq_linear(a_scaled, b, bounds=(0, np.inf)).x * scale
    return dict(zip(names, solution.tolist(), strict=True))


def predict_cycles(features: dict[str, float], costs: dict[str, float]) -> float:
    """sum(costs[f] * features[f]) over the costs given."""
    return sum(costs[f] * features.get(f, 0.0) for f in costs)


def fit_with_engines(features: list[dict[str, float]], cycles: list[float], engines: list[str],
                     prior: dict[str, float], reference: str, prior_weight: float = 0.05,
                     rounds: int = 20) -> tuple[dict[str, float], dict[str, float]]:
    """Costs shared by every engine that runs these kernels, and one multiplier per engine (the
    `reference` engine's is 1): cycles ~= multiplier[engine] * sum(cost[f] * features[f]). Alternates
    fit_coefficients on engine-normalised cycles with each engine's geometric-mean ratio."""
    import numpy as np

    y = np.asarray(cycles, float)
    factor = dict.fromkeys(engines, 1.0)
    for _ in range(rounds):
        costs = fit_coefficients(features, (y / [factor[e] for e in engines]).tolist(), prior, prior_weight)
        pred = np.array([predict_cycles(f, costs) for f in features])
        for e in factor:
            rows = [i for i, x in enumerate(engines) if x == e]
            factor[e] = float(np.exp(np.mean(np.log(y[rows] / pred[rows]))))
        ref = factor.get(reference, 1.0)
        factor = {e: v / ref for e, v in factor.items()}
    return costs, factor
