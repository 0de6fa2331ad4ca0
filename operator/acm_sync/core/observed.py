"""What ACM reports, as the planners and the sweep see it. Pure values.

:class:`ObservedCertificate` and :class:`Observation` are what the engine read before asking
the planner again; :class:`Drift` is what the sweep found changed behind acm-sync's back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from acm_sync.core.state import Owner


@dataclass(frozen=True, slots=True)
class ObservedCertificate:
    """What ACM reports about one certificate (DescribeCertificate + tags + content)."""

    arn: str
    key_algorithm: str
    tags: Mapping[str, str] = field(default_factory=dict)
    in_use: bool = False
    imported_at: datetime | None = None
    not_after: datetime | None = None
    # True when ACM already holds exactly the desired certificate and chain.
    content_matches: bool = False
    serial: str | None = None  # colon-separated hex; a ListCertificates summary has none
    in_use_by: tuple[str, ...] | None = None  # None: not read (a summary)
    # DescribeCertificate's Type: IMPORTED, AMAZON_ISSUED or PRIVATE.
    cert_type: str = "IMPORTED"


@dataclass(frozen=True, slots=True)
class Observation:
    """The observed state of a region, as far as the engine has looked."""

    target: ObservedCertificate | None = None  # the recorded (or to-be-adopted) ARN
    target_missing: bool = False  # ACM answered ResourceNotFound for it
    candidates: tuple[ObservedCertificate, ...] | None = None  # None: no owner-tag lookup yet


class DriftKind(StrEnum):
    """How a recorded certificate changed in ACM behind acm-sync's back."""

    DELETED = "Deleted"
    REIMPORTED = "ReimportedOutOfBand"
    EXPIRED = "Expired"
    # Nothing to repair: the record's notAfter or in-use facts are out of date.
    REFRESHED = "Refreshed"
    # Not drift: ACM holds the recorded content, only the record's importedAt is older (an
    # import of acm-sync's own whose status write was lost or fenced off). The status is
    # refreshed; nothing is reported as done behind acm-sync's back.
    STALE_RECORD = "StaleRecord"


@dataclass(frozen=True, slots=True)
class Drift:
    """One certificate whose state in ACM no longer matches the record."""

    owner: Owner
    region: str
    arn: str
    kind: DriftKind
    message: str
    imported_at: datetime | None = None
    not_after: datetime | None = None
    in_use_by: tuple[str, ...] | None = None  # from DescribeCertificate; None: not read
    serial: str | None = None
