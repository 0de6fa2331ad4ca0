"""`acm-sync status` and `acm-sync resync` against the real operator, on each backend.

The operator here sweeps only every 10 minutes, as by default: whatever a test sees repaired
within seconds was repaired by the resync, not by the sweep.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.certkit import TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import ACM_SYNC, GROUP, PLURAL, VERSION, Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration

RESYNC = "acmsync.io/resync-requested-at"


@pytest.fixture(scope="module")
def operator(env: Env) -> Iterator[OperatorProcess]:
    """The default sweep interval: drift stays unseen unless a resync asks."""
    process = env.operator("--no-leader-election", "--sweep-interval", "600").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def _cli(env: Env, *args: str, kubeconfig: bool = True, **extra_env: str) -> tuple[int, str]:
    """Run acm-sync; (exit code, stdout + stderr)."""
    command = [str(ACM_SYNC), *args]
    if kubeconfig:
        command += ["--kubeconfig", str(env.kubeconfig)]
    environ = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env={**environ, "HOME": str(env.workdir), **extra_env},
    )
    return done.returncode, done.stdout + done.stderr


def _synced(env: Env, ca: TestCA, ns: str, name: str, regions: list[str]) -> dict[str, Any]:
    issued = ca.issue(f"{name}.example.com")
    env.cluster.core.create_namespaced_secret(
        ns, as_model(client.V1Secret, tls_secret(f"{name}-tls", issued))
    )
    env.cluster.create_cert(ns, name, secretName=f"{name}-tls", regions=regions)
    return env.cluster.wait_reason(ns, name, "Synced")


def _arns(obj: dict[str, Any] | None) -> dict[str, str]:
    regions = ((obj or {}).get("status") or {}).get("regions") or []
    return {r["region"]: r["arn"] for r in regions if r.get("arn")}


def test_resync_reimports_a_certificate_deleted_by_hand_at_once(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    arns = _arns(_synced(env, ca, ns, "web", ["us-east-1", "eu-west-1"]))
    env.acm.client("us-east-1").delete_certificate(CertificateArn=arns["us-east-1"])
    code, out = _cli(env, "resync", "web", "-n", ns, "--timeout", "30")
    assert code == 0, out
    assert "Verified" in out, out
    assert "Recreated" in out, out
    assert "Ready: True Synced" in out, out
    now = _arns(c.cert(ns, "web"))
    assert now["eu-west-1"] == arns["eu-west-1"]
    assert now["us-east-1"] != arns["us-east-1"]
    assert env.acm.exists("us-east-1", now["us-east-1"])
    regions = (c.cert(ns, "web") or {})["status"]["regions"]
    entry = next(r for r in regions if r["region"] == "us-east-1")
    assert entry["reason"] == "Recreated"
    # The usual Event about the new ARN, besides the answer.
    c.wait_event(ns, "Imported", name="web")


def test_a_resync_with_nothing_wrong_reads_acm_and_writes_nothing(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    arns = _arns(_synced(env, ca, ns, "calm", ["us-east-1"]))
    seq = env.acm.last_seq()
    # What `kubectl annotate` does: any new value is a request.
    c.custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "calm", {"metadata": {"annotations": {RESYNC: "first"}}}
    )
    wait_for(
        lambda: (c.cert(ns, "calm") or {}).get("status", {}).get("lastResync") == "first",
        what="status.lastResync",
    )
    events = c.wait_event(ns, "Verified", name="calm")
    verified = [m for _k, n, r, m in events if (n, r) == ("calm", "Verified")]
    assert len(verified) == 1, verified
    assert arns["us-east-1"] in verified[0], verified
    reads = [call["api"] for call in env.acm.calls() if call["seq"] > seq]
    assert "DescribeCertificate" in reads or "GetCertificate" in reads, reads
    assert env.acm.writes_since(seq) == []
    # Handled once: the same value again asks nothing (a label edit makes the object change).
    c.custom.patch_namespaced_custom_object(
        GROUP, VERSION, ns, PLURAL, "calm", {"metadata": {"labels": {"touched": "yes"}}}
    )
    code, out = _cli(env, "resync", "calm", "-n", ns)
    assert code == 0, out
    verified_now = [e for e in c.events(ns) if e[1:3] == ("calm", "Verified")]
    assert len(verified_now) == 2, verified_now


def test_status_shows_each_region_its_arn_the_secret_and_events(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    obj = _synced(env, ca, ns, "shop", ["us-east-1", "eu-west-1"])
    c.wait_event(ns, "Imported", name="shop")
    code, out = _cli(env, "status", "shop", "-n", ns)
    assert code == 0, out
    for entry in obj["status"]["regions"]:
        assert entry["region"] in out
        assert entry["arn"] in out
        assert entry["serialNumber"] in out
    assert "Ready:" in out
    assert "True Synced" in out
    assert "shop-tls (type kubernetes.io/tls, present)" in out
    assert "Imported" in out  # the Events
    assert "PRIVATE KEY" not in out
    assert "BEGIN CERTIFICATE" not in out


def test_status_takes_the_namespace_from_the_kubeconfig_context(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    ns = env.cluster.namespace()
    _synced(env, ca, ns, "ctx", ["us-east-1"])
    config = yaml.safe_load(Path(env.kubeconfig).read_text())
    for context in config["contexts"]:
        context["context"]["namespace"] = ns
    path = env.workdir / f"kubeconfig-{ns}"
    path.write_text(yaml.safe_dump(config))
    code, out = _cli(env, "status", "ctx", kubeconfig=False, KUBECONFIG=str(path))
    assert code == 0, out
    assert f"Namespace:          {ns}" in out


def test_missing_objects_and_secrets_are_said_plainly(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    for command in ("status", "resync"):
        code, out = _cli(env, command, "nothing", "-n", ns)
        assert code == 1, out
        assert f"AcmCertificate {ns}/nothing not found" in out
        assert "Traceback" not in out
    c.create_cert(ns, "lost", secretName="nowhere", regions=["us-east-1"])
    c.wait_reason(ns, "lost", "SecretNotFound")
    code, out = _cli(env, "status", "lost", "-n", ns)
    assert code == 1, out  # not Ready
    assert "nowhere (not found)" in out
    assert "SecretNotFound" in out
    code, out = _cli(env, "resync", "lost", "-n", ns, "--timeout", "30")
    assert code == 1, out
    assert "ResyncSkipped" in out, out
    assert "SecretNotFound" in out, out


def test_an_unreachable_cluster_is_one_line_not_a_traceback(env: Env) -> None:
    config = yaml.safe_load(Path(env.kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = "https://127.0.0.1:9"
    path = env.workdir / "kubeconfig-unreachable"
    path.write_text(yaml.safe_dump(config))
    code, out = _cli(env, "status", "web", "-n", "default", kubeconfig=False, KUBECONFIG=str(path))
    assert code == 2, out
    assert "cannot talk to the Kubernetes API" in out
    assert "Traceback" not in out
    assert len(out.strip().splitlines()) == 1, out
