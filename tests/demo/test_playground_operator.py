"""`acm-sync playground` runs the operator: an AcmCertificate made with kubectl's client syncs."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client, config

ACM_SYNC = Path(sys.executable).with_name("acm-sync")
pytestmark = pytest.mark.integration


def _self_signed_secret(name: str) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name}.example.com")])
    now = time.time()

    start = datetime.fromtimestamp(now, UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - timedelta(hours=1))
        .not_valid_after(start + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"{name}.example.com")]), False)
        .sign(key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(cert.public_bytes(pem)).decode(),
            "tls.key": base64.b64encode(key_pem).decode(),
        },
    }


def test_playground_syncs_an_acmcertificate(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ACM_SYNC_"))}
    process = subprocess.Popen(
        [
            str(ACM_SYNC),
            "playground",
            "--port",
            "0",
            "--acm-port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        seen: list[str] = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            seen.append(line)
            if "playground is ready" in line or not line:
                break
        assert any("playground is ready" in line for line in seen), "".join(seen)
        # The client leaves new_client_from_config unannotated; it returns an ApiClient.
        api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        # validate_call builds the V1Secret the client declares from the manifest dict.
        core.create_namespaced_secret("default", cast(client.V1Secret, _self_signed_secret("pg")))
        custom.create_namespaced_custom_object(
            "acmsync.io", "v1alpha1", "default", "acmcertificates",
            {"apiVersion": "acmsync.io/v1alpha1", "kind": "AcmCertificate",
             "metadata": {"name": "pg"}, "spec": {"secretName": "pg", "regions": ["us-east-1"]}},
        )  # fmt: skip
        reason = None
        while time.monotonic() < deadline + 30:
            raw = custom.get_namespaced_custom_object(
                "acmsync.io", "v1alpha1", "default", "acmcertificates", "pg"
            )
            assert isinstance(raw, dict)  # a custom object is its JSON dict
            obj: dict[str, Any] = raw
            conditions = (obj.get("status") or {}).get("conditions") or []
            reason = next((c["reason"] for c in conditions if c["type"] == "Ready"), None)
            if reason == "Synced":
                break
            time.sleep(0.1)
        assert reason == "Synced"
        assert obj["status"]["regions"][0]["arn"].startswith("arn:aws:acm:us-east-1:")
        api.close()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(20) == 0
        finally:
            if process.poll() is None:
                process.kill()
