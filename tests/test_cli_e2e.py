"""One real search on tiny data, through the CLI as a user runs it: search, resume, report, export."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from cost_models import DEVICES
from nas.cli import main
from nas.schema import TrialRecord
from tests.helpers import write_light_curves

rec = TrialRecord.read

pytestmark = pytest.mark.slow

SEARCH = ["search", "--data", "tiny.npz", "--study", "e2e", "--trials", "6", "--epochs", "2",
          "--seed", "1", "--max-latency-ms", "5", "--jobs", "1"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    write_light_curves(root / "tiny.npz")
    return root


@pytest.fixture(scope="module")
def searched(workdir):
    mp = pytest.MonkeyPatch()
    mp.chdir(workdir)
    mp.setattr("nas.search.usable_cores", lambda: 2)  # the polish's workers, on any machine: as on CI's 2 cores
    assert main(SEARCH) == 0
    yield workdir
    mp.undo()


def _study(name="e2e"):
    from nas.study import default_storage, load

    return load(name, default_storage(name))


def test_infeasible_candidates_are_recorded_and_never_trained(searched):
    study, _ = _study()
    pruned = [t for t in study.trials if t.state.name == "PRUNED" and not rec(t).screened_out]
    assert pruned, "the budget was chosen so that some candidates are over it"
    for t in pruned:
        assert rec(t).trained is False and rec(t).feasible is False
        assert rec(t).artifacts is None and rec(t).val_accuracy_int8 is None
        assert rec(t).train_seconds is None
        assert max(t.constraints.values()) > 0  # what the sampler learns from
        assert rec(t).broken == [k for k, v in t.constraints.items() if v > 0]


def test_feasible_candidates_carry_int8_accuracy_and_exact_costs(searched):
    study, _ = _study()
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert done
    for t in done:
        acc = rec(t).val_accuracy_int8
        assert 0.0 <= acc <= 1.0
        folds = rec(t).cv_fold_accuracy_int8
        if rec(t).feasible:  # 6 validation series are too few to rank: 5-fold cross-validated
            assert len(folds) == 5 and folds[0] == acc  # fold 0 is the model that ships
            assert t.values[0] == rec(t).cv_accuracy_int8 and min(folds) <= t.values[0] <= max(folds)
        else:
            assert folds is None and t.values[0] == acc
        assert t.values[1] == rec(t).cost["flash_bytes"]
        assert rec(t).cost["latency_ms"] <= 5.0 or not rec(t).feasible


def _searched(study):
    """The trials the sampler proposed: not the polish trials that follow a search."""
    return [t for t in study.trials if rec(t).kind != "polish"]


def test_the_best_front_members_are_polished_after_the_search(searched):
    from nas.config import POLISH_DEFAULT
    from nas.objective import POLISH_FACTOR

    study, _ = _study()
    polished = [t for t in study.trials if rec(t).kind == "polish"]
    assert len(_searched(study)) == 6  # the 6 asked for; the polish comes on top
    assert 2 <= len(polished) <= 2 * POLISH_DEFAULT  # each member on time-warped and on jittered series
    for t in polished:
        original = study.trials[rec(t).polish_of]
        assert t.number > original.number and t.params == original.params
        assert rec(t).recipe == {"epochs": 2 * POLISH_FACTOR, "patience": rec(t).recipe["patience"],
                                 "augment": rec(t).recipe["augment"], "polish_of": original.number}
        assert rec(original).recipe["epochs"] == 2 and not rec(original).recipe["augment"]
        assert rec(t).recipe["patience"] == POLISH_FACTOR * rec(original).recipe["patience"]
        assert t.state.name == "COMPLETE" and rec(t).trained  # scored like any trial: no screening
        assert rec(t).screen is None and t.values[0] == rec(t).cv_accuracy_int8
    variants = sorted((rec(t).polish_of, rec(t).recipe["augment"]) for t in polished)
    assert variants == sorted({(rec(t).polish_of, a) for t in polished for a in ("jitter", "warp")})  # once each
    # --jobs 1 samples in this process; the polish, fixed trainings, runs in a worker process per core
    assert {rec(t).worker["pid"] for t in _searched(study)} == {os.getpid()}
    assert len({rec(t).worker["pid"] for t in polished} - {os.getpid()}) == 2


def test_resume_adds_trials_to_the_same_study(searched, monkeypatch):
    monkeypatch.chdir(searched)
    before = len(_searched(_study()[0]))
    assert main(["resume", "e2e", "--trials", "2", "--jobs", "1"]) == 0
    study, config = _study()
    assert len(_searched(study)) == before + 2
    assert config.epochs == 2 and config.budget.max_latency_ms == 5.0  # read back from the study
    # running the same search command again continues it as well
    assert main([*SEARCH[:5], "--trials", "1", "--epochs", "2", "--seed", "1", "--max-latency-ms", "5"]) == 0
    assert len(_searched(_study()[0])) == before + 3


def test_report_data_agrees_with_the_study(searched, monkeypatch):
    from cost_models import DEVICES
    from nas.report import report_data
    from nas.results import accuracy_interval, hypervolume, study_rows

    monkeypatch.chdir(searched)
    assert main(["report", "e2e"]) == 0
    page = (searched / "reports" / "e2e" / "index.html").read_text()
    study, config = _study()
    data = report_data(study, config)
    front = data["pareto"]["front"]
    assert front, "at least one trained model within the budget"
    for point in front:
        assert f"#{point['trial']}" in page
    assert "Pareto front" in page and "over latency budget" in page
    # the front's best model with the interval its validation and test split sizes allow, as `nas show` prints it
    best = max((r for r in study_rows(study) if r["on_front"]), key=lambda r: (r["score"], -r["flash_bytes"]))
    n_test = config.data["n_test"]
    lo, hi = accuracy_interval(best["test_accuracy_int8"], n_test)
    assert data["precision"].startswith(f"Best score, trial {best['number']}: int8 val ")
    assert f"int8 test {best['test_accuracy_int8']:.3f} on {n_test} series, 95 % interval {lo:.2f}-{hi:.2f}" in data[
        "precision"]
    assert f"<p>{data['precision']}</p>" in page
    # opens offline: plotly.js is inlined, nothing is fetched (its bundle names a CDN only as a topojson default)
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="?https?:', page) and "<script src=" not in page
    # counts are the study's trials by state
    states = [t.state.name for t in study.trials]
    c = data["counts"]
    assert c["trials"] == len(states) and c["failed"] == states.count("FAIL")
    assert c["pruned_before_training"] + c["screened_out"] + c["repeats"] == states.count("PRUNED")
    # the hypervolume curve never falls and ends at the front's hypervolume
    curve = [h for _, h in data["hypervolume"]["by_trial"]]
    assert len(curve) == len(states) and all(b >= a for a, b in zip(curve, curve[1:], strict=False))
    assert curve[-1] == pytest.approx(hypervolume([(p["score"], p["flash_bytes"]) for p in front],
                                                  config.budget.max_flash_bytes))
    # feasibility: every front model on every board, verdicts consistent with the headroom shown
    assert data["feasibility"]["devices"] == list(DEVICES)
    assert {m["trial"] for m in data["feasibility"]["models"]} == {p["trial"] for p in front}
    for m in data["feasibility"]["models"]:
        assert [cell["device"] for cell in m["cells"]] == list(DEVICES)
        for cell in m["cells"]:
            if cell["latency_headroom_ms"] < 0 or cell["ram_headroom_bytes"] < 0:
                assert not cell["fits"]
    # the study's device: the matrix agrees with what the search recorded after conversion
    home = {m["trial"]: m["cells"][list(DEVICES).index("nano33")] for m in data["feasibility"]["models"]}
    for t, cell in home.items():
        assert cell["fits"] and cell["ram_bytes"] == rec(study.trials[t]).cost["ram_bytes"]
    # layer costs: per-operator latency sums to the model's latency less the fixed invoke overhead
    for layer in data["layers"]:
        total = rec(study.trials[layer["trial"]]).cost["latency_ms"]
        ops_ms = sum(o["ms"] for o in layer["ops"])
        assert 0 < ops_ms <= total + 5e-5 * len(layer["ops"])  # each op's ms is rounded to 4 decimals
        assert max(o["arena_live_bytes"] for o in layer["ops"]) <= rec(study.trials[layer["trial"]]).cost["arena_bytes"]


def test_show_json_lists_every_trial(searched, monkeypatch, capsys):
    monkeypatch.chdir(searched)
    capsys.readouterr()
    assert main(["show", "e2e", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(_study()[0].trials)
    assert {"number", "state", "params", "val_accuracy_int8", "flash_bytes", "arena_bytes", "latency_ms",
            "macs", "feasible", "trained", "on_front"} <= set(rows[0])
    assert any(r["on_front"] for r in rows)


def test_show_and_studies_print_the_front_and_the_counts(searched, monkeypatch, capsys):
    from nas.results import accuracy_interval, counts, study_rows

    monkeypatch.chdir(searched)
    rows = study_rows(_study()[0])
    front = sorted((r for r in rows if r["on_front"]), key=lambda r: r["flash_bytes"])
    capsys.readouterr()
    assert main(["show", "e2e"]) == 0
    out = capsys.readouterr().out
    assert "int8 cv" in out  # the tiny set's front is ranked by cross-validated accuracy
    table = [line.split() for line in out.splitlines()]
    shown = [int(cells[0]) for cells in table if cells and cells[0].isdigit()]
    assert sorted(shown) == sorted(r["number"] for r in front)
    best = max(front, key=lambda r: (r["score"], -r["flash_bytes"]))
    n_val = _study()[1].data["n_val"]
    lo, hi = accuracy_interval(best["val_accuracy_int8"], n_val)
    assert (f"Best score, trial {best['number']}: int8 val {best['val_accuracy_int8']:.3f} on {n_val} series, "
            f"95 % interval {lo:.2f}-{hi:.2f}") in out
    assert main(["studies"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("e2e "))
    c = counts(rows)
    assert line.split()[1:12] == [str(c["trials"]), str(c["trained"]), str(c["seeded"]),
                                  str(c["pruned_before_training"]), str(c["screened_out"]), str(c["repeats"]),
                                  str(c["failed"]),
                                  str(c["interrupted"]), str(c["running"] + c["waiting"]), str(len(front)),
                                  f"{best['score']:.3f}"]
    assert line.endswith(f"#{best['number']}")


def test_exported_model_runs_in_tflm_within_the_header_arena(searched, monkeypatch):
    from tflite_micro.python.tflite_micro import runtime

    from nas.quantize import Int8Model

    monkeypatch.chdir(searched)
    assert main(["export", "e2e", "--pareto"]) == 0
    folders = sorted((searched / "reports" / "e2e" / "models").iterdir())
    assert folders
    for folder in folders:
        assert {p.name for p in folder.iterdir()} >= {"model.keras", "model_int8.tflite", "model_data.h",
                                                      "model_card.json"}
        tflite = (folder / "model_int8.tflite").read_bytes()
        header = (folder / "model_data.h").read_text()
        arena = int(re.search(r"#define NAS_TENSOR_ARENA_SIZE (\d+)", header).group(1))
        body = header.split("g_model_data[] = {")[1].split("};")[0]
        assert bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body)) == tflite
        assert f"#define NAS_MODEL_DATA_LEN {len(tflite)}" in header
        interp = runtime.Interpreter.from_bytes(tflite, arena_size=arena)
        x = np.load(searched / "tiny.npz")["x_test"][:3]
        model = Int8Model(tflite)
        q = model.quantize_input(((x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True))[:, None])
        interp.set_input(q[0].reshape(model.input_shape), 0)
        interp.invoke()
        assert np.array(interp.get_output(0)).shape[-1] == 6
        card = json.loads((folder / "model_card.json").read_text())
        assert card["flash_bytes"] == len(tflite) and card["accuracy"]["test_int8"] is not None
        accuracy, n_test = card["accuracy"], len(np.load(searched / "tiny.npz")["y_test"])
        assert accuracy["test_series"] == n_test and accuracy["val_series"] == card["data"]["n_val"]
        lo, hi = accuracy["test_int8_95ci"]
        assert lo <= accuracy["test_int8"] <= hi and hi - lo > 0.1  # 18 test series pin little down
        assert set(card["latency_ms_by_device"]) == set(DEVICES)


@pytest.fixture(scope="module")
def bad_inputs(searched):
    """Files for the bad-input table, beside the searched study."""
    import keras

    root = searched
    x = np.random.default_rng(0).normal(size=(20, 32))
    y = np.array(["a", "b"] * 10)
    (root / "bad.npz").write_text("not numpy")
    nan = x.copy()
    nan[3, 4] = np.nan
    np.savez(root / "nan.npz", x_train=nan, y_train=y, x_test=x, y_test=y)
    np.savez(root / "inf.npz", x_train=x, y_train=y, x_test=np.full_like(x, np.inf), y_test=y)
    np.savez(root / "mismatch.npz", x_train=x, y_train=y[:15], x_test=x, y_test=y)
    np.savez(root / "oneclass.npz", x_train=x, y_train=np.array(["a"] * 20), x_test=x, y_test=y)
    np.savez(root / "empty.npz", x_train=np.zeros((20, 0)), y_train=y, x_test=np.zeros((20, 0)), y_test=y)
    np.savez(root / "rows.npz", x=np.random.default_rng(1).normal(size=(50, 5)))
    (root / "notmodel.keras").write_text("not a model")
    inp = keras.Input((3,))
    keras.Model(inp, keras.layers.Dense(2)(keras.layers.Dense(4, activation="relu")(inp))).save(root / "narrow.keras")
    inp = keras.Input((5,))
    keras.Model(inp, keras.layers.Dense(2)(keras.layers.Lambda(lambda t: t * 2)(inp))).save(root / "lambda.keras")
    (root / "halfboard.toml").write_text('name = "half"\ncore = "cortex-m4"\n')
    (root / "negboard.toml").write_text('name = "neg"\ntitle = "n"\ncore = "cortex-m4"\nkernels = "cmsis-nn"\n'
                                        "clock_hz = -64000000\nsram_bytes = 262144\nflash_bytes = 1048576\n")
    (root / "studies" / "corrupt.db").write_bytes(b"this is not a database at all" * 40)
    (root / "elsewhere").mkdir(exist_ok=True)
    (root / "elsewhere" / "reports").write_text("a file where the reports folder should be")
    _old_space_study(root)
    return root


def _old_space_study(root):
    """e2e's configuration as a study of the spectral space's version 1 would have stored it."""
    from dataclasses import replace

    from nas.study import create_or_load

    _, config = _study()
    create_or_load("oldspace", f"sqlite:///{root}/studies/oldspace.db", replace(config, space_version=1))


def _pruned_trial() -> int:
    return next(t.number for t in _study()[0].trials if t.state.name == "PRUNED")


BAD_INPUTS = [
    (["search", "--device", "arduino-uno"], "unknown device 'arduino-uno'"),
    (["search", "--space", "transformer"], "unknown space 'transformer'"),
    (["search", "--data", "nope.npz"], "does not exist"),
    (["search", "--data", "bad.npz"], "not a NumPy .npz"),
    (["search", "--data", "nan.npz"], "NaN or infinite"),
    (["search", "--data", "inf.npz"], "NaN or infinite"),
    (["search", "--data", "mismatch.npz"], "x_train has 20 series but y_train has 15 labels"),
    (["search", "--data", "oneclass.npz"], "single class"),
    (["search", "--data", "empty.npz"], "length 0"),
    (["search", "--space", "mlp", "--teacher", "notmodel.keras", "--data", "rows.npz"], "not a loadable Keras model"),
    (["search", "--space", "mlp", "--teacher", "narrow.keras", "--data", "rows.npz"], "takes 3 inputs per row"),
    (["search", "--space", "mlp", "--teacher", "lambda.keras", "--data", "rows.npz"], "Lambda layers are refused"),
    (["search", "--max-ram-kb", "0"], "must be greater than 0"),
    (["search", "--max-flash-kb", "-1"], "must be greater than 0"),
    (["search", "--max-latency-ms", "nan"], "must be greater than 0"),
    (["search", "--trials", "0"], "must be greater than 0"),
    (["search", "--cv-folds", "1"], "must be 0 (no cross-validation) or at least 2"),
    (["search", "--space", "mlp", "--cv-folds", "3"], "--cv-folds is for classifier spaces"),
    (["search", "--study", "../evil"], "invalid study name"),
    (["search", "--study", "a/b"], "invalid study name"),
    (["resume", "missing"], "no study named 'missing'"),
    (["export", "missing"], "no study named 'missing'"),
    (["export", "e2e", "--trial", "999"], "has no trial 999"),
    (["export", "e2e", "--trial", "PRUNED"], "was never trained"),
    (["show", "corrupt"], "not an SQLite database"),
    (["show", "e2e", "--storage", "postgresql://nas:s3cret-pw@127.0.0.1:9/studies"], "cannot open study storage"),
    (["report", "e2e", "--storage", "sqlite:///STUDIES/e2e.db", "CWD=elsewhere"], "cannot write reports"),
    (["search", "--device", "halfboard.toml"], "halfboard.toml"),
    (["search", "--device", "negboard.toml"], "clock_hz"),
    (["resume", "oldspace"], "searched spectral v1 and this nas builds v2, v3, v4"),
    ([*SEARCH[:3], "--study", "oldspace", *SEARCH[5:]], "searched spectral v1 and this nas builds v2, v3, v4"),
]


@pytest.mark.parametrize("argv, words", BAD_INPUTS, ids=[" ".join(a)[:60] for a, _ in BAD_INPUTS])
def test_user_errors_are_one_line_exit_2(bad_inputs, monkeypatch, capsys, argv, words):
    import hashlib

    root = bad_inputs
    db = root / "studies" / "e2e.db"
    argv = [str(_pruned_trial()) if a == "PRUNED" else a.replace("STUDIES", str(root / "studies")) for a in argv]
    cwd = next((a.split("=", 1)[1] for a in argv if a.startswith("CWD=")), ".")
    argv = [a for a in argv if not a.startswith("CWD=")]
    monkeypatch.chdir(root / cwd)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert "s3cret-pw" not in err  # a database password is never printed
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # nothing stored was touched


# ---------------------------------------------------------------- the report in a real browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=15000", "--dump-dom"]
CATCH = ("<script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push("
         "String(e.message))});</script>")
REPORT_ERRORS = ("<script>window.addEventListener('load',function(){setTimeout(function(){var p=document."
                 "createElement('pre');p.id='js-errors';p.textContent=JSON.stringify(window.__errors);"
                 "document.body.appendChild(p)},3000)});</script>")
# every visible text box of each figure (tick labels, titles, legend, annotations), as the browser laid it out:
# the pairs whose boxes overlap by more than a pixel each way
OVERLAPS = r"""<script>window.addEventListener('load',function(){setTimeout(function(){var out={};
document.querySelectorAll('.js-plotly-plot').forEach(function(plot){var boxes=[];
plot.querySelectorAll('svg.main-svg text').forEach(function(t){if(t.closest('.hoverlayer'))return;
var s=(t.textContent||'').trim();if(!s)return;var r=t.getBoundingClientRect();if(r.width<=0||r.height<=0)return;
var st=window.getComputedStyle(t);if(st.display=='none'||st.visibility=='hidden'||st.opacity=='0')return;
boxes.push({s:s,l:r.left,t:r.top,r:r.right,b:r.bottom});});var hits=[];
for(var i=0;i<boxes.length;i++)for(var j=i+1;j<boxes.length;j++){var a=boxes[i],b=boxes[j];
var w=Math.min(a.r,b.r)-Math.max(a.l,b.l),h=Math.min(a.b,b.b)-Math.max(a.t,b.t);if(w>1&&h>1)hits.push([a.s,b.s]);}
out[plot.id]={texts:boxes.length,overlaps:hits};});var p=document.createElement('pre');p.id='overlaps';
p.textContent=JSON.stringify(out);document.body.appendChild(p);},3000)});</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (CI installs it: .ci/run)")
def test_report_renders_every_figure_without_js_errors(searched, tmp_path, monkeypatch):
    from nas.cli import main

    monkeypatch.chdir(searched)
    assert main(["report", "e2e"]) == 0
    page = (searched / "reports" / "e2e" / "index.html").read_text()
    figures = re.findall(r"<section id='(\w+)'>", page)
    assert {"pareto", "tradeoffs", "hypervolume", "feasibility", "layers"} <= set(figures)
    dom = browse(page, tmp_path)
    assert '<pre id="js-errors">[]</pre>' in dom, f"JavaScript errors: {re.findall(r'js-errors.>(.*?)<', dom)}"
    for name in figures:  # plotly drew an SVG into every figure's div
        section = dom.split(f'<section id="{name}">', 1)[1].split("</section>", 1)[0]
        assert 'class="main-svg"' in section, f"figure {name} did not render"
    laid_out = overlaps(dom)
    assert set(laid_out) == {f"fig-{name}" for name in figures}
    for figure, found in laid_out.items():
        assert found["texts"] > 5 and not found["overlaps"], f"{figure}: text boxes overlap: {found['overlaps'][:5]}"


# curves whose first tick labels met in the corner before the area's range was pinned: one trial, a flat curve, a
# flat start at 0, a first trial other than 0 (CI drew one like the last on a real study: "0" over "0.15")
CORNER_CURVES = [[(0, 0.0)], [(3, 0.0), (4, 0.0), (10, 0.0)], [(0, 0.0), (1, 0.0), (2, 0.0692), (3, 0.1545)],
                 [(1, 0.2115), (5, 0.2115), (6, 0.2979), (13, 0.4325)], [(0, 0.15), (2, 0.15), (9, 0.15)]]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (CI installs it: .ci/run)")
def test_hypervolume_tick_labels_never_meet_in_the_corner(tmp_path):
    from nas.report import STYLE, hypervolume_figure

    divs = "".join(f"<section id='c{i}'>" + hypervolume_figure(
        {"hypervolume": {"by_trial": curve, "reference": {"flash_bytes": 100 * 1024}}}).to_html(
        full_html=False, include_plotlyjs=i == 0, div_id=f"curve-{i}") + "</section>"
        for i, curve in enumerate(CORNER_CURVES))
    laid_out = overlaps(browse(f"<html><head><style>{STYLE}</style></head><body>{divs}</body></html>", tmp_path))
    assert len(laid_out) == len(CORNER_CURVES)
    for figure, found in laid_out.items():
        assert not found["overlaps"], f"{figure}: text boxes overlap: {found['overlaps']}"


def browse(page: str, tmp_path) -> str:
    """The DOM headless chromium made of the page, with its JavaScript errors and text boxes recorded in it."""
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("<head>", "<head>" + CATCH, 1)
                     .replace("</body>", REPORT_ERRORS + OVERLAPS + "</body>", 1))
    out = subprocess.run([CHROMIUM, *FLAGS, "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'profile'}",
                          probe.as_uri()], capture_output=True, text=True, timeout=180)
    return out.stdout


def overlaps(dom: str) -> dict:
    """Per figure div: how many text boxes it drew, and the pairs of them that overlap."""
    return json.loads(html.unescape(re.search(r'<pre id="overlaps">(.*?)</pre>', dom, re.S).group(1)))


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (CI installs it: .ci/run)")
def test_report_png_writes_the_figures(searched, monkeypatch, capsys):
    pytest.importorskip("kaleido", reason="the png extra (kaleido) is not installed")
    monkeypatch.chdir(searched)
    assert main(["report", "e2e", "--png"]) == 0
    png = searched / "reports" / "e2e" / "pareto.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_report_png_without_kaleido_says_what_to_install(searched, monkeypatch, capsys):
    import sys

    monkeypatch.chdir(searched)
    monkeypatch.setitem(sys.modules, "kaleido", None)  # as if it were not installed
    capsys.readouterr()
    assert main(["report", "e2e", "--png"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'mcu-nas[png]'" in err and len(err.strip().splitlines()) == 1
    assert (searched / "reports" / "e2e" / "index.html").exists()  # the HTML report is still written
