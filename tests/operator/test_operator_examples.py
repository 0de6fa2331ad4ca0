"""The examples/ manifests are valid: the CRD accepts them and the operator can act on them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from opkit import GROUP, PLURAL, VERSION, Cluster

from acm_sync.controller import annotations as ann
from acm_sync.controller.spec import parse_spec
from acm_sync.emulators.kube.server import KubeEmulator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _docs(kind: str) -> list[dict[str, Any]]:
    docs = [
        d
        for path in sorted(EXAMPLES.glob("*.yaml"))
        for d in yaml.safe_load_all(path.read_text())
        if d and d.get("kind") == kind
    ]
    assert docs, f"no {kind} example"
    return docs


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    kube = KubeEmulator().start()
    try:
        c = Cluster(kube.write_kubeconfig(tmp_path / "kc"))
        c.install_crd()
        yield c
        c.close()
    finally:
        kube.stop()


def test_acmcertificate_examples_pass_the_crd_and_the_operator(cluster: Cluster) -> None:
    for doc in _docs("AcmCertificate"):
        parse_spec(doc["spec"])
        created = cluster.custom.create_namespaced_custom_object(
            GROUP, VERSION, doc["metadata"]["namespace"], PLURAL, doc
        )
        assert created["spec"]["secretName"] == doc["spec"]["secretName"]


def test_the_crd_refuses_what_the_operator_would(cluster: Cluster) -> None:
    bad = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AcmCertificate",
        "metadata": {"name": "bad"},
        "spec": {"secretName": "x", "regions": [], "deletionPolicy": "Orphan"},
    }
    with pytest.raises(client.ApiException) as refused:
        cluster.custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, bad)
    assert refused.value.status == 422


def test_cert_manager_example_annotations_make_a_valid_spec() -> None:
    (certificate,) = _docs("Certificate")
    annotations = certificate["spec"]["secretTemplate"]["annotations"]
    meta = ann.SecretMeta.of(
        {
            "metadata": {
                "namespace": "default",
                "name": certificate["spec"]["secretName"],
                "annotations": annotations,
            },
            "type": "kubernetes.io/tls",
        }
    )
    spec = ann.desired_spec(meta)
    parsed = parse_spec(spec)
    assert parsed.regions == ("us-east-1", "eu-west-1")
    assert parsed.tags == {"team": "shop", "env": "prod"}
