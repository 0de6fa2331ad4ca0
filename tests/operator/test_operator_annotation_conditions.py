"""An unusable annotation shows on the generated AcmCertificate, not only as a Secret's Event."""

from __future__ import annotations

from typing import Any, cast

import pytest
from kubernetes import client

from tests.certkit import TestCA, tls_secret
from tests.operator.opkit import Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def _generated(env: Env, ca: TestCA, ns: str, name: str, regions: str) -> dict[str, Any]:
    body = tls_secret(
        name, ca.issue(f"{name}.example.com"), annotations={"acmsync.io/regions": regions}
    )
    env.cluster.core.create_namespaced_secret(ns, cast(client.V1Secret, body))
    wait_for(lambda: env.cluster.cert(ns, name), what=f"the generated AcmCertificate {name}")
    return env.cluster.wait_reason(ns, name, "Synced")


def _annotate(env: Env, ns: str, name: str, annotations: dict[str, str | None]) -> None:
    env.cluster.core.patch_namespaced_secret(name, ns, {"metadata": {"annotations": annotations}})


def test_a_bad_region_makes_the_generated_object_not_ready_naming_the_value(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    _generated(env, ca, ns, "web", "us-east-1")
    _annotate(env, ns, "web", {"acmsync.io/regions": "US-EAST-1"})
    obj = c.wait_reason(ns, "web", "InvalidAnnotations")
    ready = c.condition(ns, "web")
    assert ready["status"] == "False"
    assert "'US-EAST-1'" in ready["message"]
    assert "acmsync.io/regions" in ready["message"]
    # The last usable spec stays, and stays synced.
    assert obj["spec"]["regions"] == ["us-east-1"]
    assert [r["state"] for r in obj["status"]["regions"]] == ["Synced"]
    c.wait_event(ns, "InvalidAnnotations", name="web")
    assert any(
        (kind, reason) == ("AcmCertificate", "InvalidAnnotations")
        for kind, name, reason, _m in c.events(ns)
        if name == "web"
    )
    # Back to the value it had: nothing to change in the spec, yet Ready recovers.
    _annotate(env, ns, "web", {"acmsync.io/regions": "us-east-1"})
    c.wait_reason(ns, "web", "Synced")


def test_fixing_the_annotation_applies_it(env: Env, operator: OperatorProcess, ca: TestCA) -> None:
    c = env.cluster
    ns = c.namespace()
    _generated(env, ca, ns, "shop", "us-east-1")
    _annotate(env, ns, "shop", {"acmsync.io/tags": "team"})
    c.wait_reason(ns, "shop", "InvalidAnnotations")
    assert "'team'" in c.condition(ns, "shop")["message"]
    _annotate(env, ns, "shop", {"acmsync.io/tags": "team=shop", "acmsync.io/regions": "eu-west-1"})

    def applied() -> bool:
        obj = c.cert(ns, "shop") or {}
        regions = [r["region"] for r in obj.get("status", {}).get("regions") or []]
        ready = c.condition(ns, "shop").get("reason")
        return ready == "Synced" and regions == ["eu-west-1"]

    wait_for(applied, what="the fixed annotations applied and synced")
    assert (c.cert(ns, "shop") or {})["spec"]["tags"] == {"team": "shop"}


def test_a_spec_the_api_server_refuses_shows_on_the_generated_object(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    _generated(env, ca, ns, "long", "us-east-1")
    # Well-formed, but longer than the CRD allows: only the API server refuses it (422).
    _annotate(env, ns, "long", {"acmsync.io/regions": "us-" + "x" * 40 + "-1"})
    c.wait_reason(ns, "long", "InvalidAnnotations")
    assert "refused" in c.condition(ns, "long")["message"]
    _annotate(env, ns, "long", {"acmsync.io/regions": "us-east-1"})
    c.wait_reason(ns, "long", "Synced")
