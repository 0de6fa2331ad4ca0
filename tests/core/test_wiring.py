"""What wiring writes on an Ingress or Service, given its annotations and the pairs' states."""

from __future__ import annotations

from acm_sync.core.reasons import EventReason
from acm_sync.core.wiring import Blocker, PairState, Wired, parse_names, plan_wiring

KEY = "alb.ingress.kubernetes.io/certificate-arn"
NOW = "2026-12-07T10:00:00Z"
A1 = "arn:aws:acm:us-east-1:123456789012:certificate/a1"
A2 = "arn:aws:acm:us-east-1:123456789012:certificate/a2"
B1 = "arn:aws:acm:us-east-1:123456789012:certificate/b1"
HAND = "arn:aws:acm:us-east-1:123456789012:certificate/by-hand"


def synced(arn: str) -> PairState:
    return PairState(arn=arn, synced=True)


def test_names_in_order_become_comma_separated_arns() -> None:
    plan = plan_wiring(["b", "a"], None, None, {"a": synced(A1), "b": synced(B1)}, KEY, NOW)
    assert plan.write
    assert plan.value == f"{B1},{A1}"
    assert plan.wired == Wired(value=f"{B1},{A1}", names=("b", "a"), earlier=None, at=NOW)
    assert plan.event_reason is EventReason.CERTIFICATE_WIRED


def test_the_same_arn_after_a_renewal_writes_nothing() -> None:
    wired = Wired(value=A1, names=("a",), at="earlier")
    plan = plan_wiring(["a"], A1, wired, {"a": synced(A1)}, KEY, NOW)
    assert not plan.write
    assert plan.event_reason is None


def test_a_new_arn_is_taken_only_once_synced() -> None:
    wired = Wired(value=A1, names=("a",))
    pending = plan_wiring(["a"], A1, wired, {"a": PairState(arn=A2, synced=False)}, KEY, NOW)
    assert not pending.write  # the old ARN stays in service
    assert [b for b, _ in pending.blocked] == [Blocker.NOT_SYNCED]
    switched = plan_wiring(["a"], A1, wired, {"a": synced(A2)}, KEY, NOW)
    assert switched.write
    assert switched.value == A2


def test_one_name_switching_keeps_the_others_and_the_earlier_value() -> None:
    wired = Wired(value=f"{A1},{B1}", names=("a", "b"), earlier=HAND)
    states = {"a": PairState(arn=A2, synced=False), "b": synced(B1)}
    assert not plan_wiring(["a", "b"], f"{A1},{B1}", wired, states, KEY, NOW).write
    plan = plan_wiring(["a", "b"], f"{A1},{B1}", wired, {**states, "a": synced(A2)}, KEY, NOW)
    assert plan.value == f"{A2},{B1}"
    assert plan.wired is not None
    assert plan.wired.earlier == HAND


def test_a_value_acm_sync_did_not_write_is_never_overwritten() -> None:
    plan = plan_wiring(["a"], HAND, None, {"a": synced(A1)}, KEY, NOW)
    assert not plan.write
    assert [b for b, _ in plan.blocked] == [Blocker.FOREIGN]
    assert plan.event_reason is EventReason.WIRING_BLOCKED
    # Edited by someone after acm-sync wrote it: theirs now.
    edited = plan_wiring(["a"], HAND, Wired(value=A1, names=("a",)), {"a": synced(A2)}, KEY, NOW)
    assert not edited.write
    assert edited.blocked[0][0] is Blocker.FOREIGN


def test_a_hand_copied_arn_equal_to_the_one_wired_is_taken_over_and_given_back() -> None:
    plan = plan_wiring(["a"], A1, None, {"a": synced(A1)}, KEY, NOW)
    assert plan.write
    assert plan.value == A1
    assert plan.wired is not None
    assert plan.wired.earlier == A1
    after_import_new = plan_wiring(["a"], A1, plan.wired, {"a": synced(A2)}, KEY, NOW)
    assert after_import_new.value == A2
    assert after_import_new.wired is not None
    opt_out = plan_wiring([], A2, after_import_new.wired, {}, KEY, NOW)
    assert opt_out.write
    assert opt_out.value == A1
    assert opt_out.wired is None


def test_opting_out_removes_only_what_acm_sync_wrote() -> None:
    wired = Wired(value=A1, names=("a",))
    removed = plan_wiring([], A1, wired, {}, KEY, NOW)
    assert removed.write
    assert removed.value is None
    assert removed.wired is None
    kept = plan_wiring([], HAND, wired, {}, KEY, NOW)  # someone changed it since
    assert kept.write
    assert kept.value == HAND
    assert kept.wired is None
    assert not plan_wiring([], HAND, None, {}, KEY, NOW).write


def test_unknown_or_never_synced_certificates_block_without_a_partial_write() -> None:
    plan = plan_wiring(["a", "nope"], None, None, {"a": synced(A1)}, KEY, NOW)
    assert not plan.write
    assert [b for b, _ in plan.blocked] == [Blocker.UNKNOWN]
    assert "nope" in plan.blocked[0][1]
    never = plan_wiring(["a"], None, None, {"a": PairState(arn=None, synced=False)}, KEY, NOW)
    assert not never.write
    assert never.blocked[0][0] is Blocker.NOT_SYNCED


def test_the_record_survives_its_annotation_text() -> None:
    wired = Wired(value=f"{A1},{B1}", names=("a", "b"), earlier=HAND, at=NOW)
    assert Wired.read(wired.to_text())[0] == wired
    assert wired.arn_of("b") == B1
    assert wired.arn_of("c") is None
    for junk in (None, "", "{", "[]", '{"value": 3}'):
        assert Wired.read(junk)[0] is None


def test_names_are_unique_and_trimmed() -> None:
    assert parse_names(" a, b,,a ") == ("a", "b")
    assert parse_names(None) == ()
