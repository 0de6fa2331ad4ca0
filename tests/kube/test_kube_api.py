"""The official `kubernetes` client sees an API server: metadata, verbs, errors, semantics."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.kube.kubekit import as_model, list_meta, meta, name, raw_json, resource_version

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
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
    assert names(tls) == ["c"]
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


def test_finalizers_keep_a_deleted_object_until_removed(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, as_model(client.V1ConfigMap, {"metadata": {"name": "c", "finalizers": ["x/y"]}})
    )
    core.delete_namespaced_config_map("c", ns)
    kept = core.read_namespaced_config_map("c", ns)
    assert meta(kept).deletion_timestamp is not None
    core.patch_namespaced_config_map("c", ns, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("c", ns)
    assert caught.value.status == 404


def test_owner_references_garbage_collect_in_the_background(
    core: client.CoreV1Api, ns: str
) -> None:
    owner = core.create_namespaced_config_map(
        ns, as_model(client.V1ConfigMap, {"metadata": {"name": "owner"}})
    )
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": meta(owner).uid}
    core.create_namespaced_secret(
        ns,
        as_model(client.V1Secret, {"metadata": {"name": "dep", "ownerReferences": [ref]}}),
    )
    core.create_namespaced_secret(ns, as_model(client.V1Secret, {"metadata": {"name": "free"}}))
    core.delete_namespaced_config_map("owner", ns)
    remaining = _eventually(
        lambda: sorted(name(s) for s in core.list_namespaced_secret(ns).items),
        ["free"],
    )
    assert remaining == ["free"]


def test_deleting_a_namespace_deletes_its_contents(core: client.CoreV1Api, ns: str) -> None:
    doomed = f"{ns}-doomed" if ns != "default" else "doomed"
    core.create_namespace(as_model(client.V1Namespace, {"metadata": {"name": doomed}}))
    core.create_namespaced_secret(doomed, as_model(client.V1Secret, _secret("s")))
    core.delete_namespace(doomed)
    # The namespace controller empties it first (at once in the emulator, within seconds on a
    # real cluster), then the namespace is gone.
    assert _eventually(lambda: core.list_namespaced_secret(doomed).items, [], attempts=1000) == []

    def gone() -> bool:
        try:
            core.read_namespace(doomed)
        except ApiException as error:
            return bool(error.status == 404)
        return False

    assert _eventually(gone, True, attempts=1000)


def test_events_core_and_events_k8s_io(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    involved = {"kind": "Secret", "name": "s", "namespace": ns, "uid": "u1"}
    core.create_namespaced_event(
        ns,
        as_model(
            client.CoreV1Event,
            {
                "metadata": {"generateName": "s."},
                "involvedObject": involved,
                "reason": "Synced",
                "message": "m",
            },
        ),
    )
    found = core.list_namespaced_event(
        ns, field_selector="involvedObject.uid=u1,involvedObject.kind=Secret"
    )
    assert [e.reason for e in found.items] == ["Synced"]
    events = client.EventsV1Api(api)
    created = events.create_namespaced_event(
        ns,
        as_model(
            client.EventsV1Event,
            {
                "metadata": {"name": "e1"},
                # Non-zero microseconds: the client re-serialises the time with isoformat(),
                # which drops a zero fraction that a MicroTime must have.
                "eventTime": "2026-01-01T00:00:00.123456Z",
                "reportingController": "c",
                "reportingInstance": "i",
                "action": "Sync",
                "reason": "Synced",
                "type": "Normal",
                "regarding": involved,
            },
        ),
    )
    assert meta(created).name == "e1"


def _eventually(read: object, expected: object, attempts: int = 100) -> object:
    import time

    value = None
    for _ in range(attempts):
        value = read()  # type: ignore[operator]
        if value == expected:
            return value
        time.sleep(0.02)
    return value


def test_a_namespace_terminates_until_its_finalized_contents_are_gone(
    core: client.CoreV1Api, ns: str
) -> None:
    held = f"{ns}-held" if ns != "default" else "held"
    core.create_namespace(as_model(client.V1Namespace, {"metadata": {"name": held}}))
    core.create_namespaced_config_map(
        held, as_model(client.V1ConfigMap, {"metadata": {"name": "c", "finalizers": ["x/y"]}})
    )
    core.create_namespaced_config_map(
        held, as_model(client.V1ConfigMap, {"metadata": {"name": "plain"}})
    )
    core.delete_namespace(held)
    terminating = core.read_namespace(held).status
    assert terminating is not None
    assert terminating.phase == "Terminating"
    # The namespace controller deletes the contents (at once in the emulator, within seconds
    # on a real cluster); the finalized ConfigMap stays until its finalizer is removed.
    assert _eventually(
        lambda: [meta(c).name for c in core.list_namespaced_config_map(held).items],
        ["c"],
        attempts=1000,
    ) == ["c"]
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_config_map(
            held, as_model(client.V1ConfigMap, {"metadata": {"name": "new"}})
        )
    assert refused.value.status == 403
    core.patch_namespaced_config_map("c", held, {"metadata": {"finalizers": None}})

    def gone() -> bool:
        try:
            core.read_namespace(held)
        except ApiException as error:
            return bool(error.status == 404)
        return False

    assert _eventually(gone, True, attempts=1000)


def test_delete_answers_a_status_or_the_kept_object(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, as_model(client.V1ConfigMap, {"metadata": {"name": "gone"}})
    )
    status = raw_json(core.delete_namespaced_config_map("gone", ns, _preload_content=False))
    assert status["kind"] == "Status"
    assert status["status"] == "Success"
    assert status["details"]["name"] == "gone"
    core.create_namespaced_config_map(
        ns,
        as_model(client.V1ConfigMap, {"metadata": {"name": "kept", "finalizers": ["x/y"]}}),
    )
    kept = raw_json(core.delete_namespaced_config_map("kept", ns, _preload_content=False))
    assert kept["kind"] == "ConfigMap"
    assert kept["metadata"]["deletionTimestamp"]


def test_an_event_time_without_microseconds_is_refused(kubectl: Kubectl, ns: str) -> None:
    # kube-apiserver parses eventTime as a MicroTime (six fraction digits); kubectl sends the
    # manifest as written, so this is what a hand-written Event meets.
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e2", "namespace": ns},
        "eventTime": "2026-01-01T00:00:00Z",
        "reportingController": "c",
        "reportingInstance": "i",
        "action": "Sync",
        "reason": "Synced",
        "type": "Normal",
        "regarding": {"kind": "Secret", "name": "s", "namespace": ns},
    }
    refused = kubectl("create", "-f", "-", stdin=json.dumps(event))
    assert refused.returncode != 0
    assert 'cannot be handled as a Event: parsing time "2026-01-01T00:00:00Z"' in refused.stderr
    event["eventTime"] = "2026-01-01T00:00:00.000000Z"
    accepted = kubectl("create", "-f", "-", stdin=json.dumps(event))
    assert accepted.returncode == 0, accepted.stderr
