"""The published models behind the latency measurements in ../shared/data/latency/, rebuilt layer for
layer in Keras so the cost models can read their operators (weights are random: latency does not
depend on them). Each builder's MAC count is checked against the figure the data's README gives.

- person_detect: TFLM's person-detection model, MobileNetV1 at width 0.25 on 96x96x1 (the shapes of
  rp2040_person_detection_per_op.csv);
- vww: MLPerf Tiny visual wake words, the same network on 96x96x3;
- kws: MLPerf Tiny keyword spotting DS-CNN (49x10x1, a 10x4 stride-2 conv, four depthwise-separable
  blocks of 64 channels, average pooling, 12 classes);
- ic: MLPerf Tiny image classification ResNet-8 (32x32x3; stacks of 16, 32, 64 channels, 1x1 stride-2
  shortcuts);
- ad: MLPerf Tiny anomaly detection autoencoder (640 -> 4x128 -> 8 -> 4x128 -> 640, dense).
"""

from __future__ import annotations

MACS = {"person_detect": 7_157_888, "vww": 7_489_664, "kws": 2_656_768, "ic": 12_501_632, "ad": 264_192}


def _mobilenet(keras, channels: int, classes: int):
    L = keras.layers
    x = inputs = keras.Input((96, 96, channels), batch_size=1)
    if channels == 1:  # the converter writes a conv of one input channel as a depthwise conv (multiplier 8)
        x = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=8, activation="relu")(x)
    else:
        x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    for filters, stride in [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (128, 1),
                            (128, 1), (128, 1), (256, 2), (256, 1)]:
        x = L.DepthwiseConv2D(3, strides=stride, padding="same", activation="relu")(x)
        x = L.Conv2D(filters, 1, activation="relu")(x)
    x = L.AveragePooling2D(x.shape[1])(x)
    x = L.Conv2D(classes, 1)(x)  # the TFLM model's classifier is a 1x1 conv
    x = L.Reshape((classes,))(x)
    return keras.Model(inputs, L.Softmax()(x))


def _kws(keras):
    L = keras.layers
    x = inputs = keras.Input((49, 10, 1), batch_size=1)
    x = L.Conv2D(64, (10, 4), strides=2, padding="same", activation="relu")(x)
    for _ in range(4):
        x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        x = L.Conv2D(64, 1, activation="relu")(x)
    x = L.AveragePooling2D((x.shape[1], x.shape[2]))(x)
    x = L.Flatten()(x)
    return keras.Model(inputs, L.Dense(12, activation="softmax")(x))


def _ic(keras):
    L = keras.layers
    x = inputs = keras.Input((32, 32, 3), batch_size=1)
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    for filters, stride in [(16, 1), (32, 2), (64, 2)]:
        y = L.Conv2D(filters, 3, strides=stride, padding="same", activation="relu")(x)
        y = L.Conv2D(filters, 3, padding="same")(y)
        if stride > 1:
            x = L.Conv2D(filters, 1, strides=stride)(x)
        x = L.ReLU()(L.Add()([x, y]))
    x = L.AveragePooling2D(x.shape[1])(x)
    x = L.Flatten()(x)
    return keras.Model(inputs, L.Dense(10, activation="softmax")(x))


def _ad(keras):
    L = keras.layers
    x = inputs = keras.Input((640,), batch_size=1)
    for units in [128, 128, 128, 128, 8, 128, 128, 128, 128]:
        x = L.Dense(units, activation="relu")(x)
    return keras.Model(inputs, L.Dense(640)(x))


def build(name: str):
    """A Keras model of `name` (a key of MACS)."""
    import keras

    builders = {"person_detect": lambda: _mobilenet(keras, 1, 2), "vww": lambda: _mobilenet(keras, 3, 2),
                "kws": lambda: _kws(keras), "ic": lambda: _ic(keras), "ad": lambda: _ad(keras)}
    return builders[name]()


def graphs() -> dict:
    """{name: cost_models Graph} for every reference model."""
    from cost_models.keras_graph import graph_from_keras

    return {name: graph_from_keras(build(name)) for name in MACS}
