"""ConsumerView: the opted-in Ingresses and Services the watch streamed, and who names what.

Only objects carrying an ``acmsync.io/*`` opt-in or a record of acm-sync's write are kept (a
Service without one is dropped on sight), and of those only what wiring reads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acm_sync.controller.watch.workqueue import Key
from acm_sync.controller.wiring.consumers import (
    CERTIFICATES_ANNOTATION,
    IMPORT_ANNOTATION,
    WIRED_ANNOTATION,
    Consumer,
)
from acm_sync.core.limits import DEFAULT_WIRING_LIMITS
from acm_sync.core.wiring import Wired, parse_names

ANNOTATION_PREFIX = "acmsync.io/"
# Names kept per list: one over the limit, so that wiring sees the limit exceeded and says so,
# while a list of thousands costs no more than this in the index and the status triggers.
KEPT_NAMES = DEFAULT_WIRING_LIMITS.certificates + 1


def consumer_key(kind: str, namespace: str, name: str) -> Key:
    """The work queue key of a consumer (a name never holds a slash)."""
    return (namespace, f"{kind}/{name}")


@dataclass(frozen=True, slots=True)
class ConsumerRecord:
    """What wiring needs of one Ingress or Service."""

    consumer: Consumer
    namespace: str
    name: str
    uid: str
    resource_version: str
    annotations: Mapping[str, str]  # acm-sync's own only
    current: str | None  # the consumer's load balancer annotation
    eligible: bool
    tls_secrets: tuple[str, ...]
    # acm-sync's record of its last write, read once per version of the consumer (every
    # event would otherwise parse every record again), and why it is unreadable if it is.
    wired: Wired | None = None
    unreadable: str | None = None

    @classmethod
    def of(cls, consumer: Consumer, body: Mapping[str, Any]) -> ConsumerRecord:
        """Copy what wiring reads out of a body."""
        meta = body.get("metadata") or {}
        annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
        current = annotations.get(consumer.annotation)
        wired, unreadable = Wired.read(annotations.get(WIRED_ANNOTATION))
        return cls(
            consumer=consumer,
            namespace=str(meta.get("namespace") or ""),
            name=str(meta.get("name") or ""),
            uid=str(meta.get("uid") or ""),
            resource_version=str(meta.get("resourceVersion") or ""),
            annotations={k: v for k, v in annotations.items() if k.startswith(ANNOTATION_PREFIX)},
            current=current,
            eligible=consumer.eligible(body),
            tls_secrets=consumer.tls_secrets(body)[:KEPT_NAMES],
            wired=wired,
            unreadable=unreadable,
        )

    @property
    def key(self) -> Key:
        """Its work queue key."""
        return consumer_key(self.consumer.kind, self.namespace, self.name)

    @property
    def imports(self) -> bool:
        """Whether it asks for AcmCertificates generated from its TLS Secrets."""
        return self.eligible and self.annotations.get(IMPORT_ANNOTATION, "").strip() == "true"

    def imports_from(self, secret: str) -> bool:
        """Whether it asks for an AcmCertificate generated from TLS Secret ``secret``."""
        return self.imports and secret in self.tls_secrets

    @property
    def named(self) -> tuple[str, ...]:
        """The AcmCertificates it names itself (acmsync.io/certificates)."""
        if not self.eligible:
            return ()
        return parse_names(self.annotations.get(CERTIFICATES_ANNOTATION), KEPT_NAMES)

    @property
    def ours(self) -> Wired | None:
        """The record, when the annotation still holds what acm-sync wrote."""
        wired = self.wired
        return wired if wired is not None and wired.value == self.current else None

    @property
    def relevant(self) -> bool:
        """Opted in, or holding a record to clean up: worth keeping."""
        return any(
            a in self.annotations
            for a in (CERTIFICATES_ANNOTATION, IMPORT_ANNOTATION, WIRED_ANNOTATION)
        )

    def mentions(self) -> set[str]:
        """Every AcmCertificate name it may depend on (named, imported, recorded)."""
        wired = self.wired
        return {*self.named, *self.tls_secrets, *(wired.names if wired else ())}


class ConsumerView:
    """Opted-in consumers by key, and (namespace, AcmCertificate) -> consumer keys."""

    def __init__(self) -> None:
        self._records: dict[Key, ConsumerRecord] = {}
        self._by_cert: dict[Key, set[Key]] = {}
        # kind -> consumers holding what acm-sync wrote (the gauge), kept as records come and
        # go: counting them afresh on each event made N events cost N * N.
        self._wired: Counter[str] = Counter()

    def event(self, consumer: Consumer, event_type: str | None, body: Mapping[str, Any]) -> Key:
        """Take a watch event; returns the consumer's key (to trigger)."""
        record = ConsumerRecord.of(consumer, body)
        if event_type == "DELETED" or not record.relevant:
            self._drop(record.key)
        else:
            self.absorb(record)
        return record.key

    def absorb(self, record: ConsumerRecord) -> None:
        """Keep ``record`` (also what a write returned, before the watch shows it)."""
        old = self._records.get(record.key)
        if (
            old is not None
            and old.resource_version.isdigit()
            and record.resource_version.isdigit()
            and int(record.resource_version) < int(old.resource_version)
        ):
            return
        self._drop(record.key)
        self._records[record.key] = record
        if record.ours is not None:
            self._wired[record.consumer.kind] += 1
        for name in record.mentions():
            self._by_cert.setdefault((record.namespace, name), set()).add(record.key)

    def _drop(self, key: Key) -> None:
        old = self._records.pop(key, None)
        if old is None:
            return
        if old.ours is not None:
            self._wired[old.consumer.kind] -= 1
        for name in old.mentions():
            users = self._by_cert.get((old.namespace, name))
            if users is not None:
                users.discard(key)
                if not users:
                    del self._by_cert[(old.namespace, name)]

    def get(self, key: Key) -> ConsumerRecord | None:
        """The record of a consumer, or None."""
        return self._records.get(key)

    def of_certificate(self, key: Key) -> list[Key]:
        """The consumers that may depend on AcmCertificate ``key``."""
        return sorted(self._by_cert.get(key, ()))

    def wired_count(self, kind: str) -> int:
        """How many consumers of ``kind`` hold what acm-sync wrote."""
        return self._wired[kind]
