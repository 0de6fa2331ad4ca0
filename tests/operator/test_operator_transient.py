"""Transient Kubernetes API errors are weather: survived without a restart, logged at WARNING."""

from __future__ import annotations

import pytest
from kubernetes import client

from acm_sync_testbed.emulators.kube.server import KubeEmulator
from tests.certkit import TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, wait_for

# The faults are the emulator's fault hooks (a 500 or 429 aimed at one path and verb).
pytestmark = [pytest.mark.integration, pytest.mark.backends("emulator")]


def _emulator(env: Env) -> KubeEmulator:
    assert env.kube is not None, "the backends marker keeps these tests on the emulator"
    return env.kube


def _error_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]


def test_a_500_and_a_burst_of_429s_at_start_up_are_survived_without_a_restart(
    env: Env,
) -> None:
    kube = _emulator(env)
    lookup = "/api/v1/namespaces/kube-system"
    kube.fail_next(1, 500, path=lookup, verb="GET")
    kube.fail_next(4, 429, path=lookup, verb="GET")
    process = env.operator("--no-leader-election", name="startup-faults").start(wait_ready=False)
    try:
        probes: list[int] = []

        def ready() -> bool:
            assert process.process is not None
            assert process.process.poll() is None, process.log_tail()
            probes.append(process.probe("/readyz"))
            return probes[-1] == 200

        wait_for(ready, timeout=60, what="readiness after the start-up faults")
        log = process.log_tail(5000)
        retries = [line for line in log.splitlines() if "Reading the cluster id" in line]
        assert retries, log
        assert all(" WARNING " in line for line in retries), retries
        # Never ready while the cluster id was unknown.
        assert 200 not in probes[:-1]
        assert _error_lines(log) == []
    finally:
        assert process.stop() == 0


def test_transient_errors_inside_a_reconcile_are_retried_quietly_without_duplicates(
    env: Env,
) -> None:
    kube = _emulator(env)
    c = env.cluster
    ns = c.namespace("weather")
    process = env.operator("--no-leader-election", name="reconcile-faults").start()
    try:
        c.core.create_namespaced_secret(
            ns, as_model(client.V1Secret, tls_secret("web", TestCA().issue("w.example.com")))
        )
        # The first status writes after the import fail: the import must not be repeated.
        kube.fail_next(2, 503, path=f"/namespaces/{ns}/acmcertificates/web/status", verb="PATCH")
        kube.fail_next(1, 500, path=f"/namespaces/{ns}/secrets/web", verb="GET")
        c.create_cert(ns, "web", secretName="web", regions=["us-east-1"])
        c.wait_reason(ns, "web", "Synced", timeout=30)
        imports = [x for x in env.acm.calls() if x["api"] == "ImportCertificate"]
        assert len(imports) == 1, imports
        assert len(env.acm.owned_by("us-east-1", f"{ns}/web")) == 1
        log = process.log_tail(5000)
        assert "transient API error" in log, log
        assert _error_lines(log) == []
    finally:
        process.stop()
