"""The run configuration of a study: typed here, turned into JSON only where the study is written and
read (`to_dict` / `from_dict`, called by nas.study).

A study stores its configuration once, when it is created; `resume`, `report` and `export` read it
back, so a study never depends on the board file, flags or defaults of a later invocation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from cost_models import Budget, Device
from cost_models.device import device_from_dict

POLISH_DEFAULT = 3  # front members trained again with the long recipe after a search
FINALISTS_DEFAULT = 3  # front members cross-validated after the polish, beside the seeded baselines (nas.finalists)
FORMAT = 2  # 1: nas before the record schema (device and budget as dicts, options in an `extra` bag)


@dataclass(frozen=True)
class ObjectiveOptions:
    """How candidates are trained and scored."""

    multi_fidelity: bool = True  # screen every candidate after a quarter of its epochs
    cv_folds: int = 0  # score by k-fold cross-validated int8 accuracy (0: the validation split)
    reject_before_training: bool = True  # False only for the benchmark that measures what rejection saves
    polish: int = POLISH_DEFAULT
    baselines: bool = False  # seed the study with the hand-made baselines at equal cost (nas.baselines)
    # with baselines: each one that has a published recipe is trained with it for this many epochs too, as a
    # trial of its own (nas.baselines.published_recipe; 0: not, as in studies made before it)
    baseline_epochs: int = 0
    distill: bool = False  # polish trials train on targets mixed with a full-width FCN's (nas.class_teacher)
    teacher_epochs: int = 200  # --distill: the teacher's epochs (FCN's plateau schedule)
    formats: tuple[str, ...] | None = None  # what each trained model ships as (nas.formats); None: the task's default
    finalists: int = 0  # nas.finalists: front members cross-validated after the polish (0 in studies made before it)


@dataclass(frozen=True)
class Distillation:
    """A distillation study's teacher and tolerance (the teacher file is a study artifact)."""

    teacher_artifact: str
    teacher_file: str
    teacher_params: int
    task: str  # "regression" or "classification": what the teacher computes
    rtol: float
    atol: float


@dataclass(frozen=True)
class RunConfig:
    space: str
    space_version: int
    device: Device
    budget: Budget
    data: dict  # the data's description and how to reload it (nas.data / nas.student build and read it)
    seed: int = 0
    epochs: int | None = None  # None: nas.train.epochs_for(the training set's size)
    trial_time_limit_s: float = 600.0
    artifacts: str = ""  # folder of the artifact store
    sampler: str = "tpe"
    objective: ObjectiveOptions = field(default_factory=ObjectiveOptions)
    distillation: Distillation | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["device"] = {k: v for k, v in out["device"].items() if v is not None}
        out["format"] = FORMAT
        return out

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Read a stored configuration, of this format or of format 1. Raises TypeError or ValueError
        for one that is neither."""
        data = dict(data)
        if data.pop("format", 1) == 1:
            data = _from_format_1(data)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise TypeError(f"unknown configuration field(s) {', '.join(sorted(unknown))}")
        distillation = data.get("distillation")
        return cls(**{**data,
                      "device": device_from_dict(data["device"], "the study's configuration"),
                      "budget": Budget(**data["budget"]),
                      "objective": _objective(data.get("objective", {})),
                      "distillation": Distillation(**distillation) if distillation else None})


def _objective(data: dict) -> ObjectiveOptions:
    formats = data.get("formats")
    return ObjectiveOptions(**{**data, "formats": tuple(formats) if formats else None})


_DISTILLATION_KEYS = tuple(f.name for f in fields(Distillation))


def _from_format_1(data: dict) -> dict:
    """Format 1 kept the objective's options and the teacher in an `extra` dict."""
    extra = dict(data.pop("extra", {}) or {})
    objective = dict(extra.pop("objective", {}))
    if "polish" in extra:
        objective["polish"] = extra.pop("polish")
    data["objective"] = objective
    if "teacher_artifact" in extra:
        data["distillation"] = {k: extra.pop(k) for k in _DISTILLATION_KEYS}
    return data
