"""Where an Optuna study lives (``hydra.sweeper.storage``), opened the same way by the sweeper and by a trial's job.

- null: a journal file ``optuna.journal`` in the sweep directory (every launcher can prune; the study
  outlives the sweep);
- ``journal:<path>`` or a path ending in ``.journal``/``.log``: Optuna's journal file, safe for several
  processes on one machine or on a shared (NFS) filesystem (its lock is a symlink, which NFS makes atomic);
- an SQLAlchemy URL (``sqlite:///optuna.db``, ``postgresql://user@host/db``, ``mysql+pymysql://...``): an RDB.

Never put a password in the URL: it would be recorded with the sweep's config; use PGPASSWORD or ~/.pgpass.
"""

from __future__ import annotations

import logging
import os
import random
import time
from pathlib import Path
from typing import Any

from convlab.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_JOURNAL = "optuna.journal"
JOURNAL_PREFIX = "journal:"
JOURNAL_SUFFIXES = (".journal", ".log")
CONNECT_TIMEOUT_S = 5  # an unreachable database server is bad input, answered within seconds, not a hang
SCHEMA_RETRIES = 8  # two workers creating a new RDB's tables at the same moment: the loser retries
OPEN_RETRY_S = 2.0  # between attempts to open an RDB storage whose server is restarting
# The SQL dialects whose driver takes libpq's/MySQL's connect_timeout (seconds).
CONNECT_TIMEOUT_DIALECTS = ("postgresql", "mysql", "mariadb")


def storage_spec(storage: str | None, sweep_dir: str | Path) -> str:
    """The storage as given, or the default journal file in the sweep directory."""
    # absolute: a job in another process (joblib, submitit) must find the same file whatever its directory
    return str(storage) if storage else f"{JOURNAL_PREFIX}{Path(sweep_dir).absolute() / DEFAULT_JOURNAL}"


def journal_path(spec: str) -> Path | None:
    """The journal file a storage names, or None for an RDB URL."""
    if spec.startswith(JOURNAL_PREFIX):
        rest = spec[len(JOURNAL_PREFIX) :]
        return Path(rest[2:] if rest.startswith("//") else rest)  # journal:///abs/path and journal:rel/path
    if "://" not in spec and spec.endswith(JOURNAL_SUFFIXES):
        return Path(spec)
    return None


def describe(spec: str) -> str:
    """The storage for messages, its password (if any) hidden."""
    if journal_path(spec) is not None:
        return spec
    try:
        from sqlalchemy.engine import make_url

        return make_url(spec).render_as_string(hide_password=True)
    except Exception:
        return spec.split("@")[-1]


def open_storage(spec: str, grace_s: float | None = None, wait_to_open: bool = False) -> Any:
    """The Optuna storage ``spec`` names, created if new; ConfigError (one line) when it cannot be opened. An RDB's
    calls are retried across a dropped connection for ``grace_s`` seconds (default STORAGE_GRACE_S); with
    ``wait_to_open`` (a sweep's workers and jobs, not the pre-check) so is opening it."""
    from convlab.sweeps.retrying_storage import STORAGE_GRACE_S, RetryingStorage

    path = journal_path(spec)
    if path is not None:
        return _journal(path)
    if "://" not in spec:
        raise ConfigError(
            f"hydra.sweeper.storage={spec}: neither an SQLAlchemy URL (sqlite:///optuna.db, postgresql://host/db) "
            "nor a journal file (journal:<path> or a path ending in .journal)"
        )
    grace = STORAGE_GRACE_S if grace_s is None else grace_s
    return RetryingStorage(_cached(_rdb(spec, grace if wait_to_open else 0.0)), grace)


def _cached(storage: Any) -> Any:
    """Optuna's cache over an RDB storage, as optuna.create_study(storage=<url>) would add it (fewer queries)."""
    try:
        from optuna.storages._cached_storage import _CachedStorage
    except ImportError:  # a private module of Optuna's: without it, every call is a query
        return storage
    return _CachedStorage(storage)


def _journal(path: Path) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if not path.parent.is_dir():
        raise ConfigError(f"Optuna journal {path}: no directory {path.parent}; create it or choose another path")
    try:
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as e:
        raise ConfigError(f"Optuna journal {path}: cannot open it ({e.strerror or e})") from None


def _rdb(url: str, open_grace_s: float = 0.0) -> Any:
    """Optuna's RDB storage; with ``open_grace_s`` a server that refuses connections (restarting) is asked again
    until then, else (the pre-check: bad input) the first failure is one line."""
    import sqlalchemy.exc
    from optuna.storages import RDBStorage

    from convlab.sweeps.retrying_storage import transient

    # A pooled connection is checked before use: after a database restart the pool holds only dead ones (Optuna
    # turns pool_pre_ping on for MySQL only).
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    if dialect in CONNECT_TIMEOUT_DIALECTS:
        engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    elif dialect == "sqlite":
        engine_kwargs["connect_args"] = {"timeout": 60}  # wait for another worker's write lock, do not fail
    deadline = time.monotonic() + open_grace_s
    attempt = 0
    while True:
        attempt += 1
        try:
            return RDBStorage(url, engine_kwargs=engine_kwargs)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError) as e:
            if _schema_race(e) and attempt < SCHEMA_RETRIES:
                log.info("Optuna storage %s: another worker is creating its tables; retrying", describe(url))
                time.sleep(random.uniform(0.2, 1.0) * attempt)
            elif transient(e) and time.monotonic() + OPEN_RETRY_S < deadline:  # a job opening it mid-restart
                log.warning("Optuna storage %s: cannot connect (%s); retrying", describe(url), _first_line(e))
                time.sleep(OPEN_RETRY_S)
            else:
                raise ConfigError(f"Optuna storage {describe(url)}: cannot open it ({_first_line(e)})") from None
        except ImportError as e:  # Optuna wraps the driver's ModuleNotFoundError in an ImportError of its own
            hint = " (pip install -e '.[postgres]')" if dialect == "postgresql" else ""
            missing = e.__cause__ if isinstance(e.__cause__, ImportError) else e
            raise ConfigError(
                f"Optuna storage {describe(url)}: its database driver is missing: {missing}{hint}"
            ) from None
        except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ValueError) as e:
            raise ConfigError(f"Optuna storage {describe(url)}: not a usable URL ({_first_line(e)})") from None


def _schema_race(e: Exception) -> bool:
    """Whether an error is two processes creating the same tables (or one holding sqlite's lock)."""
    text = str(e).lower()
    return any(s in text for s in ("unique constraint", "duplicate key", "already exists", "database is locked"))


def _first_line(e: Exception) -> str:
    text = str(getattr(e, "orig", None) or e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def worker_tag() -> str:
    """This worker, for the study's records: host and process id."""
    return f"{os.uname().nodename}:{os.getpid()}"
