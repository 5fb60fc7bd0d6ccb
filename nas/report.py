"""The study report, `reports/NAME/index.html`: data computed first (`report_data`, tested), drawn
second with plotly into one self-contained page (plotly.js inlined once; opens offline).

Sections: the Pareto front with rejected candidates by budget broken; trade-offs against arena and
latency; hypervolume over trials; parameter importances; the feasibility matrix of the front's models
on every known board; per-operator latency and arena of each front model; configuration and counts.
"""

from __future__ import annotations

import html
import json
import os
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from nas.results import counts, hypervolume_by_trial, pareto_front, precision_line, recommended, study_rows
from nas.schema import TrialRecord
from nas.tasks import task_for

MAX_LAYER_MODELS = 8  # layer-cost charts for at most this many front models (the smallest first)


def pareto_data(rows: list[dict], config) -> dict:
    """Everything the Pareto figure shows, as plain data."""
    trained = [r for r in rows if r["score"] is not None and r["state"] == "complete"]
    front = pareto_front(rows)
    rejected = [r for r in rows if r["state"] == "pruned" and not r["trained"]]
    return {
        "budget": asdict(config.budget),
        "device": config.device.name,
        "score": task_for(config.space).score_label(config),
        "front": [{"trial": r["number"], "format": r["format"], "flash_bytes": r["flash_bytes"],
                   "score": r["score"], "architecture": r["architecture"]} for r in front],
        "trained": [{"trial": r["number"], "format": r["format"], "flash_bytes": r["flash_bytes"],
                     "feasible": r["feasible"], "score": r["score"]} for r in trained],
        "rejected": [{"trial": r["number"], "flash_bytes": r["flash_bytes"],
                      "ram_bytes": r["ram_bytes"], "latency_ms": r["latency_ms"],
                      "broken": r["broken"]} for r in rejected],
        "counts": counts(rows),
    }


def _hover(r: dict) -> str:
    acc = r["score"]
    err = f", median |err| {r['median_abs_error']:.2e}" if r["median_abs_error"] is not None else ""
    return (f"trial {r['number']} ({r['format']})<br>{r['architecture']}<br>"
            + (f"score {acc:.3f}{err}<br>" if acc is not None else "not trained<br>")
            + f"flash {r['flash_bytes']} B, RAM {r['ram_bytes']} B<br>"
            f"latency {r['latency_ms']:.2f} ms, {r['macs']} MACs, {r['params_count']} params"
            + (f"<br>over budget: {', '.join(r['broken'])}" if r["broken"] else ""))


BUDGET_COLOURS = {"flash": "#d62728", "ram": "#9467bd", "latency": "#ff7f0e", "params": "#8c564b",
                  "macs": "#e377c2"}


KB = 1024


def log_kb_axis(values_kb: list[float]) -> dict:
    """A log axis in KB with ticks a reader can read (1, 2, 5 x powers of ten, each labelled in KB)
    instead of plotly's "2 3 ... 10k 2 3"."""
    low = min(values_kb, default=1.0)
    high = max(values_kb, default=100.0)
    ticks = [m * 10.0 ** e for e in range(-2, 6) for m in (1, 2, 5) if low / 2 <= m * 10.0 ** e <= high * 2]
    return {"type": "log", "tickvals": ticks, "ticktext": [f"{t:g} KB" for t in ticks]}


def pareto_figure(rows: list[dict], config):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    data = pareto_data(rows, config)
    by_number = {r["number"]: r for r in rows if r["shipped"]}
    by_point = {(r["number"], r["format"]): r for r in rows}
    panels = 2 if data["rejected"] else 1  # an empty panel would draw no axis at all
    fig = make_subplots(rows=panels, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25][:panels],
                        vertical_spacing=0.12,
                        subplot_titles=(f"Trained candidates: {data['score']} against flash",
                                        "Rejected before training (cost estimate), by the budget they broke")[:panels])
    trained = [by_point[p["trial"], p["format"]] for p in data["trained"]]
    fig.add_trace(go.Scatter(
        x=[r["flash_bytes"] / KB for r in trained], y=[r["score"] for r in trained],
        mode="markers", name="trained", marker={"color": "#b0b0b0", "size": 8},
        hovertext=[_hover(r) for r in trained], hoverinfo="text"), row=1, col=1)
    front = [by_point[p["trial"], p["format"]] for p in data["front"]]
    fig.add_trace(go.Scatter(  # trial numbers are in the hover text and the front table, not on the chart
        x=[r["flash_bytes"] / KB for r in front], y=[r["score"] for r in front],
        mode="lines+markers", name="Pareto front", line={"shape": "hv", "color": "#1f77b4"},
        marker={"size": 11, "color": "#1f77b4"}, hovertext=[_hover(r) for r in front], hoverinfo="text"),
        row=1, col=1)
    for budget in BUDGET_COLOURS:
        group = [by_number[p["trial"]] for p in data["rejected"] if budget in p["broken"]]
        if group:
            fig.add_trace(go.Scatter(
                x=[r["flash_bytes"] / KB for r in group], y=[budget] * len(group), mode="markers",
                name=f"over {budget} budget", marker={"color": BUDGET_COLOURS[budget], "symbol": "x"},
                hovertext=[_hover(r) for r in group], hoverinfo="text"), row=2, col=1)
    limit = config.budget.max_flash_bytes / KB
    for row in range(1, panels + 1):
        fig.add_vline(x=limit, line_dash="dash", line_color=BUDGET_COLOURS["flash"], row=row, col=1)
    axis = log_kb_axis([r["flash_bytes"] / KB for r in rows if r["flash_bytes"]] + [limit])
    fig.update_xaxes(**axis, row=1, col=1)
    fig.update_xaxes(**axis, title_text=f"flash: KB of the shipped .tflite (log scale; dashed: the {limit:g} KB "
                                        "budget)", row=panels, col=1)
    fig.update_yaxes(title_text=data["score"], row=1, col=1)
    if panels == 2:
        fig.update_yaxes(title_text="budget broken", row=2, col=1)
    fig.update_layout(title=f"Accuracy against flash on {data['device']}", height=720 if panels == 2 else 560,
                      template="plotly_white")
    return fig


# ---------------------------------------------------------------- the data
def _timing(study) -> dict:
    trials = study.get_trials(deepcopy=False)
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    busy = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in trials
               if t.datetime_start and t.datetime_complete)
    train = sum(TrialRecord.read(t).train_seconds or 0.0 for t in trials)
    return {"first_start": min(starts).isoformat(timespec="seconds") if starts else None,
            "last_end": max(ends).isoformat(timespec="seconds") if ends else None,
            "span_s": round((max(ends) - min(starts)).total_seconds(), 1) if starts and ends else 0.0,
            "trial_seconds_total": round(busy, 1), "training_seconds_total": round(train, 1)}


def _importances(study) -> dict:
    """Importance of each parameter for the score (objective 0), where Optuna can compute it."""
    import optuna

    done = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    if len(done) < 4:
        return {"unavailable": f"{len(done)} complete trials; importances need at least 4"}
    try:
        values = optuna.importance.get_param_importances(
            # PED-ANOVA rates what makes the target low: negate the score, which is maximised
            study, evaluator=optuna.importance.PedAnovaImportanceEvaluator(), target=lambda t: -t.values[0],
            normalize=True)
    except (RuntimeError, ValueError) as exc:
        return {"unavailable": str(exc).splitlines()[0][:200]}
    if not values:
        return {"unavailable": "no parameter was sampled in every complete trial"}
    return {"params": {k: round(float(v), 4) for k, v in values.items()},
            "method": "PED-ANOVA"}


def _front_models(study, config, rows: list[dict]) -> list[dict]:
    """Each front point with its converted graph (read from the study's artifacts)."""
    from cost_models.tflite_reader import read_tflite
    from nas.export import ExportError, load_tflite

    models = []
    for r in sorted((r for r in rows if r["on_front"]), key=lambda r: r["flash_bytes"]):
        try:
            tflite = load_tflite(study, config, study.trials[r["number"]], r["format"])
        except ExportError as exc:
            models.append({"row": r, "missing": str(exc)})
            continue
        models.append({"row": r, "graph": read_tflite(tflite), "flash_bytes": len(tflite)})
    return models


def feasibility_matrix(models: list[dict], budget, study_device) -> dict:
    """Each front model x each known board (and the study's own): fits the budget and the board, with
    the latency and RAM headroom left under the budget (negative: over by that much)."""
    from cost_models import DEVICES
    from cost_models.breakdown import verdicts

    devices = list(DEVICES.values())
    if study_device.name not in DEVICES:
        devices.append(study_device)
    out = []
    for m in models:
        if "graph" not in m:
            continue
        cells = []
        for v in verdicts(m["graph"], devices, budget, m["flash_bytes"]):
            cells.append({"device": v["device"], "fits": v["fits"], "over": v["over_budget"],
                          "latency_ms": round(v["latency_ms"], 3),
                          "latency_headroom_ms": round(budget.max_latency_ms - v["latency_ms"], 3),
                          "ram_bytes": v["ram_bytes"], "ram_headroom_bytes": budget.max_ram_bytes - v["ram_bytes"],
                          "arena_bytes": v["arena_bytes"]})
        out.append({"trial": m["row"]["number"], "format": m["row"]["format"], "cells": cells})
    return {"devices": [d.name for d in devices], "models": out}


def layer_costs(models: list[dict], device) -> list[dict]:
    from cost_models.breakdown import op_table

    out = []
    for m in models[:MAX_LAYER_MODELS]:
        if "graph" not in m:
            continue
        ops = op_table(m["graph"], device)
        out.append({"trial": m["row"]["number"], "format": m["row"]["format"], "device": device.name,
                    "ops": [{"index": o["index"], "op": o["op"], "ms": round(o["ms"], 4),
                             "arena_live_bytes": o["arena_live_bytes"], "scratch_bytes": o["scratch_bytes"],
                             "macs": o["macs"], "weight_bytes": o["weight_bytes"]} for o in ops]})
    return out


def report_data(study, config, rows: list[dict] | None = None) -> dict:
    """Everything the report shows, as plain data (tests assert on this). `rows`: the study's rows if
    the caller has them already."""
    conf = config.to_dict()
    rows = study_rows(study) if rows is None else rows
    budget, device = config.budget, config.device
    models = _front_models(study, config, rows)
    tradeoffs = [{"trial": r["number"], "format": r["format"], "score": r["score"], "flash_bytes": r["flash_bytes"],
                  "arena_bytes": r["arena_bytes"], "ram_bytes": r["ram_bytes"], "latency_ms": r["latency_ms"],
                  "median_abs_error": r["median_abs_error"], "on_front": r["on_front"], "feasible": r["feasible"],
                  "test_accuracy": r.get("test_accuracy"), "architecture": r["architecture"]}
                 for r in rows if r["state"] == "complete" and r["score"] is not None]
    return {
        "study": study.study_name,
        "generated": datetime.now().isoformat(timespec="seconds"),
        "config": {k: conf[k] for k in ("space", "space_version", "device", "budget", "seed", "epochs",
                                        "sampler", "trial_time_limit_s") if k in conf}
        | {"objective": conf["objective"]},
        "data": conf["data"],
        "counts": counts(rows),
        "timing": _timing(study),
        "pareto": pareto_data(rows, config),
        "precision": precision_line(recommended(rows), conf["data"]),
        "tradeoffs": tradeoffs,
        "hypervolume": {"reference": {"score": 0.0, "flash_bytes": budget.max_flash_bytes},
                        "by_trial": hypervolume_by_trial(rows, budget.max_flash_bytes)},
        "importances": _importances(study),
        "feasibility": feasibility_matrix(models, budget, device),
        "layers": layer_costs(models, device),
        "missing_models": [{"trial": m["row"]["number"], "reason": m["missing"]} for m in models if "missing" in m],
        "students": task_for(config.space).name == "distillation",
    }


# ---------------------------------------------------------------- the figures
def tradeoff_figure(data: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Against RAM", "Against latency"), horizontal_spacing=0.12)
    budget = data["config"]["budget"]
    for col, key, scale, limit in ((1, "ram_bytes", KB, budget["max_ram_bytes"] / KB),
                                   (2, "latency_ms", 1, budget["max_latency_ms"])):
        for on_front, colour, name in ((False, "#b0b0b0", "trained"), (True, "#1f77b4", "on the flash front")):
            pts = [p for p in data["tradeoffs"] if p["on_front"] == on_front]
            fig.add_trace(go.Scatter(x=[p[key] / scale for p in pts], y=[p["score"] for p in pts], mode="markers",
                                     name=name, showlegend=col == 1, marker={"color": colour, "size": 9},
                                     hovertext=[f"trial {p['trial']} ({p['format']})" for p in pts],
                                     hoverinfo="text+x+y"), row=1, col=col)
        fig.add_vline(x=limit, line_dash="dash", line_color=BUDGET_COLOURS["ram" if col == 1 else "latency"],
                      row=1, col=col)
    fig.update_xaxes(title_text="RAM: KB of arena + persistent (dashed: budget)", row=1, col=1)
    fig.update_xaxes(title_text="latency: ms per inference, cost model (dashed: budget)", row=1, col=2)
    for col in (1, 2):
        fig.update_yaxes(title_text=data["pareto"]["score"], row=1, col=col)
    fig.update_layout(title="What the trained models cost in RAM and time", height=440, template="plotly_white")
    return fig


def hypervolume_figure(data: dict):
    import plotly.graph_objects as go

    curve = data["hypervolume"]["by_trial"]
    ref = data["hypervolume"]["reference"]
    xs, ys = [n for n, _ in curve], [h for _, h in curve]
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines", line={"shape": "hv"}))
    # the area's range is pinned and starts a little below 0, so its first tick label sits above the corner where
    # the trial axis's first label is (plotly's autorange puts both there, and a flat curve's range at -1..1)
    top = max(ys) if ys and max(ys) > 0 else 1.0
    fig.update_yaxes(range=[-0.07 * top, 1.08 * top])
    fig.update_layout(title=f"How the front improved as the search went on (the area under the front, as a share "
                            f"of score 0-1 x flash 0-{ref['flash_bytes'] // KB} KB)",
                      xaxis_title="trial number", yaxis_title="area under the front", height=380,
                      template="plotly_white")
    return fig


def importance_figure(data: dict):
    import plotly.graph_objects as go

    imp = data["importances"]
    if "params" not in imp:
        return None
    items = sorted(((k, v) for k, v in imp["params"].items() if v > 0), key=lambda kv: kv[1])
    if not items:
        return None
    fig = go.Figure(go.Bar(x=[v for _, v in items], y=[k for k, _ in items], orientation="h"))
    fig.update_layout(title="Which choices mattered most for the score", height=160 + 24 * len(items),
                      template="plotly_white", xaxis_title=f"importance, share of 1 ({imp['method']})",
                      yaxis_title="parameter of the search space")
    return fig


def feasibility_figure(data: dict):
    import plotly.graph_objects as go

    feas = data["feasibility"]
    if not feas["models"]:
        return None
    labels = [f"#{m['trial']} {m['format']}" for m in feas["models"]]
    z = [[1 if c["fits"] else 0 for c in m["cells"]] for m in feas["models"]]
    text = [[("fits" if c["fits"] else "over " + ", ".join(c["over"] or ["board"]))
             + f"<br>{c['latency_ms']:.2f} ms ({c['latency_headroom_ms']:+.2f})"
             + f"<br>{c['ram_bytes'] / 1024:.1f} KB ({c['ram_headroom_bytes'] / 1024:+.1f})" for c in m["cells"]]
            for m in feas["models"]]
    fig = go.Figure(go.Heatmap(z=z, x=feas["devices"], y=labels, text=text, texttemplate="%{text}",
                               colorscale=[[0, "#f4b6b6"], [1, "#b6e3b6"]], zmin=0, zmax=1, showscale=False,
                               hoverinfo="text"))
    fig.update_layout(title="The front's models on every board: fits or not, with headroom under the budget",
                      height=200 + 70 * len(labels), template="plotly_white",
                      yaxis={"autorange": "reversed", "title": "front model (trial, format)"},
                      xaxis={"title": "board"})
    return fig


LAYER_ROW_PX = 24  # one operator's bar
LAYER_GAP_PX = 90  # between two models' panels: room for the next panel's titles


def layer_figure(data: dict):
    """Per front model, latency and live arena by operator: horizontal bars, so operator names read
    level and never reach into the panel below."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    layers = data["layers"]
    if not layers:
        return None
    heights = [40 + LAYER_ROW_PX * len(m["ops"]) for m in layers]
    top, bottom = 110, 70
    plot_px = sum(heights) + LAYER_GAP_PX * (len(layers) - 1)
    titles = []
    for m in layers:
        titles += [f"#{m['trial']} {m['format']} on {m['device']}: latency by operator", "arena live by operator"]
    fig = make_subplots(rows=len(layers), cols=2, subplot_titles=titles, shared_yaxes=True, horizontal_spacing=0.06,
                        row_heights=heights, vertical_spacing=LAYER_GAP_PX / plot_px if len(layers) > 1 else 0)
    for i, m in enumerate(layers, start=1):
        names = [f"{o['index']} {o['op']}" for o in m["ops"]]
        fig.add_trace(go.Bar(y=names, x=[o["ms"] for o in m["ops"]], orientation="h", marker_color="#ff7f0e",
                             showlegend=False,
                             hovertext=[f"{o['macs']} MACs, {o['weight_bytes']} B weights" for o in m["ops"]]),
                      row=i, col=1)
        fig.add_trace(go.Bar(y=names, x=[o["arena_live_bytes"] / KB for o in m["ops"]], orientation="h",
                             marker_color="#9467bd", showlegend=False,
                             hovertext=[f"of which scratch {o['scratch_bytes']} B" for o in m["ops"]]), row=i, col=2)
        fig.update_yaxes(autorange="reversed", title_text="operator", row=i, col=1)  # first operator on top
        fig.update_xaxes(title_text="ms (cost model)", row=i, col=1)
        fig.update_xaxes(title_text="KB live in the arena", row=i, col=2)
    fig.update_layout(title="Layer costs of the front's models: where time and RAM go", template="plotly_white",
                      height=top + bottom + plot_px, margin={"t": top, "b": bottom})
    return fig


def _table(rows: list[list], head: list[str]) -> str:
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return ("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + f"</tr>{cells}</table>")


def _test(point: dict) -> str:
    """Scored once the search ends, as the point's own format (never used to choose); students have no test
    split."""
    return "-" if point.get("test_accuracy") is None else f"{point['test_accuracy']:.3f}"


def _summary_html(data: dict) -> str:
    c, t, conf = data["counts"], data["timing"], data["config"]
    budget = conf["budget"]
    front = sorted((p for p in data["tradeoffs"] if p["on_front"]), key=lambda p: p["flash_bytes"])
    return "".join([
        f"<h1>Study {html.escape(data['study'])}</h1>",
        f"<p>Space <b>{html.escape(conf['space'])}</b> v{conf['space_version']} on <b>"
        f"{html.escape(conf['device'].get('title', conf['device']['name']))}</b>; budget "
        f"{budget['max_flash_bytes'] // 1024} KB flash, {budget['max_ram_bytes'] // 1024} KB RAM, "
        f"{budget['max_latency_ms']} ms. Sampler {html.escape(conf.get('sampler', 'tpe'))}, seed {conf['seed']}, "
        f"{conf['epochs'] or 'auto'} epochs. Generated {data['generated']}.</p>",
        _table([[c["trials"], c["trained"], c["seeded"], c["pruned_before_training"], c["screened_out"], c["repeats"],
                 c["failed"], c["interrupted"], c["running"] + c["waiting"], f"{t['span_s']:.0f} s",
                 f"{t['training_seconds_total']:.0f} s"]],
               ["trials", "trained", "seeded", "rejected before training", "screened out",
                "not trained again (repeats)", "failed", "interrupted",
                "running or queued", "wall time (first start to last end)", "training time (sum)"]),
        "<h2>Data</h2>",
        _table([[k, json.dumps(v) if isinstance(v, list | dict) else v] for k, v in data["data"].items()
                if k != "columns"], ["field", "value"]),
        "<h2>Front</h2>",
        _table([[p["trial"], p["format"], f"{p['score']:.3f}", _test(p), f"{p['flash_bytes'] / KB:.1f}",
                 f"{p['ram_bytes'] / KB:.1f}", f"{p['latency_ms']:.2f}", p["architecture"]] for p in front],
               ["trial", "format", data["pareto"]["score"], "test accuracy (its format)", "flash KB", "RAM KB",
                "latency ms", "architecture"]),
        f"<p>{html.escape(data['precision'])}</p>" if data["precision"] else "",
        "".join(f"<p class='warn'>trial {m['trial']}: {html.escape(m['reason'])}</p>" for m in data["missing_models"]),
        "" if "params" in data["importances"] else
        f"<p>Parameter importances: {html.escape(data['importances']['unavailable'])}.</p>",
    ])


STYLE = ("body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222}"
         "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
         "font-size:13px;text-align:left}.warn{color:#b00}")


def figures(data: dict, rows: list[dict], config) -> dict:
    figs = {"pareto": pareto_figure(rows, config), "tradeoffs": tradeoff_figure(data),
            "hypervolume": hypervolume_figure(data), "importances": importance_figure(data),
            "feasibility": feasibility_figure(data), "layers": layer_figure(data)}
    return {k: f for k, f in figs.items() if f is not None}


def write_report(study, config, out_dir: Path, png: bool = False, rows: list[dict] | None = None) -> Path:
    """Write out_dir/index.html (and the figures as PNG with `png`); returns the page's path. `rows`:
    the study's rows if the caller has them already."""
    rows = study_rows(study) if rows is None else rows
    data = report_data(study, config, rows)
    figs = figures(data, rows, config)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>nas: {html.escape(data['study'])}"
             f"</title><style>{STYLE}</style></head><body>", _summary_html(data)]
    for i, (name, fig) in enumerate(figs.items()):
        parts.append(f"<section id='{name}'>"
                     + fig.to_html(full_html=False, include_plotlyjs=i == 0, div_id=f"fig-{name}") + "</section>")
    parts.append(f"<script type='application/json' id='report-data'>{html.escape(json.dumps(data, default=str))}"
                 "</script></body></html>")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    # a reader never sees half a page; several processes on one study (each its own temporary file)
    # may finish at once, and the last rename wins
    tmp = out_dir / f".index.html.{os.getpid()}.tmp"
    tmp.write_text("".join(parts), encoding="utf-8")
    tmp.replace(path)
    if png:
        write_pngs(figs, out_dir)
    return path


class PngError(RuntimeError):
    """Static images need kaleido and a Chrome binary; the message says what to install."""


def write_pngs(figs: dict, out_dir: Path) -> list[Path]:
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise PngError("PNG export needs kaleido: pip install 'mcu-nas[png]' (and Debian's chromium)") from None
    paths = []
    for name, fig in figs.items():
        path = out_dir / f"{name}.png"
        for attempt in (1, 2):  # kaleido once reported no Chrome with Chromium installed; the retry worked
            try:
                fig.write_image(path, width=1100, height=fig.layout.height or 500)
                break
            except Exception as exc:  # kaleido raises its own types when no browser is found
                if attempt == 2:
                    raise PngError(f"PNG export found no Chrome/Chromium ({type(exc).__name__}); install one, "
                                   "e.g. `apt-get install chromium`") from None
        paths.append(path)
    return paths


class Refresher:
    """Rewrites the report at most every `interval` seconds during a long search (called per trial)."""

    def __init__(self, name: str, storage: str, out_dir: Path, interval: float = 300.0) -> None:
        self.name, self.storage, self.out_dir, self.interval = name, storage, out_dir, interval
        self.last = time.monotonic()

    def __call__(self, *_args) -> None:
        if time.monotonic() - self.last < self.interval:
            return
        self.last = time.monotonic()
        from nas.study import load

        try:
            study, config = load(self.name, self.storage)
            write_report(study, config, self.out_dir)
        except Exception as exc:  # a report is a convenience; it must never stop a search
            import logging

            logging.getLogger(__name__).warning("report refresh failed: %s", exc)
