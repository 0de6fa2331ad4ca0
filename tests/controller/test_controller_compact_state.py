"""The per-object state kept compact: the watch view's bodies and references, and the
per-object gauges on /metrics (served from one table, same exposition as Gauge children)."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from acm_sync.controller.platform.metrics import Metrics
from acm_sync.controller.watch.view import WatchView
from acm_sync.core.reasons import Reason


def body(name: str, secret: str, version: str = "1") -> dict[str, Any]:
    return {
        "apiVersion": "acmsync.io/v1alpha1",
        "kind": "AcmCertificate",
        "metadata": {
            "namespace": "ns",
            "name": name,
            "resourceVersion": version,
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        },
        "spec": {"secretName": secret, "regions": ["us-east-1"]},
        "status": {"regions": [{"region": "us-east-1", "arn": "arn:aws:acm:x", "state": "Synced"}]},
    }


def test_view_returns_the_latest_body_without_managed_fields() -> None:
    view = WatchView()
    view.object_event("ADDED", body("web", "web-tls", "1"))
    view.object_event("MODIFIED", body("web", "web-tls", "3"))
    view.object_event("MODIFIED", body("web", "web-tls", "2"))  # older: ignored
    got = view.acmcert(("ns", "web"))
    assert got is not None
    assert got["metadata"]["resourceVersion"] == "3"
    assert "managedFields" not in got["metadata"]
    assert got["status"]["regions"][0]["arn"] == "arn:aws:acm:x"
    got["spec"]["regions"].append("eu-west-1")  # a fresh copy each time
    again = view.acmcert(("ns", "web"))
    assert again is not None
    assert again["spec"]["regions"] == ["us-east-1"]


def test_a_secret_shared_by_two_objects_triggers_both_until_one_moves_away() -> None:
    view = WatchView()
    view.object_event("ADDED", body("b", "shared"))
    view.object_event("ADDED", body("a", "shared"))
    view.object_event("MODIFIED", body("a", "shared", "2"))  # same Secret: listed once
    assert view.referencing("ns", "shared") == [("ns", "a"), ("ns", "b")]
    view.object_event("MODIFIED", body("b", "own", "2"))
    assert view.referencing("ns", "shared") == [("ns", "a")]
    assert view.referencing("ns", "own") == [("ns", "b")]
    view.forget(("ns", "a"))
    assert view.referencing("ns", "shared") == []
    assert view.acmcert(("ns", "a")) is None


def samples(metrics: Metrics, family: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = metrics.render().decode()
    for fam in text_string_to_metric_families(text):
        if fam.name == family:
            return {tuple(sorted(s.labels.items())): s.value for s in fam.samples}
    return {}


def test_gauges_replace_an_objects_series_and_forget_drops_them() -> None:
    metrics = Metrics()
    metrics.export_object(
        "ns",
        "web",
        {
            ("", "us-east-1"): (1_800_000_000.0, True, Reason.SYNCED),
            ("111122223333", "eu-west-1"): (None, False, Reason.THROTTLED),
        },
    )
    metrics.export_object("ns", "api", {("", "us-east-1"): (1_700_000_000.0, True, "Synced")})
    in_sync = samples(metrics, "acmsync_certificate_in_sync")
    key = (("account", ""), ("name", "web"), ("namespace", "ns"), ("reason", "Synced"))
    assert in_sync[(*key, ("region", "us-east-1"))] == 1.0
    throttled = (("account", "111122223333"), ("name", "web"), ("namespace", "ns"))
    assert in_sync[(*throttled, ("reason", "Throttled"), ("region", "eu-west-1"))] == 0.0
    not_after = samples(metrics, "acmsync_certificate_not_after_timestamp_seconds")
    # A region without a certificate has no notAfter series.
    assert len(not_after) == 2

    # The reason changes: the old series goes, not only a new one comes.
    metrics.export_object("ns", "web", {("", "us-east-1"): (1_800_000_000.0, False, "Expired")})
    in_sync = samples(metrics, "acmsync_certificate_in_sync")
    web = {k: v for k, v in in_sync.items() if ("name", "web") in k}
    assert web == {(("account", ""), ("name", "web"), ("namespace", "ns"), ("reason", "Expired"),
                    ("region", "us-east-1")): 0.0}  # fmt: skip

    metrics.forget("ns", "web")
    assert not any(("name", "web") in k for k in samples(metrics, "acmsync_certificate_in_sync"))
    assert not any(
        ("name", "web") in k
        for k in samples(metrics, "acmsync_certificate_not_after_timestamp_seconds")
    )
    assert samples(metrics, "acmsync_certificate_in_sync")  # api's series stay
