"""The sync contract between the kopf layer, the planner and the ACM engine.

The kopf layer builds a :class:`DesiredState` from an AcmCertificate and its Secret and keeps
one :class:`RegionRecord` per region in the resource's status. The engine returns one
:class:`RegionOutcome` per region, which the kopf layer writes back as the new record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

MANAGED_BY_TAG = "acmsync.io/managed-by"
MANAGED_BY_VALUE = "acm-sync"
CLUSTER_TAG = "acmsync.io/cluster"
OWNER_TAG = "acmsync.io/owner"
TARGET_TAG = "acmsync.io/target"  # on certificates imported through an AcmTarget
RESERVED_TAG_PREFIXES = ("aws:", "acmsync.io/")
# ACM's limit on a tag value (tags-restrictions.html). <cluster>/<namespace>/<name> can reach
# 36 + 1 + 63 + 1 + 253 = 354 characters, so long names get the hashed form below.
MAX_OWNER_TAG_LENGTH = 255
HASHED_NAME_PREFIX = "sha256:"


class DeletionPolicy(StrEnum):
    """What happens to the ACM certificates when the AcmCertificate goes away."""

    RETAIN = "Retain"
    DELETE = "Delete"


class KeyChangePolicy(StrEnum):
    """What to do when the Secret's key algorithm or size no longer matches the ARN's."""

    BLOCK = "Block"
    IMPORT_NEW = "ImportNew"


class AdoptionMode(StrEnum):
    """Which certificates named in ``spec.certificateArns`` may be taken over.

    ``tagged``: only one the AWS account's owner tagged with this object's owner value
    (consent given where the certificate lives, not by whoever can write the object);
    ``any``: any imported certificate no other owner claims (single-tenant clusters);
    ``off``: none.
    """

    TAGGED = "tagged"
    ANY = "any"
    OFF = "off"


class RegionState(StrEnum):
    """The per-region state shown in ``status.regions[].state``."""

    SYNCED = "Synced"
    PENDING = "Pending"
    ERROR = "Error"
    BLOCKED = "Blocked"


@dataclass(frozen=True, slots=True)
class Owner:
    """Who a certificate belongs to; rendered into the owner tag."""

    cluster_id: str
    namespace: str
    name: str

    @property
    def plain_tag_value(self) -> str:
        """``<cluster>/<namespace>/<name>``: the readable form, used whenever ACM can hold it."""
        return f"{self.cluster_id}/{self.namespace}/{self.name}"

    @property
    def hashed_tag_value(self) -> str:
        """``<cluster>/<namespace>/sha256:<hex>``: the form for names too long for the plain one.

        The cluster and namespace stay readable (IAM conditions and humans use them); the hash
        covers the whole plain form so that it cannot collide with another owner's.
        """
        digest = hashlib.sha256(self.plain_tag_value.encode()).hexdigest()
        return f"{self.cluster_id}/{self.namespace}/{HASHED_NAME_PREFIX}{digest}"

    @property
    def tag_value(self) -> str:
        """The value of the ``acmsync.io/owner`` tag this operator writes.

        The plain form when it fits ACM's 255 characters, else the hashed form; the choice
        depends on the name alone, so one owner always writes the same value.
        """
        plain = self.plain_tag_value
        return plain if len(plain) <= MAX_OWNER_TAG_LENGTH else self.hashed_tag_value

    def owns(self, tag_value: str | None) -> bool:
        """Whether an owner tag value is this owner's, in either form.

        Both are accepted so that a certificate tagged in the other form (by an older or newer
        release, or by hand) is still found and never treated as foreign.
        """
        return tag_value is not None and tag_value in (
            self.plain_tag_value,
            self.hashed_tag_value,
        )

    def tag_problem(self) -> str | None:
        """Why ACM would refuse this owner's system tags, or None (checked before any AWS call).

        Only a cluster id can make even the hashed form too long or unacceptable: object names
        and namespaces are DNS labels, which ACM's tag alphabet always allows.
        """
        value = self.tag_value
        if len(value) > MAX_OWNER_TAG_LENGTH:
            return (
                f"the owner tag {value[:60]!r}... is {len(value)} characters, over ACM's "
                f"{MAX_OWNER_TAG_LENGTH}, even in its hashed form: use a shorter --cluster-id"
            )
        return None

    def system_tags(self) -> dict[str, str]:
        """Tags every certificate acm-sync creates carries, besides the user's."""
        return {
            MANAGED_BY_TAG: MANAGED_BY_VALUE,
            CLUSTER_TAG: self.cluster_id,
            OWNER_TAG: self.tag_value,
        }


@dataclass(frozen=True, slots=True)
class DesiredState:
    """What the AcmCertificate asks for, with the Secret's material already analysed."""

    owner: Owner
    fingerprint: str
    key_algorithm: str
    regions: tuple[str, ...]
    tags: Mapping[str, str] = field(default_factory=dict)  # user tags only
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    adopt_arns: Mapping[str, str] = field(default_factory=dict)  # region -> ARN
    on_key_change: KeyChangePolicy = KeyChangePolicy.BLOCK
    # The Secret certificate's serial and notAfter: what a region holds once it is imported.
    serial: str | None = None
    not_after: datetime | None = None
    # The AcmTarget these regions are reached through ("": the operator's own account).
    target: str = ""
    # ARNs a load balancer acm-sync wired names (status.consumers[]): never deleted.
    consumer_arns: frozenset[str] = frozenset()

    def all_tags(self) -> dict[str, str]:
        """User tags plus the system tags (system tags win), plus the target's tag if any."""
        tags = {**self.tags, **self.owner.system_tags()}
        if self.target:
            tags[TARGET_TAG] = self.target
        return tags


@dataclass(frozen=True, slots=True)
class RegionRecord:
    """What the status remembers about one region since the last sync."""

    region: str
    arn: str | None = None
    fingerprint: str | None = None
    imported_at: datetime | None = None
    previous_arn: str | None = None
    # The tags last applied, so that an unchanged tag set costs no AWS call.
    tags_hash: str | None = None
    # The user tag keys acm-sync applied (sorted); only these are ever removed from ACM.
    # None: not recorded (a status from an older version), so no user tag is removed.
    managed_tag_keys: tuple[str, ...] | None = None
    # Serial and notAfter of the certificate ACM holds under ``arn`` (with ``fingerprint``):
    # after a refused reimport they describe the old certificate, not the Secret's.
    serial: str | None = None
    not_after: datetime | None = None
    # What uses the certificate (DescribeCertificate's InUseBy), when last read.
    in_use_by: tuple[str, ...] | None = None
    # The AcmTarget this region is reached through ("": the operator's own account): a
    # record is one (target, region) pair.
    target: str = ""


@dataclass(frozen=True, slots=True)
class RegionOutcome:
    """The result of syncing (or deleting) one region; becomes the new RegionRecord."""

    region: str
    state: RegionState
    reason: str  # stable CamelCase reason: Synced, ForeignCertificate, QuotaExceeded, ...
    message: str
    arn: str | None = None
    fingerprint: str | None = None
    imported_at: datetime | None = None
    previous_arn: str | None = None
    tags_hash: str | None = None
    # Whether this outcome wrote to ACM (import, reimport, tag, delete).
    wrote: bool = False
    # Retry hint for transient failures (throttling, ResourceInUse): seconds.
    retry_after: float | None = None
    # See RegionRecord.managed_tag_keys.
    managed_tag_keys: tuple[str, ...] | None = None
    # See RegionRecord.serial, .not_after and .in_use_by.
    serial: str | None = None
    not_after: datetime | None = None
    in_use_by: tuple[str, ...] | None = None
    # See RegionRecord.target.
    target: str = ""
    # The previous ARN this outcome deleted from ACM (its retirement), for the Event.
    retired: str | None = None

    @classmethod
    def from_record(
        cls, record: RegionRecord, state: RegionState, reason: str, message: str
    ) -> RegionOutcome:
        """An outcome that keeps every field of ``record`` (nothing changed, or what got done)."""
        return cls(state=state, reason=reason, message=message, **_record_fields(record))

    def record(self) -> RegionRecord:
        """The record to keep in the status for the next sync."""
        return RegionRecord(**_record_fields(self))


def _record_fields(source: RegionRecord | RegionOutcome) -> dict[str, Any]:
    # Derived from RegionRecord's own definition, so that a field added to the record travels
    # through every outcome without a hand-written copy to forget.
    return {f.name: getattr(source, f.name) for f in fields(RegionRecord)}
