"""`acm-sync playground` as a user runs it: start, kubectl and boto3 against it, clean stop."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.certkit import self_signed_tls_secret
from tests.playground.playkit import ACM_SYNC, running_playground

pytestmark = [pytest.mark.integration, pytest.mark.kubectl]

CRDS = Path(__file__).parents[2] / "crds"

ACM_CERTIFICATE = """
apiVersion: acmsync.io/v1alpha1
kind: AcmCertificate
metadata:
  name: web
spec:
  secretName: web-tls
  regions: [us-east-1, eu-west-1]
"""


def test_playground_serves_kubectl_and_the_aws_sdk_then_stops_on_sigterm(tmp_path: Path) -> None:
    # Leaving the block sends SIGTERM and asserts that the playground exits 0.
    with running_playground(tmp_path) as playground:
        assert playground.kubeconfig.exists()
        output = [line.strip() for line in playground.lines]
        assert f"export KUBECONFIG={playground.kubeconfig}" in output
        assert "Operator: running in this process" in output
        acm_url = playground.url("ACM emulator (every region)")
        assert f"export AWS_ENDPOINT_URL={acm_url}" in output

        # The CRDs are already there, applied as kubectl would have.
        assert "unchanged" in playground.kubectl("apply", "-f", str(CRDS))
        secret = json.dumps(self_signed_tls_secret("web-tls", "web.example.com"))
        assert "secret/web-tls created" in playground.kubectl("apply", "-f", "-", stdin=secret)
        assert "created" in playground.kubectl("apply", "-f", "-", stdin=ACM_CERTIFICATE)
        # The in-process operator imports the certificate into both regions of the ACM emulator.
        playground.kubectl("wait", "--for=condition=Ready", "acmcertificate/web", "--timeout=60s")
        listing = playground.kubectl("get", "acmcertificates")
        rows = [line.split() for line in listing.strip().split("\n")]
        assert rows[0][:2] == ["NAME", "READY"]
        assert rows[1][:2] == ["web", "True"]
        assert "web-tls" in playground.kubectl("describe", "acmcertificate", "web")
        for region in ("us-east-1", "eu-west-1"):
            acm = playground.acm(region)
            # ListCertificates shows RSA keys only unless asked for others (as ACM does).
            listed = acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})
            assert len(listed["CertificateSummaryList"]) == 1, region
        deleted = playground.kubectl("delete", "acmcertificate", "web")
        assert 'acmcertificate.acmsync.io "web" deleted' in deleted


def test_playground_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    # Leaving the block sends SIGINT and asserts that the playground exits 0.
    with running_playground(tmp_path, "--no-operator", stop=signal.SIGINT) as playground:
        assert "Operator: not running" in playground.lines


def test_real_apiserver_without_binaries_says_what_to_run(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(ACM_SYNC),
            "playground",
            "--apiserver",
            "real",
            "--cluster-bin-dir",
            str(tmp_path / "not-built"),
            "--port",
            "0",
            "--acm-port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "make cluster-bins" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_playground_serves_operator_metrics_and_logs_what_it_does(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with running_playground(
        tmp_path, "--metrics-port", str(port), "--log-level", "info"
    ) as playground:
        assert f"Operator metrics: http://127.0.0.1:{port}/metrics" in playground.lines
        secret = json.dumps(self_signed_tls_secret("web-tls", "web.example.com"))
        playground.kubectl("apply", "-f", "-", stdin=secret)
        playground.kubectl("apply", "-f", "-", stdin=ACM_CERTIFICATE)
        playground.kubectl("wait", "--for=condition=Ready", "acmcertificate/web", "--timeout=60s")
        wanted = ('name="web"', 'region="us-east-1"', 'reason="Synced"')

        def in_sync() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                text = response.read().decode()
            return any(
                line.startswith("acmsync_certificate_in_sync{")
                and all(w in line for w in wanted)
                and line.endswith(" 1.0")
                for line in text.splitlines()
            )

        deadline = time.monotonic() + 10
        while not in_sync():
            assert time.monotonic() < deadline, "no in-sync series on the playground's /metrics"
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while not any("AcmCertificate default/web: Imported: " in x for x in playground.output):
            assert time.monotonic() < deadline, playground.output[-20:]
            time.sleep(0.2)
        imported = next(x for x in playground.output if "default/web: Imported: " in x)
        assert "INFO" in imported
        assert "arn:aws:acm:us-east-1:" in imported
        assert imported.endswith(" in us-east-1")
