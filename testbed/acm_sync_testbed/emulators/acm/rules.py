"""The ImportCertificate rules real ACM enforces and moto does not.

Each check returns ``(error type, message)`` exactly as the emulator answers it, or None.
The messages never echo key material.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from acm_sync.core.findings import Severity
from acm_sync.core.keys import ACM_KEY_ALGORITHMS
from acm_sync.core.reimport import check_reimport as core_check_reimport

# What ListCertificates shows when Includes.keyTypes is absent (real ACM's default).
DEFAULT_LISTED_KEY_TYPES = ("RSA_1024", "RSA_2048")
_CURVES = {"secp256r1": "prime256v1", "secp384r1": "secp384r1", "secp521r1": "secp521r1"}

Problem = tuple[str, str]


def key_algorithm(key: PublicKeyTypes | PrivateKeyTypes) -> str | None:
    """ACM's name for a key's algorithm and size, or None when ACM does not accept it."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        name = f"RSA_{key.key_size}"
    elif isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        name = f"EC_{_CURVES.get(key.curve.name, key.curve.name)}"
    else:
        return None
    return name if name in ACM_KEY_ALGORITHMS else None


def _public_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_key(certificate: bytes, private_key: bytes) -> Problem | None:
    """A supported, unencrypted key that matches the certificate's public key."""
    try:
        cert = x509.load_pem_x509_certificate(certificate)
    except ValueError:
        return ("ValidationException", "The certificate is not PEM-encoded or is not valid.")
    try:
        key = serialization.load_pem_private_key(private_key, password=None)
    except (ValueError, TypeError):
        return ("ValidationException", "The private key is not PEM-encoded or is not valid.")
    if len(private_key) > 5120:
        return ("ValidationException", "The private key length exceeds 5120 bytes.")
    if key_algorithm(key) is None:
        return ("ValidationException", "The private key algorithm or size is not supported.")
    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        return (
            "ValidationException",
            "The private key does not match the public key in the certificate.",
        )
    return None


def check_chain(certificate: bytes, chain: bytes | None) -> Problem | None:
    """Each chain certificate must have issued the one before it, starting at the leaf."""
    if not chain:
        return None
    try:
        child = x509.load_pem_x509_certificate(certificate)
        parents = x509.load_pem_x509_certificates(chain)
    except ValueError:
        return ("ValidationException", "The certificate chain is not PEM-encoded or is not valid.")
    for index, parent in enumerate(parents):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            return (
                "ValidationException",
                f"Could not validate the certificate with the certificate chain "
                f"(chain certificate {index + 1} did not issue the certificate before it).",
            )
        child = parent
    return None


def certificate_key_algorithm(certificate: bytes) -> str | None:
    """The key algorithm of a PEM certificate, or None when it cannot be read."""
    try:
        return key_algorithm(x509.load_pem_x509_certificate(certificate).public_key())
    except ValueError:
        return None


def check_reimport(previous: bytes, new: bytes) -> Problem | None:
    """ACM's reimport rules: same key algorithm and size, then the core's usage rules."""
    old_alg, new_alg = certificate_key_algorithm(previous), certificate_key_algorithm(new)
    if old_alg != new_alg:
        return (
            "ValidationException",
            f"The certificate you are reimporting uses key algorithm {new_alg}, "
            f"but the certificate being replaced uses {old_alg}; they must match.",
        )
    # Key usages removed, extensions added: the certificate core knows ACM's rules.
    for finding in core_check_reimport(previous, new):
        if finding.severity is Severity.ERROR:
            return ("ValidationException", f"Reimport refused: {finding.message}")
    return None
