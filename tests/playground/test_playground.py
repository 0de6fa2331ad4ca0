"""`acm-sync playground` as a user runs it: start, kubectl and boto3 against it, clean stop."""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

pytestmark = [pytest.mark.integration, pytest.mark.kubectl]

ACM_SYNC = Path(sys.executable).with_name("acm-sync")
CRDS = Path(__file__).parents[2] / "crds"
READY = "acm-sync playground is ready"


def _tls_secret() -> str:
    """A kubernetes.io/tls Secret manifest that ACM accepts (self-signed EC P-256, one SAN)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web.example.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("web.example.com")]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    data = {
        "tls.crt": base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode(),
        "tls.key": base64.b64encode(key_pem).decode(),
    }
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "web-tls"},
        "type": "kubernetes.io/tls",
        "data": data,
    }
    return json.dumps(manifest)


ACM_CERTIFICATE = """
apiVersion: acmsync.io/v1alpha1
kind: AcmCertificate
metadata:
  name: web
spec:
  secretName: web-tls
  regions: [us-east-1, eu-west-1]
"""


@dataclass
class Playground:
    process: subprocess.Popen[str]
    kubeconfig: Path
    cache: Path
    lines: list[str] = field(default_factory=list)

    def url(self, prefix: str) -> str:
        return next(line.split(": ", 1)[1] for line in self.lines if line.startswith(prefix))

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        binary = shutil.which("kubectl")
        assert binary is not None, "kubectl is required"
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache)}
        result = subprocess.run(
            [binary, *args],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


def _start(tmp_path: Path, *extra: str) -> Playground:
    kubeconfig = tmp_path / "playground.kubeconfig"
    process = subprocess.Popen(
        [
            ACM_SYNC,
            "playground",
            "--port",
            "0",
            "--acm-port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    playground = Playground(process, kubeconfig, tmp_path / "kube-cache")
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            process.kill()
            pytest.fail(f"no ready line within 60 s; output so far: {playground.lines}")
        if line is None:
            pytest.fail(f"playground exited early ({process.wait()}): {playground.lines}")
        playground.lines.append(line)
        if line == READY:
            return playground


@pytest.fixture
def playground(tmp_path: Path) -> Iterator[Playground]:
    running = _start(tmp_path)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(10)


def test_playground_serves_kubectl_and_the_aws_sdk_then_stops_on_sigterm(
    playground: Playground,
) -> None:
    assert playground.kubeconfig.exists()
    output = [line.strip() for line in playground.lines]
    assert f"export KUBECONFIG={playground.kubeconfig}" in output
    assert "Operator: running in this process" in output
    acm_url = playground.url("ACM emulator (every region)")
    assert f"export AWS_ENDPOINT_URL={acm_url}" in output

    # The CRDs are already there, applied as kubectl would have.
    assert "unchanged" in playground.kubectl("apply", "-f", str(CRDS))
    assert "secret/web-tls created" in playground.kubectl("apply", "-f", "-", stdin=_tls_secret())
    assert "created" in playground.kubectl("apply", "-f", "-", stdin=ACM_CERTIFICATE)
    # The in-process operator imports the certificate into both regions of the ACM emulator.
    playground.kubectl("wait", "--for=condition=Ready", "acmcertificate/web", "--timeout=60s")
    rows = [
        line.split() for line in playground.kubectl("get", "acmcertificates").strip().split("\n")
    ]
    assert rows[0][:2] == ["NAME", "READY"]
    assert rows[1][:2] == ["web", "True"]
    assert "web-tls" in playground.kubectl("describe", "acmcertificate", "web")
    for region in ("us-east-1", "eu-west-1"):
        acm = boto3.client(
            "acm",
            region_name=region,
            endpoint_url=acm_url,
            aws_access_key_id="playground",
            aws_secret_access_key="playground",
        )
        # ListCertificates shows RSA keys only unless asked for others (as ACM does).
        listed = acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})
        assert len(listed["CertificateSummaryList"]) == 1, region
    deleted = playground.kubectl("delete", "acmcertificate", "web")
    assert 'acmcertificate.acmsync.io "web" deleted' in deleted

    playground.process.send_signal(signal.SIGTERM)
    assert playground.process.wait(20) == 0


def test_playground_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    running = _start(tmp_path, "--no-operator")
    assert "Operator: not running" in running.lines
    running.process.send_signal(signal.SIGINT)
    try:
        assert running.process.wait(20) == 0
    finally:
        if running.process.poll() is None:
            running.process.kill()
