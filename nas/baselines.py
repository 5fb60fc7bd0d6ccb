"""Hand-made baselines at equal cost: the published time-series architectures an engineer would start
from, made narrower and strided until the cost models say they fit a device's budget.

- FCN (Wang et al. 2017): three convolutions of 128, 256 and 128 filters (kernels 8, 5, 3), each with
  BatchNormalization and ReLU, global average pooling, softmax.
- ResNet (Wang et al. 2017): three residual blocks of 64, 128 and 128 filters, each three convolutions
  (kernels 8, 5, 3) with BatchNormalization, the shortcut a 1x1 convolution where the width changes,
  global average pooling, softmax.
- DS-CNN (the depthwise-separable CNN of TinyML keyword-spotting guides, Zhang et al. 2017, in 1-D): a
  convolution of 64 filters (kernel 10, stride 2), four depthwise-separable blocks of 64 (kernel 3),
  global average pooling, softmax.

An engineer shrinks every width by the same factor and strides the first convolutions; `fit` tries
widths 1, 1/2, 1/4, ... 1/32 and the stride patterns in STRIDES, and keeps the fitting configuration with
the most multiply-accumulates (the most capacity the budget allows). For FCN an engineer also tries the
published layout, unstrided, at the widest width that fits (`fitted`, any divisor up to 32): on OSULeaf FCN
at 1/16 width and stride 1 reached 94.6 % with its own recipe, and at 40 ms 1/18 unstrided reached 93.9 %
where the strided 1/8 with more MACs reached 88.8-92.0 % (three-seed means, docs/benchmarks.md). All layouts
are Conv2D on (1, length, channels), as the spectral space builds them.

FCN's published recipe (PUBLISHED_SCHEDULE: nas.train's "plateau" schedule, Adam 1e-3 halved on training-loss
plateaus, the lowest training loss kept, 2000 epochs) is what makes its published figure; `published_recipe`
gives it, for the seeded baselines a search trains with it as well as with the search's own recipe.
"""

from __future__ import annotations

from dataclasses import dataclass

FCN = ((128, 8), (256, 5), (128, 3))  # (filters, kernel) of each convolution
RESNET = ((64, (8, 5, 3)), (128, (8, 5, 3)), (128, (8, 5, 3)))  # (filters, kernels) of each block
DSCNN_STEM = (64, 10, 2)  # filters, kernel, stride
DSCNN_BLOCKS = 4
DSCNN_WIDTH = 64
DIVISORS = (1, 2, 4, 8, 16, 32)
# strides of the first three convolutions (the rest stay 1), from none to a 16-fold first reduction
STRIDES = ((1, 1, 1), (2, 1, 1), (2, 2, 1), (4, 1, 1), (4, 2, 1), (4, 2, 2), (8, 1, 1), (8, 2, 1), (8, 2, 2),
           (16, 1, 1), (16, 2, 1), (16, 2, 2))
NAMES = ("fcn", "resnet", "dscnn")
UNSTRIDED = ("fcn",)  # also tried as published, stride 1, at the widest width that fits...
UNSTRIDED_DIVISORS = tuple(range(1, 33))  # ...with every width from 1 to 1/32 tried, not only powers of 2
PUBLISHED_SCHEDULE = {"fcn": "plateau"}  # the architectures whose own recipe nas.train runs (Wang et al. 2017)
PUBLISHED_EPOCHS = 2000  # FCN's published epoch count


@dataclass(frozen=True)
class Baseline:
    """One published architecture at one width and stride pattern."""

    name: str
    divisor: int  # every width divided by this
    strides: tuple[int, int, int]

    def to_dict(self) -> dict:
        return {"name": self.name, "divisor": self.divisor, "strides": list(self.strides)}

    @classmethod
    def from_dict(cls, data: dict) -> Baseline:
        return cls(data["name"], int(data["divisor"]), tuple(int(s) for s in data["strides"]))

    def describe(self) -> str:
        return f"{self.name} 1/{self.divisor} strides {','.join(map(str, self.strides))}"

    def widths(self) -> tuple[int, ...]:
        """FCN's filters at this width (FCN only: the others' blocks are not single convolutions)."""
        if self.name != "fcn":
            raise ValueError(f"widths() is FCN's, not {self.name}'s")
        return tuple(_width(filters, self.divisor) for filters, _ in FCN)

    def build(self, input_shape: tuple[int, int], n_classes: int, keras=None):
        """An uncompiled Keras model taking (1, 1, length, channels); with `keras=cost_models.symbolic.keras`,
        its shape-only stand-in (no TensorFlow, ~1 ms), which the cost models read as they read the model."""
        if keras is None:
            import keras

        return _BUILDERS[self.name](keras, input_shape, n_classes, self.divisor, self.strides)


def _width(filters: int, divisor: int) -> int:
    return max(2, round(filters / divisor))


def _conv_bn_relu(layers, x, filters, kernel, stride, relu=True):
    x = layers.Conv2D(filters, (1, kernel), strides=stride, padding="same")(x)
    x = layers.BatchNormalization(momentum=0.9)(x)  # folded into the convolution on conversion
    return layers.ReLU()(x) if relu else x


def _fcn(keras, input_shape, n_classes, divisor, strides):
    layers = keras.layers
    inputs = keras.Input(shape=(1, *input_shape), batch_size=1, name="signal")
    x = inputs
    for (filters, kernel), stride in zip(FCN, strides, strict=True):
        x = _conv_bn_relu(layers, x, _width(filters, divisor), kernel, stride)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(n_classes, activation="softmax")(x), name="fcn")


def _resnet(keras, input_shape, n_classes, divisor, strides):
    layers = keras.layers
    inputs = keras.Input(shape=(1, *input_shape), batch_size=1, name="signal")
    x = inputs
    for (filters, kernels), stride in zip(RESNET, strides, strict=True):
        width = _width(filters, divisor)
        y = x
        for j, kernel in enumerate(kernels):
            y = _conv_bn_relu(layers, y, width, kernel, stride if j == 0 else 1, relu=j < len(kernels) - 1)
        shortcut = x
        if x.shape[-1] != width or stride != 1:
            shortcut = layers.BatchNormalization(momentum=0.9)(
                layers.Conv2D(width, (1, 1), strides=stride, padding="same")(x))
        x = layers.ReLU()(layers.Add()([y, shortcut]))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(n_classes, activation="softmax")(x), name="resnet")


def _dscnn(keras, input_shape, n_classes, divisor, strides):
    layers = keras.layers
    inputs = keras.Input(shape=(1, *input_shape), batch_size=1, name="signal")
    filters, kernel, stem_stride = DSCNN_STEM
    x = _conv_bn_relu(layers, inputs, _width(filters, divisor), kernel, stem_stride * strides[0])
    for i in range(DSCNN_BLOCKS):
        stride = strides[i + 1] if i + 1 < len(strides) else 1
        x = layers.DepthwiseConv2D((1, 3), strides=stride, padding="same")(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x))
        x = _conv_bn_relu(layers, x, _width(DSCNN_WIDTH, divisor), 1, 1)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(n_classes, activation="softmax")(x), name="dscnn")


_BUILDERS = {"fcn": _fcn, "resnet": _resnet, "dscnn": _dscnn}


def fitted(input_shape: tuple[int, int], n_classes: int, device, budget) -> list[Baseline]:
    """Every baseline architecture that some width and stride pattern fits into the budget (fit), then for
    the UNSTRIDED ones their widest stride-1 configuration that fits, when it is another one."""
    found = [f[0] for f in (fit(name, input_shape, n_classes, device, budget) for name in NAMES) if f is not None]
    for name in UNSTRIDED:
        plain = widest_unstrided(name, input_shape, n_classes, device, budget)
        if plain is not None and plain not in found:
            found.append(plain)
    return found


def widest_unstrided(name: str, input_shape: tuple[int, int], n_classes: int, device, budget) -> Baseline | None:
    """Architecture `name` at stride 1 and the widest of UNSTRIDED_DIVISORS that fits `budget`, or None.
    The costs fall as the divisor grows, so a bisection finds it in a few builds."""
    lo, hi = 0, len(UNSTRIDED_DIVISORS)  # the first fitting index lies in [lo, hi]; hi: none fits
    while lo < hi:
        mid = (lo + hi) // 2
        candidate = Baseline(name, UNSTRIDED_DIVISORS[mid], (1, 1, 1))
        if fits_budget(candidate, input_shape, n_classes, device, budget)[0]:
            hi = mid
        else:
            lo = mid + 1
    return Baseline(name, UNSTRIDED_DIVISORS[lo], (1, 1, 1)) if lo < len(UNSTRIDED_DIVISORS) else None


def fits_budget(candidate: Baseline, input_shape, n_classes, device, budget):
    """(whether the cost models say `candidate` fits `budget` on `device`, its estimated Cost). Estimated on the
    shape-only build: a Keras build took 0.3 s, and fitting the baselines builds a hundred."""
    from cost_models import estimate, symbolic
    from cost_models.keras_graph import graph_from_keras

    cost = estimate(graph_from_keras(candidate.build(input_shape, n_classes, keras=symbolic.keras)), device)
    return not cost.broken(budget), cost


def published_recipe(baseline: Baseline, epochs: int) -> dict | None:
    """The training recipe the architecture was published with, for `epochs` epochs (nas.objective's recipe
    keys), or None when nas.train does not run it (ResNet's is untried here; DS-CNN has no UCR recipe)."""
    schedule = PUBLISHED_SCHEDULE.get(baseline.name)
    if schedule is None or epochs <= 0:
        return None
    return {"epochs": epochs, "patience": None, "augment": False, "schedule": schedule}


def fit(name: str, input_shape: tuple[int, int], n_classes: int, device, budget):
    """The configuration of architecture `name` that fits `budget` on `device` by the cost models (what
    the search checks before training) with the most MACs; None if not even 1/32 width with the largest
    strides fits. Returns (Baseline, Cost)."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(NAMES)}")
    best = None
    for divisor in DIVISORS:
        for strides in STRIDES:  # the least striding that fits keeps the most of this width's capacity
            candidate = Baseline(name, divisor, strides)
            fits, cost = fits_budget(candidate, input_shape, n_classes, device, budget)
            if fits:
                if best is None or cost.macs > best[1].macs:
                    best = (candidate, cost)
                break
    return best
