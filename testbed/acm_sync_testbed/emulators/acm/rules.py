"""The ImportCertificate rules real ACM enforces and moto does not: an independent oracle.

Every rule here is written from ACM's documentation (the sections of
``/work/shared/reference/acm-facts.md`` cited in each docstring, which cite AWS's pages), never
from the operator's own certificate code: an emulator that judged the operator with the
operator's code would agree with every bug in it. The import-linter contract in pyproject.toml
keeps it that way. How ACM reads the PEM parameters is in pem.py, what it reads off a
certificate (key type, names, usages) in certfacts.py.

Each check returns ``(error type, message)`` exactly as the emulator answers it, or None.
The messages never echo key material.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from acm_sync_testbed.emulators.acm.certfacts import (
    USAGE_NAMES,
    certificate_public_key,
    domain_names,
    extended_key_usages,
    has_fqdn_or_ip,
    key_algorithm,
    key_usages,
    ocsp_urls,
    public_der,
)
from acm_sync_testbed.emulators.acm.pem import (
    INVALID,
    Problem,
    certificates,
    one_certificate,
    parse_private_key,
)


@dataclass(frozen=True)
class Limits:
    """Size limits. The certificate and chain sizes are UNVERIFIED in the facts file, so they
    are settings rather than constants (acm-facts.md, "What ImportCertificate accepts")."""

    private_key_bytes: int = 5120
    certificate_bytes: int = 32768
    chain_bytes: int = 2097152
    ocsp_url_chars: int = 1000


DEFAULT_LIMITS = Limits()


# ----- the checks -----
def check_certificate(
    certificate: bytes, *, now: datetime | None = None, limits: Limits = DEFAULT_LIMITS
) -> Problem | None:
    """The certificate on its own (acm-facts.md, "What ImportCertificate accepts").

    PEM, one certificate, X.509 v3, a supported public key, an FQDN or IP among its names,
    a non-empty issuer, inside its validity window now, OCSP URL and size limits.
    """
    if len(certificate) > limits.certificate_bytes:
        return (
            INVALID,
            f"The certificate length exceeds the maximum of {limits.certificate_bytes} bytes.",
        )
    cert = one_certificate(certificate)
    if isinstance(cert, tuple):
        return cert
    if cert.version is not x509.Version.v3:
        return (INVALID, "The certificate must be an X.509 version 3 certificate.")
    public_key = certificate_public_key(cert)
    if public_key is None or key_algorithm(public_key) is None:
        return (INVALID, "The certificate's public key algorithm or size is not supported.")
    if not has_fqdn_or_ip(domain_names(cert)):
        return (
            INVALID,
            "The certificate must contain at least one fully qualified domain name or IP "
            "address in its subject or subject alternative names.",
        )
    if not cert.issuer.rdns:
        return (INVALID, "The certificate's issuer is empty.")
    moment = now or datetime.now(UTC)
    if moment < cert.not_valid_before_utc:
        return (INVALID, "The certificate is not in effect yet, is not valid.")
    if moment > cert.not_valid_after_utc:
        return (INVALID, "The certificate has expired, is not valid.")
    if any(len(url) > limits.ocsp_url_chars for url in ocsp_urls(cert)):
        return (
            INVALID,
            f"The certificate's OCSP URL exceeds the maximum of {limits.ocsp_url_chars} "
            "characters.",
        )
    return None


def check_key(
    certificate: bytes, private_key: bytes, *, limits: Limits = DEFAULT_LIMITS
) -> Problem | None:
    """A supported, unencrypted PEM key of at most 5,120 bytes matching the certificate.

    acm-facts.md, "What ImportCertificate accepts" (key algorithms; private key matches,
    not encrypted, at most 5,120 bytes; EC PARAMETERS stripped).
    """
    if len(private_key) > limits.private_key_bytes:
        return (
            INVALID,
            f"The private key length exceeds the maximum of {limits.private_key_bytes} bytes.",
        )
    key = parse_private_key(private_key)
    if isinstance(key, tuple):
        return key
    if key_algorithm(key) is None:
        return (INVALID, "The private key algorithm or size is not supported.")
    cert = one_certificate(certificate)
    if isinstance(cert, tuple):
        return cert
    public_key = certificate_public_key(cert)
    if public_key is None or public_der(key.public_key()) != public_der(public_key):
        return (INVALID, "The private key does not match the public key in the certificate.")
    return None


def check_chain(
    certificate: bytes, chain: bytes | None, *, limits: Limits = DEFAULT_LIMITS
) -> Problem | None:
    """Intermediates, leaf-issuer first, each certifying the one before; leaf not repeated.

    acm-facts.md, "What ImportCertificate accepts" (Chain; UNVERIFIED chain size).
    """
    if chain is None:
        return None
    if len(chain) > limits.chain_bytes:
        return (
            INVALID,
            f"The certificate chain length exceeds the maximum of {limits.chain_bytes} bytes.",
        )
    leaf = one_certificate(certificate)
    if isinstance(leaf, tuple):
        return leaf
    parents = certificates(chain, "certificate chain")
    if isinstance(parents, tuple):
        return parents
    child = leaf
    for index, parent in enumerate(parents, start=1):
        if parent == leaf:
            return (
                INVALID,
                "The certificate chain contains the certificate itself; the chain must hold "
                f"only its issuers. The index within the chain of the invalid certificate is: "
                f"{index}",
            )
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            return (
                INVALID,
                "Could not validate the certificate with the certificate chain. The "
                "certificate chain must start with the immediate signing certificate, "
                "followed by any intermediaries in order. The index within the chain of the "
                f"invalid certificate is: {index}",
            )
        child = parent
    return None


def check_import(
    certificate: bytes,
    private_key: bytes,
    chain: bytes | None,
    *,
    now: datetime | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Problem | None:
    """Every ImportCertificate rule for one request, the first broken one reported."""
    return (
        check_certificate(certificate, now=now, limits=limits)
        or check_key(certificate, private_key, limits=limits)
        or check_chain(certificate, chain, limits=limits)
    )


def check_reimport(previous: bytes, new: bytes) -> Problem | None:
    """ACM's reimport rules, comparing the certificate in ACM with the one replacing it.

    acm-facts.md, "Reimport (same ARN)" (import-reimport.html and the import-prerequisites
    page): the key algorithm and size stay; at least one of the previous domain names stays;
    KeyUsage and ExtendedKeyUsage values may be added, not removed (keyEncipherment may go
    from an ECDSA certificate, clientAuth from any); neither extension may appear when the
    previous certificate had none. ``new`` is assumed to pass :func:`check_import`.
    """
    old_cert, new_cert = one_certificate(previous), one_certificate(new)
    if isinstance(new_cert, tuple):
        return new_cert
    if isinstance(old_cert, tuple):
        # What ACM holds was accepted once; if it cannot be read now the emulator is broken.
        raise ValueError(f"the stored certificate is unreadable: {old_cert[1]}")
    old_key, new_key = certificate_public_key(old_cert), certificate_public_key(new_cert)
    old_alg = key_algorithm(old_key) if old_key is not None else None
    new_alg = key_algorithm(new_key) if new_key is not None else None
    if old_alg != new_alg:
        return (
            INVALID,
            f"The certificate you are reimporting uses key algorithm {new_alg}, but the "
            f"certificate being replaced uses {old_alg}; the key algorithm and size cannot "
            "change on reimport.",
        )
    old_names, new_names = domain_names(old_cert), domain_names(new_cert)
    if old_names and not old_names & new_names:
        return (
            INVALID,
            "You cannot remove all of the domain names from a certificate on reimport; keep "
            "at least one of the domain names of the certificate being replaced.",
        )
    is_ecdsa = isinstance(new_key, ec.EllipticCurvePublicKey)
    old_ku, new_ku = key_usages(old_cert), key_usages(new_cert)
    if old_ku is None and new_ku is not None:
        return (
            INVALID,
            "The certificate you are reimporting has a KeyUsage extension, but the "
            "certificate being replaced has none; it cannot be added on reimport.",
        )
    if old_ku is not None:
        removed = old_ku - (new_ku or frozenset())
        if is_ecdsa:
            removed -= {"key_encipherment"}  # RFC 5480 section 3 does not allow it for ECDSA
        if removed:
            return (
                INVALID,
                "The certificate you are reimporting removes Key Usage values of the "
                f"certificate being replaced: {', '.join(sorted(removed))}. Values can be "
                "added but not removed.",
            )
    old_eku, new_eku = extended_key_usages(old_cert), extended_key_usages(new_cert)
    if old_eku is None and new_eku is not None:
        return (
            INVALID,
            "The certificate you are reimporting has an ExtendedKeyUsage extension, but the "
            "certificate being replaced has none; it cannot be added on reimport.",
        )
    if old_eku is not None:
        # CAs no longer issue clientAuth for Chrome's root program, so ACM lets it go.
        removed = (
            old_eku - (new_eku or frozenset()) - {ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string}
        )
        if removed:
            names = ", ".join(sorted(USAGE_NAMES.get(oid, oid) for oid in removed))
            return (
                INVALID,
                "The certificate you are reimporting removes Extended Key Usage values of the "
                f"certificate being replaced: {names}. Values can be added but not removed.",
            )
    return None
