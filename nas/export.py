"""Exporting trained models from a study: .keras, int8 .tflite, a C array header, a model card."""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path

from nas.config import RunConfig
from nas.formats import score_key
from nas.results import known_intervals
from nas.schema import StudyRecord, TrialRecord
from nas.study import artifact_store, redact


class ExportError(ValueError):
    """A trial that cannot be exported; the message says why and what can be."""


def _download(study, config: RunConfig, trial, kind: str, dest: Path) -> Path:
    from optuna.artifacts import download_artifact

    ids = TrialRecord.read(trial).artifacts or {}
    if kind not in ids:
        raise ExportError(f"trial {trial.number} of study {study.study_name!r} was never trained "
                          f"(state {trial.state.name.lower()}); export a trained trial, e.g. --pareto")
    dest.unlink(missing_ok=True)  # a new export replaces the files of an earlier one
    try:
        download_artifact(artifact_store=artifact_store(config), artifact_id=ids[kind],
                          file_path=str(dest))
    except FileNotFoundError:
        raise ExportError(f"the {kind} artifact of trial {trial.number} is missing from "
                          f"{config.artifacts}; the study's artifact folder was moved or deleted") from None
    return dest


def load_tflite(study, config: RunConfig, trial, fmt: str | None = None) -> bytes:
    """The trial's shipped .tflite, or its `fmt` one (mlp candidates ship int8 and float32)."""
    ids = TrialRecord.read(trial).artifacts or {}
    kind = f"tflite_{fmt}" if fmt and f"tflite_{fmt}" in ids else "tflite"
    with tempfile.TemporaryDirectory() as tmp:
        return _download(study, config, trial, kind, Path(tmp) / "m.tflite").read_bytes()


def _intervals(accuracies: dict[str, float | None], data: dict, fmt: str = "int8") -> dict:
    """{'val_series': 41, 'val_int8_95ci': [0.84, 0.99], ...}: each split's size where the study records
    it, and the Wilson interval of the `fmt` file's accuracy measured on it."""
    out = {f"{split}_series": data[f"n_{split}"] for split in accuracies if data.get(f"n_{split}")}
    for split, (_, _, interval) in known_intervals(accuracies, data).items():
        out[f"{split}_{fmt}_95ci"] = [round(v, 3) for v in interval]
    return out


def _accuracy(record: TrialRecord, fmt: str, test: float | None, data: dict) -> dict:
    """The card's accuracies, all of the exported file's format (`test`: its test score, if scored)."""
    d = (record.formats or {}).get(fmt)
    if d is None or "val_accuracy" not in d:  # int8 alone, as every study before --formats
        val, cv, folds = record.val_accuracy_int8, record.cv_accuracy_int8, record.cv_fold_accuracy_int8
    else:
        val, cv, folds = d["val_accuracy"], d.get("cv_accuracy"), d.get("cv_fold_accuracy")
    return {f"val_{fmt}": val,
            f"cv_{fmt}": cv,  # this architecture and recipe over k folds
            f"cv_fold_{fmt}": folds,  # fold 0 is this model
            f"test_{fmt}": test,
            "val_float_before_quantization": record.val_accuracy_float,
            **_intervals({"val": val, "test": test}, data, fmt)}


def export_trial(study, config: RunConfig, trial, out_root: Path, storage_url: str, *, onnx: bool = False,
                 fmt: str | None = None) -> Path:
    """Write the trial's .keras, shipped .tflite, C header, Arduino sketch and model card under
    out_root/trial-N; with `onnx`, also model.onnx of the float Keras model (nas.onnx_export). `fmt`: another
    of the trial's formats than the shipped one (--formats), written under out_root/trial-N-FORMAT; the card's
    figures are then that file's."""
    from cost_models.arena import plan_arena
    from cost_models.persistent import persistent_bytes
    from cost_models.scratch import scratch_requests
    from cost_models.tflite_reader import read_tflite
    from nas.firmware import arduino_sketch, c_header, resolver_methods, tensor_formats
    from nas.objective import latency_by_device
    from nas.quantize import measured_arena, minimal_arena_size
    from nas.tasks import task_for

    record = TrialRecord.read(trial)
    shipped = record.shipped_format or "int8"
    if fmt is not None and fmt != shipped and f"tflite_{fmt}" not in (record.artifacts or {}):
        have = ", ".join(sorted(record.formats or {shipped: None}))
        raise ExportError(f"trial {trial.number} was not converted to {fmt} (it has {have}); search with "
                          f"--formats to convert every candidate to more formats")
    fmt = fmt or shipped
    out = out_root / (f"trial-{trial.number}" if fmt == shipped else f"trial-{trial.number}-{fmt}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot write to {out} ({exc.strerror}); pass --out with a writable "
                          "folder") from None
    _download(study, config, trial, "keras", out / "model.keras")
    _download(study, config, trial, "tflite" if fmt == shipped else f"tflite_{fmt}", out / f"model_{fmt}.tflite")
    tflite = (out / f"model_{fmt}.tflite").read_bytes()
    arena = measured_arena(tflite)
    graph = read_tflite(tflite)
    mcu_tail = persistent_bytes(graph, pointer_bytes=4)
    device = config.device
    # The host build runs reference kernels; the device's kernel library may plan larger scratch
    # buffers. Both plans are exact, so their difference is what the board needs on top.
    extra_scratch = (plan_arena(graph, scratch_requests(graph, device.kernels, device.core)).peak_bytes
                     - plan_arena(graph, scratch_requests(graph, "reference")).peak_bytes)
    # The host build uses 64-bit pointers, so the smallest arena it runs in bounds the 32-bit tail.
    host_minimum = minimal_arena_size(tflite)
    reserve = host_minimum + max(extra_scratch, 0)
    inp, outp = tensor_formats(tflite)
    methods = resolver_methods([op.kind for op in graph.ops])
    header = c_header(tflite, reserve, inp=inp, out=outp, methods=methods, comment=(
        f"Generated by `nas export {study.study_name} --trial {trial.number}` (mcu-nas).\n"
        f"Architecture: {record.architecture}\n"
        f"NAS_TENSOR_ARENA_SIZE = the smallest arena the tflite-micro host build runs this model in\n"
        f"(bisected: {host_minimum} B; {arena['head']} B planned + {arena['tail']} B persistent with 64-bit\n"
        f"pointers) + {max(extra_scratch, 0)} B more scratch planned for {device.kernels} on {device.name}.\n"
        f"A 32-bit MCU's persistent part is smaller (about {mcu_tail} B, estimated)."
    ))
    (out / "model_data.h").write_text(header)
    task = task_for(config.space)
    example = task.example(config)
    labels = list(config.data.get("classes", [])) if task.name == "classification" else None
    sketch = arduino_sketch(
        title=f"nas export {study.study_name} --trial {trial.number}: {record.architecture}", inp=inp,
        example=None if example is None else example[0],
        example_words=(example[1] if example else "zeros: replace them with an input prepared as the card's "
                       "'input' says"), labels=labels)
    (out / "sketch").mkdir(exist_ok=True)  # the Arduino IDE opens a folder named like its .ino
    (out / "sketch" / "sketch.ino").write_text(sketch)
    (out / "sketch" / "model_data.h").write_text(header)
    test_scores = StudyRecord.read(study).test_scores
    this = (record.formats or {}).get(fmt, {})  # the exported format's own figures, when a trial has several
    card = {
        "study": study.study_name,
        "storage": redact(storage_url),
        "trial": trial.number,
        "space": config.space,
        "space_version": config.space_version,
        "architecture": record.architecture,
        "params": trial.params,
        "parameters_count": graph.params,
        "macs": graph.total_macs,
        "flash_bytes": len(tflite),
        "arena_bytes": {"planned_host_reference_kernels": arena["head"], "persistent_host_64bit": arena["tail"],
                        f"extra_scratch_{device.kernels}": max(extra_scratch, 0),
                        "persistent_mcu_32bit_estimate": mcu_tail, "reserve": reserve},
        "latency_ms_by_device": record.latency_ms_by_device if fmt == shipped else latency_by_device(graph),
        "device": config.device.name,
        "budget": asdict(config.budget),
        "feasible": this.get("feasible", record.feasible),
        "format": fmt,
        "teacher_verdict": record.verdict,  # mlp students: fidelity to the teacher, measured in TFLM
        "other_formats": {f: {**({"fidelity": d["fidelity"]["fidelity"]} if "fidelity" in d else
                                 {"val_accuracy": d["val_accuracy"],
                                  "test_accuracy": test_scores.get(score_key(trial.number, f))}),
                              "flash_bytes": d["cost"]["flash_bytes"]}
                          for f, d in (record.formats or {}).items() if f != fmt},
        "accuracy": _accuracy(record, fmt, test_scores.get(score_key(trial.number, fmt)), config.data),
        "input": {**inp.to_dict(), "layout": task.input_layout, "preprocessing": config.data.get("preprocessing"),
                  **{k: config.data[k] for k in ("channel_mean", "channel_std") if k in config.data}},
        "output": outp.to_dict(),
        "operators": methods,  # the MicroMutableOpResolver calls model_data.h's NAS_REGISTER_OPS makes
        "labels": dict(enumerate(config.data.get("classes", []))),
        "data": config.data,
        "seed": config.seed,
        "epochs": record.epochs_planned if record.epochs_planned is not None else config.epochs,
        "training": record.recipe,  # epochs, early-stopping patience, augmentation; polish_of: see README
    }
    if onnx:
        card["onnx"] = _write_onnx(out)
    (out / "model_card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    return out


def _write_onnx(out: Path) -> dict:
    """model.onnx beside model.keras: the float model, for runtimes other than tflite-micro."""
    from nas.onnx_export import OPSET, OnnxExportError, write_onnx
    from nas.quiet import import_tensorflow

    import_tensorflow()
    import keras

    try:
        write_onnx(keras.models.load_model(out / "model.keras", compile=False), out / "model.onnx")
    except OnnxExportError as exc:
        raise ExportError(str(exc)) from None
    return {"file": "model.onnx", "opset": OPSET, "of": "the float Keras model (model.keras), not the "
            "quantized .tflite: its accuracy is the float one"}
