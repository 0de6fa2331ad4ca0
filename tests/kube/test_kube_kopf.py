"""kopf, unmodified, runs an operator against the emulator: watch, status, finalizers, Events."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from kubernetes import client

from acm_sync_testbed.emulators.kube.server import KubeEmulator
from tests.kube.kubekit import as_dict

SAMPLE_CRD = yaml.safe_load(Path(__file__).with_name("sample-crd.yaml").read_text())
GROUP, VERSION, PLURAL = "example.acm-sync.dev", "v1", "widgets"


def _items(custom_object_list: object) -> list[Any]:
    items: list[Any] = as_dict(custom_object_list)["items"]
    return items


def _wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"condition not met within {timeout}s")


@pytest.fixture
def operator(kube: KubeEmulator, api: client.ApiClient) -> Iterator[list[str]]:
    client.ApiextensionsV1Api(api).create_custom_resource_definition(SAMPLE_CRD)
    registry = kopf.OperatorRegistry()
    deleted: list[str] = []

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=kube.url, scheme="Bearer", token="emulator")

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.watching.server_timeout = 2
        settings.posting.level = 0

    @kopf.on.create(GROUP, VERSION, PLURAL, id="created", registry=registry)
    def created(spec: kopf.Spec, body: kopf.Body, **_: Any) -> dict[str, Any]:
        kopf.info(body, reason="Seen", message=f"size {spec['size']}")
        return {"observedSize": spec["size"]}

    @kopf.on.delete(GROUP, VERSION, PLURAL, id="removed", registry=registry)
    def removed(name: str, **_: Any) -> None:
        deleted.append(name)

    stop, ready = threading.Event(), threading.Event()

    def run() -> None:
        asyncio.run(
            kopf.operator(
                registry=registry,
                standalone=True,
                clusterwide=True,
                stop_flag=stop,
                ready_flag=ready,
            )
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(15), "kopf did not start"
    try:
        yield deleted
    finally:
        stop.set()
        thread.join(15)


def test_kopf_handles_create_status_events_and_finalized_delete(
    operator: list[str], custom: client.CustomObjectsApi, core: client.CoreV1Api, kube: KubeEmulator
) -> None:
    widget = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Widget", "metadata": {"name": "w"}}
    custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, {**widget, "spec": {"size": 3}}
    )

    def read() -> dict[str, Any]:
        return as_dict(custom.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w"))

    # kopf writes the handler's result into status through the status subresource.
    _wait_for(lambda: read().get("status", {}).get("created") == {"observedSize": 3})
    obj = read()
    assert obj["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]
    uid = obj["metadata"]["uid"]
    events = _wait_for(
        lambda: (
            core.list_namespaced_event("default", field_selector=f"involvedObject.uid={uid}").items
        )
    )
    assert any(e.reason == "Seen" and e.message == "size 3" for e in events)
    kube.drop_watches()  # kopf must reconnect and carry on from where it was.
    custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w")
    _wait_for(lambda: operator == ["w"])
    _wait_for(
        lambda: not _items(custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL))
    )
