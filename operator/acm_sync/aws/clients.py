"""One boto3 ACM client per region, from the default credential chain (or an assumed role).

Credentials come from boto3's chain (environment, IRSA web identity, EKS Pod Identity,
instance profile); endpoints from boto3's own configuration, so ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_ACM`` work. ``AwsSettings.endpoint_url`` overrides both for tests.
For another account (an AcmTarget) the clients use assumed-role sessions, one per
AcmCertificate (session tags name it): :data:`current_owner` says which, set by the engine.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

import boto3
from botocore.config import Config

from acm_sync.aws.settings import AwsSettings
from acm_sync.core.state import Owner

if TYPE_CHECKING:
    from mypy_boto3_acm import ACMClient

# The AcmCertificate the calls in this context are made for (None: a sweep of a region).
current_owner: ContextVar[Owner | None] = ContextVar("acm_sync_current_owner", default=None)
_MAX_TARGET_CLIENTS = 1024


class SessionSource(Protocol):
    """Where a target account's sessions come from (aws.credentials.TargetSessions)."""

    def session(self, owner: Owner | None) -> boto3.session.Session:
        """The session to act for ``owner``; raises when the role cannot be assumed."""
        ...


class AcmClients:
    """Lazily created, cached, thread-safe boto3 clients (one per region)."""

    def __init__(self, settings: AwsSettings, sessions: SessionSource | None = None) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._session = boto3.session.Session()
        self._clients: dict[str, ACMClient] = {}
        self._sessions = sessions
        self._target_clients: OrderedDict[tuple[str, Owner | None], ACMClient] = OrderedDict()

    def get(self, region: str) -> ACMClient:
        """The client for ``region`` (created on first use)."""
        if self._sessions is not None:
            return self._target_client(region)
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                client = self._session.client(
                    "acm", endpoint_url=self._settings.endpoint_url, config=self._config(region)
                )
                self._clients[region] = client
            return client

    def _target_client(self, region: str) -> ACMClient:
        assert self._sessions is not None
        key = (region, current_owner.get())
        with self._lock:
            found = self._target_clients.get(key)
            if found is not None:
                self._target_clients.move_to_end(key)
                return found
        # Outside the lock: assuming the role is a network call.
        session = self._sessions.session(key[1])
        client = session.client(
            "acm", endpoint_url=self._settings.endpoint_url, config=self._config(region)
        )
        with self._lock:
            self._target_clients[key] = client
            while len(self._target_clients) > _MAX_TARGET_CLIENTS:
                self._target_clients.popitem(last=False)
        return client

    def _config(self, region: str) -> Config:
        return Config(
            region_name=region,
            # ImportCertificate is not idempotent: an SDK retry after a read timeout can
            # create a second certificate. The engine retries itself, looking up by owner tag
            # first; the SDK must send each request exactly once.
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=self._settings.connect_timeout,
            read_timeout=self._settings.read_timeout,
            max_pool_connections=max(10, self._settings.region_workers * 2),
            user_agent_extra="acm-sync",
        )
