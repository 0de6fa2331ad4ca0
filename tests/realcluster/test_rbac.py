"""The operator under exactly the RBAC the chart renders, on a real API server.

The chart is rendered by the real Helm binary; its ServiceAccount, (Cluster)Roles and bindings
are applied; the operator runs with a TokenRequest token of that ServiceAccount (not as an
admin) and with the arguments the chart's Deployment gives it. The whole sync / rotate /
delete flow must work with no Forbidden, and the same token must be refused any Secret write.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from kubernetes import client

from tests.certkit import TestCA, serial_hex, tls_secret
from tests.cluster_backends import RealApi
from tests.kube.kubekit import as_model, new_client
from tests.operator.opkit import wait_for
from tests.realcluster.rbackit import RBAC_KINDS, apply_rbac, operator_args, operator_as
from tests.realcluster.realkit import kubectl, real_env, render_chart

pytestmark = [pytest.mark.real_cluster, pytest.mark.integration]


@pytest.mark.parametrize("scope", ["cluster", "namespaces"])
def test_sync_rotate_delete_under_the_charts_rbac_and_no_secret_writes(
    real_backend: RealApi, tmp_path: Path, scope: str
) -> None:
    suffix = uuid.uuid4().hex[:6]
    release, release_ns, workload_ns = f"rbac-{suffix}", f"acm-sync-{suffix}", f"app-{suffix}"
    values = [f"watch.scope={scope}"]
    if scope == "namespaces":
        values.append(f"watch.namespaces={{{workload_ns}}}")
    manifests = render_chart(release, release_ns, tmp_path / "helm", *values)
    rbac = [m for m in manifests if m["kind"] in RBAC_KINDS]
    assert {m["kind"] for m in rbac} >= {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
    as_operator = apply_rbac(real_backend, tmp_path, rbac, release_ns, workload_ns)

    with real_env(real_backend, tmp_path) as env:
        c = env.cluster
        log_path = tmp_path / "operator.log"
        args = operator_args(manifests)
        with operator_as(env, as_operator, log_path, args, workload_ns, release_ns) as operator:
            ca = TestCA()
            first = ca.issue("rbac.example.com")
            c.core.create_namespaced_secret(
                workload_ns, as_model(client.V1Secret, tls_secret("web", first))
            )
            c.create_cert(
                workload_ns, "web", secretName="web", regions=["us-east-1"], deletionPolicy="Delete"
            )
            obj = c.wait_reason(workload_ns, "web", "Synced", timeout=40)
            arn = obj["status"]["regions"][0]["arn"]
            assert env.acm.serial("us-east-1", arn) == serial_hex(first.serial)

            second = ca.issue("rbac.example.com")
            c.core.replace_namespaced_secret(
                "web", workload_ns, as_model(client.V1Secret, tls_secret("web", second))
            )
            wait_for(
                lambda: env.acm.serial("us-east-1", arn) == serial_hex(second.serial),
                timeout=30,
                what="the rotation reimported into the same ARN",
            )
            c.wait_event(workload_ns, "Synced", name="web")

            c.delete_cert(workload_ns, "web")
            wait_for(
                lambda: c.cert(workload_ns, "web") is None,
                timeout=30,
                what="the finalizer to finish under policy Delete",
            )
            assert not env.acm.exists("us-east-1", arn)
        log = operator.log_path.read_text(errors="replace")
        assert "Forbidden" not in log, operator.log_tail(80)
        assert " 403" not in log, operator.log_tail(80)

    # The same identity may read Secrets but never write them.
    api = new_client(as_operator)
    core = client.CoreV1Api(api)
    kubectl(real_backend, tmp_path, "create", "namespace", f"{workload_ns}-w")
    kubectl(
        real_backend,
        tmp_path,
        "create",
        "secret",
        "generic",
        "s",
        "-n",
        f"{workload_ns}-w",
        "--from-literal=k=v",
    )
    denied: dict[str, int] = {}
    attempts: dict[str, Callable[[str], object]] = {
        "patch": lambda ns: core.patch_namespaced_secret("s", ns, {"data": {"k": "eA=="}}),
        "update": lambda ns: core.replace_namespaced_secret(
            "s", ns, as_model(client.V1Secret, {"metadata": {"name": "s"}, "data": {"k": "eA=="}})
        ),
        "delete": lambda ns: core.delete_namespaced_secret("s", ns),
        "create": lambda ns: core.create_namespaced_secret(
            ns, as_model(client.V1Secret, {"metadata": {"name": "t"}})
        ),
    }
    for verb, attempt in attempts.items():
        for ns in (workload_ns, f"{workload_ns}-w"):
            try:
                attempt(ns)
            except client.ApiException as err:
                denied[f"{verb} {ns}"] = err.status
            else:
                denied[f"{verb} {ns}"] = 0
    assert set(denied.values()) == {403}, denied
