"""The sync contract between the kopf layer, the planner and the ACM engine.

The kopf layer builds a :class:`DesiredState` from an AcmCertificate and its Secret and keeps
one :class:`RegionRecord` per region in the resource's status. The engine returns one
:class:`RegionOutcome` per region, which the kopf layer writes back as the new record.
"""

from __future__ import annotations

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


class DeletionPolicy(StrEnum):
    """What happens to the ACM certificates when the AcmCertificate goes away."""

    RETAIN = "Retain"
    DELETE = "Delete"


class KeyChangePolicy(StrEnum):
    """What to do when the Secret's key algorithm or size no longer matches the ARN's."""

    BLOCK = "Block"
    IMPORT_NEW = "ImportNew"


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
    def tag_value(self) -> str:
        """The value of the ``acmsync.io/owner`` tag."""
        return f"{self.cluster_id}/{self.namespace}/{self.name}"

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
    # The AcmTarget these regions are reached through ("": the operator's own account).
    target: str = ""

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
    # See RegionRecord.target.
    target: str = ""

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
