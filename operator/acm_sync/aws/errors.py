"""Classification of botocore errors into what the engine does next, and stable reasons."""

from __future__ import annotations

import re
from enum import StrEnum

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ValidationError,
)

from acm_sync.core.reasons import Reason


class ErrorClass(StrEnum):
    """What kind of failure a call had."""

    THROTTLED = Reason.THROTTLED  # retry after backoff; nothing was committed
    RETRYABLE = "Retryable"  # 5xx or connection: retry; an import must look up first
    PERMANENT = "Permanent"  # the request is wrong: retrying cannot help
    QUOTA = Reason.QUOTA_EXCEEDED
    NOT_FOUND = Reason.NOT_FOUND
    IN_USE = Reason.RESOURCE_IN_USE
    ACCESS_DENIED = Reason.ACCESS_DENIED
    CREDENTIALS = Reason.NO_CREDENTIALS
    NOT_LEADER = Reason.NOT_LEADER  # refused before sending: this replica may no longer write
    ASSUME_ROLE = Reason.ASSUME_ROLE_FAILED  # a target's role could not be assumed: retry later


_THROTTLING = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
_ACCESS = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
    }
)
_SERVER = frozenset(
    {"InternalFailure", "InternalServerError", "ServiceUnavailable", "RequestTimeout"}
)
_PEM_RE = re.compile(r"-----BEGIN [^-]+-----.*?(?:-----END [^-]+-----|$)", re.S)
_MAX_MESSAGE = 400


def redact(text: str) -> str:
    """AWS's text minus anything that looks like PEM, shortened for a status line."""
    text = _PEM_RE.sub("[PEM redacted]", text)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


class AwsCallError(Exception):
    """A failed ACM call, classified. ``ambiguous``: the call may have taken effect."""

    def __init__(
        self,
        api: str,
        region: str,
        error_class: ErrorClass,
        code: str,
        message: str,
        *,
        ambiguous: bool = False,
    ) -> None:
        self.api = api
        self.region = region
        self.error_class = error_class
        self.code = code
        self.message = redact(message)
        self.ambiguous = ambiguous
        super().__init__(f"{api} in {region}: {code}: {self.message}")

    @property
    def retryable(self) -> bool:
        """Throttling, 5xx and connection failures (the engine decides about imports)."""
        return self.error_class in (ErrorClass.THROTTLED, ErrorClass.RETRYABLE)

    @property
    def reason(self) -> Reason:
        """The stable condition reason for a status line."""
        if self.error_class in (ErrorClass.PERMANENT, ErrorClass.RETRYABLE):
            return Reason.AWS_ERROR
        return Reason(self.error_class)


def classify(exc: Exception, api: str, region: str) -> AwsCallError:
    """Turn any exception from a boto3 call into an :class:`AwsCallError`."""
    if isinstance(exc, AwsCallError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", "")) or code
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _THROTTLING:
            return AwsCallError(api, region, ErrorClass.THROTTLED, code, message)
        if code in _SERVER or status >= 500:
            # The server may have committed before failing: an import must look up first.
            return AwsCallError(api, region, ErrorClass.RETRYABLE, code, message, ambiguous=True)
        if code == "ResourceInUseException":
            return AwsCallError(api, region, ErrorClass.IN_USE, code, message)
        if code == "ResourceNotFoundException":
            return AwsCallError(api, region, ErrorClass.NOT_FOUND, code, message)
        if code == "LimitExceededException":
            return AwsCallError(api, region, ErrorClass.QUOTA, code, message)
        if code in _ACCESS:
            return AwsCallError(api, region, ErrorClass.ACCESS_DENIED, code, message)
        return AwsCallError(api, region, ErrorClass.PERMANENT, code, message)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | NoRegionError):
        return AwsCallError(api, region, ErrorClass.CREDENTIALS, type(exc).__name__, str(exc))
    if isinstance(exc, ParamValidationError | ValidationError):
        # botocore refused the request locally (e.g. a malformed ARN): nothing was sent, and
        # the same request can never succeed.
        return AwsCallError(api, region, ErrorClass.PERMANENT, type(exc).__name__, str(exc))
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        # The request never left: retrying cannot duplicate anything.
        return AwsCallError(api, region, ErrorClass.RETRYABLE, type(exc).__name__, str(exc))
    if isinstance(exc, BotoCoreError | OSError):
        # Read timeouts, closed connections: the request may have been processed.
        name = type(exc).__name__
        return AwsCallError(api, region, ErrorClass.RETRYABLE, name, str(exc), ambiguous=True)
    return AwsCallError(api, region, ErrorClass.PERMANENT, type(exc).__name__, str(exc))
