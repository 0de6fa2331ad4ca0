"""Stock kubectl, default flags, on every cluster backend: the emulator and the real API server.

The same assertions run on both (tests/cluster_backends.py), so a difference between the
emulator and kube-apiserver in what kubectl prints or does fails here. On a shared real cluster
each test gets a namespace of its own, set as its kubeconfig's context namespace.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kubernetes import client

from tests.kube.kubekit import as_dict, as_model, meta

SAMPLE_CRD = Path(__file__).with_name("sample-crd.yaml")
Kubectl = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = [pytest.mark.kubectl, pytest.mark.usefixtures("backend")]

TLS_SECRET = """
apiVersion: v1
kind: Secret
metadata:
  name: web-tls
  labels: {app: web}
type: kubernetes.io/tls
stringData:
  tls.crt: "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"
  tls.key: "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n"
"""

WIDGET = """
apiVersion: example.acm-sync.dev/v1
kind: Widget
metadata:
  name: {name}
spec:
  size: {size}
"""


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_apply_get_describe_delete_a_tls_secret(
    kubectl: Kubectl, core: client.CoreV1Api, ns: str
) -> None:
    assert "secret/web-tls created" in _ok(kubectl("apply", "-f", "-", stdin=TLS_SECRET))
    secret = core.read_namespaced_secret("web-tls", ns)
    assert secret.data is not None
    assert set(secret.data) == {"tls.crt", "tls.key"}
    changed = TLS_SECRET.replace("app: web", "app: web2")
    assert "secret/web-tls configured" in _ok(kubectl("apply", "-f", "-", stdin=changed))
    version = meta(core.read_namespaced_secret("web-tls", ns)).resource_version
    # stringData is never stored, so kubectl re-sends it ("configured"), as on a real cluster;
    # the write changes nothing, so the resourceVersion stays.
    _ok(kubectl("apply", "-f", "-", stdin=changed))
    assert meta(core.read_namespaced_secret("web-tls", ns)).resource_version == version
    table = _ok(kubectl("get", "secrets"))
    assert table.split("\n")[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert table.split("\n")[1].split()[:3] == ["web-tls", "kubernetes.io/tls", "2"]
    described = _ok(kubectl("describe", "secret", "web-tls"))
    assert "app=web2" in described
    assert "MIIE" not in described  # describe shows sizes, never the key
    assert 'secret "web-tls" deleted' in _ok(kubectl("delete", "secret", "web-tls"))
    assert _ok(kubectl("get", "secrets", "-o", "name")) == ""


def test_crd_apply_then_custom_resources_with_columns(kubectl: Kubectl) -> None:
    _ok(kubectl("apply", "-f", str(SAMPLE_CRD)))
    crds = [line.split() for line in _ok(kubectl("get", "crds")).strip().split("\n")]
    assert crds[0] == ["NAME", "SCOPE", "VERSIONS", "CREATED", "AT"]
    # A shared cluster lists other CRDs too (cert-manager's, acm-sync's).
    assert ["widgets.example.acm-sync.dev", "Namespaced", "v1(storage)"] in [
        row[:3] for row in crds[1:]
    ]
    assert "widget.example.acm-sync.dev/w1 created" in _ok(
        kubectl("apply", "-f", "-", stdin=WIDGET.format(name="w1", size=3))
    )
    assert "configured" in _ok(kubectl("apply", "-f", "-", stdin=WIDGET.format(name="w1", size=4)))
    rows = [line.split() for line in _ok(kubectl("get", "wdg")).strip().split("\n")]
    assert rows[0] == ["NAME", "SIZE", "READY", "AGE"]
    assert rows[1][:2] == ["w1", "4"]
    as_json = json.loads(_ok(kubectl("get", "widget", "w1", "-o", "json")))
    assert as_json["metadata"]["generation"] == 2
    assert as_json["spec"]["color"] == "blue"  # schema default
    rejected = kubectl("apply", "-f", "-", stdin=WIDGET.format(name="w2", size=3) + "  bogus: 1\n")
    assert rejected.returncode != 0
    assert 'unknown field "spec.bogus"' in rejected.stderr


def test_label_annotate_describe_events_and_wait(
    kubectl: Kubectl, core: client.CoreV1Api, custom: client.CustomObjectsApi, ns: str
) -> None:
    _ok(kubectl("apply", "-f", str(SAMPLE_CRD)))
    _ok(kubectl("apply", "-f", "-", stdin=WIDGET.format(name="w1", size=3)))
    _ok(kubectl("label", "widget", "w1", "tier=gold"))
    _ok(kubectl("annotate", "widget", "w1", "note=hello"))
    widget = as_dict(
        custom.get_namespaced_custom_object("example.acm-sync.dev", "v1", ns, "widgets", "w1")
    )
    assert widget["metadata"]["labels"] == {"tier": "gold"}
    assert widget["metadata"]["annotations"]["note"] == "hello"
    involved = {
        "kind": "Widget",
        "name": "w1",
        "namespace": ns,
        "uid": widget["metadata"]["uid"],
        "apiVersion": "example.acm-sync.dev/v1",
    }
    core.create_namespaced_event(
        ns,
        as_model(
            client.CoreV1Event,
            {
                "metadata": {"generateName": "w1."},
                "involvedObject": involved,
                "reason": "Imported",
                "message": "into 3 regions",
                "type": "Normal",
            },
        ),
    )
    described = _ok(kubectl("describe", "widget", "w1"))
    assert "Imported" in described
    assert "into 3 regions" in described
    events = [line.split() for line in _ok(kubectl("get", "events")).strip().split("\n")]
    assert events[0] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert events[1][1:4] == ["Normal", "Imported", "widget/w1"]

    def make_ready() -> None:
        time.sleep(0.5)
        custom.patch_namespaced_custom_object_status(
            "example.acm-sync.dev",
            "v1",
            ns,
            "widgets",
            "w1",
            {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        )

    thread = threading.Thread(target=make_ready)
    thread.start()
    _ok(kubectl("wait", "--for=condition=Ready", "widget/w1", "--timeout=10s"))
    thread.join()
    assert _ok(kubectl("get", "widget", "w1")).split("\n")[1].split()[2] == "True"
    _ok(kubectl("delete", "widget", "w1"))
    _ok(kubectl("wait", "--for=delete", "widget/w1", "--timeout=5s"))


def test_create_secret_and_namespace_through_typed_clients(
    kubectl: Kubectl, core: client.CoreV1Api, ns: str
) -> None:
    # kubectl's typed clients send protobuf request bodies.
    team = f"{ns}-team" if ns != "default" else "team"
    _ok(kubectl("create", "namespace", team))
    _ok(kubectl("create", "secret", "generic", "creds", "-n", team, "--from-literal=user=admin"))
    assert core.read_namespaced_secret("creds", team).data == {"user": "YWRtaW4="}
    # kubectl waits for the namespace to be gone (the namespace controller empties it first).
    _ok(kubectl("delete", "namespace", team))
    assert core.list_namespaced_secret(team).items == []


def test_server_side_apply(kubectl: Kubectl, core: client.CoreV1Api, ns: str) -> None:
    manifest = TLS_SECRET.replace("web-tls", "ssa")
    assert "serverside-applied" in _ok(kubectl("apply", "--server-side", "-f", "-", stdin=manifest))
    assert "serverside-applied" in _ok(
        kubectl("apply", "--server-side", "-f", "-", stdin=manifest.replace("app: web", "app: v2"))
    )
    assert meta(core.read_namespaced_secret("ssa", ns)).labels == {"app": "v2"}


def test_finalizer_keeps_the_object_until_removed(
    kubectl: Kubectl, core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_config_map(
        ns,
        as_model(
            client.V1ConfigMap, {"metadata": {"name": "held", "finalizers": ["acm-sync.dev/x"]}}
        ),
    )
    _ok(kubectl("delete", "configmap", "held", "--wait=false"))
    assert meta(core.read_namespaced_config_map("held", ns)).deletion_timestamp is not None
    _ok(
        kubectl(
            "patch",
            "configmap",
            "held",
            "--type=json",
            "-p",
            '[{"op":"remove","path":"/metadata/finalizers"}]',
        )
    )
    assert _ok(kubectl("get", "configmaps", "-o", "name")) == ""


INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
spec:
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  rules:
    - host: shop.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
"""


def test_ingresses_get_annotate_and_table(kubectl: Kubectl) -> None:
    assert "ingress.networking.k8s.io/shop created" in _ok(
        kubectl("apply", "-f", "-", stdin=INGRESS)
    )
    rows = [line.split() for line in _ok(kubectl("get", "ing")).strip().split("\n")]
    assert rows[0] == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert rows[1][:5] == ["shop", "<none>", "shop.example.com", "80,", "443"]
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/x"
    _ok(kubectl("annotate", "ingress", "shop", f"alb.ingress.kubernetes.io/certificate-arn={arn}"))
    shown = json.loads(_ok(kubectl("get", "ingress", "shop", "-o", "json")))
    assert shown["metadata"]["annotations"]["alb.ingress.kubernetes.io/certificate-arn"] == arn
    assert shown["metadata"]["generation"] == 1  # metadata alone does not bump it
    assert 'ingress.networking.k8s.io "shop" deleted' in _ok(kubectl("delete", "ingress", "shop"))
