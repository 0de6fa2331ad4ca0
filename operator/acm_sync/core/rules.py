"""ACM's import rules for one leaf certificate and its key (facts file, "What ImportCertificate
accepts"). Each function returns findings; none raises on a well-parsed certificate."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from cryptography import x509

from acm_sync.core.findings import Code, Finding
from acm_sync.core.keys import (
    CLOUDFRONT_KEY_ALGORITHMS,
    MAX_KEY_BYTES,
    SUPPORTED_KEY_ALGORITHMS,
    LoadedKey,
    too_large,
)
from acm_sync.core.limits import Limits
from acm_sync.core.x509facts import (
    acm_names,
    certificate_key_algorithm,
    domains,
    name_string,
    ocsp_urls,
)

MAX_OCSP_URL_CHARS = 1000


def _fully_qualified(name: str) -> bool:
    """An IP address, or a DNS name of two or more labels (not counting a wildcard)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return "." in name.removeprefix("*.").strip(".")
    return True


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def structure_rules(cert: x509.Certificate) -> list[Finding]:
    """Version, issuer, names and OCSP URL length."""
    findings: list[Finding] = []
    try:
        version_ok = cert.version == x509.Version.v3
    except x509.InvalidVersion:
        version_ok = False
    if not version_ok:
        findings.append(Finding(Code.NOT_X509V3, "the certificate is not X.509 version 3"))
    if not any(str(attr.value).strip() for attr in cert.issuer):
        findings.append(Finding(Code.EMPTY_ISSUER, "the certificate's issuer name is empty"))
    if not domains(cert):
        findings.append(
            Finding(
                Code.NO_DOMAIN,
                f"the certificate '{name_string(cert.subject)}' names no DNS name or IP address "
                "(neither in subjectAltName nor as CN)",
            )
        )
    elif not any(_fully_qualified(name) for name in acm_names(cert)):
        # ACM wants an FQDN or IP; a lone "localhost" or "app" is refused at import.
        findings.append(
            Finding(
                Code.NO_DOMAIN,
                f"the certificate '{name_string(cert.subject)}' names no fully qualified domain "
                f"name or IP address (only {', '.join(acm_names(cert))})",
            )
        )
    for url in ocsp_urls(cert):
        if len(url) > MAX_OCSP_URL_CHARS:
            findings.append(
                Finding(
                    Code.OCSP_URL_TOO_LONG,
                    f"the OCSP URL is {len(url)} characters long; ACM allows {MAX_OCSP_URL_CHARS}",
                )
            )
    return findings


def validity_rules(
    cert: x509.Certificate, now: datetime, expiry_warning_days: int
) -> list[Finding]:
    """NotYetValid, Expired, and the ExpiresSoon warning."""
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < not_before:
        return [Finding(Code.NOT_YET_VALID, f"the certificate is valid from {_when(not_before)}")]
    if now > not_after:
        return [Finding(Code.EXPIRED, f"the certificate expired on {_when(not_after)}")]
    left = not_after - now
    if left < timedelta(days=expiry_warning_days):
        return [
            Finding(
                Code.EXPIRES_SOON,
                f"the certificate expires on {_when(not_after)}, in {left.days} day(s) "
                f"(warning threshold: {expiry_warning_days} days)",
            )
        ]
    return []


def key_algorithm_rules(cert: x509.Certificate, key: LoadedKey | None) -> list[Finding]:
    """UnsupportedKeyAlgorithm for the certificate's (and a differing key's) algorithm, and the
    CloudFrontIncompatible warning."""
    findings: list[Finding] = []
    algorithms = [certificate_key_algorithm(cert)]
    if key is not None and key.algorithm not in algorithms:
        algorithms.append(key.algorithm)
    for algorithm in algorithms:
        if algorithm not in SUPPORTED_KEY_ALGORITHMS:
            findings.append(
                Finding(
                    Code.UNSUPPORTED_KEY_ALGORITHM,
                    f"key algorithm {algorithm} is not accepted by ACM (RSA 1024-4096, "
                    "EC prime256v1, secp384r1, secp521r1)",
                )
            )
    leaf_algorithm = algorithms[0]
    if leaf_algorithm in SUPPORTED_KEY_ALGORITHMS - CLOUDFRONT_KEY_ALGORITHMS:
        findings.append(
            Finding(
                Code.CLOUDFRONT_INCOMPATIBLE,
                f"CloudFront cannot use {leaf_algorithm} certificates (RSA or EC prime256v1 "
                "only); load balancers and API Gateway can",
            )
        )
    return findings


def key_size_rules(key: LoadedKey, max_bytes: int = MAX_KEY_BYTES) -> list[Finding]:
    """KeyTooLarge: ACM limits the private key PEM it receives to 5,120 bytes."""
    size = len(key.pem)
    return [too_large(size, max_bytes)] if size > max_bytes else []


def material_size_rules(certificate: int, chain: int, limits: Limits) -> list[Finding]:
    """CertificateTooLarge and ChainTooLarge: the PEM sizes ACM takes (UNVERIFIED limits)."""
    findings: list[Finding] = []
    if certificate > limits.certificate_bytes:
        findings.append(
            Finding(
                Code.CERTIFICATE_TOO_LARGE,
                f"the certificate PEM is {certificate:,} bytes; ACM allows at most "
                f"{limits.certificate_bytes:,}",
            )
        )
    if chain > limits.chain_bytes:
        findings.append(
            Finding(
                Code.CHAIN_TOO_LARGE,
                f"the chain PEM is {chain:,} bytes; ACM allows at most {limits.chain_bytes:,}",
            )
        )
    return findings
