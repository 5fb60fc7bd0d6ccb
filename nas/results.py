"""What a study holds, as plain rows: one per trial, with the Pareto front marked."""

from __future__ import annotations

from typing import Any

TEST_ACCURACY_KEY = "test_accuracy_int8"  # study user attr: {trial number: int8 test accuracy}


def _state(trial) -> str:
    return trial.state.name.lower()


def trial_row(trial, test_scores: dict | None = None) -> dict[str, Any]:
    attrs = trial.user_attrs
    cost = attrs.get("cost") or attrs.get("estimate") or {}
    return {
        "number": trial.number,
        "state": _state(trial),
        "params": trial.params,
        "architecture": attrs.get("architecture", ""),
        "val_accuracy_int8": attrs.get("val_accuracy_int8"),
        "test_accuracy_int8": (test_scores or {}).get(str(trial.number)),
        "flash_bytes": cost.get("flash_bytes"),
        "arena_bytes": cost.get("arena_bytes"),
        "ram_bytes": cost.get("ram_bytes"),
        "latency_ms": cost.get("latency_ms"),
        "macs": cost.get("macs"),
        "params_count": cost.get("params"),
        "cost_source": "converted int8 model" if attrs.get("cost") else "estimate before training",
        "feasible": attrs.get("feasible"),
        "trained": bool(attrs.get("trained", False)),
        "broken": attrs.get("broken", []),
        "fail_reason": attrs.get("fail_reason"),
        "on_front": False,
    }


def pareto_front(rows: list[dict]) -> list[dict]:
    """Non-dominated trained, feasible rows: maximise int8 val accuracy, minimise flash bytes."""
    pool = [r for r in rows if r["state"] == "complete" and r["trained"] and r["feasible"]
            and r["val_accuracy_int8"] is not None]
    front = []
    for r in pool:
        dominated = any(
            o["val_accuracy_int8"] >= r["val_accuracy_int8"] and o["flash_bytes"] <= r["flash_bytes"]
            and (o["val_accuracy_int8"] > r["val_accuracy_int8"] or o["flash_bytes"] < r["flash_bytes"])
            for o in pool
        )
        if not dominated:
            front.append(r)
    # equal points: keep the earliest trial only
    seen, unique = set(), []
    for r in sorted(front, key=lambda r: (r["flash_bytes"], -r["val_accuracy_int8"], r["number"])):
        key = (r["val_accuracy_int8"], r["flash_bytes"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def study_rows(study) -> list[dict]:
    scores = study.user_attrs.get(TEST_ACCURACY_KEY, {})
    rows = [trial_row(t, scores) for t in study.get_trials(deepcopy=False)]
    front = {r["number"] for r in pareto_front(rows)}
    for r in rows:
        r["on_front"] = r["number"] in front
    return rows


def counts(rows: list[dict]) -> dict[str, int]:
    return {
        "trials": len(rows),
        "trained": sum(r["trained"] for r in rows),
        "pruned_before_training": sum(r["state"] == "pruned" and not r["trained"] for r in rows),
        "failed": sum(r["state"] == "fail" for r in rows),
        "running": sum(r["state"] == "running" for r in rows),
        "on_front": sum(r["on_front"] for r in rows),
    }
