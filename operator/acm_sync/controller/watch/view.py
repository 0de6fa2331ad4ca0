"""What the watch has shown: the latest AcmCertificates, the facts of TLS Secrets, who reads what.

kopf streams every AcmCertificate and TLS Secret (the initial listing, then each change); the
reconcile reads the object from here instead of GETting it, and reads the Secret only when it
needs its material. Per object this keeps the body as compressed compact JSON (no
managedFields, no kopf bookkeeping) and, per Secret, a few facts and a content hash: never the
Secret's data, whose key material lives only as long as the event handler or the reconcile that
reads it.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acm_sync.controller.platform.kubeapi import JsonObj
from acm_sync.controller.watch import annotations as ann
from acm_sync.controller.watch.workqueue import Key

# A status is mostly ARNs, fingerprints and times repeated per region: zlib's fastest level
# keeps about a third of the JSON (0.85 KB instead of 2.6 KB at three regions), and reading
# it back costs a few microseconds beside the JSON parse.
COMPRESSION = 1
# The data keys whose content the operator reads (spec.analyze_secret).
CONTENT_KEYS = ("tls.crt", "tls.key", "ca.crt")
# Metadata the reconcile and the status writer use; the rest (managedFields, kopf's own
# annotations) would only cost memory.
KEPT_METADATA = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "deletionTimestamp",
    "labels",
    "ownerReferences",
)


def content_hash(data: Mapping[str, Any] | None) -> str:
    """SHA-256 over the Secret's tls.crt, tls.key and ca.crt as stored (base64), hex.

    A digest, not key material: it tells whether the content changed since the status was
    written, without keeping or recording the content itself.
    """
    digest = hashlib.sha256(b"acm-sync/secret-content/v1")
    for name in CONTENT_KEYS:
        value = (data or {}).get(name)
        encoded = value.encode() if isinstance(value, str) else b""
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class SecretFacts:
    """What the watch last showed of a Secret, without its data."""

    resource_version: str
    content_hash: str
    type: str
    # acmsync.io/* annotations only (annotation mode); cert-manager's are of no use here.
    annotations: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> SecretFacts:
        """The facts of a Secret body (from the watch or a GET)."""
        meta = body.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        return cls(
            resource_version=str(meta.get("resourceVersion") or ""),
            content_hash=content_hash(body.get("data")),
            type=str(body.get("type") or ""),
            annotations=tuple(
                sorted(
                    (str(k), str(v))
                    for k, v in annotations.items()
                    if str(k).startswith(ann.ANNOTATION_PREFIX)
                )
            ),
        )

    @property
    def triggers(self) -> bool:
        """Whether the Secret carries an annotation that generates an AcmCertificate."""
        return any(k in ann.TRIGGER_ANNOTATIONS for k, _ in self.annotations)


def _newer(version: str, than: str) -> bool:
    """Whether resourceVersion ``version`` is not older than ``than``.

    resourceVersions are opaque, but every API server in use issues integers; only when both
    are integers is an older one recognised (and ignored), otherwise the latest to arrive wins.
    """
    if version.isdigit() and than.isdigit():
        return int(version) >= int(than)
    return True


def slim(body: Mapping[str, Any]) -> JsonObj:
    """An AcmCertificate body reduced to what the controller reads."""
    meta = body.get("metadata") or {}
    kept: JsonObj = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {k: meta[k] for k in KEPT_METADATA if meta.get(k) is not None},
        "spec": body.get("spec") or {},
    }
    # Only acm-sync's own annotations (a resync request): kopf's and kubectl's are large.
    annotations = {
        k: v
        for k, v in (meta.get("annotations") or {}).items()
        if str(k).startswith(ann.ANNOTATION_PREFIX)
    }
    if annotations:
        kept["metadata"]["annotations"] = annotations
    if body.get("status"):
        kept["status"] = body["status"]
    return kept


class WatchView:
    """AcmCertificates and Secret facts by namespace/name, and Secret -> AcmCertificates."""

    def __init__(self) -> None:
        self._objects: dict[Key, bytes] = {}
        self._versions: dict[Key, str] = {}
        self._secrets: dict[Key, SecretFacts] = {}
        # (namespace, secret name) -> AcmCertificate names referencing it: almost always one,
        # and a one-name tuple is a quarter of the smallest set.
        self._refs: dict[Key, tuple[str, ...]] = {}
        self._ref_of: dict[Key, str] = {}
        # The Secret resourceVersion each object's last reconcile used ("" = no Secret): an
        # event for that very version (the listing after a restart) needs no second reconcile.
        self._secret_seen: dict[Key, str] = {}
        # Secret -> why the API server refused the AcmCertificate its annotations describe.
        self._refused: dict[Key, str] = {}

    # -- AcmCertificates --------------------------------------------------------------------

    def object_event(self, event_type: str | None, body: Mapping[str, Any]) -> bool:
        """Take an AcmCertificate event; True when the object is new to this process."""
        meta = body.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        if event_type == "DELETED":
            self._objects.pop(key, None)
            self._versions.pop(key, None)
            return False
        new = key not in self._objects
        self.absorb(body)
        spec = body.get("spec") or {}
        secret_name = spec.get("secretName")
        self.register(key, secret_name if isinstance(secret_name, str) else None)
        return new

    def absorb(self, body: Mapping[str, Any]) -> None:
        """Keep ``body`` as the object's latest, unless an older version than the one kept."""
        meta = body.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        version = str(meta.get("resourceVersion") or "")
        if key in self._versions and not _newer(version, self._versions[key]):
            return
        self._versions[key] = version
        self._objects[key] = zlib.compress(
            json.dumps(slim(body), separators=(",", ":")).encode(), COMPRESSION
        )

    def acmcert(self, key: Key) -> JsonObj | None:
        """The latest body seen of an AcmCertificate (a fresh copy), or None."""
        raw = self._objects.get(key)
        if raw is None:
            return None
        decoded: JsonObj = json.loads(zlib.decompress(raw))
        return decoded

    def __len__(self) -> int:
        return len(self._objects)

    # -- Secrets ----------------------------------------------------------------------------

    def secret_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """Take a Secret event: its facts are kept, its data is not."""
        meta = body.get("metadata") or {}
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        if event_type == "DELETED":
            self._secrets.pop(key, None)
            self._refused.pop(key, None)
            return
        self._secrets[key] = SecretFacts.of(body)

    def note_refused(self, key: Key, message: str | None) -> bool:
        """Record (or clear) the API server's refusal of a Secret's generated spec; True when
        that changed what the generated AcmCertificate must say."""
        if message is None:
            return self._refused.pop(key, None) is not None
        changed = self._refused.get(key) != message
        self._refused[key] = message
        return changed

    def refused(self, namespace: str, name: str) -> str | None:
        """Why the API server refused the spec a Secret's annotations describe, if it did."""
        return self._refused.get((namespace, name))

    def secret(self, namespace: str, name: str) -> SecretFacts | None:
        """What the watch last showed of a Secret; None if it never showed it (another type,
        not listed yet, or gone)."""
        return self._secrets.get((namespace, name))

    # -- references -------------------------------------------------------------------------

    def register(self, key: Key, secret_name: str | None) -> None:
        """Remember which Secret ``key`` reads, so that a change of it triggers ``key``."""
        previous = self._ref_of.get(key)
        if previous == secret_name:
            return
        if previous is not None:
            names = tuple(n for n in self._refs.get((key[0], previous), ()) if n != key[1])
            if names:
                self._refs[(key[0], previous)] = names
            else:
                self._refs.pop((key[0], previous), None)
        if secret_name:
            self._ref_of[key] = secret_name
            names = self._refs.get((key[0], secret_name), ())
            if key[1] not in names:
                self._refs[(key[0], secret_name)] = (*names, key[1])
        else:
            self._ref_of.pop(key, None)

    def referencing(self, namespace: str, secret_name: str) -> list[Key]:
        """The AcmCertificates reading a Secret."""
        return [(namespace, n) for n in sorted(self._refs.get((namespace, secret_name), ()))]

    def mark_read(self, key: Key, resource_version: str) -> None:
        """``key``'s reconcile used this version of its Secret ("" when there was none)."""
        self._secret_seen[key] = resource_version

    def secret_changed(self, key: Key, resource_version: str, deleted: bool) -> bool:
        """Whether a Secret event shows something ``key``'s last reconcile did not use."""
        seen = self._secret_seen.get(key)
        if deleted:
            return seen != ""
        return seen != resource_version

    def has_read_secret(self, key: Key) -> bool:
        """Whether ``key`` was reconciled since the start (a Secret event is then a change)."""
        return key in self._secret_seen

    def readers_to_sync(
        self, event_type: str | None, body: Mapping[str, Any]
    ) -> list[tuple[Key, bool]]:
        """The AcmCertificates a Secret event shows something their last run did not use,
        each with whether its run is urgent.

        kopf passes ``event_type`` None for the objects of a listing (the first one, and the
        one after a watch had to restart) and the watch's type for every later event. A
        rotation is what users wait for: ahead of routine re-syncs, also while a restart's
        backlog has not reached the object yet. A listed Secret the object has not read since
        the start is no change seen: routine, like the backlog.
        """
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        version, deleted = str(meta.get("resourceVersion", "")), event_type == "DELETED"
        return [
            (ref, event_type is not None or self.has_read_secret(ref))
            for ref in self.referencing(namespace, name)
            if self.secret_changed(ref, version, deleted)
        ]

    def forget(self, key: Key) -> None:
        """An AcmCertificate is gone: drop what is kept about it."""
        self.register(key, None)
        self._secret_seen.pop(key, None)
        self._objects.pop(key, None)
        self._versions.pop(key, None)
