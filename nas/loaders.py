"""Reading series from the text formats people have: CSV, the UCR archive's .tsv and the .ts format.

Each reader returns (x, labels): x float (series, length, channels), labels as strings. Mapping labels
to integers, z-normalization and validation happen once, in `nas.data`, for every format.

- CSV: one row per series; the label in the column named by `label_column`, else in a column named
  label / class / target / y, else in the first column. A header line is detected (a first row whose
  value cells are not all numbers).
- UCR .tsv (`NAME_TRAIN.tsv`): no header, tab-separated, label first.
- .ts (sktime / aeon, the UCR/UEA archive's own): `@` header lines then `@data`; one series per line,
  channels separated by `:`, values by `,`, the class label last. Series must have equal lengths.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

LABEL_NAMES = ("label", "class", "target", "y")
MISSING = {"", "?", "nan", "NaN", "NA"}


class FormatError(ValueError):
    """A file that does not hold series in the format its extension says."""


def _number(text: str, where: str) -> float:
    if text.strip() in MISSING:
        raise FormatError(f"{where}: missing value {text.strip()!r}; impute it or drop that series")
    try:
        value = float(text)
    except ValueError:
        raise FormatError(f"{where}: {text[:30]!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FormatError(f"{where}: {text.strip()!r} is not a finite number; impute it or drop that series")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text.strip() in MISSING
    return True


def read_delimited(path: Path, delimiter: str, label_column: str | None = None,
                   may_have_header: bool = True) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            numbered = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
    except UnicodeDecodeError:
        raise FormatError(f"{path} is not a text file (expected one series per line)") from None
    if not numbered:
        raise FormatError(f"{path} is empty")
    lines, rows = [n for n, _ in numbered], [r for _, r in numbered]
    first = rows[0]
    header = None
    label_at = 0
    if label_column is not None or (may_have_header and not all(_is_number(c) for c in first[1:])):
        header = [c.strip() for c in first]
        lines, rows = lines[1:], rows[1:]
        if label_column is not None:
            if label_column not in header:
                raise FormatError(f"{path}: no column named {label_column!r}; the header has "
                                  f"{', '.join(header[:8])}{'...' if len(header) > 8 else ''}")
            label_at = header.index(label_column)
        else:
            named = [i for i, c in enumerate(header) if c.lower() in LABEL_NAMES]
            label_at = named[0] if named else 0
    if not rows:
        raise FormatError(f"{path} has a header but no series")
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise FormatError(f"{path}: rows have different numbers of values ({min(widths)}-{max(widths)}); "
                          "series must have equal lengths")
    labels = np.array([r[label_at].strip() for r in rows])
    x = np.array([[_number(c, f"{path} line {n}, column {i + 1}") for i, c in enumerate(r) if i != label_at]
                  for n, r in zip(lines, rows, strict=True)], np.float64)
    return x.reshape(len(rows), -1, 1), labels


def read_ts(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except UnicodeDecodeError:
        raise FormatError(f"{path} is not a text .ts file") from None
    tags: dict[str, str] = {}
    body = None
    for n, line in enumerate(lines):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.lower() == "@data":
            body = n + 1
            break
        if text.startswith("@"):
            key, _, value = text[1:].partition(" ")
            tags[key.lower()] = value.strip()
    if body is None:
        raise FormatError(f"{path} has no @data line; it is not a .ts file")
    if tags.get("classlabel", "true").split()[0].lower() != "true":
        raise FormatError(f"{path} has no class labels (@classLabel false); classification needs them")
    if tags.get("timestamps", "false").lower() == "true":
        raise FormatError(f"{path} uses timestamps; save it with plain values (@timeStamps false)")
    series, labels = [], []
    for n, line in enumerate(lines[body:], start=body + 1):
        if not line.strip():
            continue
        *channels, label = line.strip().split(":")
        if not channels:
            raise FormatError(f"{path} line {n}: expected values:label, got {line[:40]!r}")
        series.append([[_number(v, f"{path} line {n}") for v in c.split(",")] for c in channels])
        labels.append(label.strip())
    if not series:
        raise FormatError(f"{path} has no series after @data")
    shapes = {(len(s), *{len(c) for c in s}) for s in series}
    if len(shapes) > 1 or any(len(s) != 2 for s in shapes):
        raise FormatError(f"{path}: series differ in length or channel count; resample them to equal "
                          "lengths first (e.g. aeon's TSFreshFeatureExtractor or linear interpolation)")
    x = np.array(series, np.float64)  # (series, channels, length)
    return x.transpose(0, 2, 1), np.array(labels)


def read_series(path: Path, label_column: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    suffix = path.suffix.lower()
    if suffix == ".ts":
        return read_ts(path)
    if suffix == ".tsv":
        return read_delimited(path, "\t", label_column, may_have_header=False)  # UCR: never a header
    if suffix in (".csv", ".txt"):
        return read_delimited(path, ",", label_column)
    raise FormatError(f"{path}: unknown data format {suffix!r}; give .npz, .csv, .tsv (UCR) or .ts")


def official_test_file(path: Path) -> Path | None:
    """The official test file beside a `NAME_TRAIN.ext`, if the file is one."""
    stem = path.stem
    for train, test in (("_TRAIN", "_TEST"), ("_train", "_test")):
        if stem.endswith(train):
            return path.with_name(stem[: -len(train)] + test + path.suffix)
    return None
