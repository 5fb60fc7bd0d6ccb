"""What a study holds, as plain rows: one per trial, with the Pareto front marked."""

from __future__ import annotations

from typing import Any

from nas.formats import score_key
from nas.schema import INTERRUPTED, POLISH, SEEDED_KINDS, StudyRecord, TrialRecord


def accuracy_interval(accuracy: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of an accuracy measured on n series: how far the true accuracy
    may lie from what a small validation or test split showed (41 series at 0.95: 0.84-0.99)."""
    if n <= 0:
        raise ValueError("an accuracy interval needs at least one series")
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * (accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) ** 0.5
    return max(0.0, centre - half), min(1.0, centre + half)


def known_intervals(accuracies: dict[str, float | None], data: dict) -> dict[str, tuple[float, int, tuple]]:
    """For each split ('val', 'test') whose accuracy and size (the study's data `n_val`, `n_test`) are
    known: (accuracy, series, Wilson interval)."""
    out = {}
    for split, accuracy in accuracies.items():
        n = data.get(f"n_{split}")
        if accuracy is not None and n:
            out[split] = (accuracy, n, accuracy_interval(accuracy, n))
    return out


def precision_line(row: dict | None, data: dict) -> str | None:
    """'Best score, trial 7: int8 val 0.951 on 41 series, 95 % interval 0.84-0.99; ...' (Wilson), or None
    when there is no such row or the study does not record how many series its splits hold. A cross-validated
    finalist (nas.finalists) is named as the recommended model, with its pooled accuracy."""
    if row is None:
        return None
    known = known_intervals({"val": row.get("val_accuracy"), "test": row.get("test_accuracy")}, data)
    if not known:
        return None
    fmt = row.get("format", "int8")
    finalist = row.get("finalist_accuracy")
    which = (f"Recommended, trial {row['number']} (the best finalist by pooled cross-validated {fmt} accuracy, "
             f"{finalist:.3f})" if finalist is not None else f"Best score, trial {row['number']}")
    return (f"{which}{'' if fmt == 'int8' or finalist is not None else f' ({fmt})'}: "
            + "; ".join(f"{fmt} {split} {acc:.3f} on {n} series, 95 % interval {lo:.2f}-{hi:.2f}"
                        for split, (acc, n, (lo, hi)) in known.items()) + " (Wilson).")


def _state(trial) -> str:
    return trial.state.name.lower()


def architecture_key(params: dict, baseline: dict | None = None) -> tuple:
    """What makes two trials the same architecture: the space's parameters, or a baseline's own spec."""
    if baseline is None:
        return tuple(sorted(params.items()))
    return (*sorted(params.items()), ("baseline", baseline["name"], baseline["divisor"], tuple(baseline["strides"])))


def polished_architecture(trial, by_number: dict) -> tuple | None:
    """For a polish trial, the architecture_key of the trial it polishes (a queued polish has no params
    of its own until it starts) and the variant it was queued as (schema.recipe_variant: None for the polish
    recipe as such); None for any other trial."""
    record = TrialRecord.read(trial)
    original = by_number.get(record.polish_of)
    if not original or record.kind != POLISH:
        return None
    return architecture_key(original.params, TrialRecord.read(original).baseline), record.polish_variant


def earlier_polish(trials: list, number: int) -> int | None:
    """Processes finishing a search on one study together may each queue the same front member for the
    polish (nas.search.queue_polish reads the study, then enqueues). The lowest-numbered polish of an
    architecture with one recipe is the one that runs: for trial `number`, a polish, the number of a
    lower-numbered polish of the same architecture and recipe that has not failed, else None."""
    by_number = {t.number: t for t in trials}
    mine = polished_architecture(by_number[number], by_number)
    if mine is None:
        return None
    return min((t.number for t in trials if t.number < number and t.state.name != "FAIL"
                and polished_architecture(t, by_number) == mine), default=None)


def trial_rows(trial, test_scores: dict | None = None) -> list[dict[str, Any]]:
    """One row per shipped format: a trial converted to several formats (--formats; mlp students always)
    gives a point for each, with that file's own costs and scores. No rows for a polish that stopped
    because an earlier trial polishes the same architecture (earlier_polish): it is not a candidate of its own."""
    record = TrialRecord.read(trial)
    if record.duplicate_of is not None:
        return []
    base = trial_row(trial, test_scores, record)
    if not record.formats:
        return [base]
    rows = []
    for fmt, d in record.formats.items():
        cost = d["cost"]
        row = {**base, "format": fmt, "shipped": fmt == record.shipped_format, "flash_bytes": cost["flash_bytes"],
               "arena_bytes": cost["arena_bytes"], "ram_bytes": cost["ram_bytes"], "latency_ms": cost["latency_ms"],
               "macs": cost.get("macs"), "params_count": cost.get("params"), "feasible": d["feasible"],
               "broken": d["broken"], "cost_source": f"converted {fmt} model"}
        if "fidelity" in d:  # an mlp student, scored by fidelity to its teacher
            v = d["fidelity"]
            row.update(score=v["fidelity"], median_abs_error=v["median_abs_error"], max_abs_error=v["max_abs_error"],
                       passes=v["passes"], scale_to_pass=v["scale_to_pass"])
        else:  # a classifier, scored by accuracy as tflite-micro runs this format's file
            test = (test_scores or {}).get(score_key(trial.number, fmt))
            row.update(score=d.get("cv_accuracy", d["val_accuracy"]), val_accuracy=d["val_accuracy"],
                       cv_accuracy=d.get("cv_accuracy"), test_accuracy=test,
                       **{f"{k}_int8": v if fmt == "int8" else None
                          for k, v in (("val_accuracy", d["val_accuracy"]), ("cv_accuracy", d.get("cv_accuracy")),
                                       ("test_accuracy", test))})
        rows.append(row)
    return rows


def trial_row(trial, test_scores: dict | None = None, record: TrialRecord | None = None) -> dict[str, Any]:
    r = TrialRecord.read(trial) if record is None else record
    cost = r.cost or r.estimate or {}
    return {
        "kind": r.kind,
        "polish_of": r.polish_of,  # trained again after the search with the long recipe
        "baseline": r.baseline,  # a hand-made baseline's spec (nas.baselines), else None
        "schedule": r.schedule,  # a blind schedule it was trained with (FCN's "plateau", or "swa"), else None
        "format": "int8",
        "shipped": True,
        "score": r.score,
        "median_abs_error": None,
        "number": trial.number,
        "state": _state(trial),
        "params": trial.params,
        "architecture": r.architecture,
        "val_accuracy_int8": r.val_accuracy_int8,
        "cv_accuracy_int8": r.cv_accuracy_int8,
        "test_accuracy_int8": (test_scores or {}).get(str(trial.number)),
        # the same, of the row's own format (one row per format when a trial ships several)
        "val_accuracy": r.val_accuracy_int8,
        "cv_accuracy": r.cv_accuracy_int8,
        "test_accuracy": (test_scores or {}).get(str(trial.number)),
        "flash_bytes": cost.get("flash_bytes"),
        "arena_bytes": cost.get("arena_bytes"),
        "ram_bytes": cost.get("ram_bytes"),
        "latency_ms": cost.get("latency_ms"),
        "macs": cost.get("macs"),
        "params_count": cost.get("params"),
        "cost_source": "converted int8 model" if r.cost else "estimate before training",
        "feasible": r.feasible,
        "trained": bool(r.trained),
        "screened_out": bool(r.screened_out),
        "repeat": bool(r.repeat_of),
        "broken": list(r.broken),
        "fail_reason": r.fail_reason,
        "on_front": False,
    }


def _quality(r: dict) -> tuple[float, float]:
    """Higher is better: the score (int8 accuracy or fidelity), then the lower error."""
    return r["score"], -(r["median_abs_error"] or 0.0)


def best_of(front: list[dict]) -> dict | None:
    """The front's best score, the smaller model on ties: the model a search reports first."""
    return max(front, key=lambda r: (r["score"], -r["flash_bytes"]), default=None)


def pareto_front(rows: list[dict]) -> list[dict]:
    """Non-dominated complete, feasible points: maximise the score (int8 val accuracy, or fidelity
    then lower median error for students), minimise shipped bytes."""
    pool = [r for r in rows if r["state"] == "complete" and r["feasible"] and r["score"] is not None
            and (r["trained"] or r["kind"] != "candidate")]
    front = []
    for r in pool:
        dominated = any(
            _quality(o) >= _quality(r) and o["flash_bytes"] <= r["flash_bytes"]
            and (_quality(o) > _quality(r) or o["flash_bytes"] < r["flash_bytes"])
            for o in pool
        )
        if not dominated:
            front.append(r)
    # equal points: keep one, a polished model over the one it polished (trained longer, on augmented series),
    # else the earliest trial
    seen, unique = set(), []
    for r in sorted(front, key=lambda r: (r["flash_bytes"], -r["score"], r["polish_of"] is None, r["number"])):
        key = (_quality(r), r["flash_bytes"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def study_rows(study) -> list[dict]:
    """Every trial's rows (trial_rows), marked on the front or not, with the pooled k-fold accuracy of the
    cross-validated finalists (nas.finalists; None for the others)."""
    record = StudyRecord.read(study)
    rows = [row for t in study.get_trials(deepcopy=False) for row in trial_rows(t, record.test_scores)]
    front = {(r["number"], r["format"]) for r in pareto_front(rows)}
    for r in rows:
        r["on_front"] = (r["number"], r["format"]) in front
        finalist = record.finalists.get(r["number"])
        r["finalist_accuracy"] = finalist["accuracy"] if finalist and finalist["format"] == r["format"] else None
    return rows


def recommended(rows: list[dict]) -> dict | None:
    """The model a search recommends: the cross-validated finalist with the best pooled accuracy (nas.finalists),
    else, in a study without finalists, the front's best score; the smaller model on ties."""
    finalists = [r for r in rows if r.get("finalist_accuracy") is not None]
    if finalists:
        return max(finalists, key=lambda r: (r["finalist_accuracy"], -r["flash_bytes"]))
    return best_of([r for r in rows if r["on_front"]])


def counts(rows: list[dict]) -> dict[str, int]:
    """Trials by what became of them; trained + seeded + pruned_before_training + screened_out + repeats +
    failed + interrupted + running + waiting == trials."""
    rows = [r for r in rows if r["shipped"]]  # one row per trial
    interrupted = [r["state"] == "fail" and r["fail_reason"] == INTERRUPTED for r in rows]
    return {
        "trials": len(rows),
        "trained": sum(r["trained"] and r["state"] == "complete" for r in rows),
        "seeded": sum(r["kind"] in SEEDED_KINDS and not r["trained"] and r["state"] == "complete" for r in rows),
        "pruned_before_training": sum(r["state"] == "pruned" and not r["trained"] and not r["screened_out"]
                                      and not r["repeat"] for r in rows),
        "screened_out": sum(r["screened_out"] for r in rows),
        "repeats": sum(r["repeat"] for r in rows),
        "failed": sum(r["state"] == "fail" and not i for r, i in zip(rows, interrupted, strict=True)),
        "interrupted": sum(interrupted),
        "running": sum(r["state"] == "running" for r in rows),
        "waiting": sum(r["state"] == "waiting" for r in rows),
        "on_front": sum(r["on_front"] for r in rows),
    }


def counts_line(c: dict[str, int]) -> str:
    """The counts in words, every part of the total named (zeros left out but for the first four)."""
    parts = [("trained", "trained"), ("seeded", "seeded (teacher and its reduction)"),
             ("pruned_before_training", "rejected before training"), ("screened_out", "screened out"),
             ("repeats", "not trained again (repeats)"), ("failed", "failed"), ("interrupted", "interrupted"),
             ("running", "running"), ("waiting", "queued")]
    always = {"trained", "pruned_before_training", "screened_out", "failed", "interrupted"}
    return f"{c['trials']} trials: " + ", ".join(f"{c[k]} {words}" for k, words in parts if c[k] or k in always)


def hypervolume(points: list[tuple[float, float]], max_flash: float) -> float:
    """The share of the box [0, 1] accuracy x [0, max_flash] bytes dominated by (accuracy, flash) points
    (higher accuracy, fewer bytes). The reference point is (accuracy 0, the flash budget)."""
    # the staircase: by flash, only the points more accurate than every smaller one. A dominated point
    # adds no area and is left out, so it cannot split a step and change the sum by a rounding error
    # (a curve over trials must never fall)
    steps, best = [], 0.0
    for flash, acc in sorted((f, a) for a, f in points if f <= max_flash and a > 0):
        if acc > best:
            steps.append((flash, acc))
            best = acc
    area = sum(acc * ((steps[i + 1][0] if i + 1 < len(steps) else max_flash) - flash)
               for i, (flash, acc) in enumerate(steps))
    return area / max_flash


def hypervolume_by_trial(rows: list[dict], max_flash: float) -> list[tuple[int, float]]:
    """Hypervolume of the feasible front after each trial, in trial order."""
    points, curve = [], []
    for r in sorted((r for r in rows if r["shipped"]), key=lambda r: r["number"]):
        if r["state"] == "complete" and r["feasible"] and r["score"] is not None:
            points.append((r["score"], r["flash_bytes"]))
        curve.append((r["number"], hypervolume(points, max_flash)))
    return curve
