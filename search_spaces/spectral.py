"""1-D CNNs for light curves and other signals, written as Conv2D on (1, length, channels).

Keras Conv1D converts to EXPAND_DIMS/RESHAPE pairs around 2-D ops that TFLM does not alias; the
same net as Conv2D with (1, k) kernels on a batch-1 input has no shape ops (smaller flash and arena).
Strides are square: TensorFlow's depthwise kernel takes no other, and on a height-1
input with SAME padding a square stride is the 1-D stride. Parameter names are persisted API:
renaming one breaks resume of old studies, so a change of meaning gets a new space version instead.
"""

from __future__ import annotations

VERSION = 4  # 2: BatchNormalization after every conv (folded on conversion); 3: filters in finer steps;
# 4: stride 8
VERSIONS = (2, 3, 4)  # what build() makes: a study of version 2 resumes with version 2's choices
# v3's narrower and in-between widths: FCN at 1/18 (7-14-7 filters, unstrided) fits 40 ms on OSULeaf's 427
# samples, its nearest v2 net (8-16-8) does not (43.6 ms), and the widths 8, 16, 32 left nothing between
FILTERS = {2: [8, 16, 32], 3: [4, 6, 8, 12, 16, 24, 32], 4: [4, 6, 8, 12, 16, 24, 32]}
KERNELS = [3, 5, 7, 11]
POOLS = [1, 2, 4]
# long inputs (1024-sample light curves) must shrink early to meet latency. v4's stride 8: the FCN an engineer
# fits to 10 ms on OSULeaf (427 samples) and ACSF1 (1,460) strides its first layer by 8 (nas.baselines), so
# before it the search could neither take that layout as its own (fcn_params) nor try its neighbours
STRIDES = {2: [1, 2, 4], 3: [1, 2, 4], 4: [1, 2, 4, 8]}
DENSE = [8, 16, 32]


def build(trial, *, input_shape: tuple[int, int], n_outputs: int, keras=None, batchnorm: bool = True,
          version: int = VERSION):
    """An uncompiled Keras model taking (1, 1, length, channels) and giving class probabilities.

    `keras` may be `cost_models.symbolic.keras`, a shape-only stand-in for estimates without TensorFlow.
    Every convolution is followed by BatchNormalization, which the converter folds into the conv's
    weights and bias (no flash, arena or latency on the device); `batchnorm=False` builds version 1's
    nets, for the benchmark that measured what it brings. `version` (one of VERSIONS) picks the choices of
    widths a study of that version was searched with.
    """
    if keras is None:
        import keras
    layers = keras.layers

    def relu(x, name):
        if batchnorm:
            x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    length, channels = input_shape
    n_blocks = trial.suggest_int("n_blocks", 2, 4)
    inputs = keras.Input(shape=(1, length, channels), batch_size=1, name="signal")
    x = inputs
    for i in range(n_blocks):
        filters = trial.suggest_categorical(f"filters_{i}", FILTERS[version])
        kernel = trial.suggest_categorical(f"kernel_{i}", KERNELS)
        separable = trial.suggest_categorical(f"separable_{i}", [False, True])
        stride = trial.suggest_categorical(f"stride_{i}", STRIDES[version])
        pool = trial.suggest_categorical(f"pool_{i}", POOLS)
        if separable:
            x = relu(layers.DepthwiseConv2D((1, kernel), strides=stride, padding="same", name=f"b{i}_dw")(x),
                     f"b{i}_dw")
            x = relu(layers.Conv2D(filters, (1, 1), name=f"b{i}_pw")(x), f"b{i}_pw")
        else:
            x = relu(layers.Conv2D(filters, (1, kernel), strides=stride, padding="same", name=f"b{i}_conv")(x),
                     f"b{i}_conv")
        if pool > 1 and x.shape[2] >= pool:
            x = layers.MaxPooling2D((1, pool), name=f"b{i}_pool")(x)
    head = trial.suggest_categorical("head", ["flatten", "global_avg"])
    if head == "flatten":
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(trial.suggest_categorical("dense", DENSE), activation="relu", name="dense")(x)
    outputs = layers.Dense(n_outputs, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="spectral")


FCN_KERNELS = (7, 5, 3)  # FCN's kernels 8, 5, 3 as this space's (8 -> 7)
FCN_DENSE = 16  # the hidden dense layer the space always has (it cost FCN's layout little: docs/benchmarks.md)


def fcn_params(widths: tuple[int, ...], strides: tuple[int, ...],
               pools: tuple[int, ...] | None = None) -> dict | None:
    """FCN's layout (nas.baselines) as this space's parameters: three full convolutions of the widest of
    FILTERS[VERSION] not above each of `widths`, FCN's kernels, `strides`, each followed by max-pooling by
    `pools` (None: none, as FCN has), features averaged over time. None when a width is below the narrowest
    choice, or a stride or pool is not one of STRIDES[VERSION] or POOLS."""
    pools = pools or (1,) * len(widths)
    filters = [max((f for f in FILTERS[VERSION] if f <= w), default=None) for w in widths]
    if None in filters or any(s not in STRIDES[VERSION] for s in strides) or any(p not in POOLS for p in pools):
        return None
    params = {"n_blocks": len(widths), "head": "global_avg", "dense": FCN_DENSE}
    for i, (f, k, s, p) in enumerate(zip(filters, FCN_KERNELS, strides, pools, strict=True)):
        params |= {f"filters_{i}": f, f"kernel_{i}": k, f"separable_{i}": False, f"stride_{i}": s, f"pool_{i}": p}
    return params


def like_fcn(params: dict) -> bool:
    """Whether an architecture is laid out as FCN is (Wang et al. 2017): full convolutions that neither
    stride nor pool, features averaged over time. FCN's own training schedule suits these and not the
    separable or pooled ones (docs/benchmarks.md, "Which nets FCN's schedule suits")."""
    blocks = range(params.get("n_blocks", 0))
    return params.get("head") == "global_avg" and all(
        not params[f"separable_{i}"] and params[f"stride_{i}"] == 1 and params[f"pool_{i}"] == 1 for i in blocks)


def describe(params: dict) -> str:
    """The architecture in words, for tables and hover text."""
    blocks = []
    for i in range(params.get("n_blocks", 0)):
        kind = "sep" if params.get(f"separable_{i}") else "conv"
        blocks.append(f"{kind}{params.get(f'filters_{i}')}k{params.get(f'kernel_{i}')}"
                      f"s{params.get(f'stride_{i}')}/p{params.get(f'pool_{i}')}")
    return " > ".join(blocks) + f" > {params.get('head')} > fc{params.get('dense')}"
