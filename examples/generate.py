"""Regenerate the throwaway demo certificates committed in examples/.

Run once, from anywhere:  python examples/generate.py [OUTPUT_DIR]   (default: examples/)

It makes a tiny demo CA ("acm-sync demo CA") and, signed by it, one leaf per demo Secret,
valid 2026-01-01 .. 2046-01-01 so the examples keep working for twenty years. The CA's own
key is never written anywhere; each Secret carries its leaf, its leaf key and the CA as
``ca.crt`` (what cert-manager's CA issuer stores), so acm-sync sends ACM the leaf plus the CA
as the chain. The keys are published in this repository: never use them for anything real.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "acm-sync demo CA"
NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2046, 1, 1, tzinfo=UTC)

LeafKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Demo:
    """One demo Secret: where it goes, what it is called and what its leaf holds."""

    file: str
    name: str  # the Secret's metadata.name
    domains: tuple[str, ...]
    key_algorithm: str  # ACM's name, as `acm-sync check` prints it
    intro: str  # the comment at the top of the file
    annotations: Mapping[str, str] = field(default_factory=dict)


DEMOS = (
    Demo(
        file="tls-secret.yaml",
        name="web-tls",
        domains=("web.example.com",),
        key_algorithm="RSA_2048",
        intro=(
            "The shape of Secret acm-sync reads (cert-manager writes exactly this), filled with\n"
            "demo material: a leaf for web.example.com signed by the demo CA in ca.crt.\n"
            "examples/acmcertificate.yaml imports it into ACM. Check it offline first:\n"
            "  acm-sync check examples/tls-secret.yaml"
        ),
    ),
    Demo(
        file="annotated-secret.yaml",
        name="shop-tls",
        domains=("shop.example.com", "www.shop.example.com"),
        key_algorithm="EC_prime256v1",
        intro=(
            "Annotation mode: a kubernetes.io/tls Secret as cert-manager writes it from\n"
            "examples/cert-manager/certificate.yaml's secretTemplate. acm-sync sees\n"
            "acmsync.io/regions and creates an AcmCertificate named shop-tls, owned by this\n"
            "Secret; no AcmCertificate to write by hand.\n"
            "  kubectl get acmcert shop-tls"
        ),
        annotations={
            "acmsync.io/regions": "us-east-1,eu-west-1",
            "acmsync.io/tags": "team=shop,env=prod",
            "acmsync.io/deletion-policy": "Retain",
        },
    ),
)

KEY_WARNING = (
    "THROWAWAY DEMO KEY, published in the acm-sync repository: never use it for anything real."
)


def _make_key(key_algorithm: str) -> LeafKey:
    if key_algorithm == "RSA_2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_algorithm == "EC_prime256v1":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"no generator for {key_algorithm}")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "acm-sync examples"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The demo CA: self-signed EC P-256, allowed to sign leaves only (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(CA_NAME)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_leaf(
    demo: Demo, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, LeafKey]:
    """A TLS server certificate for the demo's domains, signed by the demo CA."""
    key = _make_key(demo.key_algorithm)
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(demo.domains[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=is_rsa,  # RSA key exchange; meaningless for EC keys
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in demo.domains]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _block(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.strip().splitlines())


def render(demo: Demo, leaf: x509.Certificate, key: LeafKey, ca: x509.Certificate) -> str:
    """The Secret manifest, with stringData so the PEM stays readable in the file."""
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    lines = [f"# {line}".rstrip() for line in demo.intro.splitlines()]
    lines += [
        "#",
        "# Generated by examples/generate.py (demo CA and leaf, valid 2026-01-01 .. 2046-01-01).",
        "# tls.key is a throwaway demo key published in this repository: never use it for",
        "# anything real.",
        "apiVersion: v1",
        "kind: Secret",
        "metadata:",
        f"  name: {demo.name}",
    ]
    if demo.annotations:
        lines.append("  annotations:")
        lines += [f'    {name}: "{value}"' for name, value in demo.annotations.items()]
    lines += ["type: kubernetes.io/tls", "stringData:"]
    body = "\n".join(lines) + "\n"
    body += "  tls.crt: |\n" + _block(_pem(leaf))
    body += "  ca.crt: |\n" + _block(_pem(ca))
    body += f"  # {KEY_WARNING}\n"
    body += "  tls.key: |\n" + _block(key_pem)
    return body


def generate(out_dir: Path) -> list[Path]:
    """Write every demo Secret into ``out_dir``; return the files written."""
    ca_cert, ca_key = make_ca()
    written = []
    for demo in DEMOS:
        leaf, key = make_leaf(demo, ca_cert, ca_key)
        path = out_dir / demo.file
        path.write_text(render(demo, leaf, key, ca_cert))
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    """Entry point: ``python examples/generate.py [OUTPUT_DIR]``."""
    parser = argparse.ArgumentParser(
        prog="examples/generate.py",
        description="Regenerate the throwaway demo TLS Secrets of examples/ (a demo CA, a leaf "
        "per Secret, valid 2026-01-01 .. 2046-01-01). Their keys are public: never use them "
        "for anything real.",
    )
    parser.add_argument(
        "out_dir",
        nargs="?",
        type=Path,
        default=Path(__file__).resolve().parent,
        metavar="OUTPUT_DIR",
        help="where to write the Secret manifests (default: examples/)",
    )
    out_dir: Path = parser.parse_args(argv).out_dir
    for path in generate(out_dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
