"""Engines for other accounts (AcmTargets) against the emulator's STS and per-account ACM."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from acm_sync.aws.credentials import TargetSessions, session_name
from acm_sync.aws.engine import Engine
from acm_sync.aws.target_engines import TargetEngines
from acm_sync.core.state import Owner, RegionRecord, RegionState
from acm_sync.core.targets import RoleTarget
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import OWNER, desired_for, fast_settings
from tests.certkit import leaf

ROLE = "arn:aws:iam::222233334444:role/acm-sync-importer"
EDGE = RoleTarget("edge", ROLE, "edge-xid")


@pytest.fixture
def targets(acm: AcmEmulator) -> Iterator[TargetEngines]:
    engines = TargetEngines(fast_settings(acm.url), "c-1234")
    yield engines
    engines.close()


def test_a_target_imports_into_its_account_only(
    acm: AcmEmulator, engine: Engine, targets: TargetEngines
) -> None:
    acm.trust_role(ROLE, "edge-xid")
    material = leaf()
    own = engine.sync(desired_for(material, ("eu-west-1",)), material, {})
    edge = targets.engine(EDGE).sync(
        desired_for(material, ("us-east-1",), target="edge"), material, {}
    )
    assert own["eu-west-1"].state is RegionState.SYNCED
    assert edge["us-east-1"].state is RegionState.SYNCED
    assert ":222233334444:" in str(edge["us-east-1"].arn)
    assert ":123456789012:" in str(own["eu-west-1"].arn)
    (stored,) = acm.certificates(account="222233334444")
    assert stored["region"] == "us-east-1"
    assert stored["tags"]["acmsync.io/target"] == "edge"
    assert stored["tags"]["acmsync.io/owner"] == "c-1234/web/shop"
    (mine,) = acm.certificates(account="123456789012")
    assert "acmsync.io/target" not in mine["tags"]
    # The session named the cluster and carried the AcmCertificate's namespace and name.
    (session,) = acm.sessions()
    assert session["session_name"] == session_name("c-1234") == "acm-sync-c-1234"
    assert session["tags"] == {
        "acmsync.io/cluster": "c-1234",
        "acmsync.io/namespace": "web",
        "acmsync.io/name": "shop",
    }
    assert session["external_id_sent"]


def test_rotation_reuses_the_arn_and_the_cached_credentials(
    acm: AcmEmulator, targets: TargetEngines
) -> None:
    acm.trust_role(ROLE, "edge-xid")
    engine = targets.engine(EDGE)
    first = leaf()
    outcome = engine.sync(desired_for(first, target="edge"), first, {})["us-east-1"]
    second = leaf()
    again = engine.sync(
        desired_for(second, target="edge"), second, {"us-east-1": outcome.record()}
    )["us-east-1"]
    assert again.arn == outcome.arn
    assert again.reason == "Reimported"
    assert len(acm.sessions()) == 1  # assumed once, reused
    (stored,) = acm.certificates(account="222233334444")
    assert stored["serial"] != ""


def test_each_certificate_gets_its_own_session_tags(
    acm: AcmEmulator, targets: TargetEngines
) -> None:
    acm.trust_role(ROLE, "edge-xid")
    engine = targets.engine(EDGE)
    for name in ("a", "b"):
        material = leaf()
        owner = Owner("c-1234", "shop", name)
        engine.sync(desired_for(material, owner=owner, target="edge"), material, {})
    assert sorted(s["tags"]["acmsync.io/name"] for s in acm.sessions()) == ["a", "b"]


def test_a_role_that_cannot_be_assumed_fails_only_its_pairs(
    acm: AcmEmulator, engine: Engine, targets: TargetEngines
) -> None:
    acm.trust_role(ROLE, "another-xid")
    material = leaf()
    edge = targets.engine(EDGE).sync(
        desired_for(material, ("us-east-1", "eu-west-1"), target="edge"), material, {}
    )
    for outcome in edge.values():
        assert outcome.state is RegionState.PENDING
        assert outcome.reason == "AssumeRoleFailed"
        assert ROLE in outcome.message
        assert outcome.retry_after
    assert acm.calls() == []  # no ACM call at all
    assert "not authorized to perform: sts:AssumeRole" in str(targets.check(EDGE))
    own = engine.sync(desired_for(material, ("eu-west-1",)), material, {})
    assert own["eu-west-1"].state is RegionState.SYNCED


def test_the_allowlist_refuses_without_asking_sts(acm: AcmEmulator) -> None:
    acm.trust_role(ROLE, "edge-xid")
    engines = TargetEngines(fast_settings(acm.url), "c-1234", ["arn:aws:iam::*:role/other-*"])
    try:
        material = leaf()
        outcome = engines.engine(EDGE).sync(desired_for(material, target="edge"), material, {})[
            "us-east-1"
        ]
        assert outcome.reason == "AssumeRoleFailed"
        assert "allowed role ARNs" in outcome.message
        assert acm.sessions() == []
    finally:
        engines.close()


def test_expired_credentials_are_refreshed(acm: AcmEmulator) -> None:
    acm.trust_role(ROLE)
    acm.sts.set_duration(1)  # botocore refreshes within 15 minutes of expiry: at every call
    target = RoleTarget("edge", ROLE)
    engines = TargetEngines(fast_settings(acm.url), "c-1234")
    try:
        engine = engines.engine(target)
        material = leaf()
        first = engine.sync(desired_for(material, target="edge"), material, {})["us-east-1"]
        acm.sts.expire_sessions()
        records = {"us-east-1": replace(first.record(), fingerprint=None)}
        again = engine.sync(desired_for(material, target="edge"), material, records)["us-east-1"]
        assert again.state is RegionState.SYNCED, again.message
        assert len(acm.sessions()) >= 2
    finally:
        engines.close()


def test_deletion_and_lookup_work_in_the_target_account(
    acm: AcmEmulator, targets: TargetEngines
) -> None:
    acm.trust_role(ROLE, "edge-xid")
    engine = targets.engine(EDGE)
    material = leaf()
    engine.sync(desired_for(material, target="edge"), material, {})
    # No ARN recorded (a lost status write): deletion finds it by owner tag in that account.
    deleted = engine.delete(OWNER, {"us-east-1": RegionRecord("us-east-1")})
    assert deleted["us-east-1"].state is RegionState.SYNCED
    assert acm.certificates(account="222233334444") == []


def test_session_source_is_per_target(acm: AcmEmulator) -> None:
    acm.trust_role(ROLE)
    sessions = TargetSessions(RoleTarget("edge", ROLE), fast_settings(acm.url), "c 1/x")
    sessions.check()
    assert acm.sessions()[0]["session_name"] == "acm-sync-c-1-x"


def test_a_role_that_stops_being_assumable_fails_its_pairs_at_the_next_refresh(
    acm: AcmEmulator,
) -> None:
    acm.trust_role(ROLE)
    target = RoleTarget("edge", ROLE)
    engines = TargetEngines(fast_settings(acm.url), "c-1234")
    try:
        engine = engines.engine(target)
        material = leaf()
        first = engine.sync(desired_for(material, target="edge"), material, {})["us-east-1"]
        assert first.state is RegionState.SYNCED
        acm.distrust_role(ROLE)
        acm.sts.expire_sessions()  # the cached credentials must be refreshed: STS refuses
        records = {"us-east-1": replace(first.record(), fingerprint=None)}
        failed = engine.sync(desired_for(material, target="edge"), material, records)["us-east-1"]
        assert failed.state is RegionState.PENDING
        assert failed.reason == "AssumeRoleFailed"
        assert failed.arn == first.arn  # the record is kept for the retry
        assert failed.retry_after
        assert "not authorized" in str(engines.check(target))
        acm.trust_role(ROLE)
        assert engines.check(target) is None
        again = engine.sync(desired_for(material, target="edge"), material, records)["us-east-1"]
        assert again.state is RegionState.SYNCED
        assert again.arn == first.arn
    finally:
        engines.close()
