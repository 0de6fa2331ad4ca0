"""cert-manager objects for the end-to-end tests, and a renewal triggered as `cmctl renew` does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from tests.kube.kubekit import as_dict
from tests.operator.opkit import wait_for

GROUP, VERSION = "cert-manager.io", "v1"


def certificate(
    name: str,
    secret_name: str,
    issuer: tuple[str, str],
    *,
    dns_names: list[str] | None = None,
    is_ca: bool = False,
    algorithm: str = "ECDSA",
    size: int = 256,
    rotation: str = "Never",
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Certificate manifest; ``issuer`` is (kind, name)."""
    spec: dict[str, Any] = {
        "secretName": secret_name,
        "issuerRef": {"kind": issuer[0], "name": issuer[1], "group": GROUP},
        "privateKey": {"algorithm": algorithm, "size": size, "rotationPolicy": rotation},
    }
    if is_ca:
        spec.update(isCA=True, commonName=name)
    else:
        spec["dnsNames"] = dns_names or [f"{name}.example.com"]
    if annotations:
        spec["secretTemplate"] = {"annotations": annotations}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Certificate",
        "metadata": {"name": name},
        "spec": spec,
    }


def create(custom: client.CustomObjectsApi, ns: str | None, manifest: dict[str, Any]) -> None:
    """Create a cert-manager object (cluster-scoped when ``ns`` is None)."""
    plural = manifest["kind"].lower() + "s"
    if ns is None:
        custom.create_cluster_custom_object(GROUP, VERSION, plural, manifest)
    else:
        custom.create_namespaced_custom_object(GROUP, VERSION, ns, plural, manifest)


def condition(custom: client.CustomObjectsApi, ns: str, name: str, ctype: str) -> str:
    """A Certificate condition's status ('' when absent)."""
    obj = as_dict(custom.get_namespaced_custom_object(GROUP, VERSION, ns, "certificates", name))
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == ctype:
            return str(cond["status"])
    return ""


def renew(custom: client.CustomObjectsApi, ns: str, name: str) -> None:
    """Trigger a reissue the way `cmctl renew` does: the Issuing condition, set to True."""
    obj = as_dict(custom.get_namespaced_custom_object(GROUP, VERSION, ns, "certificates", name))
    conditions = [
        c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] != "Issuing"
    ]
    conditions.append(
        {
            "type": "Issuing",
            "status": "True",
            "reason": "ManuallyTriggered",
            "message": "Certificate re-issuance manually triggered",
            "lastTransitionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "observedGeneration": obj["metadata"]["generation"],
        }
    )
    custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, "certificates", name, {"status": {"conditions": conditions}}
    )


def ca_issuer(custom: client.CustomObjectsApi, ns: str, name: str = "ca") -> None:
    """A CA Issuer ``name`` in ``ns``, Ready: a self-signed ClusterIssuer makes a CA
    Certificate whose Secret backs the Issuer, as a typical private-CA set-up does."""
    root = f"selfsigned-{uuid.uuid4().hex[:6]}"
    create(
        custom,
        None,
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ClusterIssuer",
            "metadata": {"name": root},
            "spec": {"selfSigned": {}},
        },
    )
    create(custom, ns, certificate(name, f"{name}-tls", ("ClusterIssuer", root), is_ca=True))
    create(
        custom,
        ns,
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Issuer",
            "metadata": {"name": name},
            "spec": {"ca": {"secretName": f"{name}-tls"}},
        },
    )
    wait_for(
        lambda: condition(custom, ns, name, "Ready") == "True",
        timeout=60,
        what="the CA Certificate to be issued by cert-manager",
    )
