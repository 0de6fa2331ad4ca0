"""Wiring: opted-in Ingresses and Services get the ARNs in their load balancer annotation.

The real operator with --wiring, on both backends: an import from an Ingress's TLS Secret ends
with the Ingress carrying the ARN of a certificate ACM holds in the wiring region; a renewal
writes nothing on the Ingress; a key-type change under ImportNew switches it only once the new
ARN is Synced; a hand-written annotation is never touched; an opt-out gives the earlier value
back; a Service of type LoadBalancer gets its ssl-cert annotation; without --wiring neither
kind is ever read.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.certkit import TestCA, serial_hex
from tests.kube.kubekit import as_model
from tests.operator.opkit import ACM_SYNC, Env, OperatorProcess, wait_for
from tests.operator.wirekit import (
    ALB,
    NLB,
    REGION,
    WIRED,
    WIRING_FLAGS,
    annotations_of,
    create_ingress,
    create_secret,
    ingress_annotations,
    networking,
    pair_of,
    plain,
    read_ingress,
    replace_secret,
    running,
    synced_arn,
    wait_annotation,
    wait_new_arn,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wiring(env: Env) -> Iterator[OperatorProcess]:
    with running(env.operator(*WIRING_FLAGS, "--sweep-interval", "2", name="wiring")) as process:
        yield process


def test_an_imported_ingress_carries_the_arn_and_a_renewal_writes_nothing_on_it(
    env: Env, wiring: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace("wire")
    create_secret(env, ns, "shop-tls", ca.issue("shop-tls.example.com"))
    create_ingress(env, ns, "shop", {"acmsync.io/import": "true"}, tls=["shop-tls"])
    generated = c.wait_reason(ns, "shop-tls", "Synced", timeout=40)
    assert generated["spec"]["regions"] == [REGION]
    assert generated["spec"].get("deletionPolicy", "Retain") == "Retain"
    owner = generated["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("Ingress", "shop")
    arn = pair_of(generated)["arn"]
    wired = wait_annotation(env, ns, "shop", arn)
    assert env.acm.exists(REGION, arn)
    assert arn.split(":")[3] == REGION
    record = json.loads(annotations_of(wired)[WIRED])
    assert record["value"] == arn
    assert record["earlier"] is None
    consumers = wait_for(
        lambda: (c.cert(ns, "shop-tls") or {}).get("status", {}).get("consumers"),
        what="status.consumers",
    )
    assert consumers == [
        {"kind": "Ingress", "name": "shop", "annotation": ALB, "region": REGION, "arn": arn,
         "wiredAt": record["at"]},
    ]  # fmt: skip
    events = c.wait_event(ns, "CertificateWired", "shop")
    assert any(e[0] == "Ingress" and arn in e[3] for e in events)
    gauge = 'acmsync_wired_consumers{kind="Ingress"} '
    line = next(x for x in wiring.metrics().splitlines() if x.startswith(gauge))
    assert float(line.removeprefix(gauge)) >= 1

    # A renewal with the same key type: same ARN, the Ingress is not written at all.
    version = wired["metadata"]["resourceVersion"]
    renewed = ca.issue("shop-tls.example.com")
    replace_secret(env, ns, "shop-tls", renewed)
    wait_for(
        lambda: pair_of(c.cert(ns, "shop-tls")).get("serialNumber") == serial_hex(renewed.serial),
        timeout=30,
        what="the renewal reimported",
    )
    assert env.acm.serial(REGION, arn) == serial_hex(renewed.serial)
    time.sleep(2)  # the wirer has seen the status change by now
    assert read_ingress(env, ns, "shop")["metadata"]["resourceVersion"] == version


def test_import_new_switches_only_after_synced_and_opt_out_gives_back_the_earlier_arn(
    env: Env, wiring: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace("wire")
    old = synced_arn(env, ca, ns, "api", onKeyChange="ImportNew")
    # The ARN copied by hand, as users did before wiring: taken over, not refused.
    create_ingress(env, ns, "api", {ALB: old, "acmsync.io/certificates": "api"})
    wait_for(lambda: WIRED in ingress_annotations(env, ns, "api"), what="the hand copy adopted")
    assert ingress_annotations(env, ns, "api")[ALB] == old

    # The new key type's import fails for a while: the Ingress keeps the ARN in service.
    env.acm_server.fail_next(
        4, status=400, error="LimitExceededException", api="ImportCertificate", region=REGION
    )
    replace_secret(env, ns, "api", ca.issue("api.example.com", rsa_bits=2048))
    # The failure shows within a pass of the Secret's event (60 ms here when idle); the
    # margin is for a loaded machine, where once it took over 30 s for the event to arrive.
    wait_for(
        lambda: pair_of(c.cert(ns, "api")).get("state") not in (None, "Synced"),
        timeout=90,
        what="the new import failing",
    )
    c.wait_event(ns, "WiringBlocked", "api")
    assert ingress_annotations(env, ns, "api")[ALB] == old
    new = wait_new_arn(env, ns, "api", old, timeout=60, what="the new ARN Synced")
    wait_annotation(env, ns, "api", new)
    assert env.acm.exists(REGION, new)
    blocked = [e for e in c.events(ns) if e[2] == "WiringBlocked" and e[1] == "api"]
    assert all("not synced in that region" in e[3] for e in blocked)

    # Opt-out: acm-sync's value goes, the one the user had written comes back.
    networking(env).patch_namespaced_ingress(
        "api", ns, {"metadata": {"annotations": {"acmsync.io/certificates": None}}}
    )
    wait_for(lambda: WIRED not in ingress_annotations(env, ns, "api"), what="the opt-out")
    assert ingress_annotations(env, ns, "api")[ALB] == old
    wait_for(lambda: not (c.cert(ns, "api") or {}).get("status", {}).get("consumers"))


def test_under_delete_the_old_arn_goes_only_after_the_ingress_let_go_of_it(
    env: Env, wiring: OperatorProcess, ca: TestCA
) -> None:
    """ImportNew under deletionPolicy Delete: the Ingress switches to the new ARN once it is
    Synced, and only then is the old one deleted; the load balancer never names a deleted
    certificate."""
    c = env.cluster
    ns = c.namespace("wire")
    old = synced_arn(env, ca, ns, "pay", onKeyChange="ImportNew", deletionPolicy="Delete")
    create_ingress(env, ns, "pay", {"acmsync.io/certificates": "pay"})
    wait_annotation(env, ns, "pay", old)
    wait_for(
        lambda: [e["arn"] for e in (c.cert(ns, "pay") or {}).get("status", {}).get("consumers")
                 or []] == [old],
        what="status.consumers naming the old ARN",
    )  # fmt: skip

    replace_secret(env, ns, "pay", ca.issue("pay.example.com", rsa_bits=2048))

    def retired() -> str | None:
        named = ingress_annotations(env, ns, "pay").get(ALB)
        held = {arn for arn in (old, named) if arn and env.acm.exists(REGION, arn)}
        assert named in held, f"the Ingress names {named}, which ACM no longer holds"
        return named if named != old and old not in held else None

    new = wait_for(retired, timeout=60, what="the switch, then the old ARN deleted")
    assert pair_of(c.cert(ns, "pay"))["arn"] == new
    assert not pair_of(c.cert(ns, "pay")).get("previousArn")
    c.wait_event(ns, "PreviousDeleted", "pay")


def test_a_deleted_certificate_waits_for_its_ingress_to_let_go(
    env: Env, wiring: OperatorProcess, ca: TestCA
) -> None:
    """Deleting an AcmCertificate (policy Delete) that a wired Ingress names deletes nothing
    from ACM until the Ingress's opt-in is removed; then the deletion completes."""
    c = env.cluster
    ns = c.namespace("wire")
    arn = synced_arn(env, ca, ns, "gone", deletionPolicy="Delete")
    create_ingress(env, ns, "gone", {"acmsync.io/certificates": "gone"})
    wait_annotation(env, ns, "gone", arn)
    wait_for(lambda: (c.cert(ns, "gone") or {}).get("status", {}).get("consumers"))

    c.delete_cert(ns, "gone")
    c.wait_reason(ns, "gone", "DeletionBlocked", timeout=30)
    assert env.acm.exists(REGION, arn)
    assert ingress_annotations(env, ns, "gone").get(ALB) == arn

    networking(env).patch_namespaced_ingress(
        "gone", ns, {"metadata": {"annotations": {"acmsync.io/certificates": None}}}
    )
    wait_for(lambda: c.cert(ns, "gone") is None, timeout=60, what="the deletion to complete")
    assert not env.acm.exists(REGION, arn)
    assert ALB not in ingress_annotations(env, ns, "gone")


def test_a_hand_written_arn_is_never_touched(env: Env, wiring: OperatorProcess, ca: TestCA) -> None:
    c = env.cluster
    ns = c.namespace("wire")
    synced_arn(env, ca, ns, "mine")
    theirs = f"arn:aws:acm:{REGION}:123456789012:certificate/chosen-by-hand"
    made = create_ingress(env, ns, "mine", {ALB: theirs, "acmsync.io/certificates": "mine,nope"})
    events = c.wait_event(ns, "WiringBlocked", "mine")
    message = next(e[3] for e in events if e[2] == "WiringBlocked")
    assert "foreign annotation" in message
    after = read_ingress(env, ns, "mine")
    assert annotations_of(after)[ALB] == theirs
    assert WIRED not in annotations_of(after)
    assert after["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]
    # Without the hand-written value, the unknown name blocks it too, and nothing is written.
    networking(env).patch_namespaced_ingress("mine", ns, {"metadata": {"annotations": {ALB: None}}})
    wait_for(
        lambda: any("unknown AcmCertificate" in e[3] for e in c.events(ns) if e[1] == "mine"),
        what="an unknown AcmCertificate Event",
    )
    assert ALB not in ingress_annotations(env, ns, "mine")


def test_a_load_balancer_service_gets_the_ssl_cert_annotation(
    env: Env, wiring: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace("wire")
    arn = synced_arn(env, ca, ns, "nlb")
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "nlb", "annotations": {"acmsync.io/certificates": "nlb"}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": 8443}]},
    }
    c.core.create_namespaced_service(ns, as_model(client.V1Service, service))

    def annotated() -> bool:
        meta = plain(env, c.core.read_namespaced_service("nlb", ns))["metadata"]
        return bool((meta.get("annotations") or {}).get(NLB) == arn)

    wait_for(annotated, what="the Service's ssl-cert annotation")
    c.wait_event(ns, "CertificateWired", "nlb")
    wait_for(
        lambda: (
            [e["kind"] for e in (c.cert(ns, "nlb") or {}).get("status", {}).get("consumers", [])]
            == ["Service"]
        ),
        what="the Service in status.consumers",
    )
    shown = subprocess.run(
        [str(ACM_SYNC), "status", "nlb", "-n", ns, "--kubeconfig", str(env.kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(env.workdir)},
        check=True,
    ).stdout
    consumers = shown.split("Consumers:\n", 1)[1]
    assert consumers.startswith("  Service/nlb:\n")
    assert f"{NLB}" in consumers.split("Events")[0]
    assert f"{arn} ({REGION})" in consumers.split("Events")[0]


def test_without_wiring_ingresses_and_services_are_never_read(
    env: Env, operator: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace("nowire")
    create_secret(env, ns, "off", ca.issue("off.example.com"))
    c.create_cert(ns, "off", secretName="off", regions=["us-east-1"])
    create_ingress(env, ns, "off", {"acmsync.io/certificates": "off"})
    c.wait_reason(ns, "off", "Synced", timeout=30)
    time.sleep(2)
    assert ALB not in ingress_annotations(env, ns, "off")
    assert "consumers" not in (c.cert(ns, "off") or {}).get("status", {})
    # kopf logs (DEBUG) each watch it starts, by resource: none for these kinds.
    log = operator.log_path.read_text()
    assert "watch-stream for secrets" in log
    assert "ingresses" not in log
    assert "watch-stream for services" not in log
