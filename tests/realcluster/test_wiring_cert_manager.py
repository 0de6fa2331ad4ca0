"""Issue 22's "Done when", as a new user would try it: cert-manager's own controller issues,
renews and re-keys the Secrets on the real cluster, and the real operator process, with
``--wiring --wiring-region`` (a region other than its own AWS region), writes the ARN onto the
Ingresses.

- an Ingress with ``acmsync.io/import: "true"`` whose ``spec.tls`` names a cert-manager
  Certificate's Secret ends carrying the ARN of a certificate ACM holds in the wiring region;
- a renewal reimports into that ARN and writes nothing on the Ingress;
- a key-type change under ``onKeyChange: ImportNew`` switches the Ingress to the new ARN only
  once it is Synced, never naming an ARN ACM does not hold, and under ``deletionPolicy: Delete``
  the old ARN is deleted only after the switch;
- a hand-written ``certificate-arn`` is never touched;
- one Ingress annotated for cert-manager's ingress-shim and for acm-sync is all a user writes.

The key-type change runs twice: with an AcmCertificate of the user's own named by
``acmsync.io/certificates``, and with the one ``acmsync.io/import`` generates, told
``acmsync.io/on-key-change: ImportNew`` and ``acmsync.io/deletion-policy: Delete`` by the
Ingress.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
from cryptography import x509
from kubernetes import client

from tests.certkit import serial_hex
from tests.cluster_backends import RealApi
from tests.operator.opkit import Env, OperatorProcess, wait_for
from tests.operator.wirekit import (
    ALB,
    REGION,
    WIRED,
    WIRING_FLAGS,
    annotations_of,
    create_ingress,
    networking,
    pair_of,
    read_ingress,
    running,
)
from tests.realcluster.certmanager import ca_issuer, certificate, create, renew
from tests.realcluster.realkit import real_env

pytestmark = [pytest.mark.real_cluster, pytest.mark.integration]


@pytest.fixture(scope="module")
def world(
    real_backend: RealApi, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Env, OperatorProcess, str]]:
    """The wiring operator, an ACM emulator and a namespace with a CA Issuer that is Ready."""
    with (
        real_env(real_backend, tmp_path_factory.mktemp("wiring-cm")) as env,
        running(env.operator(*WIRING_FLAGS, "--sweep-interval", "2")) as operator,
    ):
        ns = env.cluster.namespace("cmwire")
        ca_issuer(env.cluster.custom, ns)
        yield env, operator, ns


# -- reading what a user reads ------------------------------------------------------------------


def _create_ingress(env: Env, ns: str, name: str, annotations: dict[str, str], tls: str) -> str:
    """An Ingress whose spec.tls names Secret ``tls``; its resourceVersion."""
    made = create_ingress(env, ns, name, annotations, tls=[tls])
    return str(made["metadata"]["resourceVersion"])


def _ingress(env: Env, ns: str, name: str) -> tuple[str, dict[str, str]]:
    """An Ingress's resourceVersion and annotations."""
    obj = read_ingress(env, ns, name)
    return str(obj["metadata"]["resourceVersion"]), annotations_of(obj)


def _wait_arn(env: Env, ns: str, name: str) -> str:
    return wait_for(
        lambda: _ingress(env, ns, name)[1].get(ALB),
        timeout=60,
        what=f"Ingress {name} to carry a certificate-arn",
    )


def _secret_serial(env: Env, ns: str, name: str) -> str | None:
    try:
        data = env.cluster.core.read_namespaced_secret(name, ns).data or {}
    except client.ApiException as err:
        if err.status == 404:
            return None
        raise
    pem = base64.b64decode(data.get("tls.crt", ""))
    return serial_hex(x509.load_pem_x509_certificate(pem).serial_number) if pem else None


def _wait_issued(env: Env, ns: str, secret: str, other_than: str | None = None) -> str:
    """The serial of the certificate cert-manager wrote into ``secret`` (a new one)."""

    def issued() -> str | None:
        serial = _secret_serial(env, ns, secret)
        return serial if serial != other_than else None

    return wait_for(
        issued,
        timeout=60,
        what=f"cert-manager to issue {secret}" + (" again" if other_than else ""),
    )


def _issued_since(env: Env, ns: str, secret: str, serial: str) -> set[str]:
    """``serial`` and the one ``secret`` holds now.

    Right after a spec change cert-manager may issue once more (its trigger controller acts on
    an informer that has not seen the first issue yet); the operator then reimports the later
    certificate into the same ARN, so either is the right thing for ACM to hold.
    """
    return {serial} | ({now} if (now := _secret_serial(env, ns, secret)) else set())


def _key_type(env: Env, ns: str, secret: str) -> str:
    data = env.cluster.core.read_namespaced_secret(secret, ns).data or {}
    key = x509.load_pem_x509_certificate(base64.b64decode(data["tls.crt"])).public_key()
    return type(key).__name__


def _arn_region(arn: str) -> str:
    return arn.split(":")[3]


# -- the tests ----------------------------------------------------------------------------------


def test_an_issued_certificate_reaches_the_ingress_and_a_renewal_writes_nothing_on_it(
    world: tuple[Env, OperatorProcess, str],
) -> None:
    env, _operator, ns = world
    c = env.cluster
    create(
        c.custom,
        ns,
        certificate("shop", "shop-tls", ("Issuer", "ca"), rotation="Always"),
    )
    _create_ingress(env, ns, "shop", {"acmsync.io/import": "true"}, tls="shop-tls")
    first = _wait_issued(env, ns, "shop-tls")

    arn = _wait_arn(env, ns, "shop")
    assert _arn_region(arn) == REGION
    assert env.acm.exists(REGION, arn)
    assert env.acm.serial(REGION, arn) in _issued_since(env, ns, "shop-tls", first)
    generated = c.cert(ns, "shop-tls") or {}
    owner = generated["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("Ingress", "shop")
    assert generated["spec"]["regions"] == [REGION]
    c.wait_event(ns, "CertificateWired", "shop")
    version, annotations = _ingress(env, ns, "shop")
    assert json.loads(annotations[WIRED])["value"] == arn

    # cert-manager renews (as `cmctl renew` asks it to), with a new key of the same type.
    renew(c.custom, ns, "shop")
    second = _wait_issued(env, ns, "shop-tls", other_than=first)
    wait_for(
        lambda: env.acm.serial(REGION, arn) in _issued_since(env, ns, "shop-tls", second),
        timeout=60,
        what="the renewal reimported into the same ARN",
    )
    wait_for(
        lambda: (
            (p := pair_of(c.cert(ns, "shop-tls"))).get("serialNumber")
            in _issued_since(env, ns, "shop-tls", second)
            and p.get("state") == "Synced"
        ),
        timeout=30,
        what="the status to show the renewal Synced",
    )
    assert pair_of(c.cert(ns, "shop-tls"))["arn"] == arn
    # The wirer has the status change by now; give it a pass's worth of time to (not) act.
    time.sleep(2)
    assert _ingress(env, ns, "shop") == (version, annotations)


@pytest.mark.parametrize("opt_in", ["certificates", "import"])
def test_a_key_type_change_switches_the_ingress_only_once_synced_and_then_deletes_the_old_arn(
    world: tuple[Env, OperatorProcess, str], opt_in: str
) -> None:
    """ImportNew under deletionPolicy Delete, from cert-manager's re-key (ECDSA -> RSA).

    Every poll checks what a load balancer would see: the Ingress names an ARN ACM holds, and
    a new ARN only once the status says it is Synced. The new certificate's import is made to
    fail a few times, so the Ingress has a while in which it must keep the old ARN.
    """
    env, _operator, ns = world
    c = env.cluster
    name = f"rekey-{opt_in}"
    create(c.custom, ns, certificate(name, name, ("Issuer", "ca"), rotation="Always"))
    if opt_in == "certificates":
        c.create_cert(
            ns, name, secretName=name, regions=[REGION], onKeyChange="ImportNew",
            deletionPolicy="Delete",
        )  # fmt: skip
        annotations = {"acmsync.io/certificates": name}
    else:
        annotations = {
            "acmsync.io/import": "true",
            "acmsync.io/on-key-change": "ImportNew",
            "acmsync.io/deletion-policy": "Delete",
        }
    _create_ingress(env, ns, name, annotations, tls=name)
    first = _wait_issued(env, ns, name)
    old = _wait_arn(env, ns, name)
    assert _arn_region(old) == REGION
    assert env.acm.serial(REGION, old) in _issued_since(env, ns, name, first)
    spec = (c.cert(ns, name) or {})["spec"]
    assert (spec["onKeyChange"], spec["deletionPolicy"]) == ("ImportNew", "Delete")

    env.acm_server.fail_next(
        4, status=400, error="LimitExceededException", api="ImportCertificate", region=REGION
    )
    c.custom.patch_namespaced_custom_object(
        "cert-manager.io", "v1", ns, "certificates", name,
        {"spec": {"privateKey": {"algorithm": "RSA", "size": 2048}}},
    )  # fmt: skip
    second = _wait_issued(env, ns, name, other_than=first)
    assert _key_type(env, ns, name) == "RSAPublicKey"

    held_old_while_unsynced = False

    def switched_and_retired() -> str | None:
        nonlocal held_old_while_unsynced
        version, named = _ingress(env, ns, name)
        arn = named[ALB]
        pair = pair_of(c.cert(ns, name))  # read after the Ingress: a Synced status comes first
        if arn != old:
            shown = (pair.get("arn"), pair.get("state"))
            assert shown == (arn, "Synced"), f"the Ingress names {arn}; the status: {pair}"
        elif pair.get("state") != "Synced":
            held_old_while_unsynced = True
        if not env.acm.exists(REGION, arn):
            # Unless the Ingress changed meanwhile, it named a deleted certificate.
            assert _ingress(env, ns, name)[0] != version, f"the Ingress names {arn}, not in ACM"
            return None
        if arn == old or env.acm.exists(REGION, old):
            return None
        return arn

    new = wait_for(
        switched_and_retired, timeout=90, interval=0.05, what="the switch, then old deleted"
    )
    assert held_old_while_unsynced, "the failed import never showed as a pair not Synced"
    assert _arn_region(new) == REGION
    assert env.acm.serial(REGION, new) in _issued_since(env, ns, name, second)
    pair = pair_of(c.cert(ns, name))
    assert (pair["arn"], pair.get("previousArn")) == (new, None)
    events = c.wait_event(ns, "PreviousDeleted", name)
    retired = [e[3] for e in events if e[:3] == ("AcmCertificate", name, "PreviousDeleted")]
    assert any(old in m for m in retired)
    blocked = [e[3] for e in events if e[:3] == ("Ingress", name, "WiringBlocked")]
    assert blocked, "no WiringBlocked Event while the new ARN was not Synced"
    assert all("not synced in that region" in m for m in blocked)


def test_a_hand_written_certificate_arn_is_never_touched(
    world: tuple[Env, OperatorProcess, str],
) -> None:
    env, _operator, ns = world
    c = env.cluster
    create(c.custom, ns, certificate("own", "own-tls", ("Issuer", "ca"), rotation="Always"))
    theirs = f"arn:aws:acm:{REGION}:123456789012:certificate/chosen-by-hand"
    made = _create_ingress(
        env, ns, "own", {ALB: theirs, "acmsync.io/import": "true"}, tls="own-tls"
    )
    first = _wait_issued(env, ns, "own-tls")
    events = c.wait_event(ns, "WiringBlocked", "own", timeout=60)
    message = next(e[3] for e in events if e[1:3] == ("own", "WiringBlocked"))
    assert "foreign annotation" in message
    # The import itself goes on: the certificate is in ACM, only the Ingress is left alone.
    arn = wait_for(
        lambda: (p := pair_of(c.cert(ns, "own-tls"))).get("state") == "Synced" and p["arn"],
        timeout=60,
        what="own-tls Synced",
    )
    assert env.acm.serial(REGION, arn) in _issued_since(env, ns, "own-tls", first)

    renew(c.custom, ns, "own")
    second = _wait_issued(env, ns, "own-tls", other_than=first)
    wait_for(
        lambda: env.acm.serial(REGION, arn) in _issued_since(env, ns, "own-tls", second),
        timeout=60,
        what="the reimport",
    )
    wait_for(
        lambda: (
            pair_of(c.cert(ns, "own-tls")).get("serialNumber")
            in _issued_since(env, ns, "own-tls", second)
        ),
        timeout=30,
        what="the status to show the renewal",
    )
    time.sleep(2)
    version, annotations = _ingress(env, ns, "own")
    assert version == made
    assert annotations[ALB] == theirs
    assert WIRED not in annotations
    assert not (c.cert(ns, "own-tls") or {}).get("status", {}).get("consumers")


def test_one_ingress_annotated_for_cert_manager_and_acm_sync_is_served_from_acm(
    world: tuple[Env, OperatorProcess, str],
) -> None:
    """The shortest path a user has: one Ingress, no Certificate and no AcmCertificate of
    theirs. cert-manager's ingress-shim makes the Certificate (``cert-manager.io/issuer``),
    acm-sync imports its Secret and writes the ARN (``acmsync.io/import``); a key type change
    asked on the same Ingress moves it to a new ARN and retires the old one."""
    env, _operator, ns = world
    c = env.cluster
    annotations = {
        "cert-manager.io/issuer": "ca",
        "acmsync.io/import": "true",
        "acmsync.io/on-key-change": "ImportNew",
        "acmsync.io/deletion-policy": "Delete",
    }
    _create_ingress(env, ns, "shim", annotations, tls="shim-tls")
    first = _wait_issued(env, ns, "shim-tls")
    old = _wait_arn(env, ns, "shim")
    assert _arn_region(old) == REGION
    assert env.acm.serial(REGION, old) in _issued_since(env, ns, "shim-tls", first)
    made = cast(
        dict[str, Any],
        c.custom.get_namespaced_custom_object(
            "cert-manager.io", "v1", ns, "certificates", "shim-tls"
        ),
    )
    assert [r["kind"] for r in made["metadata"]["ownerReferences"]] == ["Ingress"]
    generated = c.cert(ns, "shim-tls") or {}
    assert [r["kind"] for r in generated["metadata"]["ownerReferences"]] == ["Ingress"]

    assert _key_type(env, ns, "shim-tls") == "RSAPublicKey"  # cert-manager's default

    networking(env).patch_namespaced_ingress(
        "shim",
        ns,
        {"metadata": {"annotations": {"cert-manager.io/private-key-algorithm": "ECDSA"}}},
    )
    second = _wait_issued(env, ns, "shim-tls", other_than=first)

    def moved_and_retired() -> str | None:
        arn = _ingress(env, ns, "shim")[1][ALB]
        return arn if arn != old and not env.acm.exists(REGION, old) else None

    new = wait_for(moved_and_retired, timeout=90, what="the new ARN wired, then the old deleted")
    assert _key_type(env, ns, "shim-tls") == "ECPublicKey"
    assert env.acm.serial(REGION, new) in _issued_since(env, ns, "shim-tls", second)
