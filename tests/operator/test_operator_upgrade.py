"""An operator upgraded over a status written by the previous version (no per-region facts)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from tests.certkit import TestCA, serial_hex, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import GROUP, PLURAL, VERSION, Env, wait_for

pytestmark = pytest.mark.integration
NEW_REGION_FIELDS = ("serialNumber", "notAfter", "inUseBy", "inUseCount")


def test_an_old_status_restarts_without_aws_calls_and_gains_the_per_region_facts(
    env: Env,
) -> None:
    c = env.cluster
    ns = c.namespace()
    issued = TestCA().issue("old.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("old", issued)))
    c.create_cert(ns, "old", secretName="old", regions=["us-east-1", "eu-west-1"])
    first = env.operator("--no-leader-election", name="upgrade-1").start()
    try:
        c.wait_reason(ns, "old", "Synced")
    finally:
        assert first.stop() == 0
    # The previous version's layout: no status.secret, regions without the ARN's own facts.
    status: dict[str, Any] = (c.cert(ns, "old") or {})["status"]
    old_regions = [
        {k: v for k, v in entry.items() if k not in NEW_REGION_FIELDS}
        for entry in status["regions"]
    ]
    c.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, PLURAL, "old", {"status": {"secret": None, "regions": old_regions}}
    )
    patched = (c.cert(ns, "old") or {})["status"]
    assert "secret" not in patched
    assert all("serialNumber" not in e for e in patched["regions"])
    seq = env.acm.last_seq()

    second = env.operator("--no-leader-election", name="upgrade-2").start()
    try:

        def upgraded() -> dict[str, Any] | None:
            obj = (c.cert(ns, "old") or {}).get("status") or {}
            regions = obj.get("regions") or []
            done = "secret" in obj and all("serialNumber" in e for e in regions)
            return obj if done else None

        new = wait_for(upgraded, what="the status in the new layout")
        assert [x for x in env.acm.calls() if x["seq"] > seq] == []  # in sync: no AWS call
        for entry in new["regions"]:
            assert entry["serialNumber"] == serial_hex(issued.serial)
            assert entry["notAfter"] == issued.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert new["secret"]["serialNumber"] == serial_hex(issued.serial)
        assert c.condition(ns, "old")["reason"] == "Synced"
    finally:
        assert second.stop() == 0


def test_a_status_in_the_previous_layout_is_rewritten_in_the_new_one_without_aws_calls(
    env: Env,
) -> None:
    # The previous version kept the digests beside what they describe (secret.contentHash,
    # regions[].fingerprint, regions[].tagsHash), a TARGETS count on every object and no
    # regionList: the new one must still trust those records (no AWS call) and move them.
    c = env.cluster
    ns = c.namespace()
    issued = TestCA().issue("layout.example.com")
    c.core.create_namespaced_secret(ns, as_model(client.V1Secret, tls_secret("lay", issued)))
    c.create_cert(ns, "lay", secretName="lay", regions=["us-east-1", "eu-west-1"], tags={"a": "b"})
    first = env.operator("--no-leader-election", name="layout-1").start()
    try:
        c.wait_reason(ns, "lay", "Synced")
    finally:
        assert first.stop() == 0
    status: dict[str, Any] = (c.cert(ns, "lay") or {})["status"]
    internal = status["internal"]
    assert set(internal["pairs"]) == {"us-east-1", "eu-west-1"}
    old_regions = [{**e, **internal["pairs"][e["region"]]} for e in status["regions"]]
    old_secret = {**status["secret"], "contentHash": internal["contentHash"],
                  "fingerprint": internal["fingerprint"]}  # fmt: skip
    c.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, ns, PLURAL, "lay",
        {"status": {"internal": None, "regionList": None, "pairs": "2/2",
                    "secret": old_secret, "regions": old_regions}},
    )  # fmt: skip
    patched = (c.cert(ns, "lay") or {})["status"]
    assert "internal" not in patched
    assert all("tagsHash" in e for e in patched["regions"])
    seq = env.acm.last_seq()

    second = env.operator("--no-leader-election", name="layout-2").start()
    try:

        def moved() -> dict[str, Any] | None:
            obj = (c.cert(ns, "lay") or {}).get("status") or {}
            return obj if "internal" in obj else None

        new = wait_for(moved, what="the status in the new layout")
        assert [x for x in env.acm.calls() if x["seq"] > seq] == []  # no AWS call, not a tag
        assert new["internal"] == internal
        assert new["regionList"] == "us-east-1,eu-west-1"
        assert "pairs" not in new
        assert "contentHash" not in new["secret"]
        assert "fingerprint" not in new["secret"]
        assert all("fingerprint" not in e and "tagsHash" not in e for e in new["regions"])
        assert c.condition(ns, "lay")["reason"] == "Synced"
    finally:
        assert second.stop() == 0
