"""The Pareto report: data computed first (tested), drawn second with plotly (self-contained HTML)."""

from __future__ import annotations

from pathlib import Path

from nas.results import counts, pareto_front


def pareto_data(rows: list[dict], config: dict) -> dict:
    """Everything the Pareto figure shows, as plain data."""
    trained = [r for r in rows if r["score"] is not None and r["state"] == "complete"]
    front = pareto_front(rows)
    rejected = [r for r in rows if r["state"] == "pruned" and not r["trained"]]
    return {
        "budget": config["budget"],
        "device": config["device"]["name"],
        "score": score_label(config),
        "front": [{"trial": r["number"], "format": r["format"], "flash_bytes": r["flash_bytes"],
                   "score": r["score"], "architecture": r["architecture"]} for r in front],
        "trained": [{"trial": r["number"], "format": r["format"], "flash_bytes": r["flash_bytes"],
                     "feasible": r["feasible"], "score": r["score"]} for r in trained],
        "rejected": [{"trial": r["number"], "flash_bytes": r["flash_bytes"],
                      "ram_bytes": r["ram_bytes"], "latency_ms": r["latency_ms"],
                      "broken": r["broken"]} for r in rejected],
        "counts": counts(rows),
    }


def score_label(config: dict) -> str:
    if config["space"] == "mlp":
        extra = config.get("extra", {})
        return f"fraction of rows within rtol={extra.get('rtol')}, atol={extra.get('atol')}"
    return "int8 val accuracy"


def _hover(r: dict) -> str:
    acc = r["score"]
    err = f", median |err| {r['median_abs_error']:.2e}" if r["median_abs_error"] is not None else ""
    return (f"trial {r['number']} ({r['format']})<br>{r['architecture']}<br>"
            + (f"score {acc:.3f}{err}<br>" if acc is not None else "not trained<br>")
            + f"flash {r['flash_bytes']} B, RAM {r['ram_bytes']} B<br>"
            f"latency {r['latency_ms']:.2f} ms, {r['macs']} MACs, {r['params_count']} params"
            + (f"<br>over budget: {', '.join(r['broken'])}" if r["broken"] else ""))


BUDGET_COLOURS = {"flash": "#d62728", "ram": "#9467bd", "latency": "#ff7f0e"}


def pareto_figure(rows: list[dict], config: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    data = pareto_data(rows, config)
    by_number = {r["number"]: r for r in rows if r["shipped"]}
    by_point = {(r["number"], r["format"]): r for r in rows}
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22],
                        vertical_spacing=0.06,
                        subplot_titles=(f"Candidates: {data['score']} vs flash",
                                        "Rejected before training (cost estimate), by budget broken"))
    trained = [by_point[p["trial"], p["format"]] for p in data["trained"]]
    fig.add_trace(go.Scatter(
        x=[r["flash_bytes"] for r in trained], y=[r["score"] for r in trained],
        mode="markers", name="trained", marker={"color": "#b0b0b0", "size": 8},
        hovertext=[_hover(r) for r in trained], hoverinfo="text"), row=1, col=1)
    front = [by_point[p["trial"], p["format"]] for p in data["front"]]
    fig.add_trace(go.Scatter(
        x=[r["flash_bytes"] for r in front], y=[r["score"] for r in front],
        mode="lines+markers+text", name="Pareto front", line={"shape": "hv", "color": "#1f77b4"},
        marker={"size": 11, "color": "#1f77b4"}, text=[f"#{r['number']} {r['format']}" for r in front],
        textposition="top left", hovertext=[_hover(r) for r in front], hoverinfo="text"), row=1, col=1)
    for budget in ("flash", "ram", "latency"):
        group = [by_number[p["trial"]] for p in data["rejected"] if budget in p["broken"]]
        if group:
            fig.add_trace(go.Scatter(
                x=[r["flash_bytes"] for r in group], y=[budget] * len(group), mode="markers",
                name=f"over {budget} budget", marker={"color": BUDGET_COLOURS[budget], "symbol": "x"},
                hovertext=[_hover(r) for r in group], hoverinfo="text"), row=2, col=1)
    limit = config["budget"]["max_flash_bytes"]
    for row in (1, 2):
        fig.add_vline(x=limit, line_dash="dash", line_color=BUDGET_COLOURS["flash"], row=row, col=1)
    fig.add_annotation(x=limit, y=1, yref="y domain", text=f"flash budget {limit // 1024} KB",
                       showarrow=False, xanchor="right", font={"color": BUDGET_COLOURS["flash"]})
    c = data["counts"]
    fig.update_layout(
        title=(f"Study on {data['device']}: {c['trials']} trials, {c['trained']} trained, "
               f"{c['pruned_before_training']} rejected before training, {c['failed']} failed"),
        height=720, template="plotly_white", legend={"orientation": "h", "y": -0.08})
    fig.update_xaxes(title_text="flash (bytes of the shipped .tflite)", row=2, col=1)
    fig.update_yaxes(title_text=data["score"], row=1, col=1)
    return fig


def write_report(rows: list[dict], config: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "pareto.html"
    pareto_figure(rows, config).write_html(path, include_plotlyjs=True, full_html=True)
    return path
