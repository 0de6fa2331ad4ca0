"""Patch formats and selectors, as kubectl and Helm rely on them."""

from __future__ import annotations

from typing import Any

import pytest

from acm_sync_testbed.emulators.kube.errors import ApiError
from acm_sync_testbed.emulators.kube.patch import json_patch, merge_patch, strategic_merge_patch
from acm_sync_testbed.emulators.kube.selectors import field_matcher, jsonpath, label_matcher

DEPLOYMENT: dict[str, Any] = {
    "metadata": {"name": "web", "labels": {"a": "1", "b": "2"}},
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {"name": "app", "image": "app:1", "ports": [{"containerPort": 80}]},
                    {"name": "sidecar", "image": "proxy:1"},
                ]
            }
        }
    },
}


def test_merge_patch_replaces_lists_and_null_deletes() -> None:
    patched = merge_patch(DEPLOYMENT, {"metadata": {"labels": {"a": None, "c": "3"}}})
    assert patched["metadata"]["labels"] == {"b": "2", "c": "3"}
    containers = merge_patch(
        DEPLOYMENT, {"spec": {"template": {"spec": {"containers": [{"name": "x"}]}}}}
    )
    assert containers["spec"]["template"]["spec"]["containers"] == [{"name": "x"}]
    assert DEPLOYMENT["metadata"]["labels"] == {"a": "1", "b": "2"}  # the input is untouched


def test_strategic_merge_merges_containers_by_name() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                    "containers": [{"name": "app", "image": "app:2"}],
                }
            }
        }
    }
    containers = strategic_merge_patch(DEPLOYMENT, patch)["spec"]["template"]["spec"]["containers"]
    assert containers[0] == {"name": "app", "image": "app:2", "ports": [{"containerPort": 80}]}
    assert containers[1] == {"name": "sidecar", "image": "proxy:1"}


def test_strategic_merge_directives() -> None:
    delete = {
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}
    }
    left = strategic_merge_patch(DEPLOYMENT, delete)["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in left] == ["app"]
    replaced = strategic_merge_patch(
        DEPLOYMENT, {"metadata": {"labels": {"$patch": "replace", "z": "9"}}}
    )
    assert replaced["metadata"]["labels"] == {"z": "9"}


def test_json_patch_operations_and_failures() -> None:
    doc = {"data": {"a": "1"}, "list": [1, 2]}
    patched = json_patch(
        doc,
        [
            {"op": "add", "path": "/data/b", "value": "2"},
            {"op": "move", "from": "/data/a", "path": "/data/c"},
            {"op": "copy", "from": "/data/b", "path": "/data/d"},
            {"op": "add", "path": "/list/-", "value": 3},
            {"op": "replace", "path": "/list/0", "value": 0},
            {"op": "remove", "path": "/list/1"},
            {"op": "add", "path": "/data/x~1y", "value": "slash"},
        ],
    )
    assert patched == {"data": {"b": "2", "c": "1", "d": "2", "x/y": "slash"}, "list": [0, 3]}
    for bad in (
        [{"op": "remove", "path": "/data/missing"}],
        [{"op": "replace", "path": "/nope", "value": 1}],
        [{"op": "test", "path": "/data/a", "value": "2"}],
    ):
        with pytest.raises(ApiError) as caught:
            json_patch(doc, bad)
        assert caught.value.code == 422


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", True),
        ("app==web,tier!=db", True),
        ("app in (web, api)", True),
        ("app notin (web)", False),
        ("tier", False),
        ("!tier", True),
        ("app=web,env in (prod)", True),
    ],
)
def test_label_selectors(selector: str, expected: bool) -> None:
    obj = {"metadata": {"labels": {"app": "web", "env": "prod"}}}
    assert label_matcher(selector)(obj) is expected


def test_field_selectors_and_printer_column_paths() -> None:
    event = {
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Secret", "uid": "u"},
        "count": 2,
    }
    assert field_matcher("involvedObject.kind=Secret,involvedObject.uid=u")(event)
    assert not field_matcher("involvedObject.kind!=Secret")(event)
    status = {
        "status": {
            "conditions": [
                {"type": "Synced", "status": "False"},
                {"type": "Ready", "status": "True"},
            ]
        }
    }
    assert jsonpath(status, '.status.conditions[?(@.type=="Ready")].status') == "True"
    assert jsonpath(status, ".status.conditions[*].type") == ["Synced", "Ready"]
    assert jsonpath(status, ".status.conditions[0].status") == "False"
    assert jsonpath(status, ".status.missing") is None
