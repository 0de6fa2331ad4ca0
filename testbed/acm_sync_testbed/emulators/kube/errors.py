"""Kubernetes ``Status`` failures, raised by storage and turned into HTTP answers by handlers."""

from __future__ import annotations

from typing import Any

_REASONS = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
}


class ApiError(Exception):
    """An API failure with the code, reason and message the API server would answer."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.details = details

    def status(self) -> dict[str, Any]:
        """The ``Status`` object for the response body (or a watch ERROR event)."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(kind: str, name: str, group: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    return details


def not_found(plural: str, name: str, group: str = "") -> ApiError:
    """``<plural>.<group> "name" not found`` as the API server words it."""
    what = f"{plural}.{group}" if group else plural
    return ApiError(404, f'{what} "{name}" not found', details=_details(plural, name, group))


def already_exists(plural: str, name: str, group: str = "") -> ApiError:
    """409 AlreadyExists for a create of an existing name."""
    what = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        f'{what} "{name}" already exists',
        reason="AlreadyExists",
        details=_details(plural, name, group),
    )


def conflict(plural: str, name: str, group: str = "") -> ApiError:
    """409 Conflict for a stale resourceVersion (optimistic concurrency)."""
    what = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {what} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        reason="Conflict",
        details=_details(plural, name, group),
    )


def invalid(kind: str, name: str, field: str, message: str, group: str = "") -> ApiError:
    """422 Invalid with one field cause."""
    details = _details(kind, name, group)
    details["causes"] = [{"reason": "FieldValueInvalid", "message": message, "field": field}]
    return ApiError(422, f'{kind} "{name}" is invalid: {field}: {message}', details=details)


def too_long(kind: str, name: str, field: str, limit: int) -> ApiError:
    """422 Invalid with one FieldValueTooLong cause, worded as field.TooLong words it."""
    detail = f"Too long: may not be more than {limit} bytes"
    details = _details(kind, name, "")
    details["causes"] = [{"reason": "FieldValueTooLong", "message": detail, "field": field}]
    return ApiError(422, f'{kind} "{name}" is invalid: {field}: {detail}', details=details)


def gone(message: str = "too old resource version") -> ApiError:
    """410 Gone: the requested resourceVersion is older than the event log holds."""
    return ApiError(410, message, reason="Expired")
