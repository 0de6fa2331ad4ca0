"""``acmsync.io/import`` on an Ingress against what else is in the namespace: the operator's
annotation mode governs it as it governs a Secret's annotations; an AcmCertificate acm-sync
did not generate for this Ingress is never changed nor deleted; one another Ingress still
imports stays.

The real operator with --wiring and --annotation-mode=selector, on both backends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.certkit import TestCA
from tests.operator.opkit import Env, OperatorProcess, wait_for
from tests.operator.wirekit import (
    ALB,
    REGION,
    WIRING_FLAGS,
    create_ingress,
    create_secret,
    ingress_annotations,
    networking,
    pair_of,
    running,
)

pytestmark = pytest.mark.integration
IMPORT = {"acmsync.io/import": "true"}
LABEL = {"acmsync.io/annotations": "allowed"}


@pytest.fixture(scope="module")
def selective(env: Env) -> Iterator[OperatorProcess]:
    with running(
        env.operator(
            *WIRING_FLAGS,
            "--annotation-mode=selector",
            "--annotation-namespace-selector=acmsync.io/annotations",
            name="wiring-import",
        )
    ) as process:
        yield process


def _alb(env: Env, ns: str, name: str) -> str | None:
    return ingress_annotations(env, ns, name).get(ALB)


def _arn(obj: dict[str, Any] | None) -> str | None:
    arn: str | None = pair_of(obj).get("arn")
    return arn


def _namespace(env: Env, ca: TestCA, *secrets: str, selected: bool = True) -> str:
    c = env.cluster
    ns = c.namespace("import")
    if selected:
        c.core.patch_namespace(ns, {"metadata": {"labels": LABEL}})
    for name in secrets:
        create_secret(env, ns, name, ca.issue(f"{name}.example.com"))
    return ns


def test_a_namespace_the_selector_leaves_out_gets_nothing_generated(
    env: Env, selective: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = _namespace(env, ca, "shop", selected=False)
    create_ingress(env, ns, "shop", IMPORT, tls=["shop"])
    wait_for(
        lambda: (
            [e for e in c.events(ns) if e[1] == "shop" and e[2] == "AnnotationsIgnored"] or None
        ),
        what="an AnnotationsIgnored Event on the Ingress",
    )
    assert c.cert(ns, "shop") is None
    assert _alb(env, ns, "shop") is None


def test_an_acmcertificate_made_by_hand_is_used_never_changed_nor_deleted(
    env: Env, selective: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = _namespace(env, ca, "shop", "other")
    c.create_cert(ns, "shop", secretName="shop", regions=[REGION], deletionPolicy="Retain")
    c.create_cert(ns, "other", secretName="shop", regions=[REGION])  # reads another Secret
    mine = c.wait_reason(ns, "shop", "Synced", timeout=30)
    create_ingress(env, ns, "shop", IMPORT, tls=["shop"])
    create_ingress(env, ns, "other", IMPORT, tls=["other"])
    wait_for(lambda: _alb(env, ns, "shop") == _arn(mine), what="the Ingress wired")
    wait_for(
        lambda: (
            [e for e in c.events(ns) if e[1] == "other" and e[2] == "AcmCertificateExists"] or None
        ),
        what="an AcmCertificateExists Event",
    )
    assert _alb(env, ns, "other") is None
    # The import dropped: the hand-made AcmCertificates stay as they were.
    for name in ("shop", "other"):
        networking(env).patch_namespaced_ingress(
            name, ns, {"metadata": {"annotations": {"acmsync.io/import": None}}}
        )
    wait_for(lambda: _alb(env, ns, "shop") is None, what="the opt-out given back")
    for name, secret in (("shop", "shop"), ("other", "shop")):
        obj = c.cert(ns, name)
        assert obj is not None
        assert obj["spec"]["secretName"] == secret
        assert not obj["metadata"].get("ownerReferences")


def test_an_acmcertificate_another_ingress_imports_stays_when_the_first_lets_go(
    env: Env, selective: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = _namespace(env, ca, "shared")
    create_ingress(env, ns, "first", IMPORT, tls=["shared"])
    generated = c.wait_reason(ns, "shared", "Synced", timeout=40)
    assert generated["metadata"]["ownerReferences"][0]["name"] == "first"
    arn = _arn(generated)
    create_ingress(env, ns, "second", IMPORT, tls=["shared"])
    for name in ("first", "second"):
        wait_for(lambda name=name: _alb(env, ns, name) == arn, what=f"{name} wired")  # type: ignore[misc]
    assert _owners(c.cert(ns, "shared")) == [("first", True), ("second", False)]
    networking(env).patch_namespaced_ingress(
        "first", ns, {"metadata": {"annotations": {"acmsync.io/import": None}}}
    )
    wait_for(lambda: _alb(env, ns, "first") is None, what="first given back")

    # The second still serves it: the same AcmCertificate stays, now the second's.
    def handed() -> dict[str, Any] | None:
        obj = c.cert(ns, "shared")
        refs = (obj or {}).get("metadata", {}).get("ownerReferences") or []
        return obj if [r["name"] for r in refs] == ["second"] else None

    kept = wait_for(handed, what="the AcmCertificate handed to the second Ingress")
    assert kept["metadata"]["uid"] == generated["metadata"]["uid"]
    assert _arn(kept) == arn
    assert _alb(env, ns, "second") == arn
    networking(env).patch_namespaced_ingress(
        "second", ns, {"metadata": {"annotations": {"acmsync.io/import": None}}}
    )
    wait_for(lambda: c.cert(ns, "shared") is None, what="the generated AcmCertificate deleted")


def _owners(obj: dict[str, Any] | None) -> list[tuple[str, bool]]:
    refs = (obj or {}).get("metadata", {}).get("ownerReferences") or []
    return [(r["name"], bool(r.get("controller"))) for r in refs]


def test_deleting_one_of_two_importing_ingresses_leaves_the_other_its_certificate(
    env: Env, selective: OperatorProcess, ca: TestCA
) -> None:
    """Both Ingresses own the generated AcmCertificate, so the garbage collector keeps it when
    the first is deleted outright (no opt-out first): same object, same ARN, still wired."""
    c = env.cluster
    ns = _namespace(env, ca, "both")
    create_ingress(env, ns, "first", IMPORT, tls=["both"])
    generated = c.wait_reason(ns, "both", "Synced", timeout=40)
    arn = _arn(generated)
    create_ingress(env, ns, "second", IMPORT, tls=["both"])
    wait_for(lambda: _alb(env, ns, "second") == arn, what="second wired")
    wait_for(
        lambda: _owners(c.cert(ns, "both")) == [("first", True), ("second", False)],
        what="the second Ingress a co-owner",
    )

    networking(env).delete_namespaced_ingress("first", ns)

    def collected() -> dict[str, Any] | None:
        obj = c.cert(ns, "both")
        return obj if obj and [n for n, _ in _owners(obj)] == ["second"] else None

    left = wait_for(collected, timeout=30, what="the garbage collector to drop the deleted owner")
    assert left["metadata"]["uid"] == generated["metadata"]["uid"]
    assert _arn(left) == arn
    assert _alb(env, ns, "second") == arn


def test_the_ingress_sets_the_generated_certificates_key_change_and_deletion_policies(
    env: Env, selective: OperatorProcess, ca: TestCA
) -> None:
    """``acmsync.io/on-key-change`` and ``acmsync.io/deletion-policy`` on an importing Ingress
    reach its generated AcmCertificate, are kept in line, and dropping one puts the CRD's
    default back; a bad value names itself in an Event and changes nothing (it used to drop
    the AcmCertificate, and under Delete its ARN, from the import)."""
    c = env.cluster
    ns = _namespace(env, ca, "keys")
    chosen = {"acmsync.io/on-key-change": "ImportNew", "acmsync.io/deletion-policy": "Delete"}
    create_ingress(env, ns, "keys", {**IMPORT, **chosen}, tls=["keys"])
    generated = c.wait_reason(ns, "keys", "Synced", timeout=40)
    assert (generated["spec"]["onKeyChange"], generated["spec"]["deletionPolicy"]) == (
        "ImportNew",
        "Delete",
    )

    def spec_of() -> tuple[str, str]:
        spec = (c.cert(ns, "keys") or {}).get("spec") or {}
        return spec.get("onKeyChange", "Block"), spec.get("deletionPolicy", "Retain")

    annotate = networking(env).patch_namespaced_ingress
    annotate("keys", ns, {"metadata": {"annotations": {"acmsync.io/on-key-change": "Sometimes"}}})
    wait_for(
        lambda: [e for e in c.events(ns) if e[1] == "keys" and "Sometimes" in e[3]] or None,
        what="an Event naming the bad on-key-change",
    )
    # The typo costs nothing: the certificate stays, in ACM and on the Ingress.
    assert spec_of() == ("ImportNew", "Delete")
    assert _alb(env, ns, "keys") == _arn(generated)
    assert env.acm.exists(REGION, str(_arn(generated)))
    annotate("keys", ns, {"metadata": {"annotations": {"acmsync.io/on-key-change": None}}})
    wait_for(lambda: spec_of() == ("Block", "Delete"), what="onKeyChange back to Block")


def test_a_namespace_the_selector_drops_keeps_what_its_ingress_imported(
    env: Env, selective: OperatorProcess, ca: TestCA
) -> None:
    """As for a Secret's annotations: once the selector no longer picks the namespace, the
    import creates and changes nothing more, but what it made stays, in ACM and wired (it
    used to be deleted, under Delete with its ARN, on the Ingress's next change)."""
    c = env.cluster
    ns = _namespace(env, ca, "kept")
    policy = {"acmsync.io/deletion-policy": "Delete"}
    create_ingress(env, ns, "kept", {**IMPORT, **policy}, tls=["kept"])
    generated = c.wait_reason(ns, "kept", "Synced", timeout=40)
    arn = str(_arn(generated))
    wait_for(lambda: _alb(env, ns, "kept") == arn, what="the Ingress wired")

    c.core.patch_namespace(ns, {"metadata": {"labels": {"acmsync.io/annotations": None}}})
    # Any change of the Ingress has the wirer look again.
    networking(env).patch_namespaced_ingress(
        "kept", ns, {"metadata": {"annotations": {"acmsync.io/deletion-policy": "Retain"}}}
    )
    wait_for(
        lambda: (
            [e for e in c.events(ns) if e[1] == "kept" and e[2] == "AnnotationsIgnored"] or None
        ),
        what="an AnnotationsIgnored Event on the Ingress",
    )
    time.sleep(2)  # a pass's worth of time for the wirer to (not) let go
    obj = c.cert(ns, "kept")
    assert obj is not None
    assert obj["metadata"]["uid"] == generated["metadata"]["uid"]
    assert obj["spec"]["deletionPolicy"] == "Delete"  # changed by nothing the refusal ignored
    assert _alb(env, ns, "kept") == arn
    assert env.acm.exists(REGION, arn)
