"""One boto3 client per region and service (ACM, and the Tagging API's GetResources), from
the default credential chain (or an assumed role).

Credentials come from boto3's chain (environment, IRSA web identity, EKS Pod Identity,
instance profile); endpoints from boto3's own configuration, so ``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_ACM`` and ``AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API`` work;
``AwsSettings.endpoint_url`` overrides them all for tests.
For another account (an AcmTarget) the clients use the target's assumed-role session
(``aws.credentials.TargetSessions``), which signs as the AcmCertificate the engine works for.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Final, Protocol

import boto3
from botocore.config import Config

from acm_sync.aws.settings import AwsSettings

if TYPE_CHECKING:
    from mypy_boto3_acm import ACMClient

ACM: Final = "acm"
TAGGING: Final = "resourcegroupstaggingapi"


class SessionSource(Protocol):
    """Where a target account's session comes from (aws.credentials.TargetSessions)."""

    def session(self) -> boto3.session.Session:
        """The boto3 session acting in the target account."""
        ...

    def invalidate(self) -> None:
        """Forget the current AcmCertificate's credentials (AWS said they are no longer
        valid): the next request assumes the role again."""
        ...


class AcmClients:
    """Lazily created, cached, thread-safe boto3 clients (one per region)."""

    def __init__(self, settings: AwsSettings, sessions: SessionSource | None = None) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        # A target's session asks STS only when a request is signed, never here.
        self._session = sessions.session() if sessions else boto3.session.Session()
        self._clients: dict[tuple[str, str], Any] = {}

    def get(self, region: str) -> ACMClient:
        """The ACM client for ``region`` (created on first use)."""
        client: ACMClient = self.of(region, ACM)
        return client

    def of(self, region: str, service: str) -> Any:
        """The ``service`` client for ``region`` (created on first use).

        The test endpoint override applies to every service: the ACM emulator serves the
        Tagging API at the same URL.
        """
        with self._lock:
            client = self._clients.get((region, service))
            if client is None:
                url, config = self._settings.endpoint_url, self._config(region)
                if service == TAGGING:
                    client = self._session.client(TAGGING, endpoint_url=url, config=config)
                else:
                    client = self._session.client(ACM, endpoint_url=url, config=config)
                self._clients[(region, service)] = client
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
