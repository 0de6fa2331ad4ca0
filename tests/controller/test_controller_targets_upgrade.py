"""An operator of this version on a cluster whose AcmTarget CRD is not applied yet (an upgrade
in progress): AcmCertificates keep syncing, spec.targets pairs say TargetNotFound."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from acm_sync.controller.platform.flags import OperatorConfig
from acm_sync.controller.platform.kubeapi import GROUP, PLURAL, VERSION
from acm_sync.controller.runtime import OperatorThread
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from acm_sync_testbed.emulators.kube.server import KubeEmulator
from tests.certkit import TestCA, tls_secret
from tests.kube.kubekit import as_dict, as_model, new_client
from tests.operator.opkit import CRD, aws_env, wait_for


@pytest.fixture
def only_acmcertificate_crd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[client.CustomObjectsApi, client.CoreV1Api]]:
    kube = KubeEmulator().start()
    acm = AcmEmulator().start()
    for name, value in aws_env(acm.url).items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    api = new_client(kubeconfig)
    client.ApiextensionsV1Api(api).create_custom_resource_definition(
        yaml.safe_load(CRD.read_text())
    )
    config = OperatorConfig(
        kubeconfig=str(kubeconfig), leader_election=False, metrics_port=0, sweep_interval=1
    )
    operator = OperatorThread(config).start()
    try:
        yield client.CustomObjectsApi(api), client.CoreV1Api(api)
    finally:
        operator.stop()
        acm.stop()
        kube.stop()


def _reason(custom: client.CustomObjectsApi, name: str) -> str:
    obj = as_dict(custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, name))
    conditions = (obj.get("status") or {}).get("conditions") or []
    return str(conditions[0]["reason"]) if conditions else ""


def test_without_the_acmtarget_crd_certificates_still_sync(
    only_acmcertificate_crd: tuple[client.CustomObjectsApi, client.CoreV1Api],
) -> None:
    custom, core = only_acmcertificate_crd
    ca = TestCA()
    core.create_namespaced_secret(
        "default", as_model(client.V1Secret, tls_secret("w", ca.issue("w.example.com")))
    )
    for name, extra in (
        ("plain", {}),
        ("with-target", {"targets": [{"target": "edge", "regions": ["us-east-1"]}]}),
    ):
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "AcmCertificate",
            "metadata": {"name": name},
            "spec": {"secretName": "w", "regions": ["eu-west-1"], **extra},
        }
        custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
    wait_for(lambda: _reason(custom, "plain") == "Synced", what="plain Synced")
    wait_for(lambda: _reason(custom, "with-target") == "PartiallySynced", what="PartiallySynced")
    obj = as_dict(
        custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "with-target")
    )
    pair = next(e for e in obj["status"]["regions"] if e.get("target") == "edge")
    assert pair["reason"] == "TargetNotFound"
