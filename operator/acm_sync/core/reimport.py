"""ACM's reimport rules: what may change when a certificate replaces another under one ARN.

Source: the facts file, "Reimport (same ARN)". Key algorithm and size are fixed; domain names
may be added or removed but not all of the previous ones dropped; key usage and extended key
usage values may be added but not removed, except keyEncipherment on an EC certificate and
clientAuth; a KeyUsage or ExtendedKeyUsage extension the previous certificate did not carry at
all cannot appear.
"""

from __future__ import annotations

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


def compare_certificates(previous: x509.Certificate, new: x509.Certificate) -> tuple[Finding, ...]:
    """The reimport findings for replacing ``previous`` with ``new``."""
    findings: list[Finding] = []
    old_alg, new_alg = certificate_key_algorithm(previous), certificate_key_algorithm(new)
    if old_alg != new_alg:
        findings.append(
            Finding(
                Code.REIMPORT_KEY_CHANGE,
                f"the key algorithm changes from {old_alg} to {new_alg}; ACM keeps it fixed "
                "per ARN, so this needs a new certificate ARN",
            )
        )
    # DNS names are case-insensitive and a trailing dot names the same host.
    old_names = {name.lower().rstrip(".") for name in acm_names(previous)}
    new_names = {name.lower().rstrip(".") for name in acm_names(new)}
    if old_names and not old_names & new_names:
        findings.append(
            Finding(
                Code.REIMPORT_DOMAINS_REMOVED,
                "the new certificate drops every domain name of the previous one ("
                + ", ".join(sorted(old_names))
                + "); ACM lets a reimport add or remove names but not remove all of them",
            )
        )
    old_ku, new_ku = key_usages(previous), key_usages(new)
    if old_ku is None and new_ku is not None:
        findings.append(
            Finding(
                Code.REIMPORT_EXTENSION_ADDED,
                "the new certificate adds a KeyUsage extension the previous one did not have",
            )
        )
    elif old_ku is not None:
        dropped = old_ku - (new_ku or frozenset())
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
    old_eku, new_eku = extended_key_usages(previous), extended_key_usages(new)
    if old_eku is None and new_eku is not None:
        findings.append(
            Finding(
                Code.REIMPORT_EXTENSION_ADDED,
                "the new certificate adds an ExtendedKeyUsage extension the previous one did "
                "not have",
            )
        )
    elif old_eku is not None:
        dropped_eku = old_eku - (new_eku or frozenset()) - _DROPPABLE_EKU
        if dropped_eku:
            findings.append(
                Finding(
                    Code.REIMPORT_USAGE_REMOVED,
                    "the new certificate drops extended key usage "
                    + ", ".join(sorted(dropped_eku)),
                )
            )
    return tuple(findings)


def check_reimport(
    previous_certificate_pem: bytes, new_certificate_pem: bytes
) -> tuple[Finding, ...]:
    """Findings that forbid reimporting ``new`` over ``previous`` under the same ARN.

    Only the first certificate of each PEM is compared (the leaf, as ACM stores it). An
    unreadable input gives ``NoCertificate`` rather than an exception.
    """
    previous = first_certificate(previous_certificate_pem)
    new = first_certificate(new_certificate_pem)
    missing = [
        Finding(Code.NO_CERTIFICATE, f"the {which} certificate cannot be read for reimport")
        for which, cert in (("previous", previous), ("new", new))
        if cert is None
    ]
    if previous is None or new is None:
        return tuple(missing)
    return compare_certificates(previous, new)
