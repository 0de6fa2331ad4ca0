"""Test kit for the engine and emulator tests: a tiny PKI (all key types) and helpers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from acm_sync.aws.settings import AwsSettings
from acm_sync.core.model import Material
from acm_sync.core.state import DesiredState, Owner

KEY_ALGORITHMS: dict[str, Callable[[], CertificateIssuerPrivateKeyTypes]] = {
    "RSA_2048": lambda: rsa.generate_private_key(65537, 2048),
    "RSA_3072": lambda: rsa.generate_private_key(65537, 3072),
    "RSA_4096": lambda: rsa.generate_private_key(65537, 4096),
    "EC_prime256v1": lambda: ec.generate_private_key(ec.SECP256R1()),
    "EC_secp384r1": lambda: ec.generate_private_key(ec.SECP384R1()),
}


@cache
def key(algorithm: str, index: int = 0) -> CertificateIssuerPrivateKeyTypes:
    """A private key of the given ACM algorithm; cached because RSA 4096 is slow to make."""
    return KEY_ALGORITHMS[algorithm]()


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Issuer:
    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@cache
def ca(name: str = "Test Root", parent_name: str | None = None) -> Issuer:
    """A CA (root, or intermediate under ``parent_name``), cached by name."""
    now = datetime.now(UTC)
    own_key = key("EC_prime256v1", hash(name) % 1000 + 1)
    parent = ca(parent_name) if parent_name else None
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(parent.cert.subject if parent else _name(name))
        .public_key(own_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(parent.key if parent else own_key, hashes.SHA256())
    )
    return Issuer(cert, own_key)


def leaf(
    algorithm: str = "RSA_2048",
    *,
    domains: tuple[str, ...] = ("app.example.com",),
    issuer: Issuer | None = None,
    key_index: int = 0,
    server_auth: bool = True,
    client_auth: bool = True,
) -> Material:
    """A fresh leaf (new serial each call) issued by an intermediate under the test root."""
    issuer = issuer or ca("Test Intermediate", "Test Root")
    now = datetime.now(UTC)
    own_key = key(algorithm, key_index)
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server_auth else []
    if client_auth:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(domains[0]))
        .issuer_name(issuer.cert.subject)
        .public_key(own_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), False)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )
    key_pem = own_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return Material(certificate=_pem(cert), chain=_pem(issuer.cert), private_key=key_pem)


def fingerprint(material: Material) -> str:
    """Changes whenever the leaf or chain changes (the tests' stand-in for the core's)."""
    return hashlib.sha256(material.certificate + (material.chain or b"")).hexdigest()


def fast_settings(url: str, **overrides: Any) -> AwsSettings:
    """No client-side rate limits and millisecond backoff, so the suite stays fast."""
    base: dict[str, Any] = {
        "rates": {},
        "max_attempts": 4,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "endpoint_url": url,
        "read_timeout": 5.0,
        "connect_timeout": 2.0,
    }
    base.update(overrides)
    return AwsSettings(**base)


OWNER = Owner(cluster_id="c-1234", namespace="web", name="shop")


def desired_for(
    material: Material,
    regions: tuple[str, ...] = ("us-east-1",),
    *,
    owner: Owner = OWNER,
    algorithm: str = "RSA_2048",
    **fields: Any,
) -> DesiredState:
    return DesiredState(
        owner=owner,
        fingerprint=fingerprint(material),
        key_algorithm=algorithm,
        regions=regions,
        **fields,
    )
