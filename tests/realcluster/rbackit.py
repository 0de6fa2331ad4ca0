"""The RBAC tests' kit: the chart's RBAC applied on the real cluster, and the operator run as its
ServiceAccount with the arguments the chart's Deployment gives it.

Shared by test_rbac.py and test_rbac_wiring.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.cluster_backends import RealApi
from tests.operator.opkit import Env, OperatorProcess
from tests.realcluster.realkit import kubectl, token_kubeconfig

RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
# Chart arguments the tests replace: the port (a free one per process) and the log format
# (text, so the assertions read the log as a person would).
REPLACED = ("--metrics-bind-address", "--metrics-port", "--log-format", "--log-level")


def operator_args(manifests: list[dict[str, Any]]) -> list[str]:
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return [a for a in container["args"] if not a.startswith(REPLACED)]


def apply_rbac(
    api: RealApi, tmp: Path, rbac: list[dict[str, Any]], release_ns: str, workload_ns: str
) -> Path:
    """Both namespaces created and ``rbac`` applied; a kubeconfig with a token of its
    ServiceAccount (in ``release_ns``)."""
    for ns in (release_ns, workload_ns):
        kubectl(api, tmp, "create", "namespace", ns)
    kubectl(
        api,
        tmp,
        "apply",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": rbac}),
    )
    account = next(m for m in rbac if m["kind"] == "ServiceAccount")["metadata"]["name"]
    return token_kubeconfig(api, tmp, release_ns, account)


@contextmanager
def operator_as(
    env: Env, kubeconfig: Path, log: Path, args: Sequence[str], *namespaces: str
) -> Iterator[OperatorProcess]:
    """The operator, started as ``kubeconfig``'s identity with ``args``; on exit it is stopped
    and ``namespaces`` are left for ``env`` to remove."""
    operator = OperatorProcess(
        kubeconfig,
        env.acm_server.url,
        log,
        *args,
        env={"ACM_SYNC_AWS_RATES": "ImportCertificate=50"},
    ).start()
    try:
        yield operator
    finally:
        operator.stop()
        env.cluster.created_namespaces += namespaces
