"""Capture what C++ code writes to the process's stdout/stderr file descriptors."""

from __future__ import annotations

import contextlib
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
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        try:
            for fd in fds:
                os.dup2(tmp.fileno(), fd)
            yield out
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            for fd, copy in zip(fds, saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
            tmp.seek(0)
            out.append(tmp.read().decode(errors="replace"))
