"""Capture what C++ code writes to the process's stdout/stderr file descriptors."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def captured_fds(*fds: int) -> Iterator[list[str]]:
    """Redirect the given file descriptors to a temp file; the list receives the text on exit."""
    out: list[str] = []
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(fd) for fd in fds]
    python_level = io.StringIO()  # print() from Python code, when sys.stdout is not fd 1 (e.g. pytest)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        try:
            for fd in fds:
                os.dup2(tmp.fileno(), fd)
            with contextlib.redirect_stdout(python_level), contextlib.redirect_stderr(python_level):
                yield out
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            for fd, copy in zip(fds, saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
            tmp.seek(0)
            out.append(tmp.read().decode(errors="replace") + python_level.getvalue())
