"""cert-manager end to end on the real cluster: cert-manager's own controller issues and renews
the Secrets, acm-sync imports them and reimports renewals into the same ARNs.

Issuers: a self-signed ClusterIssuer makes a CA Certificate, whose Secret backs a CA Issuer
that signs the leaves, as a typical private-CA set-up does.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509

from tests.certkit import serial_hex
from tests.cluster_backends import RealApi
from tests.operator.opkit import Env, OperatorProcess, wait_for
from tests.realcluster.certmanager import ca_issuer, certificate, create, renew
from tests.realcluster.realkit import real_env

pytestmark = [pytest.mark.real_cluster, pytest.mark.integration]
REGIONS = ["us-east-1", "eu-west-1"]
ANNOTATIONS = {"acmsync.io/regions": ",".join(REGIONS)}


@pytest.fixture(scope="module")
def world(
    real_backend: RealApi, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Env, OperatorProcess, str]]:
    """An operator, an ACM emulator and a namespace with a CA Issuer that is Ready."""
    with real_env(real_backend, tmp_path_factory.mktemp("cert-manager")) as env:
        operator = env.operator("--no-leader-election", "--sweep-interval", "2").start()
        try:
            ns = env.cluster.namespace("cm")
            ca_issuer(env.cluster.custom, ns)
            yield env, operator, ns
        finally:
            operator.stop()


def _secret_serial(env: Env, ns: str, name: str) -> str | None:
    try:
        secret = env.cluster.core.read_namespaced_secret(name, ns)
    except Exception:
        return None
    pem = base64.b64decode((secret.data or {}).get("tls.crt", ""))
    if not pem:
        return None
    return serial_hex(x509.load_pem_x509_certificate(pem).serial_number)


def _secret_data(env: Env, ns: str, name: str) -> dict[str, Any]:
    return dict(env.cluster.core.read_namespaced_secret(name, ns).data or {})


def _arns(obj: dict[str, Any]) -> dict[str, str]:
    return {
        r["region"]: r["arn"]
        for r in (obj.get("status") or {}).get("regions") or []
        if r.get("arn")
    }


def _wait_synced_to(
    env: Env, ns: str, name: str, serial: str, secret: str | None = None
) -> dict[str, str]:
    """Wait until every region's ARN holds ``serial``, or the one Secret ``secret`` holds by
    then (cert-manager may issue once more right after a spec change); the ARNs."""

    def probe() -> dict[str, str] | None:
        arns = _arns(env.cluster.cert(ns, name) or {})
        if set(arns) != set(REGIONS):
            return None
        wanted = {serial, _secret_serial(env, ns, secret)} if secret else {serial}
        held = {env.acm.serial(r, a) for r, a in arns.items()}
        ok = len(held) == 1 and None not in held and held <= wanted
        return arns if ok else None

    return wait_for(probe, timeout=60, what=f"{ns}/{name} in ACM with serial {serial}")


def test_an_issued_secret_is_imported_and_a_renewal_keeps_the_arns(
    world: tuple[Env, OperatorProcess, str],
) -> None:
    env, _operator, ns = world
    create(
        env.cluster.custom,
        ns,
        certificate("shop", "shop-tls", ("Issuer", "ca"), annotations=ANNOTATIONS),
    )
    first = wait_for(
        lambda: _secret_serial(env, ns, "shop-tls"),
        timeout=60,
        what="cert-manager to issue shop-tls",
    )
    secret = env.cluster.core.read_namespaced_secret("shop-tls", ns)
    assert secret.metadata is not None
    assert (secret.metadata.annotations or {})["acmsync.io/regions"] == ANNOTATIONS[
        "acmsync.io/regions"
    ]
    arns = _wait_synced_to(env, ns, "shop-tls", first)
    obj = env.cluster.cert(ns, "shop-tls") or {}
    assert obj["metadata"]["labels"]["acmsync.io/generated"] == "true"

    renew(env.cluster.custom, ns, "shop")
    second = wait_for(
        lambda: (s := _secret_serial(env, ns, "shop-tls")) != first and s,
        timeout=60,
        what="cert-manager to renew shop-tls",
    )
    assert _wait_synced_to(env, ns, "shop-tls", str(second), "shop-tls") == arns


def test_rotation_policy_always_with_the_same_algorithm_reimports(
    world: tuple[Env, OperatorProcess, str],
) -> None:
    env, _operator, ns = world
    create(
        env.cluster.custom,
        ns,
        certificate(
            "always", "always-tls", ("Issuer", "ca"), rotation="Always", annotations=ANNOTATIONS
        ),
    )
    first = wait_for(lambda: _secret_serial(env, ns, "always-tls"), timeout=60, what="issued")
    arns = _wait_synced_to(env, ns, "always-tls", first)
    key_before = _secret_data(env, ns, "always-tls")["tls.key"]
    renew(env.cluster.custom, ns, "always")
    second = wait_for(
        lambda: (s := _secret_serial(env, ns, "always-tls")) != first and s,
        timeout=60,
        what="renewed with a new key",
    )
    assert _secret_data(env, ns, "always-tls")["tls.key"] != key_before
    assert _wait_synced_to(env, ns, "always-tls", str(second), "always-tls") == arns


@pytest.mark.parametrize("on_key_change", ["Block", "ImportNew"])
def test_a_key_algorithm_change_is_refused_or_imported_new(
    world: tuple[Env, OperatorProcess, str], on_key_change: str
) -> None:
    env, _operator, ns = world
    c = env.cluster
    name = f"algo-{on_key_change.lower()}"
    create(c.custom, ns, certificate(name, f"{name}-tls", ("Issuer", "ca"), rotation="Always"))
    c.create_cert(ns, name, secretName=f"{name}-tls", regions=REGIONS, onKeyChange=on_key_change)
    first = wait_for(lambda: _secret_serial(env, ns, f"{name}-tls"), timeout=60, what="issued")
    arns = _wait_synced_to(env, ns, name, first)

    c.custom.patch_namespaced_custom_object(
        "cert-manager.io",
        "v1",
        ns,
        "certificates",
        name,
        {"spec": {"privateKey": {"algorithm": "RSA", "size": 2048}}},
    )
    second = wait_for(
        lambda: (s := _secret_serial(env, ns, f"{name}-tls")) != first and s,
        timeout=60,
        what="cert-manager to reissue with an RSA key",
    )
    if on_key_change == "Block":
        obj = c.wait_reason(ns, name, "ReimportKeyChange", timeout=40)
        assert _arns(obj) == arns
        assert all(env.acm.serial(r, a) == first for r, a in arns.items())
    else:
        new_arns = _wait_synced_to(env, ns, name, str(second), f"{name}-tls")
        assert set(new_arns.values()).isdisjoint(arns.values())
        status = (c.cert(ns, name) or {})["status"]
        previous = {r["region"]: r.get("previousArn") for r in status["regions"]}
        assert previous == arns
