"""A minimal Service proxy for the real node: a Service's ClusterIP:port to its ready Pods.

The node runs no kube-proxy (it would program iptables, and the test bed's rule is that no
firewall changes, not even in a namespace of its own when a simpler thing does). A Service is
routed here by giving its ClusterIP to the node's loopback and starting ``netforward`` in the
node's network namespace, listening on ClusterIP:port and connecting to the Service's ready
endpoints in turn. The routing is a snapshot: call ``route_service`` again after the
endpoints change (it replaces the previous forwarder).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from acm_sync_testbed.realcluster.node import RealNode
from acm_sync_testbed.realcluster.processes import ProcessFailed, Supervised


def endpoints(node: RealNode, namespace: str, service: str, port: str) -> list[str]:
    """``ip:port`` of every ready endpoint of ``service``'s port named ``port``."""
    status, body = node.cluster.request(
        "GET",
        f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
        f"?labelSelector=kubernetes.io/service-name={service}",
    )
    if status != 200:
        raise ProcessFailed(f"EndpointSlices of {namespace}/{service}: {status} {body}")
    found: list[str] = []
    for slice_ in body.get("items") or []:
        number = next((p["port"] for p in slice_.get("ports") or [] if p.get("name") == port), None)
        if number is None:
            continue
        for endpoint in slice_.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready"):
                found.extend(f"{address}:{number}" for address in endpoint["addresses"])
    return sorted(found)


def route_service(node: RealNode, namespace: str, service: str, port: str) -> tuple[str, int]:
    """Route ``service``'s ClusterIP and port named ``port`` to its ready endpoints inside the
    node's network namespace; (ClusterIP, port). Fails if the Service has no ready endpoint."""
    status, body = node.cluster.request("GET", f"/api/v1/namespaces/{namespace}/services/{service}")
    if status != 200:
        raise ProcessFailed(f"Service {namespace}/{service}: {status} {body}")
    spec: dict[str, Any] = body["spec"]
    cluster_ip = str(spec["clusterIP"])
    number = int(next(p["port"] for p in spec["ports"] if p.get("name") == port))
    targets = endpoints(node, namespace, service, port)
    if not targets:
        raise ProcessFailed(f"Service {namespace}/{service} has no ready endpoint")
    name = f"service-{namespace}-{service}-{port}"
    for process in [p for p in node.processes if p.name == name]:
        process.stop()
        node.processes.remove(process)
    _add_address(node, cluster_ip)
    forwarder = node.run_in_network(
        name,
        [sys.executable, "-m", "acm_sync_testbed.realcluster.netforward",
         f"--netns=/proc/{_holder(node)}/ns/net",
         f"{cluster_ip}:{number}={','.join(targets)}"],
    )  # fmt: skip
    _wait_forwarding(forwarder)
    return cluster_ip, number


def _holder(node: RealNode) -> int:
    if node.holder is None or node.holder.process is None:
        raise ProcessFailed("the node is not started")
    return node.holder.process.pid


def _add_address(node: RealNode, address: str) -> None:
    result = subprocess.run(
        ["nsenter", f"--target={_holder(node)}", "--net", "--",
         "ip", "addr", "replace", f"{address}/32", "dev", "lo"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise ProcessFailed(f"adding {address} to the node's loopback: {result.stderr.strip()}")


def _wait_forwarding(process: Supervised) -> None:
    from acm_sync_testbed.realcluster.cluster import _wait

    _wait(lambda: "forwarding" in process.log_tail(), process.name, [process], 30)
