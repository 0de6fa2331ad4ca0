"""Wiring benchmarks, printed (never asserted): how fast the ARN reaches the Ingresses, and
that a renewal writes nothing on them.

On the embedded emulators (Kubernetes API and strict ACM in this process, the operator as a
real ``acm-sync run --wiring --wiring-region us-east-1`` subprocess):

1. Setup: N AcmCertificates in 3 regions, already synced (bench/scalekit.py), the operator
   settled on them.
2. Wiring at scale: N Ingresses, each annotated ``acmsync.io/certificates`` with one of them,
   created at once. Printed: the time until every Ingress carries its us-east-1 ARN, and how
   many were written again once wired (0 expected).
3. Renewal: K Secrets renewed with the same key (the same ARN). Printed: Ingresses written
   (0 expected: a reimport into the same ARN changes nothing for a load balancer).
4. Switch: K AcmCertificates set to ``onKeyChange: ImportNew``, their Secrets re-keyed (RSA
   where the key was EC). Printed: p50 and max of the time from the Secret's update to the
   Ingress naming the new ARN (the new import, its status Synced, then the Ingress patch),
   and how many Ingresses named an ARN that was not Synced at any poll (0 expected).

Usage: python bench/bench_wiring.py [--n 1000] [--samples 10]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scalekit import (
    ACMCERTS,
    NS,
    SECRETS,
    Cluster,
    Operator,
    emulators,
    quiet,
    secret_doc,
    seed_synced,
)

REGION = "us-east-1"
ALB = "alb.ingress.kubernetes.io/certificate-arn"
INGRESSES = ("networking.k8s.io", "v1", "ingresses")


def ingress_doc(name: str, certificate: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": NS,
                     "annotations": {"acmsync.io/certificates": certificate}},
        "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}},
    }  # fmt: skip


def ingresses(cluster: Cluster) -> dict[str, dict[str, Any]]:
    rtype = cluster.kube.store.find_type(*INGRESSES)
    assert rtype is not None
    return {o["metadata"]["name"]: o for o in cluster.kube.store.list(rtype, NS)[0]}


def acmcert(cluster: Cluster, name: str) -> dict[str, Any]:
    rtype = cluster.kube.store.find_type(*ACMCERTS)
    assert rtype is not None
    return cluster.kube.store.get(rtype, NS, name)


def pair(cluster: Cluster, name: str) -> dict[str, Any]:
    regions = (acmcert(cluster, name).get("status") or {}).get("regions") or []
    return next((r for r in regions if r["region"] == REGION and not r.get("target")), {})


def rsa_leaf(cluster: Cluster, dns: str) -> tuple[bytes, bytes]:
    """A leaf for ``dns`` on an RSA key of its own, signed by the bench CA (a key type change)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns)]))
        .issuer_name(cluster.ca.name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
        .sign(cluster.ca.key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem


def wire_at_scale(cluster: Cluster, operator: Operator, n: int) -> None:
    expected = {
        f"cert-{i:05d}": next(a for a in cluster.arns[f"cert-{i:05d}"] if a.split(":")[3] == REGION)
        for i in range(n)
    }
    rtype = cluster.kube.store.find_type(*INGRESSES)
    assert rtype is not None
    t0 = time.monotonic()
    for name in expected:
        cluster.kube.store.create(rtype, NS, ingress_doc(name, name))

    def all_wired() -> bool:
        seen = ingresses(cluster)
        annotations = {k: (o["metadata"].get("annotations") or {}) for k, o in seen.items()}
        return all(annotations.get(k, {}).get(ALB) == arn for k, arn in expected.items())

    # Polled every 0.25 s: listing N Ingresses from the store shares this process with the
    # emulator serving the operator, and a tighter loop would slow what it measures.
    deadline = t0 + 600
    while not all_wired():
        if operator.process.poll() is not None or time.monotonic() > deadline:
            exited = operator.process.poll()
            raise TimeoutError(f"{n} Ingresses not wired (operator exit code: {exited})")
        time.sleep(0.25)
    took = time.monotonic() - t0
    versions = {k: o["metadata"]["resourceVersion"] for k, o in ingresses(cluster).items()}
    quiet(cluster)
    again = sum(
        1 for k, o in ingresses(cluster).items() if o["metadata"]["resourceVersion"] != versions[k]
    )
    print(f"wiring: {n} Ingresses carried their ARN {took:.2f} s after creation "
          f"({n / took:.0f} per s); written again once wired: {again}")  # fmt: skip


def renewals(cluster: Cluster, k: int) -> None:
    names = [f"cert-{i:05d}" for i in range(k)]
    versions = {n: ingresses(cluster)[n]["metadata"]["resourceVersion"] for n in names}
    serials = {}
    for name in names:
        cluster.rotate(name)
        serials[name] = pair(cluster, name).get("serialNumber")
    deadline = time.monotonic() + 120
    while any(pair(cluster, n).get("serialNumber") == serials[n] for n in names):
        if time.monotonic() > deadline:
            raise TimeoutError("renewals not reimported within 120 s")
        time.sleep(0.05)
    quiet(cluster)
    written = sum(
        1 for n in names if ingresses(cluster)[n]["metadata"]["resourceVersion"] != versions[n]
    )
    print(f"renewal: {k} Secrets renewed and reimported into the same ARNs; "
          f"Ingresses written: {written}")  # fmt: skip


def switches(cluster: Cluster, k: int, offset: int) -> None:
    rtype = cluster.kube.store.find_type(*ACMCERTS)
    secrets = cluster.kube.store.find_type(*SECRETS)
    assert rtype is not None
    assert secrets is not None
    names = [f"cert-{i:05d}" for i in range(offset, offset + k)]
    for name in names:
        obj = copy.deepcopy(acmcert(cluster, name))  # the store's own dict: change a copy
        obj["spec"]["onKeyChange"] = "ImportNew"
        cluster.kube.store.update(rtype, NS, name, obj)
    quiet(cluster)
    latencies: list[float] = []
    unsynced = 0
    for name in names:
        old = ingresses(cluster)[name]["metadata"]["annotations"][ALB]
        cert, key = rsa_leaf(cluster, f"{name}.bench.example")
        t0 = time.monotonic()
        cluster.kube.store.update(secrets, NS, name, secret_doc(name, cert, key))
        while True:
            named = ingresses(cluster)[name]["metadata"]["annotations"].get(ALB)
            if named != old:
                shown = pair(cluster, name)
                if (shown.get("arn"), shown.get("state")) != (named, "Synced"):
                    unsynced += 1
                latencies.append(time.monotonic() - t0)
                break
            if time.monotonic() - t0 > 120:
                raise TimeoutError(f"{name}: the Ingress was not switched within 120 s")
            time.sleep(0.005)
        # ACM takes 1 import/s per region: the next sample starts on a fresh second.
        time.sleep(1.1)
    ms = sorted(x * 1000 for x in latencies)
    print(f"switch (ImportNew): {k} re-keyed Secrets; Secret update -> Ingress on the new ARN: "
          f"p50 {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms; "
          f"Ingresses that named an ARN not Synced: {unsynced}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1000, help="AcmCertificates and Ingresses")
    parser.add_argument("--samples", type=int, default=10, help="renewals and switches to time")
    args = parser.parse_args()
    samples = min(args.samples, args.n // 2)
    with (
        tempfile.TemporaryDirectory(prefix="acm-sync-bench-wiring-") as tmp,
        emulators(Path(tmp)) as cluster,
    ):
        t = time.monotonic()
        seed_synced(cluster, args.n)
        print(f"setup: {args.n} AcmCertificates x 3 regions, synced, "
              f"in {time.monotonic() - t:.1f} s")  # fmt: skip
        flags = ("--wiring", "--wiring-region", REGION)
        with Operator(cluster, Path(tmp) / "operator.log", extra_args=flags) as operator:
            quiet(cluster)
            wire_at_scale(cluster, operator, args.n)
            renewals(cluster, samples)
            switches(cluster, samples, offset=samples)
            print(f"operator: RSS {operator.proc_kb('VmRSS') / 1024:.0f} MiB, "
                  f"CPU {operator.cpu_s():.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
