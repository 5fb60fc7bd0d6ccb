"""Keeping other libraries' chatter off the user's terminal: TensorFlow's absl and oneDNN notices at
import, tf.function retracing warnings, Keras and converter `UserWarning`s, Optuna's INFO lines.

`nas --verbose` (environment NAS_VERBOSE=1, which worker processes inherit) lets all of it through.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

VERBOSE_ENV = "NAS_VERBOSE"


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV) == "1"


def quiet_logs() -> None:
    """Python-level filters (warnings, loggers) for this process; called again in each worker process,
    which does not inherit them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose() else "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if verbose():
        return
    for module in ("keras", "tensorflow", "optuna", "absl", "h5py"):
        warnings.filterwarnings("ignore", module=module)
    warnings.filterwarnings("ignore", message=r".* is experimental")  # Optuna's, raised from our calls
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    logging.getLogger("optuna").setLevel(logging.WARNING)


def import_tensorflow() -> None:
    """Import TensorFlow once with the process's stderr file descriptor set aside: its C++ start-up
    notices ("All log messages before absl::InitializeLog()", oneDNN) go to fd 2 before any setting
    can stop them. Anything else it wrote there is passed on."""
    quiet_logs()
    if "tensorflow" in sys.modules or verbose():
        import tensorflow  # noqa: F401

        return
    from nas._capture import captured_fds

    with captured_fds(2) as text:
        import tensorflow  # noqa: F401
    rest = [line for line in text[0].splitlines() if line.strip() and not _notice(line)]
    if rest:
        print("\n".join(rest), file=sys.stderr)


def _notice(line: str) -> bool:
    return ("absl::InitializeLog" in line or "oneDNN custom operations" in line
            or line.startswith(("I0000", "W0000")))
