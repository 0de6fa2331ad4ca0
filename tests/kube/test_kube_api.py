"""The official `kubernetes` client sees an API server: metadata, verbs, errors, semantics."""

from __future__ import annotations

import base64
import json

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.kube.kubekit import as_model, list_meta, meta, name, raw_json, resource_version

# Every test runs on each selected cluster backend (see conftest.py).
pytestmark = pytest.mark.usefixtures("backend")


def _secret(name: str, **fields: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **fields}


def _status(error: ApiException) -> dict[str, object]:
    assert error.body is not None, "the API server answered an error without a Status body"
    body: dict[str, object] = json.loads(error.body)
    return body


def test_create_fills_metadata_and_folds_string_data(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_secret(
        ns, as_model(client.V1Secret, _secret("tls", stringData={"tls.crt": "pem"}))
    )
    metadata = meta(created)
    assert metadata.uid
    assert metadata.creation_timestamp is not None
    assert metadata.namespace == ns
    assert resource_version(created) > 0
    assert created.data == {"tls.crt": base64.b64encode(b"pem").decode()}
    assert created.string_data is None
    assert created.type == "Opaque"


def test_create_answers_201_and_409_on_a_second_create(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    _, status, _ = core.create_namespaced_config_map_with_http_info(
        ns, as_model(client.V1ConfigMap, {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    )
    assert status == 201
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(
            ns, as_model(client.V1ConfigMap, {"metadata": {"name": "cm"}})
        )
    assert caught.value.status == 409
    assert _status(caught.value)["reason"] == "AlreadyExists"


def test_generate_name_gives_unique_names(core: client.CoreV1Api, ns: str) -> None:
    names = {
        name(
            core.create_namespaced_config_map(
                ns, as_model(client.V1ConfigMap, {"metadata": {"generateName": "gen-"}})
            )
        )
        for _ in range(5)
    }
    assert len(names) == 5
    assert all(n.startswith("gen-") and len(n) == len("gen-") + 5 for n in names)


def test_resource_versions_come_from_one_cluster_wide_counter(
    core: client.CoreV1Api, ns: str
) -> None:
    first = core.create_namespaced_config_map(
        ns, as_model(client.V1ConfigMap, {"metadata": {"name": "a"}})
    )
    second = core.create_namespace(as_model(client.V1Namespace, {"metadata": {"name": "other"}}))
    third = core.create_namespaced_secret("other", as_model(client.V1Secret, _secret("b")))
    versions = [resource_version(o) for o in (first, second, third)]
    assert versions == sorted(versions)
    assert len(set(versions)) == 3


def test_missing_object_is_a_404_status(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_secret("nope", ns)
    body = _status(caught.value)
    assert caught.value.status == 404
    assert body["kind"] == "Status"
    assert body["reason"] == "NotFound"
    assert body["message"] == 'secrets "nope" not found'


def test_namespace_comes_from_the_url_and_must_exist(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as mismatch:
        core.create_namespaced_secret(
            ns,
            as_model(client.V1Secret, {"metadata": {"name": "s", "namespace": "kube-system"}}),
        )
    assert mismatch.value.status == 400
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_secret("ghost", as_model(client.V1Secret, _secret("s")))
    assert missing.value.status == 404
    assert _status(missing.value)["message"] == 'namespaces "ghost" not found'


def test_invalid_names_are_422(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret(ns, as_model(client.V1Secret, _secret("Not_Valid")))
    assert caught.value.status == 422
    assert _status(caught.value)["reason"] == "Invalid"


def test_list_has_kind_api_version_and_selectors(
    core: client.CoreV1Api, api: client.ApiClient, ns: str
) -> None:
    core.create_namespaced_secret(
        ns,
        as_model(
            client.V1Secret, {**_secret("a"), "metadata": {"name": "a", "labels": {"app": "x"}}}
        ),
    )
    core.create_namespaced_secret(
        ns,
        as_model(
            client.V1Secret, {**_secret("b"), "metadata": {"name": "b", "labels": {"app": "y"}}}
        ),
    )
    core.create_namespaced_secret(
        ns,
        as_model(
            client.V1Secret,
            {**_secret("c"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}},
        ),
    )
    body = raw_json(core.list_namespaced_secret(ns, _preload_content=False))
    assert body["kind"] == "SecretList"
    assert body["apiVersion"] == "v1"
    assert body["metadata"]["resourceVersion"]

    def names(items: list[client.V1Secret]) -> list[str]:
        return sorted(name(i) for i in items)

    assert names(core.list_namespaced_secret(ns, label_selector="app=x").items) == ["a"]
    assert names(core.list_namespaced_secret(ns, label_selector="app in (x,y)").items) == [
        "a",
        "b",
    ]
    assert names(core.list_namespaced_secret(ns, label_selector="!app").items) == ["c"]
    tls = core.list_secret_for_all_namespaces(field_selector="type=kubernetes.io/tls").items
    # A shared cluster holds other tests' TLS Secrets too: this namespace's are the point.
    assert names([i for i in tls if i.metadata and i.metadata.namespace == ns]) == ["c"]
    assert all(i.type == "kubernetes.io/tls" for i in tls)
    assert names(core.list_namespaced_secret(ns, field_selector="metadata.name!=a").items) == [
        "b",
        "c",
    ]


def test_list_paginates_with_limit_and_continue(core: client.CoreV1Api, ns: str) -> None:
    for i in range(5):
        core.create_namespaced_config_map(
            ns, as_model(client.V1ConfigMap, {"metadata": {"name": f"cm{i}"}})
        )
    first = core.list_namespaced_config_map(ns, limit=3)
    rest = core.list_namespaced_config_map(ns, limit=3, _continue=list_meta(first)._continue)
    assert [meta(c).name for c in first.items + rest.items] == [f"cm{i}" for i in range(5)]
    assert not list_meta(rest)._continue


def test_update_with_a_stale_resource_version_is_a_409(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(
        ns, as_model(client.V1ConfigMap, {"metadata": {"name": "c"}, "data": {"k": "1"}})
    )
    created.data = {"k": "2"}
    updated = core.replace_namespaced_config_map("c", ns, created)
    assert updated.data == {"k": "2"}
    created.data = {"k": "3"}  # Still carries the first resourceVersion.
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("c", ns, created)
    assert caught.value.status == 409
    assert _status(caught.value)["reason"] == "Conflict"


def test_lease_leader_election_sees_409_on_stale_replace(api: client.ApiClient, ns: str) -> None:
    leases = client.CoordinationV1Api(api)
    body = {
        "metadata": {"name": "acm-sync"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15},
    }
    lease = leases.create_namespaced_lease(ns, as_model(client.V1Lease, body))
    mine = leases.read_namespaced_lease("acm-sync", ns)
    theirs = leases.read_namespaced_lease("acm-sync", ns)
    assert mine.spec is not None
    assert theirs.spec is not None
    mine.spec.holder_identity = "b"
    leases.replace_namespaced_lease("acm-sync", ns, mine)
    theirs.spec.holder_identity = "c"
    with pytest.raises(ApiException) as caught:
        leases.replace_namespaced_lease("acm-sync", ns, theirs)
    assert caught.value.status == 409
    reread = leases.read_namespaced_lease("acm-sync", ns).spec
    assert reread is not None
    assert reread.holder_identity == "b"
    assert meta(lease).name == "acm-sync"


def test_generation_moves_on_spec_changes_only(api: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(api)
    # A Deployment kube-apiserver accepts (the emulator does not validate built-in kinds).
    spec = {
        "replicas": 1,
        "selector": {"matchLabels": {"a": "b"}},
        "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "example.invalid/c:1"}]},
        },
    }
    apps.create_namespaced_deployment(
        ns, as_model(client.V1Deployment, {"metadata": {"name": "d"}, "spec": spec})
    )
    labelled = apps.patch_namespaced_deployment("d", ns, {"metadata": {"labels": {"x": "y"}}})
    assert meta(labelled).generation == 1
    scaled = apps.patch_namespaced_deployment("d", ns, {"spec": {"replicas": 3}})
    assert meta(scaled).generation == 2
    status = apps.patch_namespaced_deployment_status("d", ns, {"status": {"replicas": 3}})
    assert meta(status).generation == 2
    assert status.status is not None
    assert status.status.replicas == 3


def test_no_op_writes_keep_the_resource_version(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(
        ns, as_model(client.V1ConfigMap, {"metadata": {"name": "c"}, "data": {"k": "1"}})
    )
    same = core.patch_namespaced_config_map("c", ns, {"data": {"k": "1"}})
    assert meta(same).resource_version == meta(created).resource_version


def test_json_patch_test_failure_is_422(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, as_model(client.V1ConfigMap, {"metadata": {"name": "c"}, "data": {"k": "1"}})
    )
    ok = [
        {"op": "test", "path": "/data/k", "value": "1"},
        {"op": "replace", "path": "/data/k", "value": "2"},
    ]
    assert core.patch_namespaced_config_map("c", ns, ok).data == {"k": "2"}
    bad = [{"op": "test", "path": "/data/k", "value": "1"}, {"op": "remove", "path": "/data/k"}]
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("c", ns, bad)
    assert caught.value.status == 422
    assert core.read_namespaced_config_map("c", ns).data == {"k": "2"}


def test_merge_patch_with_resource_version_is_a_precondition(
    core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_config_map(
        ns, as_model(client.V1ConfigMap, {"metadata": {"name": "c"}, "data": {"k": "1"}})
    )
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "c", ns, {"metadata": {"resourceVersion": "1"}, "data": {"k": "2"}}
        )
    assert caught.value.status == 409
