"""What a study records, in one place: the keys of every trial and study user attribute, the kinds
of trial, and the only functions that write or read them.

Keys are persisted API: a study written by an older nas must still open (`tests/test_old_studies.py`
opens studies written before this module existed). A value changes meaning only under a new key.

- `TrialRecord` is what one trial recorded; `TrialRecord.read(trial)` reads it from any Optuna trial
  (running, frozen or finished); `write(trial, field=value, ...)` records fields as the objective
  reaches them, so a trial that fails half-way keeps what it had.
- `StudyRecord` is what the study itself holds beside its trials: the run configuration (serialized
  by `nas.config`), the test scores of front members, the trial requests of each invocation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# kinds of trial
CANDIDATE = "candidate"  # sampled by the search (the default: studies before nas 0.2 wrote no kind)
POLISH = "polish"  # a front member's architecture trained again after the search (nas.search.queue_polish)
STUDENT = "student"  # a sampled candidate of a distillation search
TEACHER = "teacher"  # distillation: the teacher as given, seeded before the search
EXACT_REDUCTION = "exact-reduction"  # distillation: the teacher with its provably dead units removed
BASELINE = "baseline"  # classification: a published architecture shrunk to fit (nas.baselines), seeded
FCN_IN_SPACE = "fcn-in-space"  # classification: an FCN baseline's layout as the space's parameters, seeded
# seeded before the search; never counted as its trials
SEEDED_KINDS = (TEACHER, EXACT_REDUCTION, BASELINE, FCN_IN_SPACE)

INTERRUPTED = "interrupted (Ctrl-C or SIGTERM); its parameters are tried again on resume"


@dataclass(frozen=True)
class TrialRecord:
    """Every user attribute a trial may carry (all optional: a trial records what it reached)."""

    # who and what
    kind: str = CANDIDATE
    polish_of: int | None = None  # a polish: the trial whose architecture it trains again
    retry_of: int | None = None  # parameters queued again after this (interrupted or killed) trial
    duplicate_of: int | None = None  # a polish queued twice: the earlier polish that trains it
    repeat_of: list | None = None  # a sampled architecture tried MAX_TRIES times already: those trials (not trained)
    architecture: str = ""  # the space's words for the architecture
    worker: dict | None = None  # {"host", "pid"} of the process that ran it
    run: str | None = None  # the `nas search` / `nas resume` invocation that ran it
    worker_rss_mib: float | None = None
    # before training
    estimate: dict | None = None  # Cost.to_dict() predicted from the shape-only build
    broken_by_estimate: list | None = None  # benchmarks only: budgets the estimate said it breaks
    # training
    recipe: dict | None = None  # epochs, patience, augment (+ polish_of)
    trained: bool = False
    screened_out: bool = False
    screen: dict | None = None  # the multi-fidelity decision (nas.objective.make_screen)
    screen_accuracy: float | None = None  # float val accuracy at the screening epoch
    epochs_run: int | None = None
    epochs_planned: int | None = None
    best_epoch: int | None = None  # early stopping: the epoch (from 1) whose weights were kept
    train_seconds: float | None = None
    fail_reason: str | None = None
    # the shipped model
    feasible: bool | None = None
    broken: list = field(default_factory=list)  # budgets it breaks
    cost: dict | None = None  # Cost.to_dict() of the converted model
    latency_ms_by_device: dict | None = None
    val_accuracy_int8: float | None = None
    val_accuracy_float: float | None = None  # before quantization, for the quantization gap only
    cv_accuracy_int8: float | None = None
    cv_fold_accuracy_int8: list | None = None  # fold 0 is the shipped model
    artifacts: dict | None = None  # artifact ids: keras, tflite (the shipped one), tflite_<format>
    # distillation
    formats: dict | None = None  # per format: cost, violations, feasible, broken, fidelity
    shipped_format: str | None = None
    verdict: dict | None = None  # fidelity of the shipped format
    reduction: dict | None = None  # exact reduction: what was removed, over which domain
    # hand-made baselines
    baseline: dict | None = None  # nas.baselines.Baseline.to_dict(): built instead of the space's architecture

    @classmethod
    def read(cls, trial) -> TrialRecord:
        """The record of an Optuna trial; keys this version does not know are ignored."""
        attrs = trial.user_attrs
        return cls(**{k: v for k, v in attrs.items() if k in FIELDS and v is not None})

    @property
    def seeded(self) -> bool:
        return self.kind in SEEDED_KINDS

    @property
    def schedule(self) -> str | None:
        """The nas.train schedule its recipe names (a polish with FCN's, a published baseline's); None for the
        search's own recipe and the polish recipe."""
        return (self.recipe or {}).get("schedule")

    @property
    def polish_variant(self) -> str | None:
        """Which of a front member's polishes this is (recipe_variant of its recipe)."""
        return recipe_variant(self.recipe)

    @property
    def score(self) -> float | None:
        """What ranks a classifier: the cross-validated int8 accuracy if measured, else validation's."""
        return self.cv_accuracy_int8 if self.cv_accuracy_int8 is not None else self.val_accuracy_int8


FIELDS = frozenset(f.name for f in fields(TrialRecord))


def sampled(trial) -> bool:
    """A trial the search itself proposed: not one seeded before it, not a polish after it."""
    return TrialRecord.read(trial).kind not in (*SEEDED_KINDS, POLISH)


def counts_toward_request(trial) -> bool:
    """What a search was asked for: sampled trials that finished, complete or pruned (rejected before
    training, screened out); a failed one is replaced."""
    return trial.state.name in ("COMPLETE", "PRUNED") and sampled(trial)


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - FIELDS
    if unknown:
        raise KeyError(f"not a trial record field: {', '.join(sorted(unknown))}")
    return values


def write(trial, **values: Any) -> None:
    """Record fields of a running trial (checked against TrialRecord: a misspelt key raises)."""
    for key, value in _checked(values).items():
        trial.set_user_attr(key, list(value) if isinstance(value, tuple) else value)


def attrs(**values: Any) -> dict[str, Any]:
    """User attributes for a trial made whole (`optuna.trial.create_trial`), checked like `write`."""
    return dict(_checked(values))


def recipe_variant(recipe: dict | None) -> str | None:
    """What tells a front member's polishes apart: the schedule a recipe names (FCN's), "jitter" for the polish
    recipe on series that are jittered and not time-warped, None for the polish recipe as such."""
    recipe = recipe or {}
    return recipe.get("schedule") or ("jitter" if recipe.get("augment") == "jitter" else None)


def enqueue(study, params: dict, **values: Any) -> None:
    """Queue a trial with fixed parameters and the record fields it starts with (kind, polish_of...)."""
    study.enqueue_trial(params, user_attrs=_checked(values), skip_if_exists=False)


# ---------------------------------------------------------------- the study's own attributes
CONFIG_KEY = "nas_config"  # the run configuration (nas.config.RunConfig.to_dict)
TEST_SCORES_KEY = "test_accuracy_int8"  # {nas.formats.score_key: test accuracy}, front members only ("N": int8)
REQUEST_PREFIX = "request:"  # one attribute per invocation: how many finished trials it was asked for
REQUEUED_KEY = "requeued_trials"  # interrupted trials whose parameters were queued again
CLASS_TEACHER_KEY = "class_teacher"  # --distill: the teacher's soft targets (artifact id) and how it was made
FINALIST_PREFIX = "finalist_cv:"  # one attribute per cross-validated finalist (nas.finalists): "finalist_cv:N"


@dataclass(frozen=True)
class StudyRecord:
    config: dict | None
    test_scores: dict[str, float]
    requests: dict[str, int]
    requeued: frozenset[int]
    class_teacher: dict | None = None
    # trial number -> {"accuracy": pooled k-fold accuracy, "folds": per fold (fold 0: the shipped model on the
    # validation split), "format": the file's format}
    finalists: dict[int, dict] = field(default_factory=dict)

    @classmethod
    def read(cls, study) -> StudyRecord:
        attrs = study.user_attrs
        return cls(config=attrs.get(CONFIG_KEY), test_scores=dict(attrs.get(TEST_SCORES_KEY, {})),
                   requests={k.removeprefix(REQUEST_PREFIX): n for k, n in attrs.items()
                             if k.startswith(REQUEST_PREFIX)},
                   requeued=frozenset(attrs.get(REQUEUED_KEY, [])), class_teacher=attrs.get(CLASS_TEACHER_KEY),
                   finalists={int(k.removeprefix(FINALIST_PREFIX)): v for k, v in attrs.items()
                              if k.startswith(FINALIST_PREFIX)})


def has_config(study) -> bool:
    return CONFIG_KEY in study.user_attrs


def write_config(study, config: dict) -> None:
    study.set_user_attr(CONFIG_KEY, config)


def write_test_scores(study, scores: dict[str, float]) -> None:
    """Finished trials are immutable in Optuna: the study keeps the test scores, keyed by trial number."""
    study.set_user_attr(TEST_SCORES_KEY, scores)


def write_request(study, run_id: str, n_trials: int) -> None:
    """One attribute per invocation, so processes never read-modify-write a shared one."""
    study.set_user_attr(REQUEST_PREFIX + run_id, n_trials)


def write_class_teacher(study, record: dict) -> None:
    study.set_user_attr(CLASS_TEACHER_KEY, record)


def write_finalist(study, number: int, accuracy: float, folds: list[float], fmt: str) -> None:
    """One attribute per finalist, so processes finishing together never overwrite each other's."""
    study.set_user_attr(f"{FINALIST_PREFIX}{number}", {"accuracy": accuracy, "folds": folds, "format": fmt})


def write_requeued(study, numbers: set[int]) -> None:
    study.set_user_attr(REQUEUED_KEY, sorted(numbers))
