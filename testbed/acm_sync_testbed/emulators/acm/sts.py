"""STS for the ACM emulator: AssumeRole and GetCallerIdentity at the same endpoint.

AWS decides which account a request acts in from the credentials that signed it; so does the
emulator. Credentials it issued through AssumeRole act in the role's account; any other access
key acts in the emulator's own account (:data:`ACCOUNT_ID`). A trust policy is emulated as a
set of role ARNs that may be assumed, each with the external id it requires (or none).
Nothing secret is ever logged: the session record keeps the access key id (as CloudTrail does),
the role, the session name and the session tags.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

ACCOUNT_ID = "123456789012"
_ROLE_ARN_RE = re.compile(r"arn:aws[a-z-]*:iam::(?P<account>[0-9]{12}):role/(?P<name>[\w+=,.@/-]+)")
_SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}")
_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
DEFAULT_DURATION = 3600


class StsError(Exception):
    """An STS error answer (query protocol XML)."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Session:
    """One set of assumed credentials: who they act as, and until when."""

    access_key_id: str
    account: str
    role_arn: str
    session_name: str
    tags: Mapping[str, str]
    external_id_sent: bool
    expires_at: float

    def as_dict(self) -> dict[str, Any]:
        """A test's view (no secret key, no token)."""
        return {
            "access_key_id": self.access_key_id,
            "account": self.account,
            "role_arn": self.role_arn,
            "session_name": self.session_name,
            "tags": dict(self.tags),
            "external_id_sent": self.external_id_sent,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True, slots=True)
class Issued:
    """A session just issued, with its secret parts (answered once, never stored)."""

    session: Session
    secret_access_key: str
    session_token: str

    @property
    def expiration(self) -> str:
        """The expiry as STS writes it (ISO 8601, UTC)."""
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.session.expires_at))

    @property
    def assumed_role_arn(self) -> str:
        """arn:aws:sts::<account>:assumed-role/<role name>/<session name>."""
        role_name = self.session.role_arn.rsplit("/", 1)[1]
        return (
            f"arn:aws:sts::{self.session.account}:assumed-role/{role_name}/"
            f"{self.session.session_name}"
        )

    def credentials_xml(self) -> str:
        """The <Credentials> element of an AssumeRole* answer."""
        return (
            "<Credentials>"
            f"<AccessKeyId>{self.session.access_key_id}</AccessKeyId>"
            f"<SecretAccessKey>{self.secret_access_key}</SecretAccessKey>"
            f"<SessionToken>{self.session_token}</SessionToken>"
            f"<Expiration>{self.expiration}</Expiration>"
            "</Credentials>"
        )

    def assumed_role_user_xml(self) -> str:
        """The <AssumedRoleUser> element of an AssumeRole* answer."""
        key_id, name = self.session.access_key_id, self.session.session_name
        return (
            f"<AssumedRoleUser><Arn>{escape(self.assumed_role_arn)}</Arn>"
            f"<AssumedRoleId>AROA{key_id[4:]}:{escape(name)}</AssumedRoleId>"
            "</AssumedRoleUser>"
        )


@dataclass
class Sts:
    """Trusted roles, issued sessions and their accounts. Thread-safe."""

    # role ARN -> the external id its trust policy requires (None: none required)
    roles: dict[str, str | None] = field(default_factory=dict)
    clock: Any = time.time

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._configured = dict(self.roles)
        self._sessions: dict[str, Session] = {}
        self._duration_override: int | None = None

    # ----- control -----
    def reset(self) -> None:
        """Forget sessions and roles trusted after construction."""
        with self._lock:
            self.roles = dict(self._configured)
            self._sessions.clear()
            self._duration_override = None

    def trust(self, role_arn: str, external_id: str | None = None) -> None:
        """Let ``role_arn`` be assumed (with ``external_id`` when given)."""
        if not _ROLE_ARN_RE.fullmatch(role_arn):
            raise ValueError(f"{role_arn!r} is not an IAM role ARN")
        with self._lock:
            self.roles[role_arn] = external_id

    def distrust(self, role_arn: str) -> None:
        """Refuse AssumeRole for ``role_arn`` from now on (sessions already issued keep going)."""
        with self._lock:
            self.roles.pop(role_arn, None)

    def set_duration(self, seconds: int | None) -> None:
        """Issue sessions lasting ``seconds`` whatever was asked (None: as asked)."""
        with self._lock:
            self._duration_override = seconds

    def expire_sessions(self) -> None:
        """Make every issued session expired now (its next use: ExpiredTokenException)."""
        with self._lock:
            now = self.clock()
            for key, session in self._sessions.items():
                self._sessions[key] = Session(**{**session.as_dict(), "expires_at": now - 1})

    def sessions(self) -> list[Session]:
        """Every session issued, oldest first."""
        with self._lock:
            return list(self._sessions.values())

    # ----- requests -----
    def account_of(self, access_key_id: str | None) -> str:
        """The account a request signed with ``access_key_id`` acts in; raise when expired."""
        with self._lock:
            session = self._sessions.get(access_key_id or "")
            if session is None:
                if (access_key_id or "").startswith("ASIA"):
                    raise StsError(
                        "UnrecognizedClientException",
                        "The security token included in the request is invalid.",
                    )
                return ACCOUNT_ID
            if session.expires_at <= self.clock():
                raise StsError(
                    "ExpiredTokenException", "The security token included in the request is expired"
                )
            return session.account

    def caller_arn(self, access_key_id: str | None) -> tuple[str, str]:
        """(account, ARN) of the caller, as GetCallerIdentity answers."""
        account = self.account_of(access_key_id)
        with self._lock:
            session = self._sessions.get(access_key_id or "")
        if session is None:
            return account, f"arn:aws:iam::{account}:user/emulator"
        role_name = session.role_arn.rsplit("/", 1)[1]
        return account, f"arn:aws:sts::{account}:assumed-role/{role_name}/{session.session_name}"

    def handle(self, access_key_id: str | None, params: Mapping[str, str]) -> str:
        """Answer one STS query-protocol request with its XML body; raise StsError."""
        action = params.get("Action", "")
        if action == "GetCallerIdentity":
            account, arn = self.caller_arn(access_key_id)
            return xml_answer(
                action,
                f"<Arn>{escape(arn)}</Arn><UserId>{escape(access_key_id or '')}</UserId>"
                f"<Account>{account}</Account>",
            )
        if action == "AssumeRole":
            return self._assume_role(access_key_id, params)
        raise StsError("InvalidAction", f"Could not find operation {action}", 400)

    def _assume_role(self, access_key_id: str | None, params: Mapping[str, str]) -> str:
        _, caller = self.caller_arn(access_key_id)
        role_arn = params.get("RoleArn", "")
        session_name = params.get("RoleSessionName", "")
        match = _ROLE_ARN_RE.fullmatch(role_arn)
        if match is None:
            raise StsError("ValidationError", f"{role_arn!r} is not a valid role ARN", 400)
        if not _SESSION_NAME_RE.fullmatch(session_name):
            raise StsError("ValidationError", "RoleSessionName is not valid", 400)
        tags = _session_tags(params)
        denied = StsError(
            "AccessDenied",
            f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        )
        external_id = params.get("ExternalId")
        with self._lock:
            if role_arn not in self.roles:
                raise denied
            required = self.roles[role_arn]
            if required is not None and external_id != required:
                raise denied
        issued = self.issue(
            role_arn, session_name, tags, int(params.get("DurationSeconds") or DEFAULT_DURATION),
            external_id_sent=external_id is not None,
        )  # fmt: skip
        return xml_answer(
            "AssumeRole",
            issued.credentials_xml()
            + issued.assumed_role_user_xml()
            + f"<PackedPolicySize>{len(tags)}</PackedPolicySize>",
        )

    def issue(
        self,
        role_arn: str,
        session_name: str,
        tags: Mapping[str, str],
        duration: int,
        *,
        external_id_sent: bool = False,
    ) -> Issued:
        """New credentials acting as ``role_arn`` (trust already checked by the caller)."""
        match = _ROLE_ARN_RE.fullmatch(role_arn)
        if match is None:
            raise StsError("ValidationError", f"{role_arn!r} is not a valid role ARN", 400)
        with self._lock:
            key_id = "ASIA" + secrets.token_hex(8).upper()
            expires = self.clock() + (self._duration_override or duration)
            session = Session(
                key_id,
                match.group("account"),
                role_arn,
                session_name,
                dict(tags),
                external_id_sent,
                expires,
            )
            self._sessions[key_id] = session
        return Issued(session, secrets.token_hex(20), secrets.token_hex(32))


def _session_tags(params: Mapping[str, str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    n = 1
    while f"Tags.member.{n}.Key" in params:
        tags[params[f"Tags.member.{n}.Key"]] = params.get(f"Tags.member.{n}.Value", "")
        n += 1
    if len(tags) > 50:
        raise StsError("ValidationError", "Too many session tags", 400)
    return tags


def xml_answer(action: str, result: str) -> str:
    """A query-protocol answer document for ``action`` with ``result`` inside."""
    return (
        f'<{action}Response xmlns="{_NS}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>{secrets.token_hex(16)}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )


def error_xml(err: StsError) -> str:
    """The query protocol's error document."""
    return (
        f'<ErrorResponse xmlns="{_NS}"><Error><Type>Sender</Type><Code>{err.code}</Code>'
        f"<Message>{escape(err.message)}</Message></Error>"
        f"<RequestId>{secrets.token_hex(16)}</RequestId></ErrorResponse>"
    )
