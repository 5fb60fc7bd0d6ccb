"""What the benchmarks share: running `nas search` as a user runs it, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def nas_search(where: Path, name: str, *options: str, label: str | None = None):
    """`nas search --study NAME` with its own SQLite file and artifact folder in `where`, run to the end;
    prints the command, exits with the search's last error line if it fails. Returns (wall seconds,
    the study)."""
    import optuna

    storage = f"sqlite:///{Path(where).resolve()}/{name}.db"
    cmd = [sys.executable, "-m", "nas", "search", "--study", name, "--storage", storage,
           "--artifacts", str(Path(where).resolve() / f"{name}.art"), *options]
    print(f"{label or name}: {' '.join(cmd[2:])}", flush=True)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=where, capture_output=True, text=True)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{label or name} failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return wall, optuna.load_study(study_name=name, storage=storage)
