"""An RDB storage that rides out a database restart: every call (ask, tell, report, should_prune, set_user_attr,
the lease) that fails on a dropped connection is retried with backoff for a grace period (``storage_grace_s``,
60 s by default: longer than a PostgreSQL restart) before it counts as a failure.

The engine checks a pooled connection before using it (``pool_pre_ping``, sweeps/storage.py); a connection that
breaks during a call still raises, which is what this wrapper is for. A call the server committed but whose
answer was lost is repeated: harmless for every call but ``create_new_trial`` (an extra trial, left RUNNING
without a job: sweeps/liveness.py fails it).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from optuna.storages import BaseStorage

log = logging.getLogger(__name__)

STORAGE_GRACE_S = 60.0
FIRST_WAIT_S = 0.5
LONGEST_WAIT_S = 5.0


def transient(error: BaseException) -> bool:
    """Whether an error is a lost or refused database connection (worth retrying), not a refusal of the call."""
    import sqlalchemy.exc as sa

    seen: list[BaseException] = []
    while error is not None and error not in seen:  # Optuna raises StorageInternalError from SQLAlchemy's error
        seen.append(error)
        if isinstance(error, (sa.OperationalError, sa.InterfaceError, sa.DisconnectionError, ConnectionError)):
            return True
        if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
            return True
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return False


def with_retries(call: Callable[[], Any], what: str, grace_s: float, sleep: Callable[[float], None]) -> Any:
    """``call()``, retried while it fails with a transient error and ``grace_s`` has not passed."""
    deadline = time.monotonic() + grace_s
    wait = FIRST_WAIT_S
    while True:
        try:
            return call()
        except Exception as e:
            if not transient(e) or time.monotonic() + wait > deadline:
                raise
            log.warning("Optuna storage: %s lost its connection (%s); retrying in %.1f s", what, type(e).__name__, wait)
            sleep(wait * random.uniform(0.8, 1.2))
            wait = min(wait * 2, LONGEST_WAIT_S)


class RetryingStorage(BaseStorage):
    """Every BaseStorage call of ``inner`` with retries (see the module docstring); anything else passes through."""

    def __init__(
        self, inner: BaseStorage, grace_s: float = STORAGE_GRACE_S, sleep: Callable[[float], None] = time.sleep
    ):
        self._inner, self._grace_s, self._sleep = inner, float(grace_s), sleep

    def __getattr__(self, name: str) -> Any:  # RDBStorage's own methods (heartbeats, engine, url)
        return getattr(self._inner, name)

    def _retry(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self._inner, name)
        return with_retries(lambda: method(*args, **kwargs), name, self._grace_s, self._sleep)


def _delegate(name: str) -> Callable[..., Any]:
    def method(self: RetryingStorage, *args: Any, **kwargs: Any) -> Any:
        return self._retry(name, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"BaseStorage.{name}, retried across a dropped connection."
    return method


# Every public method of BaseStorage, the abstract ones and those with a default built on them (which the inner
# storage may do in one query, e.g. _CachedStorage's get_all_trials).
for _name in [n for n in vars(BaseStorage) if not n.startswith("_") and callable(getattr(BaseStorage, n))]:
    setattr(RetryingStorage, _name, _delegate(_name))
RetryingStorage.__abstractmethods__ = frozenset()
