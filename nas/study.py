"""Studies: create, load and validate; the run configuration lives in the study's user attributes.

Everything `resume`, `report` and `export` need is in the Optuna storage: the configuration here,
costs and accuracies in trial user attributes, trained models as Optuna artifacts.
"""

from __future__ import annotations

import os
import random
import re
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from nas import schema
from nas.config import RunConfig

STUDIES_DIR = Path("studies")
# A running trial's worker writes a heartbeat every HEARTBEAT_S; a trial silent for GRACE_S (its worker
# was killed, or its machine died) is failed by the next worker to start a trial, and its parameters
# are queued again (up to MAX_RETRY times).
# NAS_GRACE_S tunes the grace for a cluster whose workers may stall longer (or for tests, shorter).
GRACE_S = int(os.environ.get("NAS_GRACE_S", "60"))
HEARTBEAT_S = max(1, min(10, GRACE_S // 4))
MAX_RETRY = 2
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class StudyError(ValueError):
    """A study that cannot be created, found or read; the message says what to do."""


def validate_name(name: str) -> str:
    if not _NAME.match(name) or ".." in name:
        raise StudyError(f"invalid study name {name!r}: use letters, digits, '_', '-' and '.', "
                         "no path separators or '..'")
    return name


def default_storage(name: str, studies_dir: Path = STUDIES_DIR) -> str:
    return f"sqlite:///{studies_dir / name}.db"


def redact(url: str) -> str:
    """A storage URL safe to print: the password replaced by ***."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _storage(url: str):
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    from nas.quiet import verbose

    if not verbose():  # Optuna's own INFO lines ("A new study created ...") are not for our users
        optuna.logging.set_verbosity(optuna.logging.WARNING)

    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if path.exists():
            head = path.read_bytes()[:16]
            if head and not head.startswith(b"SQLite format 3"):
                raise StudyError(f"study file {path} is not an SQLite database (corrupt or foreign "
                                 "file); move it aside or pass --storage to use another")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StudyError(f"cannot create folder {path.parent} for the study ({exc.strerror}); "
                             "pass --storage with a writable location") from None
    # several worker processes share one SQLite file: wait for its lock instead of failing at once
    engine = {"connect_args": {"timeout": 120}} if url.startswith("sqlite:") else {"pool_pre_ping": True}
    for attempt in range(6):
        try:
            # heartbeat options are flagged experimental by Optuna; users need not see that on every command
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    _with_driver(url), engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                        max_retry=MAX_RETRY))
            if url.startswith("sqlite:"):
                _lock_on_begin(storage.engine)
            return storage
        except SQLAlchemyError as exc:
            if not _creation_race(exc):
                raise StudyError(f"cannot open study storage {redact(url)}: {_detail(exc, url)}") from None
            # workers starting together on a new database race to create its tables: wait and retry
            if attempt == 5:
                raise StudyError(f"cannot create the tables of {redact(url)}: other workers kept racing; "
                                 "start one worker first, the others once it runs") from None
            time.sleep(0.3 * (attempt + 1) + random.random())
        except (ImportError, ValueError, OSError) as exc:
            hint = ("; install the driver: pip install 'mcu-nas[postgres]'"
                    if "import" in str(exc).lower() and url.startswith("postgresql") else "")
            raise StudyError(f"cannot open study storage {redact(url)}: {_detail(exc, url)}{hint}") from None


def _lock_on_begin(engine) -> None:
    """Every SQLite transaction takes the write lock when it begins (BEGIN IMMEDIATE). Optuna hands a queued
    (waiting) trial to a process by reading that it is WAITING and then writing RUNNING in one transaction;
    SQLite's default deferred transaction takes the lock only at the write, so two processes could both read
    WAITING and both run the trial (measured: 4 processes popping 60 queued trials popped 72 and 77).
    The recipe is SQLAlchemy's for pysqlite: stop the driver's own BEGIN, emit ours."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_driver_begin(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened while the storage was created had the driver's BEGIN


def _creation_race(exc) -> bool:
    """Another process created the same tables (or version row) a moment before this one."""
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    text = str(exc).lower()
    return isinstance(exc, IntegrityError | ProgrammingError) or (
        isinstance(exc, OperationalError) and ("already exists" in text or "database is locked" in text))


def _with_driver(url: str) -> str:
    """postgresql:// means the driver our `postgres` extra installs (psycopg 3), whatever SQLAlchemy's
    default for the bare scheme is (psycopg2 before 2.1, psycopg from 2.1)."""
    return "postgresql+psycopg://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url


def _detail(exc: Exception, url: str) -> str:
    """The first line of a database error, with the URL's password masked wherever it appears."""
    text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


def create_or_load(name: str, storage_url: str, config: RunConfig, directions=("maximize", "minimize")):
    """Open study `name`; create it with `config` if new. An existing study keeps its own config."""
    import optuna

    validate_name(name)
    storage = _storage(storage_url)
    with _database_errors(storage_url):
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            try:
                study = optuna.create_study(study_name=name, storage=storage, directions=list(directions))
            except optuna.exceptions.DuplicatedStudyError:  # another worker created it just now
                study = optuna.load_study(study_name=name, storage=storage)
            else:
                schema.write_config(study, config.to_dict())
                return study, config
    for _ in range(50):  # a worker that lost the creation race may see the study before its config
        if schema.has_config(study):
            break
        time.sleep(0.1)
    return study, read_config(study)


@contextmanager
def _database_errors(url: str):
    """Turn a database failure (corrupt file, lost server) into a one-line StudyError."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        raise StudyError(f"study storage {redact(url)} cannot be read ({_detail(exc, url)}); "
                         "if it is a file, it may be corrupt: move it aside and start a new study") from None


def open_for_search(name: str, storage_url: str, config: RunConfig, directions) -> tuple:
    """The study `name` for a search with `config`: created with it if new; an existing one continues
    with its own stored configuration, provided it searched the same space, device and budget, with the
    space version this nas builds. Returns (study, config, is_new)."""
    study, stored = create_or_load(name, storage_url, config, directions=directions)
    if stored is config:
        return study, config, True
    for key in ("space", "device", "budget"):
        if getattr(stored, key) != getattr(config, key):
            value = getattr(stored, key)
            raise StudyError(f"study {name!r} exists with another {key} ({getattr(value, 'name', value)}); "
                             f"pass --study NEW for a new study or `nas resume {name}` to continue it as it was")
    check_space_version(name, stored)
    return study, stored, False


def check_space_version(name: str, config: RunConfig) -> None:
    """New trials of an old study must build the nets its trials were built as."""
    from search_spaces import buildable, get_space

    versions = buildable(get_space(config.space))
    if config.space_version not in versions:
        raise StudyError(f"study {name!r} searched {config.space} v{config.space_version} and this nas builds "
                         f"v{', v'.join(map(str, versions))}; its trials cannot be continued: start a new study "
                         f"with --study NEW (report, show and export of {name!r} still work)")


def load(name: str, storage_url: str):
    import optuna

    validate_name(name)
    if storage_url.startswith("sqlite:///") and not Path(storage_url.removeprefix("sqlite:///")).exists():
        raise StudyError(f"no study named {name!r} (no file {storage_url.removeprefix('sqlite:///')}); "
                         "list studies with `nas studies`")
    storage = _storage(storage_url)
    with _database_errors(storage_url):
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            raise StudyError(f"no study named {name!r} in {redact(storage_url)}; "
                             "list studies with `nas studies`") from None
        return study, read_config(study)


def read_config(study) -> RunConfig:
    raw = schema.StudyRecord.read(study).config
    if not isinstance(raw, dict):
        raise StudyError(f"study {study.study_name!r} was not made by nas (no run configuration)")
    try:
        return RunConfig.from_dict(raw)
    except (TypeError, ValueError, KeyError) as exc:
        raise StudyError(f"study {study.study_name!r} has an unreadable configuration ({exc})") from None


def artifact_store(config: RunConfig):
    from optuna.artifacts import FileSystemArtifactStore

    path = Path(config.artifacts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudyError(f"cannot create the artifact folder {path} ({exc.strerror})") from None
    return FileSystemArtifactStore(str(path))
