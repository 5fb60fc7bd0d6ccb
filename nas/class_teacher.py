"""`--distill` for classifiers: a full-width FCN (nas.baselines, Wang et al. 2017) is trained once per study
with FCN's own schedule on the training split; its class probabilities on the training series, softened
by TEMPERATURE, are stored in the study as an artifact. Every polish trial (the long recipe the front's
best architectures get after the search) then trains on targets mixing the label (weight ALPHA) with
them (Hinton et al. 2015: mixed-target cross-entropy is the distillation loss up to a constant); early
stopping and every score still read the validation labels. The teacher never ships and never sees the
validation or test split.

Measured with paired seeds on OSULeaf (docs/benchmarks.md, benchmarks/distill_check.py): +3.4 points
with the polish recipe, nothing with the search's short one, so the search's candidates learn labels.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from nas.baselines import Baseline

log = logging.getLogger(__name__)

TEACHER = Baseline("fcn", 1, (1, 1, 1))
ALPHA = 0.5  # weight of the hard label in a candidate's target
TEMPERATURE = 2.0


def soften(p: np.ndarray, temperature: float = TEMPERATURE) -> np.ndarray:
    q = np.exp(np.log(np.clip(p, 1e-7, 1.0)) / temperature)
    return q / q.sum(1, keepdims=True)


def mixed_targets(y: np.ndarray, soft: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """alpha * one-hot(y) + (1 - alpha) * soft, float32 rows summing to 1."""
    return (alpha * np.eye(soft.shape[1], dtype=np.float32)[y] + (1 - alpha) * soft).astype(np.float32)


def train_teacher(dataset, *, epochs: int, seed: int) -> tuple[np.ndarray, dict]:
    """The teacher's softened probabilities on dataset.x_train, and what to record of it."""
    import keras

    from nas.train import as_model_input, seeded, train

    start = time.monotonic()
    keras.backend.clear_session()
    model = seeded(lambda: TEACHER.build(dataset.input_shape, len(dataset.classes)), seed)
    train(model, dataset.x_train, dataset.y_train, None, None, epochs=epochs, seed=seed, schedule="plateau")
    p_train = model.predict(as_model_input(dataset.x_train), verbose=0, batch_size=64)
    p_val = model.predict(as_model_input(dataset.x_val), verbose=0, batch_size=64)
    info = {"architecture": TEACHER.describe(), "epochs": epochs, "seconds": round(time.monotonic() - start, 1),
            "train_accuracy_float": float((p_train.argmax(1) == dataset.y_train).mean()),
            "val_accuracy_float": float((p_val.argmax(1) == dataset.y_val).mean()),
            "alpha": ALPHA, "temperature": TEMPERATURE}
    return soften(p_train), info


def ensure_teacher(study, config, dataset) -> None:
    """Train the teacher and store its targets in the study, unless it holds them already (a resume,
    or another process got there first)."""
    from optuna.artifacts import upload_artifact

    from nas import schema
    from nas.study import artifact_store

    if schema.StudyRecord.read(study).class_teacher:
        return
    log.info("Training the teacher for --distill (%s, %d epochs) before the first candidate: a few minutes.",
             TEACHER.describe(), config.objective.teacher_epochs)
    soft, info = train_teacher(dataset, epochs=config.objective.teacher_epochs, seed=config.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "teacher_targets.npy"
        np.save(path, soft)
        info["artifact"] = upload_artifact(artifact_store=artifact_store(config), file_path=str(path),
                                           study_or_trial=study)
    schema.write_class_teacher(study, info)
    log.info("Teacher: float validation accuracy %.3f (%.0f s).", info["val_accuracy_float"], info["seconds"])


def load_targets(study_record, config, dataset) -> np.ndarray:
    """The stored soft targets, mixed with the training labels: what every candidate trains on."""
    from optuna.artifacts import download_artifact

    from nas.study import artifact_store

    record = study_record.class_teacher
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.npy"
        download_artifact(artifact_store=artifact_store(config), artifact_id=record["artifact"], file_path=str(path))
        soft = np.load(path)
    if soft.shape != (len(dataset.y_train), len(dataset.classes)):
        raise ValueError(f"the study's teacher targets have shape {soft.shape}, its training split "
                         f"{(len(dataset.y_train), len(dataset.classes))}: the data changed since the study began")
    return mixed_targets(dataset.y_train, soft, record.get("alpha", ALPHA))
