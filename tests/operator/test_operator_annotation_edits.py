"""Editing annotation-mode Secrets: tag removal, refused annotations, and what the user sees.

Also the wording users read in conditions (SecretNotFound) and the operator's log level for the
finalizer's expected wait.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from kubernetes import client

from acm_sync.controller.watch import annotations as ann
from tests.certkit import TestCA, tls_secret
from tests.operator.opkit import Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA()


def _create_secret(env: Env, ns: str, body: dict[str, Any]) -> None:
    # The client builds its model from a plain manifest at run time.
    env.cluster.core.create_namespaced_secret(ns, cast(client.V1Secret, body))


def _annotate(env: Env, ns: str, name: str, annotations: dict[str, str | None]) -> None:
    env.cluster.core.patch_namespaced_secret(name, ns, {"metadata": {"annotations": annotations}})


def _warnings(env: Env, ns: str, name: str, reason: str) -> list[str]:
    return [
        m for kind, n, r, m in env.cluster.events(ns) if (kind, n, r) == ("Secret", name, reason)
    ]


def _wait_warning(env: Env, ns: str, name: str, reason: str, text: str) -> str:
    wait_for(
        lambda: any(text in m for m in _warnings(env, ns, name, reason)),
        what=f"a {reason} Warning Event on Secret {name} mentioning {text!r}: "
        f"{env.cluster.events(ns)}",
    )
    return next(m for m in _warnings(env, ns, name, reason) if text in m)


def _tags(env: Env, ns: str, name: str) -> Any:
    return ((env.cluster.cert(ns, name) or {}).get("spec") or {}).get("tags")


def test_removing_a_tag_from_the_annotation_removes_it_from_the_spec(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    ns = env.cluster.namespace()
    annotations = {"acmsync.io/regions": "us-east-1", "acmsync.io/tags": "k=v,old=x"}
    _create_secret(env, ns, tls_secret("web", ca.issue("web.example.com"), annotations=annotations))
    wait_for(lambda: _tags(env, ns, "web") == {"k": "v", "old": "x"}, what="generated tags")
    _annotate(env, ns, "web", {"acmsync.io/tags": "k=v,k2=v2"})
    wait_for(lambda: _tags(env, ns, "web") == {"k": "v", "k2": "v2"}, what="old tag removed")
    # Dropping the annotation removes every tag.
    _annotate(env, ns, "web", {"acmsync.io/tags": None})
    wait_for(lambda: _tags(env, ns, "web") is None, what="all tags removed")


def test_a_tag_without_equals_sign_is_refused_with_an_event(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    ns = env.cluster.namespace()
    annotations = {"acmsync.io/regions": "us-east-1", "acmsync.io/tags": "k=v"}
    _create_secret(env, ns, tls_secret("api", ca.issue("api.example.com"), annotations=annotations))
    wait_for(lambda: _tags(env, ns, "api") == {"k": "v"}, what="generated tags")
    _annotate(env, ns, "api", {"acmsync.io/tags": "k=v,bad"})
    message = _wait_warning(env, ns, "api", "InvalidAnnotations", "'bad'")
    assert "acmsync.io/tags" in message
    assert _tags(env, ns, "api") == {"k": "v"}  # the last good spec stays


@pytest.mark.parametrize("regions", ["US-EAST-1", "us-east-1;mars"])
def test_an_invalid_region_is_refused_with_an_event(
    env: Env, operator: OperatorProcess, ca: TestCA, regions: str
) -> None:
    ns = env.cluster.namespace()
    annotations = {"acmsync.io/regions": regions}
    _create_secret(env, ns, tls_secret("bad", ca.issue("bad.example.com"), annotations=annotations))
    message = _wait_warning(env, ns, "bad", "InvalidAnnotations", "acmsync.io/regions")
    assert repr(regions) in message
    assert env.cluster.cert(ns, "bad") is None


def test_a_spec_the_api_server_refuses_becomes_an_event_not_a_traceback(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    ns = env.cluster.namespace()
    # A well-formed region name, but longer than the CRD's maxLength of 32: the API answers 422.
    long_region = "us-" + "x" * 40 + "-1"
    assert ann.parse_regions(long_region) == [long_region]
    annotations = {"acmsync.io/regions": long_region}
    _create_secret(
        env, ns, tls_secret("long", ca.issue("long.example.com"), annotations=annotations)
    )
    message = _wait_warning(env, ns, "long", "InvalidAnnotations", "was refused")
    assert "regions" in message
    assert env.cluster.cert(ns, "long") is None
    log = operator.log_path.read_text(errors="replace")
    assert "Traceback" not in log
    assert not [line for line in log.splitlines() if " ERROR " in line and f"{ns}/long" in line]


def test_secret_not_found_names_the_secret(env: Env, operator: OperatorProcess) -> None:
    ns = env.cluster.namespace()
    env.cluster.create_cert(ns, "lost", secretName="nowhere", regions=["us-east-1"])
    env.cluster.wait_reason(ns, "lost", "SecretNotFound")
    assert env.cluster.condition(ns, "lost")["message"] == (
        f"the Secret {ns}/nowhere does not exist"
    )


def test_waiting_for_a_certificate_in_use_is_a_warning_not_an_error(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace()
    _create_secret(env, ns, tls_secret("lb", ca.issue("lb.example.com")))
    c.create_cert(ns, "lb", secretName="lb", regions=["us-east-1"], deletionPolicy="Delete")
    obj = c.wait_reason(ns, "lb", "Synced")
    arn = obj["status"]["regions"][0]["arn"]
    env.acm.control("in-use", {"arn": arn, "in_use": True})
    c.delete_cert(ns, "lb")
    c.wait_reason(ns, "lb", "DeletionBlocked")

    def retry_lines() -> list[str]:
        log = operator.log_path.read_text(errors="replace")
        return [line for line in log.splitlines() if "'cleanup' failed temporarily" in line]

    wait_for(lambda: bool(retry_lines()), what="kopf's retry line for the finalizer")
    assert all(" WARNING " in line for line in retry_lines()), retry_lines()
    env.acm.control("in-use", {"arn": arn, "in_use": False})
    wait_for(lambda: c.cert(ns, "lb") is None, timeout=40, what="deletion once released")
