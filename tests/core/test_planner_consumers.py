"""ARNs a wired consumer names are never deleted, and an ImportNew's previous ARN is retired
once nothing names it (pure: no emulator, no AWS).

``held`` is the set of ARNs ``status.consumers[]`` names: the load balancers acm-sync wired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from acm_sync.core.deletion_planner import DeletionObservation, plan_deletion, plan_retirement
from acm_sync.core.planner import Blocked, Delete, Noop, Observe, ObservedCertificate
from acm_sync.core.reasons import Reason
from acm_sync.core.state import DeletionPolicy, Owner, RegionRecord

OWNER = Owner("c-1", "ns", "app")
OTHER = Owner("c-2", "ns", "app")
NEW = "arn:aws:acm:us-east-1:123456789012:certificate/aaaa-1111"
PREV = "arn:aws:acm:us-east-1:123456789012:certificate/bbbb-2222"
FOUND = "arn:aws:acm:us-east-1:123456789012:certificate/cccc-3333"
ELSEWHERE = "arn:aws:acm:eu-west-1:123456789012:certificate/bbbb-2222"
OURS = OWNER.system_tags()
THEIRS = OTHER.system_tags()

SWITCHED = RegionRecord("us-east-1", NEW, "fp", previous_arn=PREV)
NO_PREVIOUS = RegionRecord("us-east-1", NEW, "fp")


def waits(plan_actions: tuple[Any, ...]) -> bool:
    return len(plan_actions) == 1 and (
        isinstance(plan_actions[0], Blocked) and plan_actions[0].code == Reason.IN_USE_BY_CONSUMER
    )


# ----- deletion (finalizer, a pair dropped from the spec) -----


@pytest.mark.parametrize(
    ("record", "held"),
    [
        pytest.param(NO_PREVIOUS, {NEW}, id="current-named"),
        pytest.param(SWITCHED, {PREV}, id="previous-named"),
        pytest.param(SWITCHED, {NEW}, id="current-named-previous-free"),
    ],
)
def test_a_pair_whose_arn_a_consumer_names_deletes_nothing(
    record: RegionRecord, held: set[str]
) -> None:
    # Even with every tag already read and proving the certificates ours.
    observation = DeletionObservation({NEW: OURS, PREV: OURS})
    result = plan_deletion(OWNER, record, observation, frozenset(held))
    assert waits(result.actions)
    assert not any(isinstance(a, Delete) for a in result.actions)
    assert next(iter(held)) in result.actions[0].message  # type: ignore[union-attr]


def test_an_arn_found_by_owner_tag_that_a_consumer_names_is_not_deleted() -> None:
    found = ObservedCertificate(
        arn=FOUND, key_algorithm="RSA_2048", tags=OURS, imported_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    observation = DeletionObservation({}, (found,))
    result = plan_deletion(OWNER, RegionRecord("us-east-1"), observation, frozenset({FOUND}))
    assert waits(result.actions)


def test_once_no_consumer_names_them_the_arns_are_deleted_as_before() -> None:
    observation = DeletionObservation({NEW: OURS, PREV: OURS})
    # Other ARNs named (another object's, another region's) hold nothing of this pair.
    result = plan_deletion(OWNER, SWITCHED, observation, frozenset({FOUND, ELSEWHERE}))
    assert result.actions == (Delete(NEW), Delete(PREV))


# ----- retirement of the previous ARN after a sync -----


@dataclass(frozen=True)
class Case:
    id: str
    record: RegionRecord
    tags: dict[str, dict[str, str] | None]
    expected: tuple[Any, ...]
    policy: DeletionPolicy = DeletionPolicy.DELETE
    synced: bool = True
    held: frozenset[str] = frozenset()


CASES = [
    Case("retain-keeps-it", SWITCHED, {PREV: OURS}, (), policy=DeletionPolicy.RETAIN),
    Case("new-arn-not-synced-yet", SWITCHED, {PREV: OURS}, (), synced=False),
    Case("no-previous", NO_PREVIOUS, {}, ()),
    Case("previous-is-current", RegionRecord("us-east-1", NEW, previous_arn=NEW), {}, ()),
    Case("tags-read-first", SWITCHED, {}, (Observe(PREV),)),
    Case("ours-and-free-deleted", SWITCHED, {PREV: OURS}, (Delete(PREV),)),
    Case("gone-forgotten", SWITCHED, {PREV: None}, (Noop(PREV),)),
    Case("not-ours-forgotten-not-deleted", SWITCHED, {PREV: THEIRS}, (Noop(PREV),)),
    Case(
        "not-an-arn-of-the-region-forgotten",
        RegionRecord("us-east-1", NEW, previous_arn=ELSEWHERE),
        {},
        (Noop(ELSEWHERE),),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_retirement(case: Case) -> None:
    result = plan_retirement(
        OWNER,
        case.record,
        DeletionObservation(case.tags),
        policy=case.policy,
        synced=case.synced,
        held=case.held,
    )
    assert result.actions == case.expected


def test_a_previous_arn_a_consumer_still_names_waits_without_a_read() -> None:
    result = plan_retirement(
        OWNER,
        SWITCHED,
        DeletionObservation(),
        policy=DeletionPolicy.DELETE,
        synced=True,
        held=frozenset({PREV}),
    )
    assert waits(result.actions)


def test_a_consumer_naming_only_the_new_arn_frees_the_previous_one() -> None:
    result = plan_retirement(
        OWNER,
        SWITCHED,
        DeletionObservation({PREV: OURS}),
        policy=DeletionPolicy.DELETE,
        synced=True,
        held=frozenset({NEW}),
    )
    assert result.actions == (Delete(PREV),)


def test_a_foreign_previous_arn_is_forgotten_with_the_reason() -> None:
    result = plan_retirement(
        OWNER,
        SWITCHED,
        DeletionObservation({PREV: THEIRS}),
        policy=DeletionPolicy.DELETE,
        synced=True,
    )
    assert any("will not delete" in n for n in result.notes), result.notes
