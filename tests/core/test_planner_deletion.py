"""Every deletion planner rule, table-driven (pure: no emulator, no AWS).

Only a certificate whose owner tag is exactly this owner's and whose managed-by tag is
acm-sync's is ever deleted; everything else is blocked (recorded) or left alone (found).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from acm_sync.core.deletion_planner import DeletionObservation, plan_deletion
from acm_sync.core.planner import (
    Blocked,
    Delete,
    Lookup,
    Noop,
    Observe,
    ObservedCertificate,
)
from acm_sync.core.state import MANAGED_BY_TAG, OWNER_TAG, Owner, RegionRecord

OWNER = Owner("c-1", "ns", "app")
OTHER = Owner("c-2", "ns", "app")
ARN = "arn:aws:acm:us-east-1:123456789012:certificate/aaaa-1111"
PREV = "arn:aws:acm:us-east-1:123456789012:certificate/bbbb-2222"
FOUND = "arn:aws:acm:us-east-1:123456789012:certificate/cccc-3333"
FOUND2 = "arn:aws:acm:us-east-1:123456789012:certificate/dddd-4444"
OURS = OWNER.system_tags()
# An adopted certificate: the engine tagged it with the full desired set after adoption.
ADOPTED = {"team": "web", "legacy": "1", **OURS}
THEIRS = OTHER.system_tags()
COPIED = {OWNER_TAG: OWNER.tag_value}  # our owner tag set by hand, without managed-by
UNMANAGED = {k: v for k, v in OURS.items() if k != MANAGED_BY_TAG}
WRONG_MANAGER = {**OURS, MANAGED_BY_TAG: "terraform"}
PREFIX = {**OURS, OWNER_TAG: OWNER.tag_value + "-2"}  # c-1/ns/app-2: not c-1/ns/app

NONE = RegionRecord("us-east-1")
RECORDED = RegionRecord("us-east-1", ARN, "fp")
WITH_PREVIOUS = RegionRecord("us-east-1", ARN, "fp", previous_arn=PREV)
SAME_TWICE = RegionRecord("us-east-1", ARN, "fp", previous_arn=ARN)


def cert(arn: str, tags: Mapping[str, str] = OURS) -> ObservedCertificate:
    return ObservedCertificate(
        arn=arn, key_algorithm="RSA_2048", tags=tags, imported_at=datetime(2026, 1, 1, tzinfo=UTC)
    )


def seen(
    candidates: tuple[ObservedCertificate, ...] | None = None, **tags: Mapping[str, str] | None
) -> DeletionObservation:
    """``seen(arn=OURS, prev=None)``: the tags read per recorded ARN (None: gone)."""
    names = {"arn": ARN, "prev": PREV}
    return DeletionObservation({names[k]: v for k, v in tags.items()}, candidates)


@dataclass(frozen=True)
class Case:
    id: str
    record: RegionRecord
    observation: DeletionObservation
    expected: tuple[Any, ...]
    notes: tuple[str, ...] = field(default=())  # each must appear in some note


CASES = [
    # ----- nothing recorded: the owner tag is all there is to go by -----
    Case("no-record-looks-up", NONE, seen(), (Lookup(),)),
    Case("no-record-nothing-found", NONE, seen(()), ()),
    Case("no-record-ours-found", NONE, seen((cert(FOUND),)), (Delete(FOUND, found=True),)),
    Case(
        "no-record-several-found-all-deleted",
        NONE,
        seen((cert(FOUND), cert(FOUND2))),
        (Delete(FOUND, found=True), Delete(FOUND2, found=True)),
    ),
    Case(
        "no-record-copied-owner-tag-left-alone",
        NONE,
        seen((cert(FOUND, COPIED), cert(FOUND2))),
        (Delete(FOUND2, found=True),),
        notes=(f"left alone (owner tag but no {MANAGED_BY_TAG} tag): {FOUND}",),
    ),
    Case(
        "no-record-other-manager-left-alone",
        NONE,
        seen((cert(FOUND, WRONG_MANAGER),)),
        (),
        notes=(FOUND,),
    ),
    Case("no-record-another-owners-ignored", NONE, seen((cert(FOUND, THEIRS),)), ()),
    Case("no-record-untagged-ignored", NONE, seen((cert(FOUND, {}),)), ()),
    Case("no-record-owner-prefix-is-not-ours", NONE, seen((cert(FOUND, PREFIX),)), ()),
    # ----- a recorded ARN: its tags decide -----
    Case("recorded-is-read-first", RECORDED, seen(), (Observe(ARN),)),
    Case("recorded-ours-no-lookup", RECORDED, seen(arn=OURS), (Delete(ARN),)),
    Case("recorded-adopted-carries-our-tags", RECORDED, seen(arn=ADOPTED), (Delete(ARN),)),
    Case(
        "recorded-another-owner",
        RECORDED,
        seen(arn=THEIRS),
        (Blocked("ForeignCertificate", OTHER.tag_value),),
    ),
    Case(
        "recorded-untagged",
        RECORDED,
        seen(arn={"team": "web"}),
        (Blocked("ForeignCertificate", "nobody (untagged)"),),
    ),
    Case(
        "recorded-owner-tag-without-managed-by",
        RECORDED,
        seen(arn=UNMANAGED),
        (Blocked("ForeignCertificate", MANAGED_BY_TAG),),
    ),
    Case(
        "recorded-owner-prefix-is-not-ours",
        RECORDED,
        seen(arn=PREFIX),
        (Blocked("ForeignCertificate", PREFIX[OWNER_TAG]),),
    ),
    Case(
        "recorded-foreign-even-when-lookup-finds-ours",
        RECORDED,
        seen((cert(FOUND),), arn=THEIRS),
        (Blocked("ForeignCertificate", OTHER.tag_value),),
    ),
    # ----- the recorded ARN is gone: already gone, and look for what the record missed -----
    Case("recorded-gone-looks-up", RECORDED, seen(arn=None), (Lookup(),)),
    Case(
        "recorded-gone-nothing-found",
        RECORDED,
        seen((), arn=None),
        (Noop(ARN),),
        notes=(f"already gone: {ARN}",),
    ),
    Case(
        "recorded-gone-newer-found",
        RECORDED,
        seen((cert(FOUND),), arn=None),
        (Noop(ARN), Delete(FOUND, found=True)),
        notes=(f"already gone: {ARN}",),
    ),
    Case(
        "recorded-gone-lookup-still-lists-it",
        RECORDED,
        seen((cert(ARN),), arn=None),
        (Noop(ARN),),
    ),
    # ----- recorded and previous ARN -----
    Case("previous-read-after-recorded", WITH_PREVIOUS, seen(arn=OURS), (Observe(PREV),)),
    Case(
        "recorded-and-previous-ours",
        WITH_PREVIOUS,
        seen(arn=OURS, prev=OURS),
        (Delete(ARN), Delete(PREV)),
    ),
    Case(
        "previous-foreign-blocks-after-ours",
        WITH_PREVIOUS,
        seen(arn=OURS, prev=THEIRS),
        (Delete(ARN), Blocked("ForeignCertificate", PREV)),
    ),
    Case(
        "recorded-foreign-previous-never-read",
        WITH_PREVIOUS,
        seen(arn=THEIRS),
        (Blocked("ForeignCertificate", ARN),),
    ),
    Case(
        "previous-gone-no-lookup",
        WITH_PREVIOUS,
        seen(arn=OURS, prev=None),
        (Delete(ARN), Noop(PREV)),
        notes=(f"already gone: {PREV}",),
    ),
    Case(
        "both-gone-looks-up",
        WITH_PREVIOUS,
        seen(arn=None, prev=None),
        (Lookup(),),
    ),
    Case(
        "both-gone-found-by-owner-tag",
        WITH_PREVIOUS,
        seen((cert(PREV), cert(FOUND)), arn=None, prev=None),
        (Noop(ARN), Noop(PREV), Delete(FOUND, found=True)),
        notes=(f"already gone: {ARN}, {PREV}",),
    ),
    Case("same-arn-twice-deleted-once", SAME_TWICE, seen(arn=OURS), (Delete(ARN),)),
]


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, Blocked):
        # The message must name what makes the certificate someone else's.
        return (
            isinstance(actual, Blocked)
            and actual.code == expected.code
            and expected.message in actual.message
            and "will not delete" in actual.message
        )
    return bool(actual == expected)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_deletion_rule(case: Case) -> None:
    result = plan_deletion(OWNER, case.record, case.observation)

    assert len(result.actions) == len(case.expected), result.actions
    for actual, expected in zip(result.actions, case.expected, strict=True):
        assert _same(actual, expected), (actual, expected)
    for note in case.notes:
        assert any(note in said for said in result.notes), result.notes


@pytest.mark.parametrize("tags", [THEIRS, {}, COPIED, UNMANAGED, WRONG_MANAGER, PREFIX])
def test_nothing_foreign_is_ever_deleted(tags: Mapping[str, str]) -> None:
    # Whatever the record and the lookup say, a certificate not proven ours gets no Delete.
    for record in (NONE, RECORDED, WITH_PREVIOUS):
        observation = seen((cert(FOUND, tags),), arn=None, prev=None)
        deleted = {
            a.arn
            for a in plan_deletion(OWNER, record, observation).actions
            if isinstance(a, Delete)
        }
        assert FOUND not in deleted
        blocked = plan_deletion(OWNER, RECORDED, seen(arn=tags)).actions
        assert [type(a) for a in blocked] == [Blocked]
