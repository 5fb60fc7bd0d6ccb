"""The text formats (CSV, UCR .tsv, .ts) load to the same dataset as the equivalent .npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nas.data import DataError, load_file, load_npz

UCR = Path(__file__).resolve().parents[2] / "shared" / "data" / "ucr"


def _arrays(n=24, length=30, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.array(["oak", "elm", "ash"])
    return {"x_train": rng.normal(size=(n, length, channels)), "y_train": labels[np.arange(n) % 3],
            "x_test": rng.normal(size=(n // 2, length, channels)), "y_test": labels[np.arange(n // 2) % 3]}


def _write_tsv(path: Path, x, y):
    path.write_text("".join("\t".join([str(label), *(repr(float(v)) for v in row[:, 0])]) + "\n"
                            for row, label in zip(x, y, strict=True)))


def _write_ts(path: Path, x, y):
    head = ("# written by the test\n@problemName t\n@timeStamps false\n@univariate false\n"
            f"@classLabel true {' '.join(sorted(set(y)))}\n@data\n")
    body = "".join(":".join(",".join(repr(float(v)) for v in x[i, :, c]) for c in range(x.shape[2]))
                   + f":{y[i]}\n" for i in range(len(x)))
    path.write_text(head + body)


def _same(a, b):
    assert a.classes == b.classes
    for part in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_allclose(getattr(a, part), getattr(b, part), rtol=1e-6, atol=1e-6)


def test_ucr_tsv_pair_equals_npz(tmp_path):
    arrays = _arrays()
    _write_tsv(tmp_path / "Leaf_TRAIN.tsv", arrays["x_train"], arrays["y_train"])
    _write_tsv(tmp_path / "Leaf_TEST.tsv", arrays["x_test"], arrays["y_test"])
    np.savez(tmp_path / "Leaf.npz", **arrays)
    ds = load_file(tmp_path / "Leaf_TRAIN.tsv")
    _same(ds, load_npz(tmp_path / "Leaf.npz"))
    assert ds.name == "Leaf" and ds.classes == ("ash", "elm", "oak")
    assert ds.describe()["test_split"] == "official"


def test_multivariate_ts_pair_equals_npz(tmp_path):
    arrays = _arrays(channels=3)
    _write_ts(tmp_path / "M_TRAIN.ts", arrays["x_train"], arrays["y_train"])
    _write_ts(tmp_path / "M_TEST.ts", arrays["x_test"], arrays["y_test"])
    np.savez(tmp_path / "M.npz", **arrays)
    ds = load_file(tmp_path / "M_TRAIN.ts")
    assert ds.input_shape == (30, 3)
    _same(ds, load_npz(tmp_path / "M.npz"))


def test_csv_with_named_label_column_and_held_out_test(tmp_path):
    arrays = _arrays(n=40)
    x, y = arrays["x_train"][:, :, 0], arrays["y_train"]
    lines = [",".join([f"t{i}" for i in range(5)] + ["species"] + [f"t{i}" for i in range(5, 30)])]
    lines += [",".join([*map(str, row[:5]), label, *map(str, row[5:])]) for row, label in zip(x, y, strict=True)]
    (tmp_path / "leaves.csv").write_text("\n".join(lines) + "\n")
    ds = load_file(tmp_path / "leaves.csv", label_column="species")
    assert ds.input_shape == (30, 1) and ds.classes == ("ash", "elm", "oak")
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 40
    assert set(np.unique(ds.y_test)) == {0, 1, 2}  # stratified held-out test
    assert ds.describe()["test_split"].startswith("20 %")
    # without the option the column named 'species' is not a known label name: the first column is taken,
    # and the non-numeric cells say so
    with pytest.raises(DataError, match="not a number"):
        load_file(tmp_path / "leaves.csv")


def test_csv_label_first_without_header(tmp_path):
    rows = [f"{k % 2},{','.join(str(v) for v in np.sin(np.arange(20) * (k % 2 + 1) + k))}" for k in range(20)]
    (tmp_path / "s.csv").write_text("\n".join(rows))
    ds = load_file(tmp_path / "s.csv")
    assert ds.classes == ("0", "1") and ds.input_shape == (20, 1)


@pytest.mark.parametrize("name, text, needle", [
    ("a_TRAIN.tsv", "1\t0.5\t0.2\n2\t0.1\n", "different numbers of values"),
    ("a_TRAIN.tsv", "1\t0.5\tx\n2\t0.1\t0.3\n", "'x' is not a number"),
    ("a_TRAIN.tsv", "", "is empty"),
    ("a_TRAIN.tsv", "1\t0.5\t?\n2\t0.1\t0.3\n", "line 1, column 3: missing value"),
    ("b.ts", "@problemName b\n1,2,3:a\n", "no @data line"),
    ("b.ts", "@classLabel true a b\n@data\n1,2,3:a\n1,2:b\n", "equal lengths"),
    ("b.ts", "@classLabel false\n@data\n1,2,3\n", "no class labels"),
    ("c.json", "{}", "unknown data format"),
])
def test_malformed_text_files_name_the_problem(tmp_path, name, text, needle):
    (tmp_path / name).write_text(text)
    if name.endswith("_TRAIN.tsv"):
        (tmp_path / name.replace("_TRAIN", "_TEST")).write_text("1\t0.5\t0.2\n2\t0.1\t0.3\n")
    with pytest.raises(DataError, match=needle):
        load_file(tmp_path / name)


def test_train_file_needs_its_test_sibling_and_test_file_is_refused(tmp_path):
    _write_tsv(tmp_path / "G_TRAIN.tsv", np.ones((4, 5, 1)), ["a", "b", "a", "b"])
    with pytest.raises(DataError, match="G_TEST.tsv is not beside it"):
        load_file(tmp_path / "G_TRAIN.tsv")
    _write_tsv(tmp_path / "G_TEST.tsv", np.ones((4, 5, 1)), ["a", "b", "a", "b"])
    with pytest.raises(DataError, match="give the _TRAIN file"):
        load_file(tmp_path / "G_TEST.tsv")


@pytest.mark.skipif(not (UCR / "GunPoint.npz").exists(), reason=f"UCR data not found at {UCR}")
def test_real_gunpoint_through_tsv(tmp_path):
    with np.load(UCR / "GunPoint.npz", allow_pickle=False) as a:
        arrays = {k: a[k] for k in a.files}
    _write_tsv(tmp_path / "GunPoint_TRAIN.tsv", arrays["x_train"], arrays["y_train"])
    _write_tsv(tmp_path / "GunPoint_TEST.tsv", arrays["x_test"], arrays["y_test"])
    ds = load_file(tmp_path / "GunPoint_TRAIN.tsv")
    _same(ds, load_npz(UCR / "GunPoint.npz"))
    assert ds.input_shape == (150, 1) and len(ds.y_test) == 150 and len(ds.y_train) + len(ds.y_val) == 50
    assert np.allclose(ds.x_test.mean(axis=1), 0, atol=1e-4)  # z-normalised per series
