"""`kubectl apply -f examples/` against `acm-sync playground` gives synced AcmCertificates.

This is what the README promises a first-time user: start the playground, apply the examples
with stock kubectl, and every AcmCertificate (the hand-written one and the one generated from
the annotated Secret) turns Ready with ARNs that the ACM emulator knows, for the right domains.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.kubectl]

ACM_SYNC = Path(sys.executable).with_name("acm-sync")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
READY = "acm-sync playground is ready"
ACM_URL_PREFIX = "ACM emulator (every region): "
REGIONS_ANNOTATION = "acmsync.io/regions"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("examples_generate", EXAMPLES / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def _top_level_docs() -> list[dict[str, Any]]:
    """What `kubectl apply -f examples/` applies: the top-level YAML files, not subfolders."""
    return [
        doc
        for path in sorted(EXAMPLES.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def _expected() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """AcmCertificate name -> (regions, domains of the demo Secret it imports)."""
    domains = {demo.name: demo.domains for demo in _generator().DEMOS}
    expected = {}
    for doc in _top_level_docs():
        if doc["kind"] == "AcmCertificate":
            spec = doc["spec"]
            expected[doc["metadata"]["name"]] = (
                tuple(spec["regions"]),
                domains[spec["secretName"]],
            )
        annotations = doc["metadata"].get("annotations") or {}
        if doc["kind"] == "Secret" and REGIONS_ANNOTATION in annotations:
            name = doc["metadata"]["name"]
            regions = tuple(r.strip() for r in annotations[REGIONS_ANNOTATION].split(","))
            expected[name] = (regions, domains[name])
    return expected


@dataclass
class Playground:
    process: subprocess.Popen[str]
    kubeconfig: Path
    cache: Path
    acm_url: str

    def kubectl(self, *args: str) -> str:
        binary = shutil.which("kubectl")
        assert binary is not None, "kubectl is required"
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache)}
        result = subprocess.run(
            [binary, *args], env=env, capture_output=True, text=True, timeout=90, check=False
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture
def playground(tmp_path: Path) -> Iterator[Playground]:
    kubeconfig = tmp_path / "playground.kubeconfig"
    process = subprocess.Popen(
        [ACM_SYNC, "playground", "--port", "0", "--acm-port", "0", "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    try:
        while READY not in seen:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                pytest.fail(f"no ready line within 60 s; output so far: {seen}")
            if line is None:
                pytest.fail(f"playground exited early ({process.wait()}): {seen}")
            seen.append(line)
        acm_url = next(line.split(": ", 1)[1] for line in seen if line.startswith(ACM_URL_PREFIX))
        yield Playground(process, kubeconfig, tmp_path / "kube-cache", acm_url)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _acmcerts(playground: Playground) -> dict[str, dict[str, Any]]:
    listed = json.loads(playground.kubectl("get", "acmcert", "-n", "default", "-o", "json"))
    return {item["metadata"]["name"]: item for item in listed["items"]}


def test_kubectl_apply_examples_yields_synced_certificates_in_the_acm_emulator(
    playground: Playground,
) -> None:
    expected = _expected()
    assert len(expected) >= 2, "the examples should show both modes"

    applied = playground.kubectl("apply", "-f", str(EXAMPLES))
    for name in expected:
        assert name in applied

    # The annotated Secret's AcmCertificate is created by the operator, so it appears a moment
    # after apply; `kubectl wait --all` only waits for objects that already exist.
    deadline = time.monotonic() + 30
    while set(_acmcerts(playground)) != set(expected):
        assert time.monotonic() < deadline, f"AcmCertificates: {sorted(_acmcerts(playground))}"
        time.sleep(0.1)
    playground.kubectl(
        "wait", "--for=condition=Ready", "acmcert", "--all", "-n", "default", "--timeout=60s"
    )

    for name, item in _acmcerts(playground).items():
        regions, domains = expected[name]
        records = {entry["region"]: entry for entry in item["status"]["regions"]}
        assert sorted(records) == sorted(regions), name
        for region, record in records.items():
            arn = record["arn"]
            assert arn.split(":")[3] == region, arn
            acm = boto3.client(
                "acm",
                region_name=region,
                endpoint_url=playground.acm_url,
                aws_access_key_id="playground",
                aws_secret_access_key="playground",
            )
            described = acm.describe_certificate(CertificateArn=arn)["Certificate"]
            assert described["DomainName"] == domains[0], arn
            assert sorted(described["SubjectAlternativeNames"]) == sorted(domains), arn
            assert described["Type"] == "IMPORTED"

    playground.process.send_signal(signal.SIGTERM)
    assert playground.process.wait(20) == 0


@pytest.mark.parametrize("secret", ["tls-secret.yaml", "annotated-secret.yaml"])
def test_acm_sync_check_accepts_the_example_secrets(secret: str) -> None:
    result = subprocess.run(
        [ACM_SYNC, "check", str(EXAMPLES / secret)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ACM would accept" in result.stdout
    assert "PRIVATE KEY" not in result.stdout + result.stderr
