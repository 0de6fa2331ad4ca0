"""The one test certificate kit: keys, CAs, leaves and TLS Secret manifests for every test
directory and benchmark.

Every certificate is made by ``make_cert``; the rest are the shapes the tests need:

- ``make_pki`` / ``Issued``: root -> intermediate -> leaf as ``x509`` objects, for the core and
  ``acm-sync check`` tests, dated from the fixed ``NOW`` (verdicts that do not drift with the
  calendar; those tests pass ``now`` to the core).
- ``ca`` / ``leaf``: the engine and ACM emulator tests' CAs (cached by name) and leaves as the
  core's ``Material``, dated from the wall clock, as the emulator judges validity by it.
- ``TestCA`` / ``tls_secret``: the operator, chaos and benchmark CA issuing fresh-key leaves as
  PEM (``IssuedPem``), and the Secret manifests that carry them.
- ``self_signed_tls_secret``: the playground and demo tests' one-SAN Secret.

Keys are expensive (RSA above all): the key functions return one key per parameters and slot
for the session; ``TestCA.issue`` makes a fresh key per leaf, as a real issuer does.
"""

from __future__ import annotations

import base64
import functools
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from acm_sync.core.model import Material

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
    "secp256k1": ec.SECP256K1(),
}
# ACM's key algorithm names (and EC_secp521r1 / EC_secp256k1, which it refuses) -> CURVES.
ACM_CURVES = {
    "EC_prime256v1": "P-256",
    "EC_secp384r1": "P-384",
    "EC_secp521r1": "P-521",
    "EC_secp256k1": "secp256k1",
}
SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)

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
def ed25519_key(slot: int = 0) -> ed25519.Ed25519PrivateKey:
    """An Ed25519 key per slot (ACM refuses these)."""
    del slot
    return ed25519.Ed25519PrivateKey.generate()


@functools.cache
def acm_key(kind: str, slot: int = 0) -> Key:
    """The session's key for an algorithm named as ACM names them (``RSA_2048``,
    ``EC_prime256v1``, ...) or for a kind ACM refuses (``Ed25519``, ``DSA_2048``)."""
    if kind.startswith("RSA_"):
        return rsa_key(int(kind[4:]), slot)
    if kind in ACM_CURVES:
        return ec_key(ACM_CURVES[kind], slot)
    if kind == "Ed25519":
        return ed25519_key(slot)
    if kind.startswith("DSA_"):
        return dsa.generate_private_key(int(kind[4:]))  # one per (kind, slot): acm_key is cached
    raise ValueError(kind)


def pem(cert: x509.Certificate) -> bytes:
    """A certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: Key, fmt: str = "pkcs8", password: bytes | None = None) -> bytes:
    """A private key as PEM: ``pkcs8`` or ``traditional`` (PKCS#1 / SEC1), encrypted when a
    ``password`` is given."""
    form = {
        "pkcs8": serialization.PrivateFormat.PKCS8,
        "traditional": serialization.PrivateFormat.TraditionalOpenSSL,
    }[fmt]
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, form, encryption)


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
        return pem(self.cert)

    @property
    def der(self) -> bytes:
        """The certificate as DER."""
        return self.cert.public_bytes(serialization.Encoding.DER)

    def key_pem(self, fmt: str = "pkcs8") -> bytes:
        """The private key as PEM: ``pkcs8`` or ``traditional`` (PKCS#1 / SEC1)."""
        return key_pem(self.key, fmt)


def make_cert(
    key: Key,
    *,
    cn: str | None = "www.example.com",
    sans: tuple[str, ...] | None = ("www.example.com", "example.com"),
    issuer: Issued | None = None,
    issuer_cn: str | None = None,
    issuer_name: x509.Name | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    ca: bool = False,
    path_length: int | None = None,
    basic_constraints: bool = True,
    key_usage: frozenset[str] | None = None,
    eku: tuple[x509.ObjectIdentifier, ...] | None = None,
    ocsp_url: str | None = None,
    serial: int | None = None,
) -> Issued:
    """Build a certificate for ``key``, signed by ``issuer`` (self-signed when None).

    ``issuer_name`` overrides the issuer's name (an empty name, a name that is not the
    signer's); ``basic_constraints=False`` leaves the extension out, as many issuers do on leaves.
    """
    not_before = not_before or NOW - timedelta(days=30)
    not_after = not_after or NOW + timedelta(days=300)
    subject = _name(cn)
    if issuer is not None:
        name, signer = issuer.cert.subject, issuer.key
    else:
        name = subject if issuer_cn is None else _name(issuer_cn)
        signer = key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(name if issuer_name is None else issuer_name)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if basic_constraints:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length), critical=True
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
        flags = {usage: usage in key_usage for usage in KEY_USAGES}
        builder = builder.add_extension(
            x509.KeyUsage(**flags, encipher_only=False, decipher_only=False), critical=True
        )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if ocsp_url is not None:
        ocsp = x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([ocsp]), critical=False)
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


@functools.cache
def ca(name: str = "Test Root", parent_name: str | None = None) -> Issued:
    """A CA valid around the wall clock (root, or intermediate under ``parent_name``)."""
    now = datetime.now(UTC)
    # Slots from 1000 up: apart from make_pki's CA keys (100 + slot) and the tests' own slots.
    own_key = ec_key("P-256", 1000 + hash(name) % 1000)
    return make_cert(
        own_key,
        cn=name,
        sans=None,
        issuer=ca(parent_name) if parent_name else None,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=3650),
        ca=True,
    )


def leaf(
    algorithm: str = "RSA_2048",
    *,
    domains: tuple[str, ...] = ("app.example.com",),
    issuer: Issued | None = None,
    key_index: int = 0,
    server_auth: bool = True,
    client_auth: bool = True,
) -> Material:
    """A fresh leaf (new serial each call, the session's key for ``algorithm`` and
    ``key_index``) issued by an intermediate under the test root, as ACM import material."""
    issuer = issuer or ca("Test Intermediate", "Test Root")
    now = datetime.now(UTC)
    own_key = acm_key(algorithm, key_index)
    usages = [SERVER_AUTH] if server_auth else []
    if client_auth:
        usages.append(CLIENT_AUTH)
    cert = make_cert(
        own_key,
        cn=domains[0],
        sans=domains,
        issuer=issuer,
        not_before=now - timedelta(hours=1),
        not_after=now + timedelta(days=90),
        basic_constraints=False,
        eku=tuple(usages),
    )
    return Material(certificate=cert.pem, chain=issuer.pem, private_key=cert.key_pem())


@dataclass(frozen=True)
class IssuedPem:
    """A leaf and its key, PEM-encoded, plus the CA that signed it."""

    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes
    serial: int
    not_after: datetime

    @property
    def key_body(self) -> str:
        """The base64 body of the private key PEM (what a leak would contain)."""
        lines = self.key_pem.decode().strip().splitlines()
        return "".join(lines[1:-1])


class TestCA:
    """A self-signed EC P-256 CA valid around the wall clock, issuing EC P-256 (or RSA)
    leaves, each with a fresh key."""

    __test__ = False  # not a pytest class

    def __init__(self, name: str = "acm-sync test CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        self.issued = make_cert(
            self.key,
            cn=name,
            sans=None,
            not_before=now - timedelta(days=1),
            not_after=now + timedelta(days=3650),
            ca=True,
            key_usage=frozenset({"digital_signature", "key_cert_sign", "crl_sign"}),
        )
        self.cert = self.issued.cert
        self.pem = self.issued.pem

    def issue(
        self,
        *names: str,
        days: int = 90,
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
        rsa_bits: int | None = None,
    ) -> IssuedPem:
        """A leaf for ``names`` (serverAuth) valid from an hour ago for ``days`` days."""
        if key is None:
            key = (
                rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
                if rsa_bits
                else ec.generate_private_key(ec.SECP256R1())
            )
        now = datetime.now(UTC)
        not_after = (now + timedelta(days=days)).replace(microsecond=0)
        names = names or ("app.example.com",)
        cert = make_cert(
            key,
            cn=names[0],
            sans=names,
            issuer=self.issued,
            not_before=min(now - timedelta(hours=1), not_after - timedelta(days=2)),
            not_after=not_after,
            eku=(SERVER_AUTH,),
        )
        return IssuedPem(cert.pem, cert.key_pem(), self.pem, cert.cert.serial_number, not_after)


def b64(data: bytes) -> str:
    """Base64 as in a Secret's data."""
    return base64.b64encode(data).decode()


def tls_secret(
    name: str,
    issued: IssuedPem,
    *,
    annotations: dict[str, str] | None = None,
    secret_type: str = "kubernetes.io/tls",  # noqa: S107 - a type name
) -> dict[str, Any]:
    """A TLS Secret manifest carrying ``issued`` (tls.crt, tls.key and ca.crt)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "annotations": dict(annotations or {})},
        "type": secret_type,
        "data": {
            "tls.crt": b64(issued.cert_pem),
            "tls.key": b64(issued.key_pem),
            "ca.crt": b64(issued.ca_pem),
        },
    }


def self_signed_tls_secret(name: str, domain: str) -> dict[str, Any]:
    """A kubernetes.io/tls Secret manifest that ACM accepts: self-signed EC P-256, one SAN."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = make_cert(
        key,
        cn=domain,
        sans=(domain,),
        not_before=now - timedelta(hours=1),
        not_after=now + timedelta(days=90),
        basic_constraints=False,
    )
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": b64(cert.pem), "tls.key": b64(cert.key_pem())},
    }


def serial_hex(serial: int) -> str:
    """ACM's (and status.serialNumber's) notation: colon-separated lowercase hex."""
    raw = f"{serial:x}"
    raw = raw if len(raw) % 2 == 0 else "0" + raw
    return ":".join(raw[i : i + 2] for i in range(0, len(raw), 2))
