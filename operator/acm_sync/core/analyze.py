"""``analyze()``: the one entry point of the certificate core.

From a Secret's raw ``tls.crt``, ``tls.key`` and ``ca.crt`` bytes to a verdict: the findings,
the material exactly as ImportCertificate will receive it, and the facts a human needs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from cryptography import x509

from acm_sync.core.chain import Cert, ChainResult, build_chain
from acm_sync.core.findings import WARNING_CODES, Code, Finding
from acm_sync.core.fingerprint import fingerprint
from acm_sync.core.keys import LoadedKey, load_private_key
from acm_sync.core.limits import DEFAULT_LIMITS, Limits
from acm_sync.core.model import Analysis, CertificateFacts, Material
from acm_sync.core.pem import (
    CERTIFICATE,
    CERTIFICATE_LABELS,
    count_blocks,
    encode_pem,
    looks_like_der,
    parse_pem,
)
from acm_sync.core.reimport import compare_certificates
from acm_sync.core.roots import NO_PRIVATE_ROOTS, PrivateRoots
from acm_sync.core.rules import (
    key_algorithm_rules,
    key_size_rules,
    material_size_rules,
    structure_rules,
    validity_rules,
)
from acm_sync.core.x509facts import (
    certificate_key_algorithm,
    domains,
    first_certificate,
    format_serial,
    name_string,
)

_log = logging.getLogger(__name__)


def load_certificates(
    data: bytes | None, source: str, max_blocks: int, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[Cert], list[Finding]]:
    """Every certificate in a PEM bundle, plus findings for what could not be read.

    ``source`` names the Secret key in messages. A missing or empty ``ca.crt`` is normal and
    gives nothing; the caller decides what an empty ``tls.crt`` means. Input over the limits
    (bytes, then PEM blocks, both counted before anything is decoded) gives one finding.
    """
    if data is None or not data.strip():
        return [], []
    if len(data) > limits.field_bytes:
        return [], [
            Finding(
                Code.INPUT_TOO_LARGE,
                f"{source} is {len(data):,} bytes; no Kubernetes Secret holds more than "
                f"{limits.field_bytes:,}, so it is not read",
            )
        ]
    blocks = count_blocks(data)
    if blocks > max_blocks:
        return [], [
            Finding(
                Code.TOO_MANY_CERTIFICATES,
                f"{source} holds {blocks:,} PEM blocks; at most {max_blocks:,} are read",
            )
        ]
    pem = parse_pem(data)
    if pem.empty:
        hint = " (it looks like DER; ACM needs PEM)" if looks_like_der(data) else ""
        return [], [Finding(Code.NOT_PEM, f"{source} contains no PEM block{hint}")]
    findings = [
        Finding(Code.NOT_PEM, f"{source}: block {bad.index} ({bad.label}) is not valid base64")
        for bad in pem.bad_blocks
        if bad.label in CERTIFICATE_LABELS
    ]
    certs: list[Cert] = []
    for number, block in enumerate(pem.with_label(CERTIFICATE_LABELS), start=1):
        try:
            cert = x509.load_der_x509_certificate(block.der)
            _touch(cert)
        except ValueError as exc:
            # Certificates are public, so quoting the parser's complaint leaks nothing.
            findings.append(
                Finding(
                    Code.NOT_PEM,
                    f"{source}: certificate {number} is not a valid X.509 certificate "
                    f"({str(exc)[:160]})",
                )
            )
            continue
        certs.append(Cert(block.der, cert))
    return certs, findings


def _touch(cert: x509.Certificate) -> None:
    """Parse the lazily decoded fields now, so a malformed one fails here and not mid-rules."""
    _ = (cert.subject, cert.issuer, cert.serial_number, cert.extensions)
    _ = (cert.not_valid_before_utc, cert.not_valid_after_utc)


def _facts(result: ChainResult) -> CertificateFacts | None:
    if result.leaf is None:
        return None
    cert = result.leaf.x509
    return CertificateFacts(
        fingerprint=fingerprint(result.leaf.der, (c.der for c in result.chain)),
        serial=format_serial(cert.serial_number),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        domains=domains(cert),
        key_algorithm=certificate_key_algorithm(cert),
        issuer=name_string(cert.issuer),
        subject=name_string(cert.subject),
    )


def _pems(result: ChainResult) -> tuple[bytes, bytes] | None:
    """The leaf and the chain as ACM receives them."""
    if result.leaf is None:
        return None
    chain = b"".join(encode_pem(CERTIFICATE, c.der) for c in result.chain)
    return encode_pem(CERTIFICATE, result.leaf.der), chain


def _material(pems: tuple[bytes, bytes] | None, key: LoadedKey) -> Material | None:
    if pems is None:
        return None
    certificate, chain = pems
    return Material(certificate=certificate, chain=chain or None, private_key=key.pem)


def analyze_unchecked(
    cert: bytes | None,
    key: bytes | None,
    ca: bytes | None = None,
    *,
    now: datetime,
    expiry_warning_days: int = 30,
    previous_certificate: bytes | None = None,
    limits: Limits = DEFAULT_LIMITS,
    private_roots: PrivateRoots = NO_PRIVATE_ROOTS,
) -> Analysis:
    """``analyze`` without its last-resort guard; tests call this to see real exceptions."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    findings: list[Finding] = []
    if cert is None or not cert.strip():
        findings.append(Finding(Code.NO_CERTIFICATE, "tls.crt is missing or empty"))
    bundle, cert_findings = load_certificates(cert, "tls.crt", limits.bundle_certificates, limits)
    findings += cert_findings
    if cert is not None and cert.strip() and not bundle and not cert_findings:
        labels = ", ".join(sorted({b.label for b in parse_pem(cert).blocks}))
        findings.append(
            Finding(Code.NO_CERTIFICATE, f"tls.crt holds no CERTIFICATE block (found: {labels})")
        )
    ca_certs, ca_findings = load_certificates(ca, "ca.crt", limits.ca_certificates, limits)
    findings += ca_findings
    loaded_key, key_findings = load_private_key(key, limits)
    findings += key_findings

    key_spki = None if loaded_key is None else loaded_key.public_spki
    result = build_chain(bundle, ca_certs, key_spki, limits, private_roots)
    pems = _pems(result)
    if result.leaf is not None:
        leaf = result.leaf.x509
        if loaded_key is not None and not result.leaf_matches_key:
            findings.append(
                Finding(
                    Code.KEY_MISMATCH,
                    f"tls.key ({loaded_key.algorithm}) matches no certificate in tls.crt; the "
                    f"leaf '{name_string(leaf.subject)}' holds a different "
                    f"{certificate_key_algorithm(leaf)} key",
                )
            )
        findings += key_algorithm_rules(leaf, loaded_key)
        findings += structure_rules(leaf)
        findings += validity_rules(leaf, now.astimezone(UTC), expiry_warning_days)
        findings += result.findings
        if pems is not None:
            findings += material_size_rules(len(pems[0]), len(pems[1]), limits)
        if previous_certificate is not None:
            previous = first_certificate(previous_certificate)
            if previous is None:
                findings.append(
                    Finding(Code.NO_CERTIFICATE, "the previous certificate cannot be read")
                )
            else:
                findings += compare_certificates(previous, leaf)
    if loaded_key is not None:
        findings += key_size_rules(loaded_key, limits.key_bytes)

    unique = tuple(dict.fromkeys(findings))
    errors = tuple(f for f in unique if f.code not in WARNING_CODES)
    warnings = tuple(f for f in unique if f.code in WARNING_CODES)
    material = None
    if not errors and loaded_key is not None:
        material = _material(pems, loaded_key)
    return Analysis(errors=errors, warnings=warnings, material=material, facts=_facts(result))


def analyze(
    cert: bytes | None,
    key: bytes | None,
    ca: bytes | None = None,
    *,
    now: datetime,
    expiry_warning_days: int = 30,
    previous_certificate: bytes | None = None,
    limits: Limits = DEFAULT_LIMITS,
    private_roots: PrivateRoots = NO_PRIVATE_ROOTS,
) -> Analysis:
    """Analyse a Secret's material against ACM's import (and, optionally, reimport) rules.

    Never raises on any input bytes: problems become findings. ``now`` must be timezone-aware
    (ValueError otherwise).
    """
    if now.tzinfo is None:
        # A caller bug, not an input problem: fail loudly rather than guess a zone.
        raise ValueError("now must be timezone-aware")
    try:
        return analyze_unchecked(
            cert,
            key,
            ca,
            now=now,
            expiry_warning_days=expiry_warning_days,
            previous_certificate=previous_certificate,
            limits=limits,
            private_roots=private_roots,
        )
    except Exception:
        return _internal_failure()


def _internal_failure() -> Analysis:
    # One malformed Secret must not take down the caller's handler loop. The exception text
    # is not logged: it could quote input bytes, and those may be key material.
    _log.error("certificate analysis failed unexpectedly; reporting the material as unreadable")
    return Analysis(
        errors=(Finding(Code.NOT_PEM, "the material could not be analysed"),),
        warnings=(),
        material=None,
        facts=None,
    )
