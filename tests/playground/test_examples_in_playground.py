"""`kubectl apply -f examples/` against `acm-sync playground` gives synced AcmCertificates.

This is what the README promises a first-time user: start the playground, apply the examples
with stock kubectl, and every AcmCertificate (the hand-written one and the one generated from
the annotated Secret) turns Ready with ARNs that the ACM emulator knows, for the right domains.
It runs on the embedded emulator and, when the real cluster is selected, with
``--apiserver real`` (a real kube-apiserver, etcd, controller-manager and cert-manager).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from tests.cluster_backends import playground_apiservers
from tests.playground.playkit import (
    ACM_SYNC,
    EXAMPLES,
    Playground,
    examples_generator,
    running_playground,
)

pytestmark = [pytest.mark.integration, pytest.mark.kubectl]

REGIONS_ANNOTATION = "acmsync.io/regions"
# `kubectl wait --timeout=60s` plus room for a loaded machine.
KUBECTL_TIMEOUT = 90


def _top_level_docs() -> list[dict[str, Any]]:
    """What `kubectl apply -f examples/` applies: the top-level YAML files, not subfolders."""
    return [
        doc
        for path in sorted(EXAMPLES.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


Pair = tuple[str, str]  # (AcmTarget, region); "" is the operator's own account


def _expected() -> dict[str, tuple[tuple[Pair, ...], tuple[str, ...]]]:
    """AcmCertificate name -> ((target, region) pairs, domains of the demo Secret it imports)."""
    domains = {demo.name: demo.domains for demo in examples_generator().DEMOS}
    expected = {}
    for doc in _top_level_docs():
        if doc["kind"] == "AcmCertificate":
            spec = doc["spec"]
            pairs = [("", r) for r in spec.get("regions") or []]
            pairs += [(t["target"], r) for t in spec.get("targets") or [] for r in t["regions"]]
            expected[doc["metadata"]["name"]] = (tuple(pairs), domains[spec["secretName"]])
        annotations = doc["metadata"].get("annotations") or {}
        if doc["kind"] == "Secret" and REGIONS_ANNOTATION in annotations:
            name = doc["metadata"]["name"]
            regions = tuple(("", r.strip()) for r in annotations[REGIONS_ANNOTATION].split(","))
            expected[name] = (regions, domains[name])
    return expected


def _acmcerts(playground: Playground) -> dict[str, dict[str, Any]]:
    listed = json.loads(
        playground.kubectl("get", "acmcert", "-n", "default", "-o", "json", timeout=KUBECTL_TIMEOUT)
    )
    return {item["metadata"]["name"]: item for item in listed["items"]}


@pytest.mark.parametrize("apiserver", playground_apiservers())
def test_kubectl_apply_examples_yields_synced_certificates_in_the_acm_emulator(
    tmp_path: Path, apiserver: str
) -> None:
    expected = _expected()
    assert len(expected) >= 2, "the examples should show both modes"

    # Leaving the block sends SIGTERM and asserts that the playground exits 0.
    with running_playground(tmp_path, "--apiserver", apiserver) as playground:
        assert playground.lines[-1] == "acm-sync playground is ready"
        assert any(line.startswith("Kubernetes API") for line in playground.lines)
        applied = playground.kubectl("apply", "-f", str(EXAMPLES), timeout=KUBECTL_TIMEOUT)
        for name in expected:
            assert name in applied

        # The annotated Secret's AcmCertificate is created by the operator, so it appears a
        # moment after apply; `kubectl wait --all` only waits for objects that already exist.
        deadline = time.monotonic() + 30
        while set(_acmcerts(playground)) != set(expected):
            assert time.monotonic() < deadline, f"AcmCertificates: {sorted(_acmcerts(playground))}"
            time.sleep(0.1)
        ready = ("--for=condition=Ready", "acmcert", "--all", "-n", "default", "--timeout=60s")
        playground.kubectl("wait", *ready, timeout=KUBECTL_TIMEOUT)

        assert any(target for pairs, _ in expected.values() for target, _ in pairs), (
            "the examples should show a second account (an AcmTarget)"
        )
        for name, item in _acmcerts(playground).items():
            pairs, domains = expected[name]
            records = {(e.get("target", ""), e["region"]): e for e in item["status"]["regions"]}
            assert sorted(records) == sorted(pairs), name
            for (target, region), record in records.items():
                arn = record["arn"]
                assert arn.split(":")[3] == region, arn
                assert arn.split(":")[4] == record["account"], record
                # A second account's certificate is seen only with credentials assumed there.
                acm = _target_acm(playground, region) if target else playground.acm(region)
                described = acm.describe_certificate(CertificateArn=arn)["Certificate"]
                assert described["DomainName"] == domains[0], arn
                assert sorted(described["SubjectAlternativeNames"]) == sorted(domains), arn
                assert described["Type"] == "IMPORTED"

        # examples/ingress.yaml: the playground wires us-east-1, so the Ingress names web's ARN
        # there, where a load balancer reads it.
        web = next(
            r["arn"]
            for r in _acmcerts(playground)["web"]["status"]["regions"]
            if r["region"] == "us-east-1" and not r.get("target")
        )
        alb = "{.metadata.annotations.alb\\.ingress\\.kubernetes\\.io/certificate-arn}"
        deadline = time.monotonic() + 30
        while playground.kubectl("get", "ingress", "web", "-o", f"jsonpath={alb}") != web:
            assert time.monotonic() < deadline, "Ingress web never got web's us-east-1 ARN"
            time.sleep(0.2)


def _target_acm(playground: Playground, region: str) -> Any:
    """An ACM client with credentials assumed, through the playground's STS, for the role of
    examples/acmtarget.yaml."""
    target = next(d for d in _top_level_docs() if d["kind"] == "AcmTarget")["spec"]
    url = playground.url("ACM emulator (every region)")
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="playground",
        aws_secret_access_key="playground",
    )
    creds = sts.assume_role(
        RoleArn=target["roleArn"], RoleSessionName="me", ExternalId=target["externalId"]
    )["Credentials"]
    return boto3.client(
        "acm",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


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
