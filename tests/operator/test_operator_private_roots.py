"""`acm-sync run --private-root-ca-file`: private chains get no ChainIncomplete, public do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from kubernetes import client

from tests.certkit import Pki, b64, make_pki
from tests.operator.opkit import Env, OperatorProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def private() -> Pki:
    return make_pki(slot=21)


@pytest.fixture(scope="module")
def operator(env: Env, private: Pki) -> Iterator[OperatorProcess]:
    roots = env.workdir / "private-roots.pem"
    roots.write_bytes(private.root.pem)
    process = env.operator(
        "--no-leader-election", "--private-root-ca-file", str(roots), name="private-roots"
    ).start()
    try:
        yield process
    finally:
        process.stop()


def _secret(name: str, pki: Pki) -> dict[str, Any]:
    # The leaf and its intermediate, no root anywhere: what many issuers store.
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": b64(pki.leaf.pem + pki.intermediate.pem),
            "tls.key": b64(pki.leaf.key_pem()),
        },
    }


def test_only_chains_from_unlisted_roots_warn(
    env: Env, operator: OperatorProcess, private: Pki
) -> None:
    c = env.cluster
    ns = c.namespace()
    other = make_pki(slot=22)
    for name, pki in (("internal", private), ("public", other)):
        c.core.create_namespaced_secret(ns, cast(client.V1Secret, _secret(name, pki)))
        c.create_cert(ns, name, secretName=name, regions=["us-east-1"])
    c.wait_reason(ns, "internal", "Synced")
    c.wait_reason(ns, "public", "Synced")
    assert c.condition(ns, "public", "Warnings")["reason"] == "ChainIncomplete"
    assert c.condition(ns, "internal", "Warnings")["status"] == "False"
    c.wait_event(ns, "ChainIncomplete", name="public")
    assert not [e for e in c.events(ns) if e[1] == "internal" and e[2] == "ChainIncomplete"]


def test_a_file_without_certificates_stops_the_start(env: Env) -> None:
    empty = env.workdir / "no-roots.pem"
    empty.write_text("nothing\n")
    process = env.operator("--private-root-ca-file", str(empty), name="no-roots").start(
        wait_ready=False
    )
    assert process.process is not None
    assert process.process.wait(30) == 2
    assert "holds no PEM certificate" in process.log_tail()
