"""Engine.sync against the strict emulator over HTTP: import, reimport, tags, no-op."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest

from acm_sync.aws.engine import Engine
from acm_sync.core.state import OWNER_TAG, RegionOutcome, RegionRecord, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import OWNER, desired_for, fast_settings
from tests.certkit import leaf


def _records(outcomes: Mapping[str, RegionOutcome]) -> dict[str, RegionRecord]:
    return {region: o.record() for region, o in outcomes.items()}


def test_first_sync_imports_with_system_and_user_tags(acm: AcmEmulator, engine: Engine) -> None:
    material = leaf()
    desired = desired_for(material, ("us-east-1", "eu-west-1"), tags={"team": "web"})

    outcomes = engine.sync(desired, material, {})

    assert {o.state for o in outcomes.values()} == {RegionState.SYNCED}
    assert {o.reason for o in outcomes.values()} == {"Imported"}
    for region, outcome in outcomes.items():
        assert outcome.arn is not None
        assert f":{region}:" in outcome.arn
        assert outcome.wrote
        assert outcome.imported_at is not None
        (stored,) = acm.certificates(region)
        assert stored["arn"] == outcome.arn
        assert stored["tags"] == {
            "team": "web",
            "acmsync.io/managed-by": "acm-sync",
            "acmsync.io/cluster": "c-1234",
            OWNER_TAG: "c-1234/web/shop",
        }


def test_sync_in_sync_makes_zero_aws_calls(acm: AcmEmulator, engine: Engine) -> None:
    material = leaf()
    desired = desired_for(material, ("us-east-1", "eu-west-1", "ap-south-1"))
    records = _records(engine.sync(desired, material, {}))
    before = len(acm.calls())

    again = engine.sync(desired, material, records)

    assert len(acm.calls()) == before
    assert all(o.state is RegionState.SYNCED and not o.wrote for o in again.values())
    assert {o.arn for o in again.values()} == {r.arn for r in records.values()}


def test_renewal_reimports_into_same_arn_keeps_tags_and_sends_no_tags(
    acm: AcmEmulator, engine: Engine
) -> None:
    first = leaf()
    desired = desired_for(first, tags={"team": "web"})
    records = _records(engine.sync(desired, first, {}))
    arn = records["us-east-1"].arn
    renewed = leaf()

    outcome = engine.sync(desired_for(renewed, tags={"team": "web"}), renewed, records)["us-east-1"]

    assert outcome.state is RegionState.SYNCED
    assert outcome.reason == "Reimported"
    assert outcome.arn == arn
    imports = [c for c in acm.calls() if c["api"] == "ImportCertificate"]
    assert len(imports) == 2
    assert "CertificateArn" in imports[1]["params"]
    assert "Tags" not in imports[1]["params"]
    (stored,) = acm.certificates("us-east-1")
    assert stored["tags"]["team"] == "web"
    assert stored["tags"][OWNER_TAG] == OWNER.tag_value


def test_tag_change_only_touches_tags(acm: AcmEmulator, engine: Engine) -> None:
    material = leaf()
    records = _records(engine.sync(desired_for(material, tags={"a": "1", "b": "2"}), material, {}))
    before = len(acm.calls())

    outcome = engine.sync(desired_for(material, tags={"a": "9"}), material, records)["us-east-1"]

    new_calls = acm.calls()[before:]
    assert outcome.reason == "TagsUpdated"
    assert "ImportCertificate" not in {c["api"] for c in new_calls}
    (stored,) = acm.certificates("us-east-1")
    assert stored["tags"]["a"] == "9"
    assert "b" not in stored["tags"]
    # and the next sync is free again
    before = len(acm.calls())
    engine.sync(desired_for(material, tags={"a": "9"}), material, {"us-east-1": outcome.record()})
    assert len(acm.calls()) == before


def test_state_lost_after_import_finds_certificate_no_duplicate(
    acm: AcmEmulator, engine: Engine
) -> None:
    material = leaf()
    desired = desired_for(material)
    first = engine.sync(desired, material, {})["us-east-1"]

    # The status write was lost: the next sync has no record at all.
    second = engine.sync(desired, material, {})["us-east-1"]

    assert second.arn == first.arn
    assert second.state is RegionState.SYNCED
    assert len(acm.certificates("us-east-1")) == 1
    assert sum(c["api"] == "ImportCertificate" for c in acm.calls()) == 1


def test_recorded_certificate_deleted_is_imported_anew_and_said(
    acm: AcmEmulator, engine: Engine
) -> None:
    material = leaf()
    desired = desired_for(material)
    records = _records(engine.sync(desired, material, {}))
    old_arn = records["us-east-1"].arn
    assert old_arn is not None
    acm.acm.handle("us-east-1", "DeleteCertificate", {"CertificateArn": old_arn})
    renewed = leaf()

    outcome = engine.sync(desired_for(renewed), renewed, records)["us-east-1"]

    assert outcome.state is RegionState.SYNCED
    assert outcome.reason == "Recreated"
    assert outcome.arn != old_arn
    assert old_arn in outcome.message
    # and the sync after that is settled: no ResourceNotFound loop
    before = len(acm.calls())
    engine.sync(desired_for(renewed), renewed, {"us-east-1": outcome.record()})
    assert len(acm.calls()) == before


def test_unchanged_content_with_stale_record_does_not_reimport(
    acm: AcmEmulator, engine: Engine
) -> None:
    material = leaf()
    desired = desired_for(material)
    record = engine.sync(desired, material, {})["us-east-1"].record()
    stale = replace(record, fingerprint="something-else")

    outcome = engine.sync(desired, material, {"us-east-1": stale})["us-east-1"]

    assert outcome.state is RegionState.SYNCED
    assert outcome.fingerprint == desired.fingerprint
    assert sum(c["api"] == "ImportCertificate" for c in acm.calls()) == 1


def test_boto3_endpoint_configuration_is_honoured(
    acm: AcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No endpoint_url in the settings: boto3's own AWS_ENDPOINT_URL must lead to the emulator.
    monkeypatch.setenv("AWS_ENDPOINT_URL", acm.url)
    engine = Engine(fast_settings(acm.url, endpoint_url=None))
    try:
        material = leaf()
        outcome = engine.sync(desired_for(material), material, {})["us-east-1"]
    finally:
        engine.close()
    assert outcome.state is RegionState.SYNCED
    assert [c["arn"] for c in acm.calls() if c["api"] == "ImportCertificate"] == [outcome.arn]
