"""The line printed per finished trial. A picklable object, so worker processes print the same lines;
the bar counts this run's finished trials in the study, whichever worker ran them."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from nas.schema import POLISH, TrialRecord, counts_toward_request


def describe(trial) -> str:
    r = TrialRecord.read(trial)
    if r.verdict is not None:
        v, c = r.verdict, r.cost
        return (f"{r.kind} {r.shipped_format}: within tolerance {v['fidelity']:.3f}  "
                f"median |err| {v['median_abs_error']:.2e}  {c['flash_bytes'] / 1024:.1f} KB  "
                f"{c['latency_ms']:.2f} ms" + ("" if r.feasible else f"  (over {', '.join(r.broken)})"))
    if r.trained and (r.formats or r.val_accuracy_int8 is not None):  # a trained classifier
        fmt = r.shipped_format or "int8"
        d = (r.formats or {}).get(fmt) or {"val_accuracy": r.val_accuracy_int8, "cv_accuracy": r.cv_accuracy_int8,
                                           "cv_fold_accuracy": r.cv_fold_accuracy_int8}
        c, folds = r.cost, d.get("cv_fold_accuracy")
        cv = f" ({len(folds)}-fold cv {d['cv_accuracy']:.3f})" if folds else ""
        schedule = {"plateau": " with FCN's schedule",
                    "swa": " with FCN's schedule, weights averaged"}.get(r.schedule, "")
        polish = f"polish of trial {r.polish_of}{schedule}: " if r.kind == POLISH else ""
        others = ", ".join(f"{f} {o['val_accuracy']:.3f}" for f, o in (r.formats or {}).items() if f != fmt)
        return (f"{polish}{fmt} val acc {d['val_accuracy']:.3f}{cv}  flash {c['flash_bytes'] / 1024:.1f} KB  "
                f"RAM {c['ram_bytes'] / 1024:.1f} KB  {c['latency_ms']:.2f} ms" + (f"  ({others})" if others else "")
                + ("" if r.feasible else f"  (over {', '.join(r.broken)} after conversion)"))
    if r.duplicate_of is not None:
        return f"skipped: trial {r.duplicate_of} polishes the same architecture the same way"
    if r.repeat_of:
        return (f"not trained again: trials {', '.join(map(str, r.repeat_of))} trained this architecture "
                "with the same recipe")
    if r.screened_out:
        sc = r.screen
        return (f"screened out after {sc['epoch']} epochs: val acc {sc['val_accuracy_float']:.3f} + "
                f"{sc['assumed_gain']:.3f} < trial {sc['rival']}'s {sc['rival_accuracy']:.3f} at no more flash")
    if r.broken and not r.trained:
        e = r.estimate
        return (f"rejected before training: over {', '.join(r.broken)} "
                f"(est. flash {e['flash_bytes'] / 1024:.1f} KB, RAM {e['ram_bytes'] / 1024:.1f} KB, "
                f"{e['latency_ms']:.1f} ms)")
    return f"failed: {r.fail_reason or trial.state.name.lower()}"


@dataclass
class Progress:
    total: int | None  # trials this run was asked for
    run_id: str | None = None  # the run's id (nas.search.search sets it): the bar counts its trials only
    started: float = field(default_factory=time.time)  # wall clock: shared meaning across processes
    worker: str = ""

    def __call__(self, study, trial) -> None:
        bar = ""
        if self.total:
            # what the run owes: finished trials that count toward its request (a failed one is replaced)
            done = sum(1 for t in study.get_trials(deepcopy=False)
                       if counts_toward_request(t) and TrialRecord.read(t).run == self.run_id)
            filled = round(20 * min(done, self.total) / self.total)
            bar = f"[{'#' * filled}{'.' * (20 - filled)}] {done}/{self.total} "
        who = f"[{self.worker}] " if self.worker else ""
        print(f"{bar}{who}{time.time() - self.started:6.0f}s  trial {trial.number}: {describe(trial)}",
              file=sys.stderr, flush=True)
