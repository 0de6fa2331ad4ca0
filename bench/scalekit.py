"""The scale benchmark's kit: both emulators in this process, seeding at scale, the operator.

Seeding goes around the APIs (the ACM emulator's backend and the Kubernetes emulator's store,
rate limits lifted) so that N = 10,000 objects x 3 regions take a minute, not a 1/s cold sync.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import kopf
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from acm_sync.controller.handlers import build_settings
from acm_sync.controller.sync.statusfields import format_precise_time
from acm_sync.controller.watch.view import content_hash
from acm_sync.core.analyze import analyze
from acm_sync.core.state import Owner
from acm_sync.core.tags import tags_hash
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from acm_sync_testbed.emulators.kube.server import KubeEmulator

ROOT = Path(__file__).resolve().parents[1]
ACM_SYNC = Path(sys.executable).with_name("acm-sync")
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
FOREIGN_REGION = "us-west-2"  # new imports go here: foreign certificates, none of the N
NS, CLUSTER = "bench", "bench"
GROUP, VERSION = "acmsync.io", "v1alpha1"
SECRETS, ACMCERTS = ("", "v1", "secrets"), (GROUP, VERSION, "acmcertificates")
CLK_TCK = os.sysconf("SC_CLK_TCK")
DUMMY = "bench"  # the emulators accept any credentials


class CA:
    """An EC P-256 CA; its leaves share one key (fast to make by the ten thousand)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench scale CA")])
        self.key_pem = self.leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def issue(self, dns: str) -> bytes:
        """A new leaf for ``dns`` (PEM), valid for 90 days."""
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns)]))
            .issuer_name(self.name)
            .public_key(self.leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def secret_doc(name: str, cert: bytes, key: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": NS},
        "data": {"tls.crt": b64(cert), "tls.key": b64(key)},
    }  # fmt: skip


def acmcert_doc(name: str, regions: tuple[str, ...]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "AcmCertificate",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"secretName": name, "regions": list(regions)},
    }  # fmt: skip


def acm_import(acm: AcmEmulator, region: str, cert: bytes, key: bytes, tags: dict[str, str]) -> str:
    """Import in-process (no HTTP, no signing): seeding only."""
    params = {
        "Certificate": b64(cert), "PrivateKey": b64(key),
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }  # fmt: skip
    return str(acm.acm.handle(region, "ImportCertificate", params)["CertificateArn"])


@dataclass
class Cluster:
    """The two emulators of one N, and what the benchmark seeded into them."""

    kube: KubeEmulator
    acm: AcmEmulator
    kubeconfig: Path
    ca: CA = field(default_factory=CA)
    arns: dict[str, set[str]] = field(default_factory=dict)  # object name -> its ARNs

    def create(self, plural: tuple[str, str, str], doc: dict[str, Any]) -> dict[str, Any]:
        rtype = self.kube.store.find_type(*plural)
        assert rtype is not None, plural
        return self.kube.store.create(rtype, NS, doc)

    def rotate(self, name: str) -> None:
        """cert-manager renews a Secret: a new leaf, same key."""
        rtype = self.kube.store.find_type(*SECRETS)
        assert rtype is not None
        doc = secret_doc(name, self.ca.issue(f"{name}.bench.example"), self.ca.key_pem)
        self.kube.store.update(rtype, NS, name, doc)


@contextmanager
def emulators(tmp: Path) -> Iterator[Cluster]:
    kube, acm = KubeEmulator().start(), AcmEmulator().start()
    try:
        kube.create_objects(
            yaml.safe_load((ROOT / "crds" / f).read_text())
            for f in ("acmcertificate.yaml", "acmtarget.yaml")
        )
        kube.create_objects([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}])
        yield Cluster(kube, acm, kube.write_kubeconfig(tmp / "kubeconfig"))
    finally:
        acm.stop()
        kube.stop()


def seed_foreign(cluster: Cluster, regions: tuple[str, ...], count: int) -> None:
    """``count`` certificates of other owners per region: another cluster's, and untagged ones."""
    for region in regions:
        for i in range(count):
            cert = cluster.ca.issue(f"foreign-{i}.other.example")
            tags = (
                Owner("other-cluster", "other", f"c{i}").system_tags() if i % 2 else {"team": "x"}
            )
            acm_import(cluster.acm, region, cert, cluster.ca.key_pem, tags)


def seed_synced(cluster: Cluster, n: int) -> None:
    """N AcmCertificates in sync: certificates in ACM, status records, kopf's bookkeeping."""
    diffbase = build_settings().persistence.diffbase_storage
    now = datetime.now(UTC)
    for i in range(n):
        name = f"cert-{i:05d}"
        cert = cluster.ca.issue(f"{name}.bench.example")
        facts = analyze(cert, cluster.ca.key_pem, now=now).facts
        assert facts is not None
        tags = Owner(CLUSTER, NS, name).system_tags()
        not_after = facts.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
        records = []
        for region in REGIONS:
            arn = acm_import(cluster.acm, region, cert, cluster.ca.key_pem, tags)
            described = cluster.acm.acm.handle(
                region, "DescribeCertificate", {"CertificateArn": arn}
            )
            imported_at = datetime.fromtimestamp(described["Certificate"]["ImportedAt"], UTC)
            cluster.arns.setdefault(name, set()).add(arn)
            records.append({
                "region": region, "arn": arn, "fingerprint": facts.fingerprint,
                "importedAt": format_precise_time(imported_at), "state": "Synced",
                "reason": "Synced", "message": "seeded by the benchmark",
                "lastSyncTime": format_precise_time(now),
                "tagsHash": tags_hash(tags), "serialNumber": facts.serial, "notAfter": not_after,
                "inUseBy": [],
            })  # fmt: skip
        secret = cluster.create(SECRETS, secret_doc(name, cert, cluster.ca.key_pem))
        obj = cluster.create(ACMCERTS, acmcert_doc(name, REGIONS))
        # What kopf writes on its first handling: the finalizer and the handled essence, so
        # that the operator's first start is a restart and not a first sight of every object
        # (which would patch each one twice).
        body, patch = kopf.Body(cast(kopf.RawBody, obj)), kopf.Patch()
        diffbase.store(body=body, patch=patch, essence=diffbase.build(body=body))
        added = {
            k: v
            for k, v in dict(patch.get("metadata", {})).get("annotations", {}).items()
            if v is not None
        }
        obj["metadata"]["annotations"] = {**obj["metadata"].get("annotations", {}), **added}
        obj["metadata"]["finalizers"] = ["acmsync.io/cleanup"]
        rtype = cluster.kube.store.find_type(*ACMCERTS)
        assert rtype is not None
        obj = cluster.kube.store.update(rtype, NS, name, obj)
        obj["status"] = {
            "observedGeneration": 1, "notAfter": not_after, "regions": records,
            "secret": {
                "fingerprint": facts.fingerprint, "serialNumber": facts.serial,
                "notBefore": facts.not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "notAfter": not_after, "domains": list(facts.domains),
                "keyAlgorithm": facts.key_algorithm,
                # As a full pass records it: the first start then proves the object in sync
                # from its status, as any later restart does.
                "contentHash": content_hash(secret.get("data")),
            },
            "conditions": [
                seeded_condition("Ready", "True", "Synced", "every region holds the certificate"),
                seeded_condition("Expiring", "False", "NotExpiring", f"valid until {not_after}"),
                seeded_condition("Warnings", "False", "NoWarnings", "no warnings"),
            ],
        }  # fmt: skip
        cluster.kube.store.update(rtype, NS, name, obj, subresource="status")


def seeded_condition(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
    """A condition as the operator writes it (observedGeneration 1: the seeded spec)."""
    return {
        "type": kind, "status": status, "reason": reason, "message": message,
        "observedGeneration": 1,
        "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Operator:
    """One ``acm-sync run`` process on the cluster, and what /proc and /metrics say of it."""

    def __init__(
        self,
        cluster: Cluster,
        log: Path,
        sweep_interval: float = 600,
        launcher: list[str] | None = None,
        extra_env: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        """``launcher`` replaces the ``acm-sync`` executable (e.g. a profiling wrapper);
        ``extra_args`` are more ``acm-sync run`` flags."""
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ACM_SYNC_"))}
        env.update(AWS_ENDPOINT_URL=cluster.acm.url, AWS_ACCESS_KEY_ID="bench",
                   AWS_SECRET_ACCESS_KEY=DUMMY, AWS_DEFAULT_REGION="us-east-1",
                   AWS_EC2_METADATA_DISABLED="true")  # fmt: skip
        env.update(extra_env or {})
        command = [
            *(launcher or [str(ACM_SYNC)]), "run",
            "--kubeconfig", str(cluster.kubeconfig), "--no-leader-election",
            "--cluster-id", CLUSTER, "--namespace", NS, "--metrics-port", str(self.port),
            "--log-level", "WARNING", "--sweep-interval", str(sweep_interval), *extra_args,
        ]  # fmt: skip
        self.log = log.open("ab")
        self.started, self.started_wall = time.monotonic(), time.time()
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def _get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return int(r.status), r.read().decode()
        except OSError:
            return 0, ""

    def synced(self) -> float:
        """Reconciles counted so far (every outcome)."""
        text = self._get("/metrics")[1]
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("acmsync_sync_total{")
        )

    def wait(self, until: Any, timeout: float, what: str) -> float:
        """Poll ``until()``; seconds since process start when it held."""
        deadline = time.monotonic() + timeout
        while not until():
            if self.process.poll() is not None:
                raise RuntimeError(f"the operator exited ({self.process.returncode}) before {what}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} within {timeout:.0f}s")
            time.sleep(0.05)
        return time.monotonic() - self.started

    def proc_kb(self, field_name: str) -> float:
        """VmRSS / VmHWM of the process, in kB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return float(line.split()[1])
        return float("nan")

    def cpu_s(self) -> float:
        """User + system CPU seconds of the process so far."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime

    def __enter__(self) -> Operator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after 30 s); idempotent."""
        if self.log.closed:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


def quiet(cluster: Cluster, seconds: float = 2.0, timeout: float = 600) -> None:
    """Wait until no object was written and no ACM call made for ``seconds``."""
    last, since, deadline = (-1, -1), time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = (cluster.kube.store.rv, len(cluster.acm.acm.calls()))
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
        time.sleep(0.1)
