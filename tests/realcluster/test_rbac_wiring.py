"""Wiring under exactly the RBAC the chart renders with wiring.enabled, on a real API server.

The operator runs with a TokenRequest token of the chart's ServiceAccount (namespaces scope,
the tighter one) and the chart's arguments: an Ingress's import ends with its certificate-arn
written, with no Forbidden. Without wiring.enabled the chart grants nothing on either kind.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.certkit import TestCA, tls_secret
from tests.cluster_backends import RealApi
from tests.kube.kubekit import as_model
from tests.operator.opkit import wait_for
from tests.operator.wirekit import ALB
from tests.realcluster.rbackit import RBAC_KINDS, apply_rbac, operator_args, operator_as
from tests.realcluster.realkit import real_env, render_chart

pytestmark = [pytest.mark.real_cluster, pytest.mark.integration]


def _resources(manifests: list[dict[str, Any]]) -> set[str]:
    return {
        resource
        for m in manifests
        if m["kind"] in ("Role", "ClusterRole")
        for rule in m.get("rules") or []
        for resource in rule.get("resources") or []
    }


def test_an_import_is_wired_under_the_charts_rbac(real_backend: RealApi, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:6]
    release, release_ns, workload_ns = f"wire-{suffix}", f"acm-sync-{suffix}", f"app-{suffix}"
    scope = ["watch.scope=namespaces", f"watch.namespaces={{{workload_ns}}}"]
    without = render_chart(release, release_ns, tmp_path / "off", *scope)
    assert not {"ingresses", "services"} & _resources(without)
    manifests = render_chart(
        release, release_ns, tmp_path / "helm", *scope,
        "wiring.enabled=true", "wiring.region=eu-west-1",
    )  # fmt: skip
    assert {"ingresses", "services"} <= _resources(manifests)
    args = operator_args(manifests)
    assert "--wiring" in args
    assert "--wiring-region=eu-west-1" in args
    rbac = [m for m in manifests if m["kind"] in RBAC_KINDS]
    as_operator = apply_rbac(real_backend, tmp_path, rbac, release_ns, workload_ns)

    with real_env(real_backend, tmp_path) as env:
        c = env.cluster
        log_path = tmp_path / "operator.log"
        with operator_as(env, as_operator, log_path, args, workload_ns, release_ns) as operator:
            secret = tls_secret("web-tls", TestCA().issue("web.example.com"))
            c.core.create_namespaced_secret(workload_ns, as_model(client.V1Secret, secret))
            ingress = {
                "metadata": {"name": "web", "annotations": {"acmsync.io/import": "true"}},
                "spec": {
                    "tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}],
                    "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
                },
            }
            net = client.NetworkingV1Api(c.api)
            net.create_namespaced_ingress(workload_ns, as_model(client.V1Ingress, ingress))
            obj = c.wait_reason(workload_ns, "web-tls", "Synced", timeout=40)
            arn = obj["status"]["regions"][0]["arn"]
            assert env.acm.exists("eu-west-1", arn)

            def wired() -> bool:
                meta = net.read_namespaced_ingress("web", workload_ns).metadata
                return meta is not None and (meta.annotations or {}).get(ALB) == arn

            wait_for(wired, timeout=30, what="the Ingress's certificate-arn")
            c.wait_event(workload_ns, "CertificateWired", name="web")
        log = operator.log_path.read_text(errors="replace")
        assert "Forbidden" not in log, operator.log_tail(80)
        assert " 403" not in log, operator.log_tail(80)
