"""A rotation reads only what the status and the engine's memory do not already answer.

The record says what the ARN holds (fingerprint, tags, serial, notAfter) and the owner-tag
index says whose it is. ACM's reimport rules are checked before anything is sent, against
what the engine remembers of the content it imported (aws/profiles.py), so a rotation is the
reimport and one read of ImportedAt. After a restart the first rotation reads the certificate
ACM holds once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from acm_sync.aws.engine import Engine
from acm_sync.core.state import Owner, RegionOutcome, RegionRecord, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import desired_for
from tests.certkit import leaf

REGION = "us-east-1"


def _synced(engine: Engine, **fields: Any) -> tuple[RegionRecord, RegionOutcome]:
    material = leaf()
    outcome = engine.sync(desired_for(material, (REGION,), **fields), material, {})[REGION]
    assert outcome.state is RegionState.SYNCED
    return outcome.record(), outcome


def _held(acm: AcmEmulator) -> list[int]:
    """The serials of the certificates ACM holds in REGION."""
    return [int(c["serial"], 16) for c in acm.certificates(REGION)]


def _serial(text: str | None) -> int:
    assert text is not None
    return int(text.replace(":", ""), 16)


def _apis(acm: AcmEmulator, since: int) -> list[str]:
    return [c["api"] for c in acm.calls()[since:]]


def test_a_rotation_of_what_this_process_imported_makes_two_calls(
    acm: AcmEmulator, engine: Engine
) -> None:
    record, first = _synced(engine, tags={"team": "web"})
    for _ in range(2):  # the reimported content is remembered in turn
        renewed = leaf()
        since = len(acm.calls())

        outcome = engine.sync(
            desired_for(renewed, (REGION,), tags={"team": "web"}), renewed, {REGION: record}
        )[REGION]

        assert outcome.reason == "Reimported"
        assert outcome.arn == first.arn
        # Before: DescribeCertificate, ListTagsForCertificate, GetCertificate, the reimport,
        # DescribeCertificate; then GetCertificate, the reimport, DescribeCertificate.
        assert _apis(acm, since) == ["ImportCertificate", "DescribeCertificate"]
        assert outcome.imported_at is not None  # ACM's, for the sweep's drift checks
        assert outcome.serial != record.serial
        assert _held(acm) == [_serial(outcome.serial)]
        record = outcome.record()


def test_rotation_after_a_restart_reads_its_own_certificate_not_the_region(
    acm: AcmEmulator, engine: Engine, make_engine: Callable[..., Engine]
) -> None:
    record, _ = _synced(engine)
    restarted = make_engine()  # a new process: nothing cached
    renewed = leaf()
    since = len(acm.calls())

    outcome = restarted.sync(desired_for(renewed, (REGION,)), renewed, {REGION: record})[REGION]

    assert outcome.reason == "Reimported"
    # Whose certificate it is, from its own tags: not the region's whole index, which at
    # 10,000 certificates is 100 GetResources pages for the rotation to wait behind.
    assert _apis(acm, since) == [
        "ListTagsForCertificate",
        "GetCertificate",
        "ImportCertificate",
        "DescribeCertificate",
    ]
    again = leaf()
    since = len(acm.calls())
    outcome = restarted.sync(desired_for(again, (REGION,)), again, {REGION: outcome.record()})[
        REGION
    ]
    assert outcome.reason == "Reimported"
    assert _apis(acm, since) == ["ImportCertificate", "DescribeCertificate"]


def test_a_rotation_makes_two_calls_in_each_region(acm: AcmEmulator, engine: Engine) -> None:
    regions = ("us-east-1", "eu-west-1", "ap-southeast-2")
    material = leaf()
    first = engine.sync(desired_for(material, regions), material, {})
    records = {region: outcome.record() for region, outcome in first.items()}
    renewed = leaf()
    since = len(acm.calls())

    outcomes = engine.sync(desired_for(renewed, regions), renewed, records)

    assert {o.reason for o in outcomes.values()} == {"Reimported"}
    per_region = Counter(c["region"] for c in acm.calls()[since:])
    assert per_region == Counter(dict.fromkeys(regions, 2))


@pytest.mark.parametrize("restarted", [False, True], ids=["remembered", "after-restart"])
def test_a_key_change_is_still_refused_before_any_import(
    acm: AcmEmulator, engine: Engine, make_engine: Callable[..., Engine], restarted: bool
) -> None:
    record, _ = _synced(engine)
    if restarted:
        engine = make_engine()
    ec = leaf("EC_prime256v1")
    since = len(acm.calls())

    outcome = engine.sync(
        desired_for(ec, (REGION,), algorithm="EC_prime256v1"), ec, {REGION: record}
    )[REGION]

    assert outcome.state is RegionState.BLOCKED
    assert outcome.reason == "ReimportKeyChange"
    assert "ImportCertificate" not in _apis(acm, since)


@pytest.mark.parametrize("restarted", [False, True], ids=["remembered", "after-restart"])
@pytest.mark.parametrize(
    ("renewal", "reason"),
    [
        ({"domains": ("other.example.net",)}, "ReimportDomainsRemoved"),
        ({"server_auth": False}, "ReimportUsageRemoved"),
    ],
    ids=["every-name-dropped", "serverAuth-dropped"],
)
def test_reimport_rules_are_checked_against_what_acm_holds(
    acm: AcmEmulator,
    engine: Engine,
    make_engine: Callable[..., Engine],
    renewal: dict[str, Any],
    reason: str,
    restarted: bool,
) -> None:
    record, first = _synced(engine)
    if restarted:
        engine = make_engine()
    renewed = leaf(**renewal)
    since = len(acm.calls())

    outcome = engine.sync(desired_for(renewed, (REGION,)), renewed, {REGION: record})[REGION]

    assert outcome.state is RegionState.BLOCKED
    assert outcome.reason == reason
    assert "ImportCertificate" not in _apis(acm, since)
    assert _held(acm) == [_serial(first.serial)]


def test_dropping_client_auth_is_allowed_without_a_read(acm: AcmEmulator, engine: Engine) -> None:
    record, _ = _synced(engine)
    renewed = leaf(client_auth=False)
    since = len(acm.calls())

    outcome = engine.sync(desired_for(renewed, (REGION,)), renewed, {REGION: record})[REGION]

    assert outcome.reason == "Reimported"
    assert _apis(acm, since) == ["ImportCertificate", "DescribeCertificate"]


def test_the_remembered_profiles_are_bounded(
    acm: AcmEmulator, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(reimport_profiles=2)
    records = [_synced(engine, owner=Owner("c-1234", "web", f"s{n}"))[0] for n in range(3)]
    assert len(engine.profiles) == 2
    renewed = leaf()
    since = len(acm.calls())

    # The first one was forgotten: its rotation reads the certificate, as after a restart.
    outcome = engine.sync(
        desired_for(renewed, (REGION,), owner=Owner("c-1234", "web", "s0")),
        renewed,
        {REGION: records[0]},
    )[REGION]

    assert outcome.reason == "Reimported"
    assert _apis(acm, since) == ["GetCertificate", "ImportCertificate", "DescribeCertificate"]


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
