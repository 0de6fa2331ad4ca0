"""A rotation reads only what the status does not already answer.

The record says what the ARN holds (fingerprint, tags, serial, notAfter) and the owner-tag
index says whose it is, so a reimport reads only the certificate ACM holds (ACM's reimport
rules are checked against it before anything is sent), then ImportedAt once it is done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acm_sync.aws.engine import Engine
from acm_sync.core.state import RegionOutcome, RegionRecord, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import desired_for
from tests.certkit import leaf

REGION = "us-east-1"


def _synced(engine: Engine, **fields: Any) -> tuple[RegionRecord, RegionOutcome]:
    material = leaf()
    outcome = engine.sync(desired_for(material, (REGION,), **fields), material, {})[REGION]
    assert outcome.state is RegionState.SYNCED
    return outcome.record(), outcome


def _apis(acm: AcmEmulator, since: int) -> list[str]:
    return [c["api"] for c in acm.calls()[since:]]


def test_rotation_reads_only_the_certificate_acm_holds(acm: AcmEmulator, engine: Engine) -> None:
    record, first = _synced(engine, tags={"team": "web"})
    renewed = leaf()
    since = len(acm.calls())

    outcome = engine.sync(
        desired_for(renewed, (REGION,), tags={"team": "web"}), renewed, {REGION: record}
    )[REGION]

    assert outcome.reason == "Reimported"
    assert outcome.arn == first.arn
    # Before: DescribeCertificate, ListTagsForCertificate, GetCertificate, then the reimport.
    assert _apis(acm, since) == ["GetCertificate", "ImportCertificate", "DescribeCertificate"]
    assert outcome.imported_at is not None  # ACM's, for the sweep's drift checks
    assert outcome.serial != first.serial


def test_rotation_after_a_restart_loads_the_owner_index_once(
    acm: AcmEmulator, engine: Engine, make_engine: Callable[..., Engine]
) -> None:
    record, _ = _synced(engine)
    restarted = make_engine()  # a new process: nothing cached
    renewed = leaf()
    since = len(acm.calls())

    outcome = restarted.sync(desired_for(renewed, (REGION,)), renewed, {REGION: record})[REGION]

    assert outcome.reason == "Reimported"
    assert _apis(acm, since) == [
        "GetResources",
        "GetCertificate",
        "ImportCertificate",
        "DescribeCertificate",
    ]


def test_a_key_change_is_still_refused_before_any_import(acm: AcmEmulator, engine: Engine) -> None:
    record, _ = _synced(engine)
    ec = leaf("EC_prime256v1")
    since = len(acm.calls())

    outcome = engine.sync(
        desired_for(ec, (REGION,), algorithm="EC_prime256v1"), ec, {REGION: record}
    )[REGION]

    assert outcome.state is RegionState.BLOCKED
    assert outcome.reason == "ReimportKeyChange"
    assert "ImportCertificate" not in _apis(acm, since)


def test_changed_tags_read_the_certificate_in_full(acm: AcmEmulator, engine: Engine) -> None:
    record, _ = _synced(engine, tags={"team": "web"})
    renewed = leaf()
    since = len(acm.calls())

    outcome = engine.sync(
        desired_for(renewed, (REGION,), tags={"team": "shop"}), renewed, {REGION: record}
    )[REGION]

    assert outcome.state is RegionState.SYNCED
    assert {"DescribeCertificate", "ListTagsForCertificate", "GetCertificate"} <= set(
        _apis(acm, since)[:3]
    )


def test_a_recorded_arn_deleted_behind_our_back_is_imported_anew(
    acm: AcmEmulator, engine: Engine
) -> None:
    record, first = _synced(engine)
    acm.acm.handle(REGION, "DeleteCertificate", {"CertificateArn": first.arn})
    renewed = leaf()

    outcome = engine.sync(desired_for(renewed, (REGION,)), renewed, {REGION: record})[REGION]

    assert outcome.reason == "Recreated"
    assert outcome.arn != first.arn
