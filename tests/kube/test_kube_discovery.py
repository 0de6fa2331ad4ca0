"""Discovery as clients read it: versions, groups, resources, aggregated discovery, OpenAPI."""

from __future__ import annotations

import json
from collections.abc import Callable

from kubernetes import client

from acm_sync_testbed.emulators.kube.server import KubeEmulator

Http = Callable[..., tuple[int, dict[str, str], bytes]]
AGGREGATED = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


def test_version_groups_and_resources(api: client.ApiClient) -> None:
    assert client.VersionApi(api).get_code().minor == "32"
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
    expected = {"apps", "coordination.k8s.io", "events.k8s.io", "apiextensions.k8s.io", "policy"}
    assert expected | {"rbac.authorization.k8s.io"} <= set(groups)
    core = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert core["secrets"].namespaced
    assert not core["namespaces"].namespaced
    assert core["configmaps"].short_names == ["cm"]
    assert "create" in core["events"].verbs


def test_aggregated_discovery_when_asked(http: Http) -> None:
    status, headers, body = http("GET", "/apis", headers={"Accept": AGGREGATED})
    assert status == 200
    assert headers["Content-Type"].startswith("application/json;g=apidiscovery.k8s.io;v=v2")
    groups = {item["metadata"]["name"]: item for item in json.loads(body)["items"]}
    leases = groups["coordination.k8s.io"]["versions"][0]["resources"][0]
    assert leases["resource"] == "leases"
    assert leases["scope"] == "Namespaced"
    assert leases["responseKind"] == {
        "group": "coordination.k8s.io",
        "version": "v1",
        "kind": "Lease",
    }
    _, _, legacy = http("GET", "/api", headers={"Accept": AGGREGATED})
    core = json.loads(legacy)["items"][0]["versions"][0]["resources"]
    namespaces = next(r for r in core if r["resource"] == "namespaces")
    assert namespaces["scope"] == "Cluster"
    assert namespaces["subresources"][0]["subresource"] == "status"


def test_openapi_v3_tells_clients_to_validate_on_the_server(http: Http) -> None:
    status, _, body = http("GET", "/openapi/v3")
    assert status == 200
    url = json.loads(body)["paths"]["api/v1"]["serverRelativeURL"]
    _, _, document = http("GET", url)
    patch = json.loads(document)["paths"]["/api/v1/namespaces/{namespace}/secrets/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "",
        "version": "v1",
        "kind": "Secret",
    }
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])


def test_new_crds_appear_in_discovery(kube: KubeEmulator, http: Http) -> None:
    assert http("GET", "/apis/example.acm-sync.dev/v1")[0] == 404
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.acm-sync.dev"},
        "spec": {
            "group": "example.acm-sync.dev",
            "scope": "Cluster",
            "names": {"plural": "gadgets", "kind": "Gadget"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    kube.create_objects([crd])
    status, _, body = http("GET", "/apis/example.acm-sync.dev/v1")
    assert status == 200
    assert [r["name"] for r in json.loads(body)["resources"]] == ["gadgets"]


def test_exact_list_at_a_forgotten_version_is_410(kube: KubeEmulator, http: Http) -> None:
    old = kube.store.rv
    kube.create_objects([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}])
    kube.compact()
    status, _, body = http(
        "GET",
        f"/api/v1/namespaces/default/configmaps?resourceVersion={old}&resourceVersionMatch=Exact",
    )
    assert status == 410
    assert json.loads(body)["reason"] == "Expired"
