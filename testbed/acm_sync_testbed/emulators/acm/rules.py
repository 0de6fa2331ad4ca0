"""The ImportCertificate rules real ACM enforces and moto does not: an independent oracle.

Every rule here is written from ACM's documentation (the sections of
``/work/shared/reference/acm-facts.md`` cited in each docstring, which cite AWS's pages), never
from the operator's own certificate code: an emulator that judged the operator with the
operator's code would agree with every bug in it. The import-linter contract in pyproject.toml
keeps it that way.

Each check returns ``(error type, message)`` exactly as the emulator answers it, or None.
The messages never echo key material.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

Problem = tuple[str, str]

# ACM's seven key types (acm-facts.md, "What ImportCertificate accepts"), by API name.
KEY_ALGORITHMS = (
    "RSA_1024",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_prime256v1",
    "EC_secp384r1",
    "EC_secp521r1",
)
# What ListCertificates shows when Includes.keyTypes is absent (acm-facts.md, "Other API
# behaviour").
DEFAULT_LISTED_KEY_TYPES = ("RSA_1024", "RSA_2048")
# cryptography names the curves by their SEC names; ACM calls P-256 by its X9.62 name.
_CURVES = {"secp256r1": "EC_prime256v1", "secp384r1": "EC_secp384r1", "secp521r1": "EC_secp521r1"}
_RSA_SIZES = frozenset({1024, 2048, 3072, 4096})

_INVALID = "ValidationException"
_KEY_LABELS = frozenset({"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"})
_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\n")
_BASE64_LINE = re.compile(rb"[A-Za-z0-9+/=]+")
# A fully qualified name: two or more labels, optionally a leading wildcard label.
_FQDN = re.compile(
    r"(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?",
    re.IGNORECASE,
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


# ----- PEM -----
def _pem_blocks(data: bytes, field: str) -> list[tuple[str, bytes]] | Problem:
    """The (label, DER) blocks of a PEM parameter, refusing DER and text around the blocks.

    acm-facts.md: "Certificate, chain and key are three separate PEM parameters. DER is
    rejected. No extra blank lines or whitespace around PEM blocks." CRLF line ends are read
    as LF: they are how a PEM file saved on Windows looks, not extra whitespace.
    """
    text = data.replace(b"\r\n", b"\n")
    if not text.startswith(b"-----BEGIN "):
        if text[:1] == b"\x30":
            return (_INVALID, f"The {field} is DER-encoded; ACM accepts only PEM-encoded input.")
        if text[:1].isspace():
            return (
                _INVALID,
                f"The {field} has whitespace before its PEM block. Remove it and try again.",
            )
        return (_INVALID, f"Unable to parse the {field}. Please ensure it is in PEM format.")
    blocks: list[tuple[str, bytes]] = []
    position = 0
    while position < len(text):
        begin = _BEGIN.match(text, position)
        if begin is None:
            return (
                _INVALID,
                f"The {field} has extra blank lines, whitespace or text around its PEM "
                "blocks. Remove them and try again.",
            )
        label = begin.group(1).decode()
        end_marker = f"-----END {label}-----".encode()
        end = text.find(end_marker, begin.end())
        if end < 0:
            return (_INVALID, f"Unable to parse the {field}. Please ensure it is in PEM format.")
        body = text[begin.end() : end]
        # Headers (Proc-Type, DEK-Info) only appear in encrypted traditional keys.
        if b"Proc-Type:" in body and b"ENCRYPTED" in body:
            return (_INVALID, f"The {field} is encrypted. Provide an unencrypted {field}.")
        lines = body.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        if not lines or not all(_BASE64_LINE.fullmatch(line) for line in lines):
            return (
                _INVALID,
                f"The {field} has extra blank lines, whitespace or text inside a PEM block. "
                "Remove them and try again.",
            )
        try:
            der = base64.b64decode(b"".join(lines), validate=True)
        except (binascii.Error, ValueError):
            return (_INVALID, f"Unable to parse the {field}. Please ensure it is in PEM format.")
        blocks.append((label, der))
        position = end + len(end_marker)
        # One line end separates blocks and may end the parameter; a second is a blank line.
        if text.startswith(b"\n", position):
            position += 1
    return blocks


def _certificates(data: bytes, field: str) -> list[x509.Certificate] | Problem:
    blocks = _pem_blocks(data, field)
    if isinstance(blocks, tuple):
        return blocks
    certificates = []
    for label, der in blocks:
        if label != "CERTIFICATE":
            return (_INVALID, f"The {field} contains a {label} block; expected CERTIFICATE.")
        try:
            certificates.append(x509.load_der_x509_certificate(der))
        except ValueError:
            return (_INVALID, f"Unable to parse the {field}. The certificate is not valid.")
    return certificates


def _one_certificate(certificate: bytes) -> x509.Certificate | Problem:
    parsed = _certificates(certificate, "certificate")
    if isinstance(parsed, tuple):
        return parsed
    if len(parsed) != 1:
        return (
            _INVALID,
            "The certificate field contains more than one certificate. "
            "You can specify only one certificate in this field.",
        )
    return parsed[0]


def _private_key(private_key: bytes) -> PrivateKeyTypes | Problem:
    blocks = _pem_blocks(private_key, "private key")
    if isinstance(blocks, tuple):
        return blocks
    # acm-facts.md: an "EC PARAMETERS" block before an EC key is stripped by ACM.
    ec_parameters = blocks[0][0] == "EC PARAMETERS"
    if ec_parameters:
        blocks = blocks[1:]
    if len(blocks) != 1:
        return (_INVALID, "The private key field must contain exactly one private key.")
    label, der = blocks[0]
    if label == "ENCRYPTED PRIVATE KEY":
        return (_INVALID, "The private key is encrypted. Provide an unencrypted private key.")
    if label not in _KEY_LABELS:
        return (_INVALID, f"The private key field contains a {label} block, not a private key.")
    try:
        key = serialization.load_der_private_key(der, password=None)
    except TypeError:
        return (_INVALID, "The private key is encrypted. Provide an unencrypted private key.")
    except (ValueError, UnsupportedAlgorithm):
        return (_INVALID, "The private key is not supported.")
    if ec_parameters and not isinstance(key, ec.EllipticCurvePrivateKey):
        return (_INVALID, "The private key has EC PARAMETERS but is not an EC key.")
    return key


def stored_private_key(private_key: bytes) -> bytes:
    """The key as ACM keeps it: without a leading EC PARAMETERS block, LF line ends."""
    text = private_key.replace(b"\r\n", b"\n")
    if text.startswith(b"-----BEGIN EC PARAMETERS-----\n"):
        end = b"-----END EC PARAMETERS-----\n"
        text = text[text.index(end) + len(end) :]
    return text


# ----- keys -----
def key_algorithm(key: PublicKeyTypes | PrivateKeyTypes) -> str | None:
    """ACM's name for a key's algorithm and size, or None when ACM does not accept it.

    acm-facts.md, "What ImportCertificate accepts": RSA 1024/2048/3072/4096 and EC P-256,
    P-384, P-521; anything else (RSA 8192, Ed25519, DSA, other curves) is rejected.
    """
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"RSA_{key.key_size}" if key.key_size in _RSA_SIZES else None
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return _CURVES.get(key.curve.name)
    return None


def _certificate_public_key(cert: x509.Certificate) -> PublicKeyTypes | None:
    try:
        return cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return None


def certificate_key_algorithm(certificate: bytes) -> str | None:
    """The ACM key algorithm of a PEM certificate, or None when unreadable or unsupported."""
    cert = _one_certificate(certificate)
    if isinstance(cert, tuple):
        return None
    key = _certificate_public_key(cert)
    return key_algorithm(key) if key is not None else None


def _public_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# ----- names -----
def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def domain_names(cert: x509.Certificate) -> frozenset[str]:
    """The certificate's names as ACM lists them: subject CN plus SAN DNS names and IPs.

    Case and a trailing dot do not make a different DNS name, so both are folded.
    """
    names: set[str] = set()
    for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attribute.value
        if isinstance(value, str) and value:
            names.add(value)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        names.update(san.get_values_for_type(x509.DNSName))
        names.update(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    return frozenset(name.lower().rstrip(".") for name in names)


def _has_fqdn_or_ip(names: Iterable[str]) -> bool:
    return any(_is_ip(name) or _FQDN.fullmatch(name) for name in names)


# ----- extensions -----
_KEY_USAGE_FIELDS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def key_usages(cert: x509.Certificate) -> frozenset[str] | None:
    """The KeyUsage values, or None when the certificate has no KeyUsage extension."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    values = {name for name in _KEY_USAGE_FIELDS if getattr(usage, name)}
    # encipher_only/decipher_only raise unless key_agreement is set.
    if usage.key_agreement:
        values.update(n for n in ("encipher_only", "decipher_only") if getattr(usage, n))
    return frozenset(values)


def extended_key_usages(cert: x509.Certificate) -> frozenset[str] | None:
    """The ExtendedKeyUsage OIDs (dotted), or None when the extension is absent."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return frozenset(oid.dotted_string for oid in usage)


_USAGE_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH.dotted_string: "TLS Web Server Authentication",
    ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string: "TLS Web Client Authentication",
    ExtendedKeyUsageOID.CODE_SIGNING.dotted_string: "Code Signing",
    ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string: "E-mail Protection",
    ExtendedKeyUsageOID.TIME_STAMPING.dotted_string: "Time Stamping",
    ExtendedKeyUsageOID.OCSP_SIGNING.dotted_string: "OCSP Signing",
}


def _ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        str(description.access_location.value)
        for description in access
        if description.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(description.access_location, x509.UniformResourceIdentifier)
    ]


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
            _INVALID,
            f"The certificate length exceeds the maximum of {limits.certificate_bytes} bytes.",
        )
    cert = _one_certificate(certificate)
    if isinstance(cert, tuple):
        return cert
    if cert.version is not x509.Version.v3:
        return (_INVALID, "The certificate must be an X.509 version 3 certificate.")
    public_key = _certificate_public_key(cert)
    if public_key is None or key_algorithm(public_key) is None:
        return (_INVALID, "The certificate's public key algorithm or size is not supported.")
    if not _has_fqdn_or_ip(domain_names(cert)):
        return (
            _INVALID,
            "The certificate must contain at least one fully qualified domain name or IP "
            "address in its subject or subject alternative names.",
        )
    if not cert.issuer.rdns:
        return (_INVALID, "The certificate's issuer is empty.")
    moment = now or datetime.now(UTC)
    if moment < cert.not_valid_before_utc:
        return (_INVALID, "The certificate is not in effect yet, is not valid.")
    if moment > cert.not_valid_after_utc:
        return (_INVALID, "The certificate has expired, is not valid.")
    if any(len(url) > limits.ocsp_url_chars for url in _ocsp_urls(cert)):
        return (
            _INVALID,
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
            _INVALID,
            f"The private key length exceeds the maximum of {limits.private_key_bytes} bytes.",
        )
    key = _private_key(private_key)
    if isinstance(key, tuple):
        return key
    if key_algorithm(key) is None:
        return (_INVALID, "The private key algorithm or size is not supported.")
    cert = _one_certificate(certificate)
    if isinstance(cert, tuple):
        return cert
    public_key = _certificate_public_key(cert)
    if public_key is None or _public_der(key.public_key()) != _public_der(public_key):
        return (_INVALID, "The private key does not match the public key in the certificate.")
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
            _INVALID,
            f"The certificate chain length exceeds the maximum of {limits.chain_bytes} bytes.",
        )
    leaf = _one_certificate(certificate)
    if isinstance(leaf, tuple):
        return leaf
    parents = _certificates(chain, "certificate chain")
    if isinstance(parents, tuple):
        return parents
    child = leaf
    for index, parent in enumerate(parents, start=1):
        if parent == leaf:
            return (
                _INVALID,
                "The certificate chain contains the certificate itself; the chain must hold "
                f"only its issuers. The index within the chain of the invalid certificate is: "
                f"{index}",
            )
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            return (
                _INVALID,
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
    old_cert, new_cert = _one_certificate(previous), _one_certificate(new)
    if isinstance(new_cert, tuple):
        return new_cert
    if isinstance(old_cert, tuple):
        # What ACM holds was accepted once; if it cannot be read now the emulator is broken.
        raise ValueError(f"the stored certificate is unreadable: {old_cert[1]}")
    old_key, new_key = _certificate_public_key(old_cert), _certificate_public_key(new_cert)
    old_alg = key_algorithm(old_key) if old_key is not None else None
    new_alg = key_algorithm(new_key) if new_key is not None else None
    if old_alg != new_alg:
        return (
            _INVALID,
            f"The certificate you are reimporting uses key algorithm {new_alg}, but the "
            f"certificate being replaced uses {old_alg}; the key algorithm and size cannot "
            "change on reimport.",
        )
    old_names, new_names = domain_names(old_cert), domain_names(new_cert)
    if old_names and not old_names & new_names:
        return (
            _INVALID,
            "You cannot remove all of the domain names from a certificate on reimport; keep "
            "at least one of the domain names of the certificate being replaced.",
        )
    is_ecdsa = isinstance(new_key, ec.EllipticCurvePublicKey)
    old_ku, new_ku = key_usages(old_cert), key_usages(new_cert)
    if old_ku is None and new_ku is not None:
        return (
            _INVALID,
            "The certificate you are reimporting has a KeyUsage extension, but the "
            "certificate being replaced has none; it cannot be added on reimport.",
        )
    if old_ku is not None:
        removed = old_ku - (new_ku or frozenset())
        if is_ecdsa:
            removed -= {"key_encipherment"}  # RFC 5480 section 3 does not allow it for ECDSA
        if removed:
            return (
                _INVALID,
                "The certificate you are reimporting removes Key Usage values of the "
                f"certificate being replaced: {', '.join(sorted(removed))}. Values can be "
                "added but not removed.",
            )
    old_eku, new_eku = extended_key_usages(old_cert), extended_key_usages(new_cert)
    if old_eku is None and new_eku is not None:
        return (
            _INVALID,
            "The certificate you are reimporting has an ExtendedKeyUsage extension, but the "
            "certificate being replaced has none; it cannot be added on reimport.",
        )
    if old_eku is not None:
        # CAs no longer issue clientAuth for Chrome's root program, so ACM lets it go.
        removed = (
            old_eku - (new_eku or frozenset()) - {ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string}
        )
        if removed:
            names = ", ".join(sorted(_USAGE_NAMES.get(oid, oid) for oid in removed))
            return (
                _INVALID,
                "The certificate you are reimporting removes Extended Key Usage values of the "
                f"certificate being replaced: {names}. Values can be added but not removed.",
            )
    return None
