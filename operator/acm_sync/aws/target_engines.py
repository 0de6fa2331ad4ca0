"""One engine per AcmTarget: its own assumed-role sessions, rate limiters and region pools.

ACM's rate limits are per account and region, so each target account gets its own engine
(and the operator's own account keeps the original one). An engine is replaced when its
AcmTarget's role or external id changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from acm_sync.aws.adapter import CallObserver
from acm_sync.aws.credentials import AssumeRoleError, TargetSessions
from acm_sync.aws.engine import Engine
from acm_sync.aws.settings import AwsSettings
from acm_sync.core.targets import RoleTarget


class TargetEngines:
    """Engines of the target accounts, created on first use; thread-safe."""

    def __init__(
        self,
        settings: AwsSettings,
        cluster_id: str,
        allowed_roles: Sequence[str] = (),
        observer_for: Callable[[str], CallObserver | None] = lambda account: None,
    ) -> None:
        self._settings = settings
        self._cluster_id = cluster_id
        self._allowed = tuple(allowed_roles)
        self._observer_for = observer_for
        self._lock = threading.Lock()
        self._engines: dict[str, tuple[RoleTarget, Engine, TargetSessions]] = {}

    def _entry(self, target: RoleTarget) -> tuple[RoleTarget, Engine, TargetSessions]:
        stale: Engine | None = None
        with self._lock:
            entry = self._engines.get(target.name)
            if entry is None or entry[0] != target:
                stale = entry[1] if entry is not None else None
                sessions = TargetSessions(target, self._settings, self._cluster_id, self._allowed)
                engine = Engine(
                    self._settings, self._observer_for(target.account), sessions=sessions
                )
                entry = self._engines[target.name] = (target, engine, sessions)
        if stale is not None:
            stale.close(wait=False)
        return entry

    def engine(self, target: RoleTarget) -> Engine:
        """The engine acting in ``target``'s account."""
        return self._entry(target)[1]

    def check(self, target: RoleTarget) -> str | None:
        """Assume ``target``'s role now: None when it worked, else why not (AWS's message)."""
        try:
            self._entry(target)[2].check()
        except AssumeRoleError as err:
            return f"{err.code}: {err.message}"
        return None

    def forget(self, name: str) -> None:
        """An AcmTarget was deleted: drop its engine and cached credentials."""
        with self._lock:
            entry = self._engines.pop(name, None)
        if entry is not None:
            entry[1].close(wait=False)

    def current(self) -> list[tuple[RoleTarget, Engine]]:
        """Every target engine in use (for the sweep)."""
        with self._lock:
            return [(t, e) for t, e, _ in self._engines.values()]

    def close(self) -> None:
        """Stop every target engine's worker threads."""
        with self._lock:
            entries, self._engines = list(self._engines.values()), {}
        for _, engine, _ in entries:
            engine.close()
