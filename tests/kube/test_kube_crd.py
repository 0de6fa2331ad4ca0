"""CRDs become served resources: schema pruning, defaults, validation, status subresource."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from acm_sync_testbed.emulators.kube.server import KubeEmulator
from tests.kube.kubekit import as_dict, meta

Http = Callable[..., tuple[int, dict[str, str], bytes]]

SAMPLE_CRD = yaml.safe_load(Path(__file__).with_name("sample-crd.yaml").read_text())
GROUP, VERSION, PLURAL = "example.acm-sync.dev", "v1", "widgets"


def _widget(name: str, **spec: object) -> dict[str, object]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture
def crd(api: client.ApiClient) -> dict[str, Any]:
    return as_dict(
        client.ApiextensionsV1Api(api)
        .create_custom_resource_definition(SAMPLE_CRD, _preload_content=False)
        .json()
    )


def test_crd_reports_established_and_is_discoverable(
    crd: dict[str, Any], api: client.ApiClient
) -> None:
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    resources = client.CustomObjectsApi(api).get_api_resources(GROUP, VERSION).resources
    by_name = {r.name: r for r in resources}
    assert by_name["widgets"].short_names == ["wdg"]
    assert "widgets/status" in by_name


def test_custom_resources_are_pruned_and_defaulted(
    crd: object, custom: client.CustomObjectsApi
) -> None:
    created = as_dict(
        custom.create_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, {**_widget("w", size=2, bogus=1), "top": 1}
        )
    )
    assert created["spec"] == {"size": 2, "color": "blue"}
    assert "top" not in created
    assert created["metadata"]["generation"] == 1


def test_unknown_fields_are_an_error_with_strict_field_validation(crd: object, http: Http) -> None:
    status, _, body = http(
        "POST",
        f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}?fieldValidation=Strict",
        json.dumps(_widget("w", size=2, bogus=1)).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 400
    assert 'unknown field "spec.bogus"' in json.loads(body)["message"]


def test_schema_violations_are_422(crd: object, custom: client.CustomObjectsApi) -> None:
    for spec in ({"size": 0}, {"size": "big"}, {"color": "green", "size": 1}, {}):
        with pytest.raises(ApiException) as caught:
            custom.create_namespaced_custom_object(
                GROUP, VERSION, "default", PLURAL, _widget("w", **spec)
            )
        assert caught.value.status == 422, spec


def test_status_subresource_splits_spec_and_status(
    crd: object, custom: client.CustomObjectsApi
) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, _widget("w", size=1))
    ready = {
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "observedGeneration": 1}
    }
    patched = as_dict(
        custom.patch_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "w", ready)
    )
    assert patched["status"] == ready["status"]
    assert patched["metadata"]["generation"] == 1
    ignored = as_dict(
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            PLURAL,
            "w",
            {"spec": {"size": 4}, "status": {"observedGeneration": 9}},
        )
    )
    assert ignored["status"]["observedGeneration"] == 1
    assert ignored["spec"]["size"] == 4
    assert ignored["metadata"]["generation"] == 2


def test_replace_of_a_custom_resource_requires_resource_version(
    crd: object, custom: client.CustomObjectsApi
) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, _widget("w", size=1))
    with pytest.raises(ApiException) as caught:
        custom.replace_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL, "w", _widget("w", size=2)
        )
    assert caught.value.status == 422


def test_strategic_merge_patch_is_415_for_custom_resources(
    crd: object, kube: KubeEmulator, http: Http
) -> None:
    kube.store.create(kube.store.types[(GROUP, VERSION, PLURAL)], "default", _widget("w", size=1))
    status, _, _ = http(
        "PATCH",
        f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}/w",
        b'{"spec":{"size":2}}',
        {"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert status == 415


def test_table_shows_printer_columns(
    crd: object, custom: client.CustomObjectsApi, http: Http
) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, _widget("w", size=7))
    _, _, body = http(
        "GET",
        f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
    )
    table = json.loads(body)
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Ready", "Age"]
    assert table["rows"][0]["cells"][:3] == ["w", 7, None]
    assert table["rows"][0]["cells"][3].endswith("s")


def test_deleting_the_crd_stops_serving_it(
    crd: object, api: client.ApiClient, custom: client.CustomObjectsApi
) -> None:
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, _widget("w", size=1))
    client.ApiextensionsV1Api(api).delete_custom_resource_definition(f"{PLURAL}.{GROUP}")
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
    assert caught.value.status == 404


def test_invalid_crd_is_422(api: client.ApiClient) -> None:
    broken = json.loads(json.dumps(SAMPLE_CRD))
    broken["metadata"]["name"] = "wrong.example.acm-sync.dev"
    with pytest.raises(ApiException) as caught:
        client.ApiextensionsV1Api(api).create_custom_resource_definition(broken)
    assert caught.value.status == 422


PROJECT_CRD = Path(__file__).parents[2] / "crds" / "acmcertificate.yaml"


def test_the_projects_crd_is_served_with_its_rules(api: client.ApiClient) -> None:
    crd = yaml.safe_load(PROJECT_CRD.read_text())
    client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
    group, version = crd["spec"]["group"], crd["spec"]["versions"][0]["name"]
    custom = client.CustomObjectsApi(api)

    def create(name: str, spec: Mapping[str, object]) -> dict[str, Any]:
        body = {
            "apiVersion": f"{group}/{version}",
            "kind": "AcmCertificate",
            "metadata": {"name": name},
            "spec": spec,
        }
        return as_dict(
            custom.create_namespaced_custom_object(
                group, version, "default", "acmcertificates", body
            )
        )

    created = create("web", {"secretName": "web-tls", "regions": ["us-east-1", "eu-west-1"]})
    assert created["spec"]["deletionPolicy"] == "Retain"
    for bad in (
        # regions: [] without targets is refused by a CEL rule, which the emulator lacks
        # (the operator refuses it too, InvalidRegion); a bad target name is not.
        {"secretName": "web-tls", "targets": [{"target": "Edge_1", "regions": ["us-east-1"]}]},
        {"secretName": "web-tls", "regions": ["us-east-1", "us-east-1"]},
        {"secretName": "Web_TLS", "regions": ["us-east-1"]},
        {"secretName": "web-tls", "regions": ["nowhere"]},
        {"secretName": "web-tls", "regions": ["us-east-1"], "deletionPolicy": "Sometimes"},
    ):
        with pytest.raises(ApiException) as caught:
            create("bad", bad)
        assert caught.value.status == 422, bad


def test_deleting_a_crd_waits_for_finalized_custom_resources(
    crd: object, api: client.ApiClient, custom: client.CustomObjectsApi
) -> None:
    held = _widget("held", size=1)
    held["metadata"] = {"name": "held", "finalizers": ["example.acm-sync.dev/cleanup"]}
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, held)
    custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, _widget("free", size=1)
    )
    extensions = client.ApiextensionsV1Api(api)
    extensions.delete_custom_resource_definition(f"{PLURAL}.{GROUP}")
    # Still served while a finalizer holds one of its resources, so the finalizer can go.
    left = as_dict(custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL))["items"]
    assert [
        (w["metadata"]["name"], bool(w["metadata"].get("deletionTimestamp"))) for w in left
    ] == [("held", True)]
    assert meta(extensions.read_custom_resource_definition(f"{PLURAL}.{GROUP}")).deletion_timestamp
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "held", {"metadata": {"finalizers": None}}
    )
    with pytest.raises(ApiException) as caught:
        extensions.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    assert caught.value.status == 404
