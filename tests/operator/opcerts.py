"""Test certificates for the operator tests: a CA, leaves signed by it, TLS Secret manifests."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class Issued:
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
    """A self-signed CA issuing EC P-256 (or RSA) leaves."""

    __test__ = False  # not a pytest class

    def __init__(self, name: str = "acm-sync test CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        *names: str,
        days: int = 90,
        key: PrivateKey | None = None,
        rsa_bits: int | None = None,
    ) -> Issued:
        """A leaf for ``names`` valid from yesterday for ``days`` days."""
        if key is None:
            key = (
                rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
                if rsa_bits
                else ec.generate_private_key(ec.SECP256R1())
            )
        now = datetime.now(UTC)
        serial = x509.random_serial_number()
        not_after = (now + timedelta(days=days)).replace(microsecond=0)
        names = names or ("app.example.com",)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(min(now - timedelta(hours=1), not_after - timedelta(days=2)))
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return Issued(
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=key_pem,
            ca_pem=self.pem,
            serial=serial,
            not_after=not_after,
        )


def b64(data: bytes) -> str:
    """Base64 as in a Secret's data."""
    return base64.b64encode(data).decode()


def tls_secret(
    name: str,
    issued: Issued,
    *,
    annotations: dict[str, str] | None = None,
    secret_type: str = "kubernetes.io/tls",  # noqa: S107 - a type name
) -> dict[str, Any]:
    """A TLS Secret manifest carrying ``issued``."""
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


def serial_hex(serial: int) -> str:
    """ACM's (and status.serialNumber's) notation: colon-separated lowercase hex."""
    raw = f"{serial:x}"
    raw = raw if len(raw) % 2 == 0 else "0" + raw
    return ":".join(raw[i : i + 2] for i in range(0, len(raw), 2))
