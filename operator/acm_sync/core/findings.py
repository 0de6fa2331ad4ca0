"""Findings: what the certificate core says about a Secret, with stable codes.

The codes are part of the public contract: they appear as condition reasons, Event reasons,
in ``acm-sync check`` output and in metrics labels. Never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """Whether ACM would refuse the import (error) or accept it with a caveat (warning)."""

    ERROR = "error"
    WARNING = "warning"


class Code(StrEnum):
    """Every finding code the core can emit."""

    # Errors: ACM would reject the import.
    NOT_PEM = "NotPEM"
    NO_CERTIFICATE = "NoCertificate"
    NO_PRIVATE_KEY = "NoPrivateKey"
    ENCRYPTED_KEY = "EncryptedKey"
    KEY_MISMATCH = "KeyMismatch"
    UNSUPPORTED_KEY_ALGORITHM = "UnsupportedKeyAlgorithm"
    KEY_TOO_LARGE = "KeyTooLarge"
    NOT_X509V3 = "NotX509v3"
    NO_DOMAIN = "NoDomain"
    EMPTY_ISSUER = "EmptyIssuer"
    NOT_YET_VALID = "NotYetValid"
    EXPIRED = "Expired"
    BROKEN_CHAIN = "BrokenChain"
    OCSP_URL_TOO_LONG = "OcspUrlTooLong"
    # Bounds of core/limits.py: ACM's sizes, and input too large to read at all (checked before
    # any parsing, so that a crafted Secret costs milliseconds).
    CERTIFICATE_TOO_LARGE = "CertificateTooLarge"
    CHAIN_TOO_LARGE = "ChainTooLarge"
    TOO_MANY_CERTIFICATES = "TooManyCertificates"
    INPUT_TOO_LARGE = "InputTooLarge"
    # Errors only when compared with the certificate currently held under the ARN.
    REIMPORT_KEY_CHANGE = "ReimportKeyChange"
    REIMPORT_USAGE_REMOVED = "ReimportUsageRemoved"
    REIMPORT_EXTENSION_ADDED = "ReimportExtensionAdded"
    REIMPORT_DOMAINS_REMOVED = "ReimportDomainsRemoved"
    # Warnings: ACM accepts it, but a human should know.
    EXPIRES_SOON = "ExpiresSoon"
    CLOUDFRONT_INCOMPATIBLE = "CloudFrontIncompatible"
    CHAIN_INCOMPLETE = "ChainIncomplete"
    # The leaf's issuer is in neither tls.crt nor ca.crt and is no well-known root: most
    # likely an intermediate left out, which clients cannot fetch themselves.
    INTERMEDIATE_MISSING = "IntermediateMissing"


WARNING_CODES = frozenset(
    {
        Code.EXPIRES_SOON,
        Code.CLOUDFRONT_INCOMPATIBLE,
        Code.CHAIN_INCOMPLETE,
        Code.INTERMEDIATE_MISSING,
    }
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem or caveat. ``message`` never contains key material."""

    code: Code
    message: str

    @property
    def severity(self) -> Severity:
        """Warnings are the codes ACM accepts; everything else blocks the import."""
        return Severity.WARNING if self.code in WARNING_CODES else Severity.ERROR

    def as_dict(self) -> dict[str, str]:
        """The JSON shape used by ``acm-sync check --json`` and status messages."""
        return {"code": self.code.value, "message": self.message}
