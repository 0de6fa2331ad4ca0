"""Fencing: no ACM write leaves the engine once its write guard says this replica may not write.

A leader that lost its Lease still has work running in the engine's threads (rate-limiter
waits, read timeouts, retries); the write guard is asked right before every write request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from acm_sync.aws.engine import Engine
from acm_sync.core.state import DeletionPolicy, RegionRecord, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import desired_for, fast_settings
from tests.certkit import leaf

WRITES = {
    "ImportCertificate",
    "DeleteCertificate",
    "AddTagsToCertificate",
    "RemoveTagsFromCertificate",
}


class Guard:
    """A write guard the test flips; optionally flips itself when the engine makes a call."""

    def __init__(self, flip_on: str | None = None) -> None:
        self.leader = threading.Event()
        self.leader.set()
        self.flip_on = flip_on

    def __call__(self) -> bool:
        return self.leader.is_set()

    def observe(self, api: str, region: str, outcome: str) -> None:
        """The engine's call observer: leadership is lost right after the ``flip_on`` call."""
        if api == self.flip_on:
            self.leader.clear()


@pytest.fixture
def fenced(acm: AcmEmulator) -> Iterator[tuple[Engine, Guard]]:
    guard = Guard()
    engine = Engine(fast_settings(acm.url, write_guard=guard), observer=guard.observe)
    yield engine, guard
    engine.close()


def _writes(acm: AcmEmulator, after: int = 0) -> list[str]:
    return [c["api"] for c in acm.calls()[after:] if c["api"] in WRITES]


def test_leadership_lost_mid_sync_sends_no_import_and_says_not_leader(
    acm: AcmEmulator, fenced: tuple[Engine, Guard]
) -> None:
    engine, guard = fenced
    guard.flip_on = "GetResources"  # lost while the engine looked up by owner tag
    material = leaf()

    outcome = engine.sync(desired_for(material, ("us-east-1", "eu-west-1")), material, {})

    apis = [c["api"] for c in acm.calls()]
    assert "GetResources" in apis  # the sync did run up to its import
    assert "ImportCertificate" not in apis
    assert acm.certificates() == []
    for region_outcome in outcome.values():
        assert region_outcome.state is RegionState.PENDING
        assert region_outcome.reason == "NotLeader"
        assert region_outcome.retry_after is not None
        assert not region_outcome.wrote
    # Refused writes are not AWS calls: nothing is counted for them.
    assert not [key for key in engine.call_counts() if key[0] == "ImportCertificate"]


def test_no_reimport_tag_change_or_delete_after_leadership_is_lost(
    acm: AcmEmulator, fenced: tuple[Engine, Guard]
) -> None:
    engine, guard = fenced
    first = leaf()
    synced = engine.sync(desired_for(first, tags={"team": "web"}), first, {})["us-east-1"]
    assert synced.state is RegionState.SYNCED  # while leading, writes go through
    records = {"us-east-1": synced.record()}
    (stored,) = acm.certificates()
    seen = len(acm.calls())
    guard.leader.clear()

    renewed = leaf()
    rotation = engine.sync(desired_for(renewed, tags={"team": "web"}), renewed, records)
    retag = engine.sync(desired_for(first, tags={"team": "ops"}), first, records)
    deletion = engine.delete(desired_for(first).owner, records)

    assert _writes(acm, seen) == []
    for outcome in (rotation, retag, deletion):
        assert outcome["us-east-1"].state is RegionState.PENDING
        assert outcome["us-east-1"].reason == "NotLeader"
        # What the status records is unchanged: the next leader starts from the truth.
        assert outcome["us-east-1"].arn == stored["arn"]
    assert [c["arn"] for c in acm.certificates()] == [stored["arn"]]


def test_a_guard_that_allows_writes_changes_nothing(
    acm: AcmEmulator, fenced: tuple[Engine, Guard]
) -> None:
    engine, _ = fenced
    material = leaf()
    desired = desired_for(material, deletion_policy=DeletionPolicy.DELETE)

    synced = engine.sync(desired, material, {})["us-east-1"]
    deleted = engine.delete(desired.owner, {"us-east-1": RegionRecord("us-east-1")})

    assert synced.reason == "Imported"
    assert deleted["us-east-1"].reason == "Deleted"
    assert _writes(acm) == ["ImportCertificate", "DeleteCertificate"]
