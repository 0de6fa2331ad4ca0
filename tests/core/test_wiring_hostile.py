"""Wiring under input a tenant crafts: the acmsync.io/wired record and the names on an Ingress
are written by whoever may edit it, so they are bounded and parsed defensively (pure).
"""

from __future__ import annotations

import json
from typing import Any

from acm_sync.core.deletion_planner import DeletionObservation, plan_deletion
from acm_sync.core.limits import DEFAULT_WIRING_LIMITS
from acm_sync.core.planner import Delete
from acm_sync.core.state import Owner, RegionRecord
from acm_sync.core.wiring import (
    Blocker,
    PairState,
    Wired,
    bounded_consumers,
    parse_names,
    plan_wiring,
)

KEY = "alb.ingress.kubernetes.io/certificate-arn"
NOW = "2026-12-07T10:00:00Z"
A1 = "arn:aws:acm:us-east-1:123456789012:certificate/a1"
A2 = "arn:aws:acm:us-east-1:123456789012:certificate/a2"
HAND = "arn:aws:acm:us-east-1:123456789012:certificate/by-hand"
LIMIT = DEFAULT_WIRING_LIMITS.certificates


def synced(arn: str) -> PairState:
    return PairState(arn=arn, synced=True)


def record(**fields: Any) -> str:
    return json.dumps({"value": HAND, "names": ["a"], "earlier": None, "at": NOW, **fields})


def test_a_deeply_nested_record_is_unreadable_not_a_crash() -> None:
    # json.loads recurses: "[[[[..." raised RecursionError out of the wirer, retried forever.
    wired, problem = Wired.read("[" * 10_000)
    assert wired is None
    assert problem == "it is not JSON"


def test_a_record_over_its_bound_is_not_parsed() -> None:
    huge = record(earlier="x" * DEFAULT_WIRING_LIMITS.record_chars)
    wired, problem = Wired.read(huge)
    assert wired is None
    assert problem is not None
    assert "over" in problem


def test_a_record_of_the_wrong_shape_does_not_make_a_value_acm_syncs() -> None:
    # A crafted record claiming the hand-written value, with names of the wrong type: had it
    # been read as acm-sync's (names dropped), the hand-written value would be overwritten.
    for crafted in (
        record(names={"a": 1}),
        record(names=["a", 7]),
        record(names=["Not_A_Name"]),
        record(names=[f"n{i}" for i in range(LIMIT + 1)]),
        record(earlier=["x"]),
    ):
        wired, problem = Wired.read(crafted)
        assert wired is None, crafted
        assert problem, crafted
        plan = plan_wiring(["a"], HAND, wired, {"a": synced(A1)}, KEY, NOW)
        assert not plan.write
        assert [b for b, _ in plan.blocked] == [Blocker.FOREIGN]


def test_a_record_time_that_is_not_rfc3339_is_dropped() -> None:
    # status.consumers[].wiredAt is a date-time in the CRD: the API server refuses anything
    # else, and with it every write of that AcmCertificate's consumers.
    for at in ("not-a-time", "2026-13-40T99:00:00Z", 12, "2026-12-07T10:00:00Z" + "0" * 50):
        wired = Wired.read(record(at=at))[0]
        assert wired is not None
        assert wired.at == ""
    assert Wired.read(record())[0] == Wired(value=HAND, names=("a",), earlier=None, at=NOW)


def test_more_names_than_a_load_balancer_serves_block_and_keep_what_is_there() -> None:
    names = [f"c{i}" for i in range(LIMIT + 1)]
    states = {n: synced(f"{A1}-{n}") for n in names}
    wired = Wired(value=A1, names=("c0",))
    plan = plan_wiring(names, A1, wired, states, KEY, NOW)
    assert not plan.write  # A1 stays in service
    assert [b for b, _ in plan.blocked] == [Blocker.TOO_MANY]
    assert f"more than {LIMIT}" in plan.blocked[0][1]
    assert plan_wiring(names[:LIMIT], None, None, states, KEY, NOW).write


def test_a_names_list_of_ten_thousand_keeps_one_over_the_limit() -> None:
    text = ",".join(f"c{i % 5000}" for i in range(10_000))  # duplicates too
    names = parse_names(text, LIMIT + 1)
    assert names == tuple(f"c{i}" for i in range(LIMIT + 1))
    assert parse_names(" b, a,b ,, ") == ("b", "a")


def test_a_name_that_cannot_be_an_acmcertificate_is_named_shortly() -> None:
    long = "x" * 100_000
    plan = plan_wiring(["ok", long, "UPPER", "a/b", "c_d"], None, None, {}, KEY, NOW)
    assert not plan.write
    [(blocker, message)] = plan.blocked
    assert blocker is Blocker.INVALID_NAME
    assert len(message) < 300
    assert "'UPPER'" in message
    assert "and 1 more" in message


def test_status_consumers_are_bounded_and_every_arn_stays_listed() -> None:
    limit = DEFAULT_WIRING_LIMITS.status_consumers
    # 10,000 Ingresses on A1, one on the previous ARN A2 sorting last, and crafted ARNs.
    entries = [{"name": f"i{i:05}", "arn": A1} for i in range(10_000)]
    entries += [{"name": f"j{i:05}", "arn": f"{HAND}-{i}"} for i in range(2 * limit)]
    entries += [{"name": "zz", "arn": A2}]
    kept, omitted = bounded_consumers(entries, own={A1, A2})
    assert len(kept) == limit
    assert omitted == len(entries) - limit
    arns = {e["arn"] for e in kept}
    assert {A1, A2} <= arns  # what keeps them from deletion is kept first
    assert kept == sorted(kept, key=lambda e: e["name"])  # in the order given
    small = entries[:3]
    assert bounded_consumers(small, own=set()) == (small, 0)


def test_a_foreign_arn_in_held_neither_blocks_nor_keeps_this_objects_own() -> None:
    # status.consumers only ever holds back this object's own recorded ARNs: an ARN of
    # another namespace's certificate listed there (even if someone could write the status)
    # changes nothing about what this object deletes, and nothing about the other object.
    owner = Owner("c-1", "ns-a", "app")
    own = RegionRecord("us-east-1", A1, "fp")
    observation = DeletionObservation({A1: owner.system_tags()})
    result = plan_deletion(owner, own, observation, frozenset({A2}))
    assert result.actions == (Delete(A1),)
