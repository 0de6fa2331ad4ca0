"""Delete under deletionPolicy Delete: recorded ARNs, certificates only the owner tag knows
about (an import whose status write was lost), what is never deleted, and in-use messages."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import timedelta

from acm_sync.aws import DriftKind
from acm_sync.aws.engine import Engine
from acm_sync.core.model import Material
from acm_sync.core.state import OWNER_TAG, Owner, RegionRecord, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import OWNER, desired_for, fast_settings
from tests.certkit import leaf

NOTHING = {"us-east-1": RegionRecord("us-east-1")}  # a region in the spec, never recorded


def _by_hand(
    acm: AcmEmulator, material: Material, tags: dict[str, str], region: str = "us-east-1"
) -> str:
    params: dict[str, object] = {
        "Certificate": base64.b64encode(material.certificate).decode(),
        "PrivateKey": base64.b64encode(material.private_key).decode(),
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    return str(acm.acm.handle(region, "ImportCertificate", params)["CertificateArn"])


def _orphan(acm: AcmEmulator, algorithm: str = "RSA_2048") -> str:
    """A certificate imported with acm-sync's tags whose outcome never reached the status."""
    return _by_hand(acm, leaf(algorithm), OWNER.system_tags())


def _arns(acm: AcmEmulator) -> set[str]:
    return {c["arn"] for c in acm.certificates()}


def test_delete_without_a_record_finds_the_certificate_by_owner_tag(
    acm: AcmEmulator, engine: Engine
) -> None:
    orphans = {_orphan(acm, "RSA_2048"), _orphan(acm, "EC_secp384r1")}
    other_owner = _by_hand(acm, leaf(), Owner("c-1234", "web", "shop2").system_tags())
    untagged = _by_hand(acm, leaf(), {"team": "payments"})
    # Our owner tag copied by hand, without the managed-by tag: not acm-sync's doing.
    copied = _by_hand(acm, leaf(), {OWNER_TAG: OWNER.tag_value})

    outcome = engine.delete(OWNER, NOTHING)["us-east-1"]

    assert outcome.state is RegionState.SYNCED
    assert outcome.reason == "Deleted"
    assert outcome.wrote
    assert all(arn in outcome.message for arn in orphans)
    assert "found by owner tag" in outcome.message
    assert copied in outcome.message  # named as left alone
    assert _arns(acm) == {other_owner, untagged, copied}


def test_delete_looks_up_when_the_recorded_certificate_is_gone(
    acm: AcmEmulator, engine: Engine
) -> None:
    recorded = _orphan(acm)
    acm.acm.handle("us-east-1", "DeleteCertificate", {"CertificateArn": recorded})
    newer = _orphan(acm)  # e.g. recreated, and that status write was lost

    outcome = engine.delete(OWNER, {"us-east-1": RegionRecord("us-east-1", arn=recorded)})

    assert outcome["us-east-1"].reason == "Deleted"
    assert newer in outcome["us-east-1"].message
    assert f"already gone: {recorded}" in outcome["us-east-1"].message
    assert acm.certificates() == []


def test_delete_with_a_recorded_certificate_makes_no_lookup(
    acm: AcmEmulator, engine: Engine
) -> None:
    material = leaf()
    record = engine.sync(desired_for(material), material, {})["us-east-1"].record()
    since = len(acm.calls())

    outcome = engine.delete(OWNER, {"us-east-1": record})["us-east-1"]

    assert outcome.reason == "Deleted"
    apis = [c["api"] for c in acm.calls()[since:]]
    assert apis == ["ListTagsForCertificate", "DeleteCertificate"]


def test_delete_with_nothing_anywhere_costs_one_list_per_region(
    acm: AcmEmulator, engine: Engine
) -> None:
    records = {r: RegionRecord(r) for r in ("us-east-1", "eu-west-1")}

    outcomes = engine.delete(OWNER, records)

    assert {o.reason for o in outcomes.values()} == {"NotFound"}
    assert all(o.state is RegionState.SYNCED and not o.wrote for o in outcomes.values())
    # One owner-tag lookup a region: the Tagging API's GetResources (docs/aws-facts.md).
    assert sorted((c["region"], c["api"]) for c in acm.calls()) == [
        ("eu-west-1", "GetResources"),
        ("us-east-1", "GetResources"),
    ]


def test_in_use_message_says_by_what_bounded(acm: AcmEmulator, engine: Engine) -> None:
    material = leaf()
    record = engine.sync(desired_for(material), material, {})["us-east-1"].record()
    assert record.arn is not None
    acm.set_in_use(record.arn, users=5)
    users = acm.acm.handle("us-east-1", "DescribeCertificate", {"CertificateArn": record.arn})[
        "Certificate"
    ]["InUseBy"]

    outcome = engine.delete(OWNER, {"us-east-1": record})["us-east-1"]

    assert outcome.state is RegionState.PENDING
    assert outcome.reason == "ResourceInUse"
    assert all(user in outcome.message for user in users[:3])
    assert users[3] not in outcome.message
    assert "and 2 more" in outcome.message
    assert outcome.arn == record.arn


def test_an_orphan_in_use_is_recorded_for_the_next_attempt(
    acm: AcmEmulator, engine: Engine
) -> None:
    orphan = _orphan(acm)
    acm.set_in_use(orphan)

    pending = engine.delete(OWNER, NOTHING)["us-east-1"]

    assert pending.state is RegionState.PENDING
    assert pending.arn == orphan
    assert "loadbalancer" in pending.message
    acm.set_in_use(orphan, False)
    done = engine.delete(OWNER, {"us-east-1": pending.record()})["us-east-1"]
    assert done.reason == "Deleted"
    assert acm.certificates() == []


def test_sweep_sees_a_reimport_in_the_next_second(acm: AcmEmulator, engine: Engine) -> None:
    # A record 0.4 s before what ACM now reports: ACM's clock has moved to another second,
    # so ImportedAt changed; within one second of tolerance this went unseen.
    material = leaf()
    record = engine.sync(desired_for(material), material, {})["us-east-1"].record()
    assert record.imported_at is not None
    earlier = replace(record, imported_at=record.imported_at - timedelta(seconds=0.4))

    drifts = engine.sweep("us-east-1", [(OWNER, earlier)])

    assert [d.kind for d in drifts] == [DriftKind.REIMPORTED]
    assert engine.sweep("us-east-1", [(OWNER, record)]) == []


def test_a_recorded_certificate_without_the_managed_by_tag_is_not_deleted(
    acm: AcmEmulator, engine: Engine
) -> None:
    # The owner tag alone, set by hand: the record points at it, but acm-sync never made it.
    copied = _by_hand(acm, leaf(), {OWNER_TAG: OWNER.tag_value})

    outcome = engine.delete(OWNER, {"us-east-1": RegionRecord("us-east-1", arn=copied)})

    assert outcome["us-east-1"].state is RegionState.BLOCKED
    assert outcome["us-east-1"].reason == "ForeignCertificate"
    assert "acmsync.io/managed-by" in outcome["us-east-1"].message
    assert _arns(acm) == {copied}


def test_a_recorded_certificate_deleted_meanwhile_still_gets_the_lookup(
    acm: AcmEmulator,
) -> None:
    recorded = _orphan(acm)
    newer = _orphan(acm)  # the status write of a later import was lost
    vanish = [recorded]

    def behind_our_back(api: str, region: str, outcome: str) -> None:
        # Between reading the recorded ARN's tags and deleting it, someone deletes it.
        if api == "ListTagsForCertificate" and vanish:
            acm.acm.handle(region, "DeleteCertificate", {"CertificateArn": vanish.pop()})

    engine = Engine(fast_settings(acm.url), behind_our_back)
    try:
        outcome = engine.delete(OWNER, {"us-east-1": RegionRecord("us-east-1", arn=recorded)})
    finally:
        engine.close()

    assert outcome["us-east-1"].reason == "Deleted"
    assert newer in outcome["us-east-1"].message
    assert f"already gone: {recorded}" in outcome["us-east-1"].message
    assert acm.certificates() == []
