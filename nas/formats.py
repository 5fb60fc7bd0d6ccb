"""The deployment formats a trained model ships in, and the one function that converts to each.

- int8: int8 weights and activations (CMSIS-NN / ESP-NN kernels; the smallest and fastest).
- int16x8: int16 activations, int8 weights, int64 biases (TFLM's reference kernels and CMSIS-NN's s16
  kernels): finer activations at about twice the arena.
- float32: no quantization; what ships when int8 is too coarse (slow on cores without an FPU).

float16 is refused: the converter's float16 models keep float16 weights and DEQUANTIZE them to float32 at
run time, and tflite-micro's DEQUANTIZE takes int8, int16 and uint8 inputs only (measured with the pinned
tflite-micro: "input->type == kTfLiteInt8 || ... was not true", the model does not allocate).

Parsing is here, without TensorFlow, so a wrong `--formats` is refused before TensorFlow is imported.
"""

from __future__ import annotations

FORMATS = ("int8", "int16x8", "float32")  # in order of bytes per activation
REFUSED = {
    "float16": "tflite-micro cannot run the converter's float16 models (its DEQUANTIZE takes no float16 "
               "input); use float32, or int16x8 for finer activations in less memory",
    "int16": "int16 activations ship with int8 weights: say int16x8",
    "uint8": "tflite-micro's kernels are int8, not uint8: say int8",
}


def parse_formats(text: str) -> tuple[str, ...]:
    """'int8,float32' -> ('int8', 'float32'), in FORMATS order, each once. Raises ValueError with one line
    naming the problem and the fix."""
    asked = [word.strip().lower() for word in text.split(",") if word.strip()]
    if not asked:
        raise ValueError(f"--formats needs at least one of {', '.join(FORMATS)}")
    for word in asked:
        if word in REFUSED:
            raise ValueError(f"format {word!r}: {REFUSED[word]}")
        if word not in FORMATS:
            raise ValueError(f"unknown format {word!r}; choose from {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in asked)


def convert(model, fmt: str, representative, seed: int = 0) -> bytes:
    """The Keras model as a .tflite of format `fmt` (`representative`: training inputs for the
    quantized formats' activation ranges)."""
    from nas.quantize import to_float_tflite, to_int8_tflite

    if fmt == "int8":
        return to_int8_tflite(model, representative, seed=seed)
    if fmt == "int16x8":
        return to_int8_tflite(model, representative, seed=seed, activations="int16")
    if fmt == "float32":
        return to_float_tflite(model)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def score_key(number: int, fmt: str) -> str:
    """Where a front member's test score is kept in the study: the trial number for int8 (as studies
    before formats stored it), 'N:format' for the others."""
    return str(number) if fmt == "int8" else f"{number}:{fmt}"
