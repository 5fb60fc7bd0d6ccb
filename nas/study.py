"""Studies: create, load and validate; the run configuration lives in the study's user attributes.

Everything `resume`, `report` and `export` need is in the Optuna storage: the configuration here,
costs and accuracies in trial user attributes, trained models as Optuna artifacts.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

STUDIES_DIR = Path("studies")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
CONFIG_KEY = "nas_config"


class StudyError(ValueError):
    """A study that cannot be created, found or read; the message says what to do."""


@dataclass(frozen=True)
class RunConfig:
    space: str
    space_version: int
    device: dict  # the Device as data, so resume does not depend on a user's board file
    budget: dict  # Budget fields
    data: dict  # Dataset.describe() plus how to reload it
    seed: int = 0
    epochs: int = 30
    trial_time_limit_s: float = 600.0
    artifacts: str = ""  # folder of the artifact store
    sampler: str = "tpe"
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        return cls(**data)


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
    engine = {"connect_args": {"timeout": 120}} if url.startswith("sqlite:") else {}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=60, grace_period=180)
    except (SQLAlchemyError, ImportError, ValueError, OSError) as exc:
        detail = str(exc).splitlines()[0][:160].replace(urlsplit(url).password or "\0", "***")
        raise StudyError(f"cannot open study storage {redact(url)}: {detail}") from None


def create_or_load(name: str, storage_url: str, config: RunConfig, directions=("maximize", "minimize")):
    """Open study `name`; create it with `config` if new. An existing study keeps its own config."""
    import optuna

    validate_name(name)
    storage = _storage(storage_url)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        study = optuna.create_study(study_name=name, storage=storage,
                                    directions=list(directions))
        study.set_user_attr(CONFIG_KEY, config.to_dict())
        return study, config
    stored = read_config(study)
    return study, stored


def load(name: str, storage_url: str):
    import optuna

    validate_name(name)
    if storage_url.startswith("sqlite:///") and not Path(storage_url.removeprefix("sqlite:///")).exists():
        raise StudyError(f"no study named {name!r} (no file {storage_url.removeprefix('sqlite:///')}); "
                         "list studies with `nas studies`")
    storage = _storage(storage_url)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise StudyError(f"no study named {name!r} in {redact(storage_url)}; "
                         "list studies with `nas studies`") from None
    return study, read_config(study)


def read_config(study) -> RunConfig:
    raw = study.user_attrs.get(CONFIG_KEY)
    if not isinstance(raw, dict):
        raise StudyError(f"study {study.study_name!r} was not made by nas (no run configuration)")
    try:
        return RunConfig.from_dict(raw)
    except TypeError as exc:
        raise StudyError(f"study {study.study_name!r} has an unreadable configuration ({exc})") from None


def artifact_store(config: RunConfig):
    from optuna.artifacts import FileSystemArtifactStore

    path = Path(config.artifacts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudyError(f"cannot create the artifact folder {path} ({exc.strerror})") from None
    return FileSystemArtifactStore(str(path))
