"""What `nas export` gives a user for the board: a header that compiles as C and C++ and says how to feed
the model, and an Arduino sketch that registers exactly the model's operators."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nas.cli import main

OLD = Path(__file__).parent / "data" / "studies-ab83f66"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    shutil.copytree(OLD, root / "studies", ignore=shutil.ignore_patterns("README.md"))
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    assert main(["export", "old-spectral", "--trial", "4", "--onnx"]) == 0
    assert main(["export", "old-mlp", "--trial", "1"]) == 0  # a float32 student
    mp.undo()
    return {"int8": root / "reports" / "old-spectral" / "models" / "trial-4",
            "float32": root / "reports" / "old-mlp" / "models" / "trial-1"}


def _defines(header: str) -> dict[str, str]:
    return dict(re.findall(r"^#define (NAS_\w+)(?:\(\w+\))? (.+?)(?:\s+/\*.*)?$", header, re.M))


def test_the_header_carries_the_quantization_the_arena_and_the_operators(exported):
    from cost_models.tflite_reader import read_tflite
    from nas.firmware import RESOLVER_METHODS
    from nas.quantize import Int8Model

    out = exported["int8"]
    header = (out / "model_data.h").read_text()
    card = json.loads((out / "model_card.json").read_text())
    tflite = (out / "model_int8.tflite").read_bytes()
    model = Int8Model(tflite)
    d = _defines(header)
    assert float(d["NAS_INPUT_SCALE"].rstrip("f")) == pytest.approx(model.in_scale, rel=1e-6)
    assert int(d["NAS_INPUT_ZERO_POINT"].strip("()")) == model.in_zero
    assert float(d["NAS_OUTPUT_SCALE"].rstrip("f")) == pytest.approx(model.out_scale, rel=1e-6)
    assert int(d["NAS_OUTPUT_ZERO_POINT"].strip("()")) == model.out_zero
    assert int(d["NAS_TENSOR_ARENA_SIZE"]) == card["arena_bytes"]["reserve"]
    assert int(d["NAS_INPUT_SIZE"]) == int(np.prod(model.input_shape))
    used = {RESOLVER_METHODS[op.kind] for op in read_tflite(tflite).ops}
    assert set(re.findall(r"\(resolver\)\.(\w+)\(\)", d["NAS_REGISTER_OPS"])) == used
    assert int(d["NAS_OP_COUNT"]) == len(used)
    assert card["input"]["scale"] == pytest.approx(model.in_scale) and card["input"]["zero_point"] == model.in_zero
    assert card["output"]["zero_point"] == model.out_zero and set(card["operators"]) == used


def test_the_sketch_registers_only_the_models_operators_and_feeds_one_input(exported):
    out = exported["int8"]
    sketch = (out / "sketch" / "sketch.ino").read_text()
    assert (out / "sketch" / "model_data.h").read_text() == (out / "model_data.h").read_text()
    assert "NAS_REGISTER_OPS(resolver);" in sketch and "MicroMutableOpResolver<NAS_OP_COUNT>" in sketch
    assert re.findall(r"\.Add\w+\(\)", sketch) == []  # no operator beyond those the header registers
    assert "lroundf(example_input[i] / NAS_INPUT_SCALE) + NAS_INPUT_ZERO_POINT" in sketch
    values = re.search(r"example_input\[NAS_INPUT_SIZE\] = \{(.*?)\};", sketch, re.S).group(1)
    assert len(re.findall(r"f,", values)) == 1024 and "kLabels" in sketch  # a validation series, and the labels
    student = (exported["float32"] / "sketch" / "sketch.ino").read_text()
    assert "input->data.f[i] = example_input[i];" in student and "kLabels" not in student  # a regression


C_USE = '#include "model_data.h"\nint first_byte(void) { return g_model_data[0] + (int)g_model_data_len; }\n'
COMPILERS = [("gcc", ["-std=c99", "-Wall", "-Werror", "-c"], "c"), ("gcc", ["-std=c11", "-Wall", "-Werror", "-c"], "c"),
             ("g++", ["-std=c++11", "-Wall", "-Werror", "-c"], "cpp"),
             ("arm-none-eabi-gcc", ["-mcpu=cortex-m4", "-mthumb", "-std=c99", "-Wall", "-Werror", "-c"], "c")]


@pytest.mark.parametrize("compiler, flags, ext", COMPILERS, ids=lambda v: v if isinstance(v, str) else None)
@pytest.mark.parametrize("fmt", ["int8", "float32"])
def test_the_header_compiles(exported, tmp_path, compiler, flags, ext, fmt):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} is not installed (.ci/run installs it from Debian)")
    source = tmp_path / f"use.{ext}"
    source.write_text(C_USE)
    shutil.copy(exported[fmt] / "model_data.h", tmp_path)
    out = subprocess.run([compiler, *flags, str(source), "-o", str(tmp_path / "use.o")], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr


def test_the_onnx_file_computes_what_the_keras_model_computes(exported):
    """`--onnx` writes the float model; onnxruntime's outputs on the study's own validation series match
    Keras's within 1e-5, and the card says which model it is."""
    import keras
    import onnxruntime

    from nas import data as data_mod
    from nas.train import as_model_input

    out = exported["int8"]
    card = json.loads((out / "model_card.json").read_text())
    assert card["onnx"]["file"] == "model.onnx" and "float" in card["onnx"]["of"]
    x = as_model_input(data_mod.load(card["data"]).x_val).astype("float32")
    model = keras.models.load_model(out / "model.keras", compile=False)
    expected = np.concatenate([model(x[i:i + 1], training=False).numpy() for i in range(len(x))])
    session = onnxruntime.InferenceSession(str(out / "model.onnx"))
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-5


def test_an_int16x8_model_gets_int16_feeding_in_its_header_and_sketch(tmp_path):
    """An int16x8 file (int16 input and output): the header says so and compiles, the sketch writes
    data.i16 clamped to the int16 range."""
    from cost_models.tflite_reader import read_tflite
    from nas.firmware import arduino_sketch, c_header, resolver_methods, tensor_formats
    from nas.quantize import to_int8_tflite
    from tests.helpers import randomize_weights, sample_models

    model, _ = next(iter(sample_models(1, seed=5)))
    randomize_weights(model, 0)
    rep = np.random.default_rng(0).normal(size=(16, *model.inputs[0].shape[1:])).astype(np.float32)
    tflite = to_int8_tflite(model, rep, activations="int16")
    inp, out = tensor_formats(tflite)
    assert inp.dtype == out.dtype == "int16"
    header = c_header(tflite, 4096, comment="int16x8", inp=inp, out=out,
                      methods=resolver_methods([op.kind for op in read_tflite(tflite).ops]))
    assert _defines(header)["NAS_INPUT_IS_INT16"] == "1" and _defines(header)["NAS_INPUT_IS_INT8"] == "0"
    sketch = arduino_sketch(title="t", inp=inp, example=None, example_words="zeros", labels=None)
    assert "input->data.i16[i] = (int16_t)(q < -32768 ? -32768 : (q > 32767 ? 32767 : q));" in sketch
    assert "output->data.i16[i]" in sketch
    if shutil.which("gcc"):
        (tmp_path / "model_data.h").write_text(header)
        (tmp_path / "use.c").write_text(C_USE)
        done = subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", "-c", str(tmp_path / "use.c"), "-o",
                               str(tmp_path / "use.o")], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
