"""Facts about one X.509 certificate, as ACM reports or checks them.

Every accessor here tolerates malformed extensions: cryptography parses extensions lazily and
raises on a broken one, and a broken extension must become a finding, not a crash.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from acm_sync.core.keys import AnyPublicKey, key_algorithm_name, spki
from acm_sync.core.pem import CERTIFICATE_LABELS, parse_pem

KEY_USAGE_NAMES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)

_EKU_NAMES = {
    "1.3.6.1.5.5.7.3.1": "serverAuth",
    "1.3.6.1.5.5.7.3.2": "clientAuth",
    "1.3.6.1.5.5.7.3.3": "codeSigning",
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.8": "timeStamping",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "2.5.29.37.0": "anyExtendedKeyUsage",
}


def format_serial(serial: int) -> str:
    """Colon-separated lowercase hex, two digits per byte, as ACM shows ``Serial``."""
    if serial < 0:
        # Not allowed by RFC 5280 but parseable; show the DER bytes rather than a minus sign.
        text = serial.to_bytes(serial.bit_length() // 8 + 1, "big", signed=True).hex()
    else:
        text = f"{serial:x}"
    if len(text) % 2:
        text = "0" + text
    return ":".join(text[i : i + 2] for i in range(0, len(text), 2))


def name_string(name: x509.Name) -> str:
    """RFC 4514 rendering, falling back to a plain join for attributes it cannot render."""
    try:
        return name.rfc4514_string()
    except ValueError:
        return ",".join(str(attr.value) for attr in name)


def public_key_of(cert: x509.Certificate) -> AnyPublicKey | None:
    """The certificate's public key, or None when its algorithm is unknown to cryptography."""
    try:
        return cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return None


def public_spki(cert: x509.Certificate) -> bytes | None:
    """SubjectPublicKeyInfo DER of the certificate's key, None when it cannot be read."""
    key = public_key_of(cert)
    return None if key is None else spki(key)


def certificate_key_algorithm(cert: x509.Certificate) -> str:
    """ACM's name for the certificate's key algorithm (``RSA_2048``, ``EC_prime256v1``...)."""
    key = public_key_of(cert)
    if key is None:
        return f"unknown ({cert.public_key_algorithm_oid.dotted_string})"
    return key_algorithm_name(key)


def key_algorithm_from_pem(certificate_pem: bytes) -> str | None:
    """ACM's key algorithm name of the first certificate in a PEM bundle; None if unreadable."""
    cert = first_certificate(certificate_pem)
    return None if cert is None else certificate_key_algorithm(cert)


def first_certificate(data: bytes) -> x509.Certificate | None:
    """The first parseable certificate in a PEM bundle, or None."""
    for block in parse_pem(data).with_label(CERTIFICATE_LABELS):
        try:
            return x509.load_der_x509_certificate(block.der)
        except ValueError:
            continue
    return None


def _extension_value(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> object | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, ValueError):
        return None


def domains(cert: x509.Certificate) -> tuple[str, ...]:
    """SAN DNS names and IP addresses in order; the subject CN when there are none."""
    names: list[str] = []
    san = _extension_value(cert, x509.SubjectAlternativeName)
    if isinstance(san, x509.SubjectAlternativeName):
        names.extend(san.get_values_for_type(x509.DNSName))
        names.extend(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    if not names:
        names.extend(
            str(attr.value).strip()
            for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            if str(attr.value).strip()
        )
    return tuple(dict.fromkeys(names))


def acm_names(cert: x509.Certificate) -> tuple[str, ...]:
    """Every name ACM lists for the certificate: the subject CN (its DomainName) and the SANs.

    Unlike :func:`domains`, the CN counts even beside SANs, because ACM shows it as the
    certificate's DomainName; the FQDN and reimport-name rules judge these.
    """
    cns = (
        str(attr.value).strip()
        for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if str(attr.value).strip()
    )
    return tuple(dict.fromkeys((*cns, *domains(cert))))


def ocsp_urls(cert: x509.Certificate) -> tuple[str, ...]:
    """OCSP responder URLs from Authority Information Access."""
    aia = _extension_value(cert, x509.AuthorityInformationAccess)
    if not isinstance(aia, x509.AuthorityInformationAccess):
        return ()
    return tuple(
        str(desc.access_location.value)
        for desc in aia
        if desc.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(desc.access_location, x509.UniformResourceIdentifier)
    )


def key_usages(cert: x509.Certificate) -> frozenset[str] | None:
    """The KeyUsage bits that are set; None when the extension is absent."""
    ku = _extension_value(cert, x509.KeyUsage)
    if not isinstance(ku, x509.KeyUsage):
        return None
    found: set[str] = set()
    for name in KEY_USAGE_NAMES:
        try:
            if getattr(ku, name):
                found.add(name)
        except ValueError:
            # encipher_only/decipher_only raise unless key_agreement is set.
            continue
    return frozenset(found)


def extended_key_usages(cert: x509.Certificate) -> frozenset[str] | None:
    """ExtendedKeyUsage values by common name (dotted OID if unnamed); None when absent."""
    eku = _extension_value(cert, x509.ExtendedKeyUsage)
    if not isinstance(eku, x509.ExtendedKeyUsage):
        return None
    return frozenset(_EKU_NAMES.get(oid.dotted_string, oid.dotted_string) for oid in eku)


class _Link:
    """A (child, parent) pair hashed by DER, so verdicts can be cached across Secrets."""

    __slots__ = ("child", "key", "parent")

    def __init__(self, child: x509.Certificate, parent: x509.Certificate) -> None:
        self.child, self.parent = child, parent
        self.key = (child.tbs_certificate_bytes, child.signature, parent.tbs_certificate_bytes)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Link) and self.key == other.key


# Secrets in a cluster share a handful of intermediates and roots; their signatures are checked
# once instead of once per Secret per sync (a P-384 verification alone costs about 0.5 ms).
# Verdicts are pure functions of the bytes, and lru_cache is thread-safe.
@functools.lru_cache(maxsize=512)
def _signature_ok(link: _Link) -> bool:
    try:
        link.child.verify_directly_issued_by(link.parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def clear_signature_cache() -> None:
    """Forget cached signature verdicts (benchmarks measure the cold path with this)."""
    _signature_ok.cache_clear()


# A verification's cost is the signer's key's to choose: an RSA key of 3,072 bits with a
# 3,000-bit public exponent (OpenSSL bounds the exponent only above 3,072 bits) takes about
# 20 ms, a hundred times a normal one. No CA uses such a key: the CA/Browser Forum's Baseline
# Requirements cap the exponent at 2^256 - 1, and OpenSSL's own RSA modulus ceiling is 16,384.
MAX_RSA_EXPONENT_BITS = 256
MAX_RSA_BITS = 16384
MAX_DSA_BITS = 3072


def _cheap_to_verify(parent: x509.Certificate) -> bool:
    key = public_key_of(parent)
    if isinstance(key, rsa.RSAPublicKey):
        exponent = key.public_numbers().e
        return key.key_size <= MAX_RSA_BITS and exponent.bit_length() <= MAX_RSA_EXPONENT_BITS
    if isinstance(key, dsa.DSAPublicKey):
        return key.key_size <= MAX_DSA_BITS
    return key is not None


def issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """True when ``parent``'s subject is ``child``'s issuer and its key signed ``child``.

    A parent whose key would make verification needlessly expensive signed nothing.
    """
    if child.issuer != parent.subject or not _cheap_to_verify(parent):
        return False
    return _signature_ok(_Link(child, parent))


def subjects(certs: Iterable[x509.Certificate]) -> str:
    """Quoted subjects for messages."""
    return ", ".join(f"'{name_string(c.subject)}'" for c in certs)
