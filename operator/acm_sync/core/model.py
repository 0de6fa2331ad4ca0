"""Value types produced by the certificate core and consumed by the planner and adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from acm_sync.core.findings import Finding


@dataclass(frozen=True, slots=True)
class Material:
    """PEM exactly as it is sent to ACM's ImportCertificate.

    ``private_key`` is excluded from ``repr`` so that an accidental log of this object
    cannot leak it.
    """

    certificate: bytes  # the leaf, one PEM block
    chain: bytes | None  # intermediates, issuer of the leaf first; None when there are none
    private_key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """What a human (and the status) needs to know about the leaf certificate."""

    fingerprint: str  # sha256 hex over leaf DER followed by chain DERs
    serial: str  # colon-separated lowercase hex, as ACM displays it
    not_before: datetime  # timezone-aware UTC
    not_after: datetime  # timezone-aware UTC
    domains: tuple[str, ...]  # SAN DNS names and IPs; the CN when there is no SAN
    key_algorithm: str  # ACM's name: RSA_2048, EC_prime256v1, ...
    issuer: str  # RFC 4514 string
    subject: str  # RFC 4514 string


@dataclass(frozen=True, slots=True)
class Analysis:
    """The verdict on one Secret's material."""

    errors: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    material: Material | None  # None when there are errors
    facts: CertificateFacts | None  # present whenever a leaf could be identified

    @property
    def valid(self) -> bool:
        """True when ACM would accept the import (warnings allowed)."""
        return not self.errors and self.material is not None
