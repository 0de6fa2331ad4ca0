"""The Kubernetes API as the kopf layer sees it: a structural type beside ``EngineLike``.

``kubeapi.KubeApi`` is the real one; in-process tests pass a fake with the same methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from acm_sync.controller.platform.kubeapi import JsonObj, ObjectRef


class KubeLike(Protocol):
    """The Kubernetes API calls the kopf layer makes itself (``kubeapi.KubeApi``), blocking.

    Every write is fenced by the Lease; status writes are conditional on resourceVersion.
    """

    def get_acmcert(self, namespace: str, name: str) -> JsonObj | None:
        """The AcmCertificate, or None when it does not exist."""
        ...

    def acmcert_pages(self, namespaces: tuple[str, ...]) -> Iterator[list[JsonObj]]:
        """The AcmCertificates of ``namespaces`` (all when empty), a page at a time."""
        ...

    def patch_acmcert_status(
        self, namespace: str, name: str, status_patch: JsonObj, resource_version: str | None = None
    ) -> JsonObj:
        """Merge-patch ``.status`` (conditional when a resourceVersion is given)."""
        ...

    def patch_status_over(self, read: JsonObj, patch: JsonObj) -> JsonObj | None:
        """Apply a status patch computed from ``read`` only over its status; the object as
        written, or None when another writer's status is in place (nothing written)."""
        ...

    def create_acmcert(self, namespace: str, manifest: JsonObj) -> JsonObj | None:
        """Create; None when one of that name already exists."""
        ...

    def patch_acmcert(self, namespace: str, name: str, patch: JsonObj) -> JsonObj:
        """Merge-patch an AcmCertificate."""
        ...

    def delete_acmcert(self, namespace: str, name: str, uid: str | None = None) -> bool:
        """Delete (guarded by uid); False when it was already gone."""
        ...

    def get_acmtarget(self, name: str) -> JsonObj | None:
        """The AcmTarget, or None."""
        ...

    def list_acmtargets(self) -> list[JsonObj]:
        """Every AcmTarget."""
        ...

    def patch_acmtarget_status(self, name: str, status_patch: JsonObj) -> JsonObj:
        """Merge-patch an AcmTarget's status."""
        ...

    def namespace_labels(self, name: str) -> dict[str, str] | None:
        """A namespace's labels; None if it is gone."""
        ...

    def patch_object(
        self, api: str, plural: str, namespace: str, name: str, patch: JsonObj
    ) -> JsonObj:
        """Merge-patch an Ingress or a Service (wiring); conditional on a resourceVersion."""
        ...

    def get_secret(self, namespace: str, name: str) -> JsonObj | None:
        """The Secret, or None. Its data is key material: never logged, never kept."""
        ...

    def get_secret_metadata(self, namespace: str, name: str) -> JsonObj | None:
        """A Secret's metadata (no data), or None."""
        ...

    def post_event(
        self, ref: ObjectRef, event_type: str, reason: str, message: str, action: str = "Reconcile"
    ) -> None:
        """Post an Event; best effort, never raises."""
        ...
