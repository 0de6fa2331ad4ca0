"""Events through both APIs (core/v1 and events.k8s.io/v1) and the eventTime rule kubectl
meets."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import pytest
from kubernetes import client

from tests.kube.kubekit import as_model, meta

Kubectl = Callable[..., subprocess.CompletedProcess[str]]
# Every test runs on each selected cluster backend (see conftest.py).
pytestmark = pytest.mark.usefixtures("backend")


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
