"""The wiring tests' kit: the wiring region and annotations, Ingresses and TLS Secrets as a user
makes and reads them, and an AcmCertificate's pair in the wiring region.

Shared by tests/operator/test_operator_wiring*.py and tests/realcluster/test_wiring_cert_manager.py.
The operator fixtures stay in the test modules (pytest finds fixtures there, and the test-kinds
check looks for their ``env.operator(...)`` call); they build on :data:`WIRING_FLAGS` and
:func:`running`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from kubernetes import client

from tests.certkit import IssuedPem, TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, OperatorProcess, wait_for

REGION = "eu-west-1"  # not the operator's AWS region (us-east-1): the flag decides
ALB = "alb.ingress.kubernetes.io/certificate-arn"
NLB = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"
WIRED = "acmsync.io/wired"
# One replica wiring into REGION; a module adds what it tests on top.
WIRING_FLAGS = ("--no-leader-election", "--wiring", f"--wiring-region={REGION}")


@contextmanager
def running(process: OperatorProcess) -> Iterator[OperatorProcess]:
    """``process`` started, and stopped however the block ends."""
    process.start()
    try:
        yield process
    finally:
        process.stop()


def networking(env: Env) -> client.NetworkingV1Api:
    return client.NetworkingV1Api(env.cluster.api)


def plain(env: Env, model: object) -> dict[str, Any]:
    """A client model as the JSON the API server sent (camelCase keys)."""
    obj: dict[str, Any] = env.cluster.api.sanitize_for_serialization(model)  # type: ignore[no-untyped-call]
    return obj


def create_ingress(
    env: Env, ns: str, name: str, annotations: dict[str, str], tls: Sequence[str] = ()
) -> dict[str, Any]:
    """An Ingress whose spec.tls names each Secret of ``tls``, as the API server returned it."""
    body = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "tls": [{"hosts": [f"{s}.example.com"], "secretName": s} for s in tls],
            "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
        },
    }
    made = networking(env).create_namespaced_ingress(ns, as_model(client.V1Ingress, body))
    return plain(env, made)


def read_ingress(env: Env, ns: str, name: str) -> dict[str, Any]:
    return plain(env, networking(env).read_namespaced_ingress(name, ns))


def annotations_of(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj["metadata"].get("annotations") or {})


def ingress_annotations(env: Env, ns: str, name: str) -> dict[str, str]:
    return annotations_of(read_ingress(env, ns, name))


def wait_annotation(env: Env, ns: str, name: str, value: str) -> dict[str, Any]:
    """The Ingress, once its certificate-arn annotation is ``value``."""

    def probe() -> dict[str, Any] | None:
        ingress = read_ingress(env, ns, name)
        return ingress if annotations_of(ingress).get(ALB) == value else None

    return wait_for(probe, what=f"Ingress {name} to carry {value}")


def pair_of(obj: dict[str, Any] | None) -> dict[str, Any]:
    """An AcmCertificate's own pair in REGION ({} until there is one)."""
    regions = ((obj or {}).get("status") or {}).get("regions") or []
    return next((r for r in regions if r["region"] == REGION and not r.get("target")), {})


def wait_new_arn(env: Env, ns: str, name: str, old: str, timeout: float, what: str) -> str:
    """The ARN in REGION, once it is Synced and no longer ``old`` (an ImportNew's new one)."""
    new: str = wait_for(
        lambda: (
            (p := pair_of(env.cluster.cert(ns, name))).get("state") == "Synced"
            and p["arn"] != old
            and p["arn"]
        ),
        timeout=timeout,
        what=what,
    )
    return new


def create_secret(env: Env, ns: str, name: str, issued: IssuedPem) -> None:
    body = as_model(client.V1Secret, tls_secret(name, issued))
    env.cluster.core.create_namespaced_secret(ns, body)


def replace_secret(env: Env, ns: str, name: str, issued: IssuedPem) -> None:
    body = as_model(client.V1Secret, tls_secret(name, issued))
    env.cluster.core.replace_namespaced_secret(name, ns, body)


def synced_arn(env: Env, ca: TestCA, ns: str, name: str, **spec: Any) -> str:
    """A TLS Secret and an AcmCertificate ``name`` into REGION (with ``spec`` besides): the ARN
    once it is Synced."""
    create_secret(env, ns, name, ca.issue(f"{name}.example.com"))
    env.cluster.create_cert(ns, name, secretName=name, regions=[REGION], **spec)
    arn: str = pair_of(env.cluster.wait_reason(ns, name, "Synced", timeout=30))["arn"]
    return arn
