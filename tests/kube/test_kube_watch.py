"""Watches: resume without loss, 410 Gone, bookmarks, timeouts; and the fault hooks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from acm_sync_testbed.emulators.kube.server import KubeEmulator
from tests.kube.kubekit import WatchEvent, as_model, list_meta, meta, name, stream

Http = Callable[..., tuple[int, dict[str, str], bytes]]


def _cm(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "data": {"k": name}}


def _stream(core: client.CoreV1Api, **kwargs: object) -> Iterator[WatchEvent[client.V1ConfigMap]]:
    return stream(client.V1ConfigMap, core.list_namespaced_config_map, "default", **kwargs)


def test_watch_from_a_resource_version_replays_later_events(core: client.CoreV1Api) -> None:
    listed = core.list_namespaced_config_map("default")
    core.create_namespaced_config_map("default", as_model(client.V1ConfigMap, _cm("a")))
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "b"}})
    core.delete_namespaced_config_map("a", "default")
    seen = [
        (e["type"], meta(e["object"]).name)
        for e in _stream(
            core, resource_version=list_meta(listed).resource_version, timeout_seconds=1
        )
    ]
    assert seen == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


def test_watch_without_resource_version_starts_with_the_current_state(
    core: client.CoreV1Api,
) -> None:
    core.create_namespaced_config_map("default", as_model(client.V1ConfigMap, _cm("x")))
    seen = [(e["type"], meta(e["object"]).name) for e in _stream(core, timeout_seconds=1)]
    assert seen == [("ADDED", "x")]


def test_watch_resumes_after_a_dropped_connection_without_losing_events(
    core: client.CoreV1Api, kube: KubeEmulator
) -> None:
    rv = list_meta(core.list_namespaced_config_map("default")).resource_version
    seen: list[str] = []
    total = 40
    writer_done = threading.Event()

    def writer() -> None:
        for i in range(total):
            core.create_namespaced_config_map(
                "default", as_model(client.V1ConfigMap, _cm(f"cm{i}"))
            )
            if i % 10 == 5:
                kube.drop_watches()
        writer_done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    drops = 0
    while len(seen) < total and drops < 50:
        try:
            for event in _stream(core, resource_version=rv, timeout_seconds=2):
                obj = event["object"]
                seen.append(name(obj))
                rv = meta(obj).resource_version
                if len(seen) == total:
                    break
        except Exception:  # A dropped connection surfaces as a protocol error: resume from rv.
            drops += 1
    thread.join(10)
    assert writer_done.is_set()
    assert seen == [f"cm{i}" for i in range(total)]


def test_too_old_resource_version_is_410_and_a_relist_recovers(
    core: client.CoreV1Api, kube: KubeEmulator
) -> None:
    old = list_meta(core.list_namespaced_config_map("default")).resource_version
    core.create_namespaced_config_map("default", as_model(client.V1ConfigMap, _cm("before")))
    kube.compact()
    core.create_namespaced_config_map("default", as_model(client.V1ConfigMap, _cm("after")))
    with pytest.raises(ApiException) as caught:
        list(_stream(core, resource_version=old, timeout_seconds=1))
    assert caught.value.status == 410
    relisted = core.list_namespaced_config_map("default")
    assert sorted(name(c) for c in relisted.items) == ["after", "before"]
    core.create_namespaced_config_map("default", as_model(client.V1ConfigMap, _cm("later")))
    resumed = [
        meta(e["object"]).name
        for e in _stream(
            core, resource_version=list_meta(relisted).resource_version, timeout_seconds=1
        )
    ]
    assert resumed == ["later"]


def test_event_log_is_bounded_and_old_versions_expire() -> None:
    small = KubeEmulator(log_size=10).start()
    try:
        kinds = small.store.types[("", "v1", "configmaps")]
        first = small.store.create(kinds, "default", _cm("first"))
        for i in range(30):
            small.store.create(kinds, "default", _cm(f"n{i}"))
        with pytest.raises(Exception, match="too old resource version"):
            small.store.events_after(int(first["metadata"]["resourceVersion"]))
        assert len(small.store.events_after(small.store.rv - 5)) == 5
    finally:
        small.stop()


def _raw_watch(http: Http, query: str) -> list[dict[str, Any]]:
    status, _, body = http("GET", f"/api/v1/namespaces/default/configmaps?watch=true&{query}")
    assert status == 200
    return [json.loads(line) for line in body.splitlines()]


def test_bookmarks_when_asked_and_timeout_seconds_ends_the_stream(
    kube: KubeEmulator, http: Http
) -> None:
    rv = kube.store.rv
    events = _raw_watch(http, f"resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=1")
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks, "bookmarks were asked for"
    assert bookmarks[-1]["object"]["metadata"]["resourceVersion"] == str(rv)
    plain = _raw_watch(http, f"resourceVersion={rv}&timeoutSeconds=1")
    assert plain == []


def test_initial_events_end_with_a_marked_bookmark(kube: KubeEmulator, http: Http) -> None:
    kube.store.create(kube.store.types[("", "v1", "configmaps")], "default", _cm("a"))
    events = _raw_watch(
        http,
        "sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
        "&allowWatchBookmarks=true&timeoutSeconds=1",
    )
    assert events[0]["type"] == "ADDED"
    assert events[1]["type"] == "BOOKMARK"
    marker = events[1]["object"]["metadata"]["annotations"]
    assert marker == {"k8s.io/initial-events-end": "true"}


def test_fail_next_makes_requests_fail_then_recover(
    core: client.CoreV1Api, kube: KubeEmulator
) -> None:
    kube.fail_next(2, status=500)
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.list_namespaced_config_map("default")
        assert caught.value.status == 500
    assert core.list_namespaced_config_map("default").items == []


def test_faults_aimed_at_a_path_and_verb_leave_other_requests_alone(
    core: client.CoreV1Api, kube: KubeEmulator
) -> None:
    kube.fail_next(2, status=503, path="/configmaps", verb="POST")
    # Other verbs on the path and other paths are answered normally meanwhile.
    assert core.list_namespaced_config_map("default").items == []
    assert core.read_namespace("default").metadata is not None
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.create_namespaced_config_map("default", as_model(client.V1ConfigMap, _cm("x")))
        assert caught.value.status == 503
    core.create_namespaced_config_map("default", as_model(client.V1ConfigMap, _cm("x")))
    assert [name(c) for c in core.list_namespaced_config_map("default").items] == ["x"]


def test_injected_latency_makes_a_short_timeout_expire_but_the_write_lands(
    core: client.CoreV1Api, kube: KubeEmulator
) -> None:
    kube.delay_next(1, 1.5, path="/configmaps", verb="POST")
    with pytest.raises(Exception, match=r"(?i)timed? ?out"):
        core.create_namespaced_config_map(
            "default", as_model(client.V1ConfigMap, _cm("slow")), _request_timeout=0.3
        )
    # The request was not refused, only slow: like a lost response, it takes effect.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = core.list_namespaced_config_map("default").items
        if found:
            break
        time.sleep(0.1)
    assert [name(c) for c in found] == ["slow"]


def test_429_carries_retry_after_which_the_client_honours(
    core: client.CoreV1Api, kube: KubeEmulator, http: Http
) -> None:
    kube.fail_next(1, status=429)
    status, headers, body = http("GET", "/api/v1/namespaces")
    assert status == 429
    assert headers["Retry-After"] == "1"
    assert json.loads(body)["reason"] == "TooManyRequests"
    # urllib3 (under the official client) retries a 429 that carries Retry-After.
    kube.fail_next(1, status=429)
    assert core.list_namespaced_config_map("default").items == []


def test_restart_keeps_state_and_port(core: client.CoreV1Api, kube: KubeEmulator) -> None:
    port = kube.port
    core.create_namespaced_config_map("default", as_model(client.V1ConfigMap, _cm("kept")))
    kube.restart()
    assert kube.port == port
    assert core.read_namespaced_config_map("kept", "default").data == {"k": "kept"}


def test_control_endpoint_drives_the_fault_hooks(core: client.CoreV1Api, http: Http) -> None:
    def post(action: str, body: dict[str, object]) -> dict[str, object]:
        status, _, answer = http("POST", f"/_emulator/{action}", json.dumps(body).encode())
        assert status == 200
        decoded: dict[str, object] = json.loads(answer)
        return decoded

    post("fail-next", {"count": 1, "status": 500})
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default")
    assert caught.value.status == 500
    assert post("drop-watches", {}) == {"dropped": 0}


def test_selector_watch_sees_objects_enter_and_leave_the_selection(
    core: client.CoreV1Api, kube: KubeEmulator, http: Http
) -> None:
    rv = kube.store.rv
    core.create_namespaced_config_map(
        "default",
        as_model(client.V1ConfigMap, {"metadata": {"name": "c", "labels": {"tier": "a"}}}),
    )
    core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"tier": "b"}}})
    core.patch_namespaced_config_map("c", "default", {"data": {"x": "1"}})
    core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {"tier": "a"}}})
    core.patch_namespaced_config_map("c", "default", {"data": {"x": "2"}})
    events = _raw_watch(http, f"resourceVersion={rv}&labelSelector=tier%3Da&timeoutSeconds=1")
    assert [e["type"] for e in events] == ["ADDED", "DELETED", "ADDED", "MODIFIED"]


def test_watch_asked_for_tables_streams_table_rows(
    core: client.CoreV1Api, kube: KubeEmulator, http: Http
) -> None:
    rv = kube.store.rv
    core.create_namespaced_config_map(
        "default", as_model(client.V1ConfigMap, {"metadata": {"name": "a"}, "data": {"k": "v"}})
    )
    core.create_namespaced_config_map(
        "default", as_model(client.V1ConfigMap, {"metadata": {"name": "b"}})
    )
    status, _, body = http(
        "GET",
        f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
    )
    events = [json.loads(line) for line in body.splitlines()]
    assert status == 200
    assert [e["object"]["kind"] for e in events] == ["Table", "Table"]
    assert [c["name"] for c in events[0]["object"]["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert [e["object"]["rows"][0]["cells"][:2] for e in events] == [["a", 1], ["b", 0]]
