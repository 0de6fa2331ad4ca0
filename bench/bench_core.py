"""Print how fast the certificate core and ``acm-sync check`` are.

Targets (from the issue): the core validates 1,000 distinct certificates in under 2 s, and
``acm-sync check`` answers on a typical Secret in under 300 ms wall time, process startup
included. Certificates are generated first and not timed; only validation is.
"""

from __future__ import annotations

import base64
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

from acm_sync.core.analyze import analyze
from acm_sync.core.x509facts import clear_signature_cache

CERTS = 1000
CLI_RUNS = 15
NOW = datetime.now(UTC)


def _cert(
    key: CertificateIssuerPrivateKeyTypes,
    cn: str,
    issuer: tuple[x509.Name, CertificateIssuerPrivateKeyTypes] | None,
    ca: bool,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_name, signer = issuer or (name, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: CertificateIssuerPrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def main() -> int:
    """Generate the material, time the core and the CLI, print the figures."""
    root_key = ec.generate_private_key(ec.SECP384R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert(root_key, "Bench Root", None, True)
    inter = _cert(inter_key, "Bench Intermediate", (root.subject, root_key), True)
    leaf_keys: list[CertificateIssuerPrivateKeyTypes] = [
        rsa.generate_private_key(65537, 2048),
        rsa.generate_private_key(65537, 2048),
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    ]
    secrets = []
    for i in range(CERTS):
        key = leaf_keys[i % len(leaf_keys)]
        leaf = _cert(key, f"host{i}.bench.example.com", (inter.subject, inter_key), False)
        secrets.append((_pem(leaf) + _pem(inter), _key_pem(key), _pem(root)))

    start = time.perf_counter()
    results = [analyze(c, k, ca, now=NOW) for c, k, ca in secrets]
    elapsed = time.perf_counter() - start
    invalid = sum(not r.valid for r in results)
    fingerprints = len({r.facts.fingerprint for r in results if r.facts})
    print(
        f"core: {CERTS} distinct certificates (leaf + intermediate + ca.crt root, "
        f"{len(leaf_keys)} leaf keys: RSA 2048 and P-256) validated in {elapsed:.3f} s "
        f"({elapsed / CERTS * 1e6:.0f} us each; target < 2 s total); "
        f"{invalid} rejected, {fingerprints} distinct fingerprints"
    )

    # The same run without the signature cache: every CA signature verified for every Secret,
    # as on the first sync of a cluster whose Secrets all have different issuers.
    start = time.perf_counter()
    for c, k, ca in secrets:
        clear_signature_cache()
        analyze(c, k, ca, now=NOW)
    cold = time.perf_counter() - start
    print(
        f"core, signature cache cleared before each certificate: {cold:.3f} s "
        f"({cold / CERTS * 1e6:.0f} us each; P-256/P-384 verifications dominate)"
    )

    cert_pem, key_pem, ca_pem = secrets[0]
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": "bench-tls"},
        "data": {
            n: base64.b64encode(v).decode()
            for n, v in (("tls.crt", cert_pem), ("tls.key", key_pem), ("ca.crt", ca_pem))
        },
    }
    command = Path(sys.executable).with_name("acm-sync")
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "secret.yaml"
        manifest.write_text(yaml.safe_dump(secret))
        times = []
        for _ in range(CLI_RUNS):
            start = time.perf_counter()
            proc = subprocess.run(
                [command, "check", manifest], capture_output=True, timeout=60, check=False
            )
            times.append(time.perf_counter() - start)
            if proc.returncode != 0:
                print(proc.stdout.decode(), proc.stderr.decode(), file=sys.stderr)
                return 1
    print(
        f"cli: `acm-sync check secret.yaml` wall time over {CLI_RUNS} runs: "
        f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms "
        f"(target < 300 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
