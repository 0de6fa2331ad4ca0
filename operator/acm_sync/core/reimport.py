"""ACM's reimport rules: what may change when a certificate replaces another under one ARN.

Source: the facts file, "Reimport (same ARN)". Key algorithm and size are fixed; domain names
may be added or removed but not all of the previous ones dropped; key usage and extended key
usage values may be added but not removed, except keyEncipherment on an EC certificate and
clientAuth; a KeyUsage or ExtendedKeyUsage extension the previous certificate did not carry at
all cannot appear.

The rules need only a few facts of each certificate (:class:`ReimportProfile`), so the engine
can keep them for what it imported and check a rotation without reading the certificate back.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from cryptography import x509

from acm_sync.core.findings import Code, Finding
from acm_sync.core.x509facts import (
    acm_names,
    certificate_key_algorithm,
    extended_key_usages,
    first_certificate,
    key_usages,
)

# Removals ACM tolerates; keyEncipherment only when the new certificate is EC.
_DROPPABLE_EKU = frozenset({"clientAuth"})
_DROPPABLE_KU_FOR_EC = frozenset({"key_encipherment"})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _sorted(values: frozenset[str] | None) -> tuple[str, ...] | None:
    # Interned: usage names repeat across every certificate an engine remembers.
    return None if values is None else tuple(sorted(sys.intern(v) for v in values))


@dataclass(frozen=True, slots=True)
class ReimportProfile:
    """The facts of one certificate that ACM's reimport rules look at, and nothing else.

    Small (tuples, no PEM, no key material): an engine keeps one per certificate it imported.
    ``key_usages`` / ``extended_key_usages`` are None when the extension is absent.
    """

    key_algorithm: str
    names: tuple[str, ...]  # lower-cased, without a trailing dot (DNS names compare so)
    key_usages: tuple[str, ...] | None
    extended_key_usages: tuple[str, ...] | None

    @classmethod
    def of_certificate(cls, cert: x509.Certificate) -> ReimportProfile:
        """The profile of a parsed certificate."""
        names = {name.lower().rstrip(".") for name in acm_names(cert)}
        return cls(
            key_algorithm=sys.intern(certificate_key_algorithm(cert)),
            names=tuple(sorted(names)),
            key_usages=_sorted(key_usages(cert)),
            extended_key_usages=_sorted(extended_key_usages(cert)),
        )

    @classmethod
    def of(cls, certificate_pem: bytes) -> ReimportProfile | None:
        """The profile of the first certificate in ``certificate_pem``; None if unreadable."""
        cert = first_certificate(certificate_pem)
        return None if cert is None else cls.of_certificate(cert)


def compare_profiles(previous: ReimportProfile, new: ReimportProfile) -> tuple[Finding, ...]:
    """The reimport findings for replacing a certificate profiled ``previous`` with ``new``."""
    findings: list[Finding] = []
    old_alg, new_alg = previous.key_algorithm, new.key_algorithm
    if old_alg != new_alg:
        findings.append(
            Finding(
                Code.REIMPORT_KEY_CHANGE,
                f"the key algorithm changes from {old_alg} to {new_alg}; ACM keeps it fixed "
                "per ARN, so this needs a new certificate ARN",
            )
        )
    old_names = set(previous.names)
    if old_names and not old_names & set(new.names):
        findings.append(
            Finding(
                Code.REIMPORT_DOMAINS_REMOVED,
                "the new certificate drops every domain name of the previous one ("
                + ", ".join(sorted(old_names))
                + "); ACM lets a reimport add or remove names but not remove all of them",
            )
        )
    old_ku, new_ku = previous.key_usages, new.key_usages
    if old_ku is None and new_ku is not None:
        findings.append(
            Finding(
                Code.REIMPORT_EXTENSION_ADDED,
                "the new certificate adds a KeyUsage extension the previous one did not have",
            )
        )
    elif old_ku is not None:
        dropped = set(old_ku) - set(new_ku or ())
        if new_alg.startswith("EC_"):
            dropped -= _DROPPABLE_KU_FOR_EC
        if dropped:
            findings.append(
                Finding(
                    Code.REIMPORT_USAGE_REMOVED,
                    "the new certificate drops key usage "
                    + ", ".join(sorted(_camel(n) for n in dropped)),
                )
            )
    old_eku, new_eku = previous.extended_key_usages, new.extended_key_usages
    if old_eku is None and new_eku is not None:
        findings.append(
            Finding(
                Code.REIMPORT_EXTENSION_ADDED,
                "the new certificate adds an ExtendedKeyUsage extension the previous one did "
                "not have",
            )
        )
    elif old_eku is not None:
        dropped_eku = set(old_eku) - set(new_eku or ()) - _DROPPABLE_EKU
        if dropped_eku:
            findings.append(
                Finding(
                    Code.REIMPORT_USAGE_REMOVED,
                    "the new certificate drops extended key usage "
                    + ", ".join(sorted(dropped_eku)),
                )
            )
    return tuple(findings)


def compare_certificates(previous: x509.Certificate, new: x509.Certificate) -> tuple[Finding, ...]:
    """The reimport findings for replacing ``previous`` with ``new``."""
    return compare_profiles(
        ReimportProfile.of_certificate(previous), ReimportProfile.of_certificate(new)
    )


def _unreadable(which: str) -> Finding:
    return Finding(Code.NO_CERTIFICATE, f"the {which} certificate cannot be read for reimport")


def check_reimport_profile(
    previous: ReimportProfile | None, new_certificate_pem: bytes
) -> tuple[Finding, ...]:
    """Findings that forbid reimporting ``new`` over a certificate profiled ``previous``.

    ``previous`` None: the certificate ACM holds could not be read. Only the first
    certificate of the new PEM is compared (the leaf, as ACM stores it).
    """
    new = ReimportProfile.of(new_certificate_pem)
    missing = [
        _unreadable(which)
        for which, profile in (("previous", previous), ("new", new))
        if profile is None
    ]
    if previous is None or new is None:
        return tuple(missing)
    return compare_profiles(previous, new)


def check_reimport(
    previous_certificate_pem: bytes, new_certificate_pem: bytes
) -> tuple[Finding, ...]:
    """Findings that forbid reimporting ``new`` over ``previous`` under the same ARN.

    Only the first certificate of each PEM is compared (the leaf, as ACM stores it). An
    unreadable input gives ``NoCertificate`` rather than an exception.
    """
    return check_reimport_profile(ReimportProfile.of(previous_certificate_pem), new_certificate_pem)
