"""Where kopf keeps what it last handled of an AcmCertificate: in memory, not on the object.

kopf tells a new object from an edit by comparing it with the last handled state (its
"diff base"), by default stored as an annotation, which ``kubectl describe`` then shows to
people as a JSON copy of the spec. acm-sync's create and update handlers only trigger the
object's reconcile, so all it needs is: has this spec (with labels and annotations) been seen?
A digest per object answers that, kept in the process:

- a digest equal to the object's: nothing changed (the current essence is returned, no diff);
- a different digest: changed (an empty essence is returned, so kopf sees a difference);
- no digest (a restart): an object whose status says its generation was handled counts as
  seen, anything else as new, so a restart does not make every object a user's edit.

The annotation an older release wrote is removed the next time the object is handled.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast

import kopf

# What the previous releases stored on every AcmCertificate (handlers.KOPF_PREFIX).
LEGACY_ANNOTATION = "kopf.acmsync.io/last-handled-configuration"


def _digest(essence: Any) -> bytes:
    canonical = json.dumps(essence, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).digest()[:16]


class MemoryDiffBaseStorage(kopf.DiffBaseStorage):
    """kopf's diff base as a 16-byte digest per object uid, in this process only."""

    def __init__(self) -> None:
        super().__init__()
        self._digests: dict[str, bytes] = {}

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        essence = super().build(body=body, extra_fields=extra_fields)
        annotations = cast(dict[str, Any], essence.get("metadata", {}).get("annotations", {}))
        annotations.pop(LEGACY_ANNOTATION, None)
        return essence

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        current = self.build(body=body)
        digest = self._digests.get(str(body.metadata.uid))
        if digest is None:
            status = body.get("status") or {}
            handled = status.get("observedGeneration") == body.metadata.get("generation")
            return current if handled and status.get("observedGeneration") else None
        return current if digest == _digest(current) else cast(kopf.BodyEssence, {})

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        self._digests[str(body.metadata.uid)] = _digest(essence)
        if LEGACY_ANNOTATION in body.metadata.annotations:
            patch.meta.annotations[LEGACY_ANNOTATION] = None

    def forget(self, uid: str) -> None:
        """The object is gone: its digest is no longer needed."""
        self._digests.pop(uid, None)
