"""What a board needs to run an exported model: the C header (model bytes, arena size, input and output
quantization, the operators to register) and a minimal Arduino sketch that runs it once.

The header compiles as C99, C11 and C++ (tests compile it with gcc, g++ and arm-none-eabi-gcc). The
sketch uses TFLM's C++ API as the Arduino_TensorFlowLite library and other TFLM ports expose it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# TFLite builtin operator -> the MicroMutableOpResolver method that registers its kernel
# (tensorflow/lite/micro/micro_mutable_op_resolver.h)
RESOLVER_METHODS = {
    "ADD": "AddAdd", "AVERAGE_POOL_2D": "AddAveragePool2D", "CONCATENATION": "AddConcatenation",
    "CONV_2D": "AddConv2D", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D", "DEQUANTIZE": "AddDequantize",
    "EXPAND_DIMS": "AddExpandDims", "FULLY_CONNECTED": "AddFullyConnected", "HARD_SWISH": "AddHardSwish",
    "LOGISTIC": "AddLogistic", "MAX_POOL_2D": "AddMaxPool2D", "MEAN": "AddMean", "MUL": "AddMul",
    "PAD": "AddPad", "QUANTIZE": "AddQuantize", "RELU": "AddRelu", "RELU6": "AddRelu6", "RESHAPE": "AddReshape",
    "SOFTMAX": "AddSoftmax", "SQUEEZE": "AddSqueeze", "TANH": "AddTanh",
}


@dataclass(frozen=True)
class TensorFormat:
    """How the board feeds or reads a tensor: float32 as is, int8 as round(x / scale) + zero_point."""

    shape: tuple[int, ...]
    dtype: str  # "int8", "int16" or "float32"
    scale: float = 1.0
    zero_point: int = 0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "dtype": self.dtype, "scale": self.scale, "zero_point": self.zero_point}


def tensor_formats(tflite: bytes) -> tuple[TensorFormat, TensorFormat]:
    """The model's input and output as the interpreter sees them."""
    from nas.quantize import Int8Model

    model = Int8Model(tflite, arena_size=1 << 20)
    out_shape = tuple(int(d) for d in model._interp.get_output_details(0)["shape"])
    dtype = "float32" if model.is_float else str(model.dtype)  # int8, int16 (int16x8) or float32
    return (TensorFormat(model.input_shape, dtype, model.in_scale, model.in_zero),
            TensorFormat(out_shape, dtype, model.out_scale, model.out_zero))


def resolver_methods(op_names: list[str]) -> list[str]:
    """The resolver calls for a model's operators, once each in order of first use. An operator we have
    no method for raises with its name (a missing registration only shows on the board)."""
    methods = []
    for name in op_names:
        if name not in RESOLVER_METHODS:
            raise ValueError(f"no TFLM resolver method known for operator {name}; add it to "
                             "nas.firmware.RESOLVER_METHODS")
        if RESOLVER_METHODS[name] not in methods:
            methods.append(RESOLVER_METHODS[name])
    return methods


def _c_float(value: float) -> str:
    return f"{value!r}f" if np.isfinite(value) else "0.0f"


def c_header(tflite: bytes, arena_bytes: int, *, comment: str, inp: TensorFormat, out: TensorFormat,
             methods: list[str]) -> str:
    """The .tflite as a C array with what a board needs beside it. Include it in one source file only
    (it defines g_model_data)."""
    hex_rows = ["  " + ", ".join(f"0x{b:02x}" for b in tflite[i : i + 12]) + "," for i in range(0, len(tflite), 12)]
    register = " ".join(f"(resolver).{m}();" for m in methods)
    return "\n".join([
        *("// " + line for line in comment.splitlines()),
        "#ifndef NAS_MODEL_DATA_H_",
        "#define NAS_MODEL_DATA_H_",
        "",
        f"#define NAS_MODEL_DATA_LEN {len(tflite)}",
        f"#define NAS_TENSOR_ARENA_SIZE {arena_bytes}  /* bytes to reserve, 16-byte aligned */",
        "",
        f"/* Input: {inp.dtype} tensor of shape {list(inp.shape)} ({inp.size} values). Integer models take",
        "   q = round(x / NAS_INPUT_SCALE) + NAS_INPUT_ZERO_POINT, clamped to the type's range. */",
        f"#define NAS_INPUT_IS_INT8 {int(inp.dtype == 'int8')}",
        f"#define NAS_INPUT_IS_INT16 {int(inp.dtype == 'int16')}",
        f"#define NAS_INPUT_SIZE {inp.size}",
        f"#define NAS_INPUT_SCALE {_c_float(inp.scale)}",
        f"#define NAS_INPUT_ZERO_POINT ({inp.zero_point})",
        f"/* Output: {out.dtype} tensor of shape {list(out.shape)};",
        "   integer models give x = (q - NAS_OUTPUT_ZERO_POINT) * NAS_OUTPUT_SCALE. */",
        f"#define NAS_OUTPUT_SIZE {out.size}",
        f"#define NAS_OUTPUT_SCALE {_c_float(out.scale)}",
        f"#define NAS_OUTPUT_ZERO_POINT ({out.zero_point})",
        "",
        "/* The operators this model uses: tflite::MicroMutableOpResolver<NAS_OP_COUNT> resolver;",
        "   NAS_REGISTER_OPS(resolver); */",
        f"#define NAS_OP_COUNT {len(methods)}",
        f"#define NAS_REGISTER_OPS(resolver) do {{ {register} }} while (0)",
        "",
        "/* TFLM reads the flatbuffer in place: it must be 16-byte aligned. */",
        "#if defined(__cplusplus)",
        "#define NAS_ALIGNED16 alignas(16)",
        "#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L",
        "#define NAS_ALIGNED16 _Alignas(16)",
        "#elif defined(__GNUC__)",
        "#define NAS_ALIGNED16 __attribute__((aligned(16)))",
        "#else",
        "#define NAS_ALIGNED16",
        "#endif",
        "",
        f"const unsigned int g_model_data_len = {len(tflite)};",
        "NAS_ALIGNED16 const unsigned char g_model_data[] = {",
        *hex_rows,
        "};",
        "",
        "#endif  /* NAS_MODEL_DATA_H_ */",
        "",
    ])


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def arduino_sketch(*, title: str, inp: TensorFormat, example: np.ndarray | None, example_words: str,
                   labels: list[str] | None) -> str:
    """A sketch that registers the model's operators, quantizes one input, runs inference once and prints
    the outputs (and, for a classifier, the class). `example`: one input in the units the model was
    trained on (None: zeros, to be replaced by the user's own)."""
    values = np.zeros(inp.size) if example is None else np.asarray(example, np.float64).reshape(-1)
    rows = [", ".join(f"{v:.6g}f" for v in values[i : i + 10]) for i in range(0, len(values), 10)]
    low, high, field = {"int8": (-128, 127, "int8"), "int16": (-32768, 32767, "i16")}.get(inp.dtype, (0, 0, "f"))
    feed = (f"    int32_t q = (int32_t)lroundf(example_input[i] / NAS_INPUT_SCALE) + NAS_INPUT_ZERO_POINT;\n"
            f"    input->data.{field}[i] = ({inp.dtype}_t)(q < {low} ? {low} : (q > {high} ? {high} : q));"
            if field != "f" else "    input->data.f[i] = example_input[i];")
    read = (f"(output->data.{field}[i] - NAS_OUTPUT_ZERO_POINT) * NAS_OUTPUT_SCALE" if field != "f"
            else "output->data.f[i]")
    label_lines = []
    if labels:
        label_lines = [f"const char* const kLabels[NAS_OUTPUT_SIZE] = {{{', '.join(map(_c_string, labels))}}};"]
    verdict = ('  Serial.print("class: ");\n  Serial.println(kLabels[best]);\n' if labels else "")
    return "\n".join([
        f"// {title}",
        "// Runs the model once on one input and prints its outputs over Serial (115200 baud).",
        "// Needs a TFLM library for your board, e.g. Arduino_TensorFlowLite; model_data.h is beside this file.",
        "#include <math.h>",
        "#include <TensorFlowLite.h>",
        '#include "tensorflow/lite/micro/micro_interpreter.h"',
        '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"',
        '#include "tensorflow/lite/schema/schema_generated.h"',
        '#include "model_data.h"',
        "",
        "namespace {",
        "alignas(16) uint8_t tensor_arena[NAS_TENSOR_ARENA_SIZE];",
        f"// {example_words}",
        "const float example_input[NAS_INPUT_SIZE] = {",
        *(f"  {r}," for r in rows),
        "};",
        *label_lines,
        "}  // namespace",
        "",
        "void setup() {",
        "  Serial.begin(115200);",
        "  while (!Serial) {}",
        "  static tflite::MicroMutableOpResolver<NAS_OP_COUNT> resolver;",
        "  NAS_REGISTER_OPS(resolver);",
        "  static tflite::MicroInterpreter interpreter(tflite::GetModel(g_model_data), resolver, tensor_arena,",
        "                                              NAS_TENSOR_ARENA_SIZE);",
        "  if (interpreter.AllocateTensors() != kTfLiteOk) {",
        '    Serial.println("AllocateTensors failed: reserve a larger NAS_TENSOR_ARENA_SIZE");',
        "    return;",
        "  }",
        "  TfLiteTensor* input = interpreter.input(0);",
        "  for (int i = 0; i < NAS_INPUT_SIZE; ++i) {",
        feed,
        "  }",
        "  unsigned long start = micros();",
        "  if (interpreter.Invoke() != kTfLiteOk) {",
        '    Serial.println("Invoke failed");',
        "    return;",
        "  }",
        "  unsigned long elapsed = micros() - start;",
        "  TfLiteTensor* output = interpreter.output(0);",
        "  int best = 0;",
        "  float best_value = -INFINITY;",
        "  for (int i = 0; i < NAS_OUTPUT_SIZE; ++i) {",
        f"    float value = {read};",
        "    if (value > best_value) { best = i; best_value = value; }",
        '    Serial.print("output ");',
        "    Serial.print(i);",
        '    Serial.print(": ");',
        "    Serial.println(value, 6);",
        "  }",
        verdict + '  Serial.print("inference us: ");',
        "  Serial.println(elapsed);",
        "}",
        "",
        "void loop() {}",
        "",
    ])
