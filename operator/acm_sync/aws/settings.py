"""Engine settings: rates, retries, adoption, allowed regions, endpoint override."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from acm_sync.core.state import AdoptionMode

# ACM's documented request rates per account and region (calls/s). Client-side limits at
# these rates keep a cold sync from provoking throttling storms.
DEFAULT_RATES: Mapping[str, float] = MappingProxyType(
    {
        "ImportCertificate": 1.0,
        "ListCertificates": 8.0,
        "DescribeCertificate": 10.0,
        "GetCertificate": 10.0,
        "ListTagsForCertificate": 10.0,
        "AddTagsToCertificate": 5.0,
        "RemoveTagsFromCertificate": 5.0,
        "DeleteCertificate": 10.0,
    }
)


@dataclass(frozen=True, slots=True)
class AwsSettings:
    """How the engine talks to ACM. Every field has a production default."""

    # API name -> calls/s per region; an API missing here is not limited client-side.
    rates: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES))
    # Attempts per call for retryable errors (throttling, 5xx, connection, ResourceInUse).
    max_attempts: int = 5
    backoff_base: float = 0.5  # seconds; full-jitter exponential backoff
    backoff_cap: float = 20.0
    adoption: AdoptionMode = AdoptionMode.TAGGED
    allowed_regions: frozenset[str] | None = None  # None: every region
    # Overrides boto3's own endpoint configuration (AWS_ENDPOINT_URL works without this).
    endpoint_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    region_workers: int = 4  # concurrent calls per region
    # Hints written to outcomes so the kopf layer knows when to try again.
    throttled_retry_after: float = 30.0
    in_use_retry_after: float = 60.0
    error_retry_after: float = 60.0
    # Fencing: asked right before every ACM write (import, delete, tag changes); False means
    # this process may no longer write (a leader that lost its Lease) and the write is refused
    # with NotLeaderError. None: always allowed.
    write_guard: Callable[[], bool] | None = field(default=None, compare=False)
    not_leader_retry_after: float = 15.0
    # How long one load of a region's owner-tag index serves lookups (aws/owner_index.py).
    # The process' own imports are in it at once; a certificate imported by another process
    # (a previous leader whose status write was lost) is seen after at most this long.
    owner_index_max_age: float = 60.0
    # Content fingerprints whose reimport-rule facts the engine remembers (aws/profiles.py):
    # a rotation of one of them skips reading the certificate back. ~0.5 KB an entry.
    reimport_profiles: int = 10_000
    # How long a new import waits at most for the imports still in flight in its region, so
    # that one ListCertificates reads all their ImportedAt (aws/import_times.py). 0: read
    # each with its own DescribeCertificate.
    imported_at_batch_wait: float = 3.0

    def rate(self, api: str) -> float | None:
        """The client-side rate for ``api``, or None when unlimited."""
        value = self.rates.get(api)
        return value if value and value > 0 else None

    def may_write(self) -> bool:
        """Whether an ACM write may be sent now (see ``write_guard``)."""
        return self.write_guard is None or self.write_guard()

    def region_allowed(self, region: str) -> bool:
        """Whether acm-sync may touch ``region`` at all."""
        return self.allowed_regions is None or region in self.allowed_regions
