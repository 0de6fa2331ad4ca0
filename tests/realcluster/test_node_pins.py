"""The node's kubelet and kube-scheduler are pinned to the Kubernetes of the control plane.

They come from testbed/node/kubernetes, a module of its own (the kubelet needs modules
kube-apiserver does not, and adding them to testbed/cluster/kubernetes would rebuild the whole
control plane); a kubelet newer than its API server is unsupported, so the two pins must agree.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "testbed" / "cluster" / "kubernetes" / "go.mod"
NODE = ROOT / "testbed" / "node" / "kubernetes" / "go.mod"


def _kubernetes_pins(go_mod: Path) -> dict[str, str]:
    """k8s.io/kubernetes's required version and every k8s.io/* replacement."""
    text = go_mod.read_text()
    pins = dict(re.findall(r"^(?:require)?\s*(k8s\.io/kubernetes) (v\S+)\s*$", text, re.MULTILINE))
    pins.update(re.findall(r"^\s*(k8s\.io/\S+) => k8s\.io/\S+ (v\S+)\s*$", text, re.MULTILINE))
    return pins


def test_the_node_pins_the_control_planes_kubernetes() -> None:
    cluster, node = _kubernetes_pins(CLUSTER), _kubernetes_pins(NODE)
    assert "k8s.io/kubernetes" in cluster
    assert node == cluster
