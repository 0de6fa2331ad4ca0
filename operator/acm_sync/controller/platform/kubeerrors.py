"""What the Kubernetes API's refusals mean to the operator: the errors its calls raise, and how
to tell a namespace being deleted from a refusal worth telling a user about."""

from __future__ import annotations


class KubeError(Exception):
    """A Kubernetes API call failed with an unexpected status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def namespace_terminating(exc: KubeError) -> bool:
    """Whether a create was refused because its namespace is being deleted (the API server's
    namespace lifecycle admission: 403, a message that has said so since Kubernetes 1.0)."""
    return exc.status == 403 and "because it is being terminated" in str(exc)


class Conflict(KubeError):
    """A conditional write found the object changed since it was read (HTTP 409)."""


class NotLeader(Exception):
    """A write refused before sending: this replica may no longer write (see ``write_guard``)."""
