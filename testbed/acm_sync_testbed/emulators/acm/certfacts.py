"""What ACM reads off a certificate: its key type, names, key usages and OCSP URLs.

The names ACM gives key types, and which names, usages and URLs its rules look at, are written
from ``/work/shared/reference/acm-facts.md``, never from the operator's own certificate code.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from acm_sync_testbed.emulators.acm.pem import one_certificate

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

# A fully qualified name: two or more labels, optionally a leading wildcard label.
_FQDN = re.compile(
    r"(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?",
    re.IGNORECASE,
)


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


def certificate_public_key(cert: x509.Certificate) -> PublicKeyTypes | None:
    """The certificate's public key, or None when cryptography cannot load it."""
    try:
        return cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return None


def certificate_key_algorithm(certificate: bytes) -> str | None:
    """The ACM key algorithm of a PEM certificate, or None when unreadable or unsupported."""
    cert = one_certificate(certificate)
    if isinstance(cert, tuple):
        return None
    key = certificate_public_key(cert)
    return key_algorithm(key) if key is not None else None


def public_der(key: PublicKeyTypes) -> bytes:
    """The SubjectPublicKeyInfo DER: equal for a private key's public half and its cert's."""
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


def has_fqdn_or_ip(names: Iterable[str]) -> bool:
    """Whether any of ``names`` is a fully qualified domain name or an IP address."""
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


# The names ACM's messages give extended key usages (OIDs it has no name for stay dotted).
USAGE_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH.dotted_string: "TLS Web Server Authentication",
    ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string: "TLS Web Client Authentication",
    ExtendedKeyUsageOID.CODE_SIGNING.dotted_string: "Code Signing",
    ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string: "E-mail Protection",
    ExtendedKeyUsageOID.TIME_STAMPING.dotted_string: "Time Stamping",
    ExtendedKeyUsageOID.OCSP_SIGNING.dotted_string: "OCSP Signing",
}


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """The OCSP responder URLs of the Authority Information Access extension."""
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
