"""The float model of a trial as ONNX, for runtimes other than tflite-micro (onnxruntime, TVM, ...).

Converted with tf2onnx (`pip install 'mcu-nas[onnx]'`), which follows the Keras 3 models the spaces and
baselines build. The input keeps the model's shape with the batch dimension left free, so a runtime can
score many series at once; the model computes in inference mode (BatchNormalization from its moving
statistics).
"""

from __future__ import annotations

import logging
from pathlib import Path

OPSET = 17


class OnnxExportError(ValueError):
    """A model that cannot be written as ONNX; the message says why."""


def to_onnx(model):
    """An onnx.ModelProto computing what `model` computes, input and output float32."""
    try:
        import tf2onnx
    except ImportError:
        raise OnnxExportError("ONNX export needs tf2onnx: pip install 'mcu-nas[onnx]'") from None
    import tensorflow as tf

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    signature = [tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32, name=model.inputs[0].name)]
    try:
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=OPSET)
    except Exception as exc:  # tf2onnx raises many kinds; the user needs its message, not its stack
        raise OnnxExportError(f"tf2onnx could not convert {model.name}: {exc}") from None
    return proto


def write_onnx(model, path: Path) -> Path:
    """Write `to_onnx(model)` to `path`."""
    path.write_bytes(to_onnx(model).SerializeToString())
    return path
