"""Full-int8 conversion and the int8 model as TFLM runs it: accuracy and the real arena size."""

from __future__ import annotations

import faulthandler
import logging
import os
import re
import signal
import sys

import numpy as np

from nas._capture import captured_fds

log = logging.getLogger(__name__)

REPRESENTATIVE_SAMPLES = 100  # calibration rows for activation ranges
PROBE_TIMEOUT_S = 60  # one arena probe allocates a small model: milliseconds


class ConversionError(RuntimeError):
    """The TFLite converter rejected a model."""


def to_int8_tflite(model, representative: np.ndarray, seed: int = 0, *, activations: str = "int8") -> bytes:
    """Convert a Keras model to a full-integer .tflite, no float ops: int8 weights and activations, or with
    `activations="int16"` the int16x8 scheme (int16 activations, int8 weights, int64 biases; TFLM's
    reference kernels and CMSIS-NN's s16 kernels run it), with input and output of that type."""
    import tensorflow as tf

    if activations not in ("int8", "int16"):
        raise ValueError(f"activations must be int8 or int16, got {activations!r}")
    rng = np.random.default_rng(seed)
    take = rng.permutation(len(representative))[:REPRESENTATIVE_SAMPLES]
    batch_shape = tuple(model.inputs[0].shape)

    def samples():
        for i in take:
            yield [representative[i].reshape(batch_shape).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    if activations == "int16":
        ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        converter.target_spec.supported_ops = [ops]
        converter.inference_input_type = converter.inference_output_type = tf.int16
    else:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = converter.inference_output_type = tf.int8
    with captured_fds(1, 2) as chatter:
        try:
            flatbuffer = bytes(converter.convert())
        except Exception as exc:  # the converter raises many types; all mean "cannot ship"
            raise ConversionError(f"TFLite converter rejected the model: {exc}") from exc
    log.debug("converter output: %s", chatter)
    return strip_names(flatbuffer)


def strip_names(flatbuffer: bytes) -> bytes:
    """The .tflite without tensor, subgraph and signature names, which TFLM never reads. The converter
    names a fused conv's output after every layer folded into it (~400 B per conv with BatchNormalization
    and ReLU): 22-38 % of a small model's flash. Weights, ops and quantization are untouched, so TFLM's
    outputs are bit-identical (tested), and buffers stay 4-byte aligned as the converter leaves them."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer))
    flatbuffer_utils.strip_strings(model)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def to_float_tflite(model) -> bytes:
    """Convert a Keras model to a float32 .tflite (no quantization): what ships when int8 is too coarse."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with captured_fds(1, 2):
        try:
            return strip_names(bytes(converter.convert()))
        except Exception as exc:  # the converter raises many types; all mean "cannot ship"
            raise ConversionError(f"TFLite converter rejected the model: {exc}") from exc


class Int8Model:
    """A .tflite run in the tflite-micro interpreter: the runtime the MCU uses.

    Full-integer models (int8, or int16 activations) get their inputs quantized and outputs dequantized
    with the model's own scales; a float32 model takes and gives floats as they are.
    """

    def __init__(self, tflite: bytes, arena_size: int = 1 << 20) -> None:
        from tflite_micro.python.tflite_micro import runtime

        self.tflite = tflite
        self._interp = runtime.Interpreter.from_bytes(tflite, arena_size=arena_size)
        inp = self._interp.get_input_details(0)
        out = self._interp.get_output_details(0)
        self.input_shape = tuple(int(d) for d in inp["shape"])
        self.in_scale, self.in_zero = _quant(inp)
        self.out_scale, self.out_zero = _quant(out)
        self.dtype = np.dtype(inp.get("dtype", np.int8))
        self.is_float = self.dtype == np.float32
        if self.is_float:
            self.in_scale, self.in_zero, self.out_scale, self.out_zero = 1.0, 0, 1.0, 0

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        if self.is_float:
            return np.asarray(x, dtype=np.float32)
        q = np.round(x / self.in_scale + self.in_zero)
        info = np.iinfo(self.dtype)
        return np.clip(q, info.min, info.max).astype(self.dtype)

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        """int8 outputs for float inputs x (N, ...), one invoke per row as on the device."""
        rows = []
        for row in self.quantize_input(x):
            self._interp.set_input(row.reshape(self.input_shape), 0)
            self._interp.invoke()
            rows.append(np.array(self._interp.get_output(0)).reshape(-1))
        return np.stack(rows)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Dequantized outputs."""
        return (self.predict_raw(x).astype(np.float32) - self.out_zero) * self.out_scale

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(np.argmax(self.predict_raw(x), axis=1) == y))


def _quant(details: dict) -> tuple[float, int]:
    q = details.get("quantization_parameters") or {}
    scales, zeros = q.get("scales"), q.get("zero_points")
    if scales is not None and len(scales):
        return float(scales[0]), int(zeros[0])
    scale, zero = details.get("quantization", (1.0, 0))
    return float(scale) or 1.0, int(zero)


_ALLOC = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def measured_arena(tflite: bytes) -> dict[str, int]:
    """The arena TFLM really allocates for this model (host build, 64-bit): total, head, tail."""
    from tflite_micro.python.tflite_micro import runtime

    with captured_fds(1, 2) as text:
        interp = runtime.Interpreter.from_bytes(tflite, arena_size=1 << 22)
        interp.print_allocations()
    found = dict((k, int(v)) for k, v in _ALLOC.findall(text[0]))
    if set(found) != {"total", "head", "tail"}:
        raise RuntimeError(f"could not read the arena from tflite-micro's report: {text[0][:200]!r}")
    return found


def probe_arena(tflite: bytes, arena_size: int) -> str:
    """Whether the tflite-micro host interpreter allocates the model in `arena_size` bytes: "fits",
    "raises" (it reports the arena too small) or "crashes".

    Probed in a forked child: for some too-small arenas this tflite-micro build dereferences a null
    pointer after a failed tail allocation (the class of tflite-micro#2037) and would take the whole
    process down, as it did `nas export` in CI. tflite-micro ships Linux wheels only, so fork is there.
    """
    from tflite_micro.python.tflite_micro import runtime

    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # or the child would print the parent's buffered text again
    pid = os.fork()
    if pid == 0:  # the child: no Python-level cleanup, only an exit code
        code = 1
        try:
            # a crash here is expected and reported through the exit status; a fault handler inherited
            # from the parent (pytest enables one on a copy of stderr) would print a stack dump for it
            faulthandler.disable()
            signal.alarm(PROBE_TIMEOUT_S)  # a hung child dies instead of hanging its parent
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            runtime.Interpreter.from_bytes(tflite, arena_size=arena_size)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code in (0, 1):
        return "fits" if code == 0 else "raises"
    if -code in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT):
        return "crashes"
    raise RuntimeError(f"the arena probe ({arena_size} B) ended with status {code}")


def minimal_arena_size(tflite: bytes, alignment: int = 16) -> int:
    """The smallest `arena_size` with which the tflite-micro host interpreter allocates the model.

    Found by bisection: the allocation report's total leaves out the allocator's own alignment slack.
    """
    low = measured_arena(tflite)["head"]  # cannot fit below its planned tensors
    high = max(low * 2, 1 << 14)
    while probe_arena(tflite, high) != "fits":
        low, high = high, high * 2
    while high - low > alignment:
        mid = (low + high) // 2 // alignment * alignment
        if probe_arena(tflite, mid) == "fits":
            high = mid
        else:
            low = mid
    return high
