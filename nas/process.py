"""Process-level concerns of a search: signals and memory."""

from __future__ import annotations

from pathlib import Path

_stop = {"requested": False}


def stop_on_sigterm() -> None:
    """SIGTERM (a cluster's or systemd's stop) and Ctrl-C: the running trial is recorded as
    interrupted, finished ones stay, and the command says how to resume.

    The KeyboardInterrupt raised here can land where Python swallows it (a garbage-collector callback
    prints "Exception ignored" and goes on), so the request is also kept: training checks it after every
    batch and the search before every trial (`raise_if_stop_requested`)."""
    import signal
    import sys

    def interrupt(signum, frame):
        _stop["requested"] = True
        raise KeyboardInterrupt

    def unraisable(info, default=sys.unraisablehook):
        if not (_stop["requested"] and isinstance(info.exc_value, KeyboardInterrupt)):
            default(info)  # a swallowed interrupt is acted on at the next batch: no traceback for it

    _stop["requested"] = False
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    sys.unraisablehook = unraisable


def raise_if_stop_requested() -> None:
    if _stop["requested"]:
        raise KeyboardInterrupt


def rss_mib() -> float:
    """This process's resident memory now (Linux), else its peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
