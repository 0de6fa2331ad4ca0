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
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from acm_sync.core.analyze import analyze
from acm_sync.core.x509facts import clear_signature_cache

ROOT = Path(__file__).resolve().parents[1]
# Run as `python bench/bench_core.py`: the test kits are the tests package at the root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.certkit import make_cert  # noqa: E402

CERTS = 1000
CLI_RUNS = 15
NOW = datetime.now(UTC)


def main() -> int:
    """Generate the material, time the core and the CLI, print the figures."""
    root_key = ec.generate_private_key(ec.SECP384R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    valid_from, valid_to = NOW - timedelta(days=1), NOW + timedelta(days=90)
    root = make_cert(
        root_key, cn="Bench Root", sans=None, ca=True, not_before=valid_from, not_after=valid_to
    )
    inter = make_cert(
        inter_key,
        cn="Bench Intermediate",
        sans=None,
        ca=True,
        issuer=root,
        not_before=valid_from,
        not_after=valid_to,
    )
    leaf_keys: list[CertificateIssuerPrivateKeyTypes] = [
        rsa.generate_private_key(65537, 2048),
        rsa.generate_private_key(65537, 2048),
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    ]
    secrets = []
    for i in range(CERTS):
        key = leaf_keys[i % len(leaf_keys)]
        cn = f"host{i}.bench.example.com"
        leaf = make_cert(
            key, cn=cn, sans=(cn,), issuer=inter, not_before=valid_from, not_after=valid_to
        )
        secrets.append((leaf.pem + inter.pem, leaf.key_pem(), root.pem))

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
