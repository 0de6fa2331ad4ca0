"""Annotation mode under the platform team's control: --annotation-mode all | selector | off.

Annotation mode lets anyone who may write a Secret have AcmCertificates created under the
operator's identity; the platform team decides in which namespaces that holds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.certkit import TestCA, tls_secret
from tests.kube.kubekit import as_model
from tests.operator.opkit import Env, OperatorProcess, wait_for

pytestmark = pytest.mark.integration
ANNOTATIONS = {"acmsync.io/regions": "us-east-1"}
SELECTOR = "acmsync.io/annotations in (allowed),!frozen"


@pytest.fixture(scope="module")
def selective(env: Env) -> Iterator[OperatorProcess]:
    process = env.operator(
        "--no-leader-election",
        "--annotation-mode=selector",
        f"--annotation-namespace-selector={SELECTOR}",
        name="selective",
    ).start()
    try:
        yield process
    finally:
        process.stop()


def _annotated_secret(env: Env, ns: str, name: str) -> None:
    secret = tls_secret(name, TestCA().issue(f"{name}.example.com"), annotations=ANNOTATIONS)
    env.cluster.core.create_namespaced_secret(ns, as_model(client.V1Secret, secret))


def test_only_selected_namespaces_get_generated_acmcertificates(
    env: Env, selective: OperatorProcess
) -> None:
    c = env.cluster
    allowed, other = c.namespace("allowed"), c.namespace("other")
    c.core.patch_namespace(allowed, {"metadata": {"labels": {"acmsync.io/annotations": "allowed"}}})
    _annotated_secret(env, allowed, "shop")
    _annotated_secret(env, other, "shop")
    c.wait_reason(allowed, "shop", "Synced", timeout=40)

    def ignored() -> list[tuple[str, str, str, str]]:
        return [e for e in c.events(other) if e[2] == "AnnotationsIgnored"]

    wait_for(lambda: ignored() or None, timeout=20, what="an AnnotationsIgnored Event")
    (event,) = ignored()
    assert event[:2] == ("Secret", "shop")
    assert SELECTOR in event[3]
    assert c.cert(other, "shop") is None
    assert env.acm.owned_by("us-east-1", f"{other}/shop") == []


def test_selector_mode_needs_a_valid_selector(env: Env) -> None:
    for args, message in (
        (["--annotation-mode=selector"], "needs --annotation-namespace-selector"),
        (
            ["--annotation-mode=selector", "--annotation-namespace-selector=a in ()"],
            "a set needs one or more label values",
        ),
    ):
        process = env.operator("--no-leader-election", *args, name="bad-selector")
        process.start(wait_ready=False)
        assert process.process is not None
        assert process.process.wait(30) == 2
        assert message in process.log_tail()


def test_off_ignores_every_annotation_with_an_event(env: Env) -> None:
    process = env.operator("--no-leader-election", "--annotation-mode=off", name="off").start()
    try:
        c = env.cluster
        ns = c.namespace("off")
        _annotated_secret(env, ns, "web")
        wait_for(
            lambda: (
                [
                    e
                    for e in c.events(ns)
                    if e[2] == "AnnotationsIgnored" and "--annotation-mode=off" in e[3]
                ]
                or None
            ),
            timeout=20,
            what="an AnnotationsIgnored Event naming --annotation-mode=off",
        )
        assert c.cert(ns, "web") is None
    finally:
        process.stop()
