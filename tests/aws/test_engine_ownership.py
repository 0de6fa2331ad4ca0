"""Ownership, adoption, key changes, lookup across key types, delete and the drift sweep."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from acm_sync.aws import DriftKind
from acm_sync.aws.engine import Engine
from acm_sync.core.model import Material
from acm_sync.core.state import (
    OWNER_TAG,
    AdoptionMode,
    KeyChangePolicy,
    Owner,
    RegionRecord,
    RegionState,
)
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import OWNER, desired_for
from tests.certkit import leaf

WRITES = {
    "ImportCertificate",
    "AddTagsToCertificate",
    "RemoveTagsFromCertificate",
    "DeleteCertificate",
}


def _by_hand(acm: AcmEmulator, material: Material, tags: dict[str, str] | None = None) -> str:
    """A certificate imported outside acm-sync (for example by a human)."""
    params: dict[str, object] = {
        "Certificate": base64.b64encode(material.certificate).decode(),
        "PrivateKey": base64.b64encode(material.private_key).decode(),
    }
    if material.chain:
        params["CertificateChain"] = base64.b64encode(material.chain).decode()
    if tags:
        params["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return str(acm.acm.handle("us-east-1", "ImportCertificate", params)["CertificateArn"])


def _writes(acm: AcmEmulator, since: int = 0) -> list[str]:
    return [str(c["api"]) for c in acm.calls()[since:] if c["api"] in WRITES]


@pytest.mark.parametrize(
    "tags",
    [{OWNER_TAG: "other-cluster/web/shop"}, None],
    ids=["owned-by-another", "untagged-not-adopted"],
)
def test_foreign_certificate_is_never_touched(
    acm: AcmEmulator, engine: Engine, tags: dict[str, str] | None
) -> None:
    arn = _by_hand(acm, leaf(), tags)
    since = len(acm.calls())
    material = leaf()
    record = RegionRecord("us-east-1", arn=arn, fingerprint="old")

    outcome = engine.sync(desired_for(material), material, {"us-east-1": record})["us-east-1"]
    deleted = engine.delete(OWNER, {"us-east-1": record})["us-east-1"]

    assert outcome.state is RegionState.BLOCKED
    assert outcome.reason == "ForeignCertificate"
    assert deleted.state is RegionState.BLOCKED
    assert deleted.reason == "ForeignCertificate"
    assert _writes(acm, since) == []


def test_adopting_another_owners_certificate_is_refused(acm: AcmEmulator, engine: Engine) -> None:
    arn = _by_hand(acm, leaf(), {OWNER_TAG: "other-cluster/web/shop"})
    material = leaf()

    outcome = engine.sync(desired_for(material, adopt_arns={"us-east-1": arn}), material, {})[
        "us-east-1"
    ]

    assert outcome.reason == "ForeignCertificate"
    assert _writes(acm) == ["ImportCertificate"]  # only the hand-made import


def test_adoption_disabled(acm: AcmEmulator, make_engine: Callable[..., Engine]) -> None:
    arn = _by_hand(acm, leaf())
    material = leaf()
    engine = make_engine(adoption=AdoptionMode.OFF)

    outcome = engine.sync(desired_for(material, adopt_arns={"us-east-1": arn}), material, {})[
        "us-east-1"
    ]

    assert outcome.state is RegionState.BLOCKED
    assert outcome.reason == "AdoptionDisabled"


def test_key_change_blocked_by_default(acm: AcmEmulator, engine: Engine) -> None:
    rsa = leaf("RSA_2048")
    record = engine.sync(desired_for(rsa), rsa, {})["us-east-1"].record()
    ec = leaf("EC_prime256v1")

    outcome = engine.sync(desired_for(ec, algorithm="EC_prime256v1"), ec, {"us-east-1": record})[
        "us-east-1"
    ]

    assert outcome.state is RegionState.BLOCKED
    assert outcome.reason == "ReimportKeyChange"
    assert outcome.arn == record.arn
    assert "ImportNew" in outcome.message
    assert _writes(acm) == ["ImportCertificate"]


def test_key_change_import_new_keeps_previous_arn(acm: AcmEmulator, engine: Engine) -> None:
    rsa = leaf("RSA_2048")
    record = engine.sync(desired_for(rsa), rsa, {})["us-east-1"].record()
    ec = leaf("EC_prime256v1")
    desired = desired_for(ec, algorithm="EC_prime256v1", on_key_change=KeyChangePolicy.IMPORT_NEW)

    outcome = engine.sync(desired, ec, {"us-east-1": record})["us-east-1"]

    assert outcome.state is RegionState.SYNCED
    assert outcome.reason == "ImportedNewKey"
    assert outcome.arn != record.arn
    assert outcome.previous_arn == record.arn
    assert len(acm.certificates()) == 2
    # with the state lost after that import, a new sync finds the new one, not the old
    again = engine.sync(desired, ec, {"us-east-1": record})["us-east-1"]
    assert again.arn == outcome.arn
    assert len(acm.certificates()) == 2


@pytest.mark.parametrize("algorithm", ["RSA_4096", "EC_prime256v1", "EC_secp384r1"])
def test_lookup_finds_every_key_type(acm: AcmEmulator, engine: Engine, algorithm: str) -> None:
    material = leaf(algorithm)
    desired = desired_for(material, algorithm=algorithm)
    first = engine.sync(desired, material, {})["us-east-1"]

    again = engine.sync(desired, material, {})["us-east-1"]  # state lost

    assert again.arn == first.arn
    assert len(acm.certificates()) == 1


def test_duplicates_are_reported_not_deleted(acm: AcmEmulator, engine: Engine) -> None:
    material = leaf()
    tags = {**desired_for(material).all_tags()}
    older = _by_hand(acm, leaf(), tags)
    newer = _by_hand(acm, material, tags)

    outcome = engine.sync(desired_for(material), material, {})["us-east-1"]

    assert outcome.arn == newer
    assert older in outcome.message
    assert len(acm.certificates()) == 2
    assert _writes(acm, 2) == []


def test_reimport_rule_violation_blocks_before_sending(acm: AcmEmulator, engine: Engine) -> None:
    both = leaf(server_auth=True, client_auth=True)
    record = engine.sync(desired_for(both), both, {})["us-east-1"].record()
    narrower = leaf(server_auth=False, client_auth=True)

    outcome = engine.sync(desired_for(narrower), narrower, {"us-east-1": record})["us-east-1"]

    assert outcome.state is RegionState.BLOCKED
    assert outcome.reason == "ReimportUsageRemoved"
    assert _writes(acm) == ["ImportCertificate"]


def test_region_not_allowed_makes_no_call(
    acm: AcmEmulator, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(allowed_regions=frozenset({"us-east-1"}))
    material = leaf()

    outcomes = engine.sync(desired_for(material, ("us-east-1", "eu-west-1")), material, {})

    assert outcomes["eu-west-1"].state is RegionState.BLOCKED
    assert outcomes["eu-west-1"].reason == "RegionNotAllowed"
    assert {c["region"] for c in acm.calls()} == {"us-east-1"}


def test_delete_removes_current_and_previous(acm: AcmEmulator, engine: Engine) -> None:
    rsa = leaf("RSA_2048")
    record = engine.sync(desired_for(rsa), rsa, {})["us-east-1"].record()
    ec = leaf("EC_prime256v1")
    desired = desired_for(ec, algorithm="EC_prime256v1", on_key_change=KeyChangePolicy.IMPORT_NEW)
    record = engine.sync(desired, ec, {"us-east-1": record})["us-east-1"].record()

    outcome = engine.delete(OWNER, {"us-east-1": record})["us-east-1"]

    assert outcome.reason == "Deleted"
    assert acm.certificates() == []
    gone = engine.delete(OWNER, {"us-east-1": record})["us-east-1"]
    assert gone.reason == "NotFound"
    assert gone.state is RegionState.SYNCED


def test_sweep_lists_once_and_describes_only_changed(acm: AcmEmulator, engine: Engine) -> None:
    owners = [Owner("c-1234", "web", f"site-{i}") for i in range(5)]
    records = []
    for owner in owners:
        material = leaf()
        outcome = engine.sync(desired_for(material, owner=owner), material, {})["us-east-1"]
        records.append((owner, outcome.record()))
    deleted, reimported = records[0][1].arn, records[1][1].arn
    assert deleted is not None
    assert reimported is not None
    acm.acm.handle("us-east-1", "DeleteCertificate", {"CertificateArn": deleted})
    # an out-of-band reimport shows up as a later ImportedAt
    records[1] = (
        owners[1],
        replace(
            records[1][1],
            imported_at=records[1][1].imported_at and records[1][1].imported_at.replace(year=2020),
        ),
    )
    since = len(acm.calls())

    drifts = engine.sweep("us-east-1", records)

    assert {(d.arn, d.kind) for d in drifts} == {
        (deleted, DriftKind.DELETED),
        (reimported, DriftKind.REIMPORTED),
    }
    apis = [c["api"] for c in acm.calls()[since:]]
    assert apis.count("ListCertificates") == 1
    assert apis.count("DescribeCertificate") == 2
    # The changed one's content is read once: is it acm-sync's own (a stale record)?
    assert apis.count("GetCertificate") == 1
    assert len(apis) == 4


def test_observer_sees_every_call(acm: AcmEmulator) -> None:
    from tests.aws.acm_testkit import fast_settings

    seen: list[tuple[str, str, str]] = []
    engine = Engine(fast_settings(acm.url), observer=lambda *call: seen.append(call))
    try:
        material = leaf()
        engine.sync(desired_for(material), material, {})
    finally:
        engine.close()
    assert len(seen) == len(acm.calls())
    assert ("ImportCertificate", "us-east-1", "ok") in seen


def test_no_key_material_in_outcomes(acm: AcmEmulator, engine: Engine) -> None:
    good = leaf()
    other = leaf(key_index=1)
    broken = Material(good.certificate, good.chain, other.private_key)

    outcome = engine.sync(desired_for(broken), broken, {})["us-east-1"]

    assert outcome.state is RegionState.ERROR
    assert "PRIVATE KEY" not in repr(outcome)
    assert other.private_key.decode().splitlines()[1] not in repr(outcome)


def test_sweep_sees_a_reimport_one_second_later(acm: AcmEmulator, engine: Engine) -> None:
    # ACM reports whole seconds, so one second is the smallest visible out-of-band change.
    material = leaf()
    record = engine.sync(desired_for(material), material, {})["us-east-1"].record()
    assert record.imported_at is not None
    earlier = replace(record, imported_at=record.imported_at - timedelta(seconds=1))
    truncated = replace(record, imported_at=record.imported_at.replace(microsecond=0))

    assert [d.kind for d in engine.sweep("us-east-1", [(OWNER, earlier)])] == [DriftKind.REIMPORTED]
    assert engine.sweep("us-east-1", [(OWNER, truncated)]) == []
