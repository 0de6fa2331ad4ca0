"""Wiring against a tenant who may edit an Ingress: a crafted acmsync.io/wired record or
list of names gives a WiringBlocked Warning, never a failing loop, and nothing it names ends
up in the AcmCertificate's status in a form the API server refuses.

The real operator with --wiring, on both backends (the real API server checks
status.consumers[].wiredAt as a date-time).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.certkit import TestCA
from tests.operator.opkit import Env, OperatorProcess, wait_for
from tests.operator.wirekit import (
    ALB,
    WIRED,
    WIRING_FLAGS,
    create_ingress,
    ingress_annotations,
    running,
    synced_arn,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wiring(env: Env) -> Iterator[OperatorProcess]:
    with running(env.operator(*WIRING_FLAGS, name="wiring-hostile")) as process:
        yield process


def _blocked(env: Env, ns: str, name: str, words: str) -> str:
    def probe() -> str | None:
        return next(
            (m for _, n, r, m in env.cluster.events(ns) if n == name and words in m),
            None,
        )

    message: str = wait_for(probe, what=f"a WiringBlocked Event on {name} saying {words!r}")
    return message


def test_a_crafted_record_is_a_warning_and_the_operator_goes_on(
    env: Env, wiring: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace("hostile")
    arn = synced_arn(env, ca, ns, "web")
    # Nested JSON deep enough to overflow the parser's recursion; a record of the wrong shape
    # claiming the value already there (which would make it acm-sync's to overwrite).
    deep = "[" * 5_000
    create_ingress(env, ns, "deep", {"acmsync.io/certificates": "web", ALB: "hand", WIRED: deep})
    shaped = json.dumps({"value": "hand", "names": {"web": 1}})
    create_ingress(
        env, ns, "shaped", {"acmsync.io/certificates": "web", ALB: "hand", WIRED: shaped}
    )
    assert "not written by acm-sync (it is not JSON)" in _blocked(env, ns, "deep", WIRED)
    assert "(its names are not a list" in _blocked(env, ns, "shaped", WIRED)
    for name in ("deep", "shaped"):
        assert ingress_annotations(env, ns, name)[ALB] == "hand"
    # Beside them, an honest Ingress is still wired.
    create_ingress(env, ns, "honest", {"acmsync.io/certificates": "web"})
    wait_for(
        lambda: ingress_annotations(env, ns, "honest").get(ALB) == arn,
        what="the honest Ingress wired",
    )


def test_a_crafted_time_never_stalls_the_status_and_too_many_names_write_nothing(
    env: Env, wiring: OperatorProcess, ca: TestCA
) -> None:
    c = env.cluster
    ns = c.namespace("hostile")
    arn = synced_arn(env, ca, ns, "web")
    # A record that is acm-sync's in every way but its time, which the CRD's date-time
    # format refuses in status.consumers[].wiredAt.
    record = json.dumps({"value": arn, "names": ["web"], "earlier": None, "at": "yesterday"})
    create_ingress(env, ns, "clock", {"acmsync.io/certificates": "web", ALB: arn, WIRED: record})

    def listed() -> list[dict[str, Any]] | None:
        consumers = ((c.cert(ns, "web") or {}).get("status") or {}).get("consumers")
        return consumers or None

    [entry] = wait_for(listed, what="status.consumers to list the Ingress")
    assert entry["name"] == "clock"
    assert entry["arn"] == arn
    assert "wiredAt" not in entry
    names = ",".join(["web", *(f"other-{i}" for i in range(10_000))])
    create_ingress(env, ns, "many", {"acmsync.io/certificates": names})
    assert "more than 26 named" in _blocked(env, ns, "many", "too many AcmCertificates")
    assert ALB not in ingress_annotations(env, ns, "many")
