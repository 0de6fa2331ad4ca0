"""The error the ACM emulator answers a call with, in ACM's JSON protocol."""

from __future__ import annotations


class AcmError(Exception):
    """An error answered to the client as ``{"__type": type, "message": message}``."""

    def __init__(self, error_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status
