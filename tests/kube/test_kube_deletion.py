"""Deletion as the official client sees it: finalizers, owner references, namespaces, and
what a DELETE answers."""

from __future__ import annotations

import time

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.kube.kubekit import as_model, meta, name, raw_json

# Every test runs on each selected cluster backend (see conftest.py).
pytestmark = pytest.mark.usefixtures("backend")


def _eventually(read: object, expected: object, attempts: int = 100) -> object:
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
    core.create_namespaced_secret(
        doomed,
        as_model(
            client.V1Secret, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
        ),
    )
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
