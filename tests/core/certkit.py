"""Certificates for the core and check tests, generated with ``cryptography``.

Keys are expensive (RSA above all), so every key is generated once per test session and cached
by its parameters; certificates are cheap and are built per test.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
    "secp256k1": ec.SECP256K1(),
}

Key = CertificateIssuerPrivateKeyTypes


@functools.cache
def rsa_key(bits: int = 2048, slot: int = 0) -> rsa.RSAPrivateKey:
    """One RSA key per (size, slot) for the whole session."""
    del slot  # only part of the cache key: distinct slots give distinct keys
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def ec_key(curve: str = "P-256", slot: int = 0) -> ec.EllipticCurvePrivateKey:
    """One EC key per (curve, slot) for the whole session."""
    del slot
    return ec.generate_private_key(CURVES[curve])


@functools.cache
def ed25519_key() -> ed25519.Ed25519PrivateKey:
    """An Ed25519 key (ACM refuses these)."""
    return ed25519.Ed25519PrivateKey.generate()


def _name(cn: str | None) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])


@dataclass(frozen=True)
class Issued:
    """A certificate together with the key it certifies."""

    cert: x509.Certificate
    key: Key

    @property
    def pem(self) -> bytes:
        """The certificate as PEM."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        """The certificate as DER."""
        return self.cert.public_bytes(serialization.Encoding.DER)

    def key_pem(self, fmt: str = "pkcs8") -> bytes:
        """The private key as PEM: ``pkcs8`` or ``traditional`` (PKCS#1 / SEC1)."""
        form = {
            "pkcs8": serialization.PrivateFormat.PKCS8,
            "traditional": serialization.PrivateFormat.TraditionalOpenSSL,
        }[fmt]
        return self.key.private_bytes(
            serialization.Encoding.PEM, form, serialization.NoEncryption()
        )


def make_cert(
    key: Key,
    *,
    cn: str | None = "www.example.com",
    sans: tuple[str, ...] | None = ("www.example.com", "example.com"),
    issuer: Issued | None = None,
    issuer_cn: str | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    ca: bool = False,
    key_usage: frozenset[str] | None = None,
    eku: tuple[x509.ObjectIdentifier, ...] | None = None,
    ocsp_url: str | None = None,
    serial: int | None = None,
) -> Issued:
    """Build a certificate for ``key``, signed by ``issuer`` (self-signed when None)."""
    not_before = not_before or NOW - timedelta(days=30)
    not_after = not_after or NOW + timedelta(days=300)
    subject = _name(cn)
    if issuer is not None:
        issuer_name, signer = issuer.cert.subject, issuer.key
    else:
        issuer_name = subject if issuer_cn is None else _name(issuer_cn)
        signer = key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        entries: list[x509.GeneralName] = []
        for san in sans:
            try:
                entries.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                entries.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    if key_usage is not None:
        flags = {
            name: name in key_usage
            for name in (
                "digital_signature",
                "content_commitment",
                "key_encipherment",
                "data_encipherment",
                "key_agreement",
                "key_cert_sign",
                "crl_sign",
            )
        }
        builder = builder.add_extension(
            x509.KeyUsage(**flags, encipher_only=False, decipher_only=False), critical=True
        )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if ocsp_url is not None:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(ocsp_url),
                    )
                ]
            ),
            critical=False,
        )
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return Issued(builder.sign(signer, algorithm), key)


@dataclass(frozen=True)
class Pki:
    """Root -> intermediate -> leaf, the usual shape of a public chain."""

    root: Issued
    intermediate: Issued
    leaf: Issued


def make_pki(leaf_key: Key | None = None, *, slot: int = 0, **leaf_args: object) -> Pki:
    """A fresh three-level PKI (CA keys are cached per slot; the leaf key defaults to RSA 2048)."""
    root = make_cert(ec_key("P-384", 100 + slot), cn=f"Test Root {slot}", sans=None, ca=True)
    inter = make_cert(
        ec_key("P-256", 100 + slot), cn=f"Test Intermediate {slot}", sans=None, ca=True, issuer=root
    )
    leaf = make_cert(leaf_key or rsa_key(2048), issuer=inter, **leaf_args)  # type: ignore[arg-type]
    return Pki(root, inter, leaf)


SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
