"""Credentials for other AWS accounts: AssumeRole per AcmTarget, cached and refreshed.

One STS client per target, built from the operator's own credential chain (IRSA, EKS Pod
Identity, ...). Each AcmCertificate gets its own assumed credentials whose session tags name its
namespace and name (and the cluster), so the target account's policy can scope by
``aws:PrincipalTag/acmsync.io/namespace`` and CloudTrail shows who asked; the session name
names the cluster. botocore refreshes the credentials before they expire.

A target has one boto3 session (so one ACM client per region, whatever the number of
AcmCertificates): its credentials object signs each request with the credentials of the
AcmCertificate named by :data:`current_owner`, which the engine sets around its work. Nothing
of the credentials is ever logged or returned: only the role ARN and the account leave here.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials

from acm_sync.aws.errors import AwsCallError, ErrorClass, classify, redact
from acm_sync.aws.settings import AwsSettings
from acm_sync.core.reasons import Reason
from acm_sync.core.state import Owner
from acm_sync.core.targets import RoleTarget, role_allowed

SESSION_TAG_CLUSTER = "acmsync.io/cluster"
SESSION_TAG_NAMESPACE = "acmsync.io/namespace"
SESSION_TAG_NAME = "acmsync.io/name"
_SESSION_NAME_BAD = re.compile(r"[^\w+=,.@-]")
_MAX_SESSIONS = 4096  # assumed credentials kept per target (least recently used dropped)
_FAILURE_TTL = 15.0  # seconds a refused AssumeRole is remembered: a broken role costs no storm


log = logging.getLogger(__name__)


class _RefusalWithoutTraceback(logging.Filter):
    """botocore logs each failed credential refresh (IRSA's AssumeRoleWithWebIdentity refused,
    the Pod Identity endpoint unreachable) at WARNING with a traceback, on every request. The
    refusal also reaches the AcmCertificate's status and our own start-up line; here it keeps
    one line: botocore's message and the error's."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Fold the exception's text into the message and drop the traceback."""
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = redact(f"{record.getMessage()} {type(exc).__name__}: {exc}")
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("botocore.credentials").addFilter(_RefusalWithoutTraceback())

# The AcmCertificate the calls in this context are made for (None: a sweep of a region).
current_owner: ContextVar[Owner | None] = ContextVar("acm_sync_current_owner", default=None)


class AssumeRoleError(AwsCallError):
    """STS refused the role (or the allowlist did): the pairs of this target fail, with retry."""

    def __init__(self, target: RoleTarget, code: str, message: str) -> None:
        super().__init__("AssumeRole", "sts", ErrorClass.ASSUME_ROLE, code, message)
        self.target = target


def session_name(cluster_id: str) -> str:
    """RoleSessionName: ``acm-sync-<cluster id>``, in STS's alphabet, at most 64 characters."""
    return _SESSION_NAME_BAD.sub("-", f"acm-sync-{cluster_id}")[:64]


def _tag_value(value: str) -> str:
    # Session tag values allow letters, digits, spaces and _ . : / = + - @ (256 at most).
    return re.sub(r"[^\w .:/=+@-]", "-", value)[:256]


class TargetSessions:
    """One target's assumed-role credentials, one set per AcmCertificate (None: sweeps), and
    the one boto3 session that signs with them."""

    def __init__(
        self,
        target: RoleTarget,
        settings: AwsSettings,
        cluster_id: str,
        allowed_roles: Sequence[str] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self._settings = settings
        self._cluster_id = cluster_id
        self._allowed = tuple(allowed_roles)
        self._clock = clock
        self._lock = threading.Lock()
        self._sts: Any = None
        self._credentials: OrderedDict[Owner | None, RefreshableCredentials] = OrderedDict()
        self._session: boto3.session.Session | None = None
        self._failure: tuple[float, AssumeRoleError] | None = None

    def _client(self) -> Any:
        if self._sts is None:
            own = boto3.session.Session()
            self._sts = own.client(
                "sts",
                # IRSA and Pod Identity set AWS_REGION (regional STS endpoint); else the global.
                region_name=own.region_name or "us-east-1",
                endpoint_url=self._settings.endpoint_url,
                config=Config(
                    retries={"total_max_attempts": 2, "mode": "standard"},
                    connect_timeout=self._settings.connect_timeout,
                    read_timeout=self._settings.read_timeout,
                    user_agent_extra="acm-sync",
                ),
            )
        return self._sts

    def _assume(self, owner: Owner | None) -> dict[str, Any]:
        """AssumeRole now; the credentials as botocore's refreshable metadata."""
        target = self.target
        if not role_allowed(target.role_arn, self._allowed):
            raise AssumeRoleError(
                target,
                Reason.ASSUME_ROLE_FAILED,
                f"{target.role_arn} is not in the operator's allowed role ARNs "
                "(--allowed-role-arns); no AssumeRole was sent",
            )
        tags = [{"Key": SESSION_TAG_CLUSTER, "Value": _tag_value(self._cluster_id)}]
        if owner is not None:
            tags.append({"Key": SESSION_TAG_NAMESPACE, "Value": _tag_value(owner.namespace)})
            tags.append({"Key": SESSION_TAG_NAME, "Value": _tag_value(owner.name)})
        params: dict[str, Any] = {
            "RoleArn": target.role_arn,
            "RoleSessionName": session_name(self._cluster_id),
            "Tags": tags,
        }
        if target.external_id:
            params["ExternalId"] = target.external_id
        with self._lock:
            failure = self._failure
        if failure is not None and self._clock() - failure[0] < _FAILURE_TTL:
            # A fresh exception: threads raising one shared instance would mix tracebacks.
            raise AssumeRoleError(target, failure[1].code, failure[1].message)
        try:
            credentials = self._client().assume_role(**params)["Credentials"]
        except Exception as exc:  # classified below; the response never holds a secret here
            err = classify(exc, "AssumeRole", "sts")
            refused = AssumeRoleError(target, err.code, err.message)
            with self._lock:
                self._failure = (self._clock(), refused)
            raise refused from None
        with self._lock:
            self._failure = None
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    def check(self) -> None:
        """Assume the role once (no session kept); raise :class:`AssumeRoleError`."""
        with self._lock:
            self._failure = None  # an explicit check always asks STS
        self._assume(None)

    def credentials(self, owner: Owner | None) -> RefreshableCredentials:
        """The cached credentials for ``owner`` (assumed now if new); raise AssumeRoleError."""
        with self._lock:
            found = self._credentials.get(owner)
            if found is not None:
                self._credentials.move_to_end(owner)
                return found
        created = RefreshableCredentials.create_from_metadata(
            metadata=self._assume(owner),
            refresh_using=lambda: self._assume(owner),
            method="sts-assume-role",
        )
        with self._lock:
            self._credentials[owner] = created
            while len(self._credentials) > _MAX_SESSIONS:
                self._credentials.popitem(last=False)
        return created

    def invalidate(self) -> None:
        """Forget :data:`current_owner`'s credentials: AWS refused them before their expiry
        (a revoked session); the next request assumes the role again."""
        with self._lock:
            self._credentials.pop(current_owner.get(), None)

    def session(self) -> boto3.session.Session:
        """The target's boto3 session, signing as :data:`current_owner`'s credentials."""
        with self._lock:
            if self._session is None:
                core = botocore.session.get_session()
                # botocore has no public setter for a credentials object of one's own; boto3-
                # based tools set this attribute the same way.
                core._credentials = _OwnerCredentials(self)  # type: ignore[attr-defined]
                self._session = boto3.session.Session(botocore_session=core)
            return self._session


class _OwnerCredentials(Credentials):
    """Signs each request with the credentials of the AcmCertificate in ``current_owner``."""

    def __init__(self, sessions: TargetSessions) -> None:
        # No static keys: every use goes through get_frozen_credentials.
        super().__init__(access_key="", secret_key="", method="sts-assume-role")
        self._sessions = sessions

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        """The current owner's credentials, refreshed by botocore when they near expiry."""
        return self._sessions.credentials(current_owner.get()).get_frozen_credentials()


def caller_account(endpoint_url: str | None = None) -> str:
    """The account of the operator's own credentials (GetCallerIdentity); '' when unknown.

    Logged once at start, at INFO, with the caller's ARN and which of boto3's providers found
    the credentials (``env``, ``assume-role-with-web-identity`` for IRSA, ``container-role``
    for EKS Pod Identity, ...): the first thing to check when a Pod acts as the wrong identity.
    Used otherwise only to label metrics: a failure here must not stop the operator.
    """
    session = boto3.session.Session()
    try:
        found = session.get_credentials()
        method = found.method if found is not None else "none"
        sts = session.client(
            "sts",
            endpoint_url=endpoint_url,
            config=Config(
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=3,
                read_timeout=3,
            ),
        )
        identity = sts.get_caller_identity()
    except Exception as exc:  # no credentials, no network, no region: the label stays empty
        err = classify(exc, "GetCallerIdentity", "sts")
        log.warning("AWS identity unknown: %s: %s", err.code, err.message)
        return ""
    account, arn = str(identity["Account"]), str(identity["Arn"])
    log.info("AWS identity: account %s, %s (credentials from %s)", account, arn, method)
    return account
