"""Input that can never work is refused or ignored at once, never retried forever."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from botocore.exceptions import ParamValidationError

from acm_sync.aws.engine import Engine
from acm_sync.aws.errors import ErrorClass, classify
from acm_sync.core.state import RegionRecord, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import OWNER, desired_for
from tests.certkit import leaf


def test_a_request_botocore_refuses_locally_is_permanent_and_was_never_sent() -> None:
    err = classify(
        ParamValidationError(report="Invalid length for parameter CertificateArn"), "X", "r"
    )
    assert err.error_class is ErrorClass.PERMANENT
    assert not err.retryable
    assert not err.ambiguous  # nothing left the host: no lookup needed before an import


@pytest.mark.parametrize(
    "recorded",
    ["not-an-arn", "arn:aws:acm:eu-west-1:123456789012:certificate/abc"],
    ids=["garbage", "other-region"],
)
def test_an_unusable_recorded_arn_is_ignored_and_the_certificate_found_by_owner_tag(
    acm: AcmEmulator, engine: Engine, recorded: str
) -> None:
    material = leaf()
    first = engine.sync(desired_for(material), material, {})["us-east-1"]
    edited = replace(first.record(), arn=recorded, fingerprint="stale")
    renewed = leaf()

    outcome = engine.sync(desired_for(renewed), renewed, {"us-east-1": edited})["us-east-1"]

    assert (outcome.state, outcome.reason) == (RegionState.SYNCED, "Reimported")
    assert outcome.arn == first.arn
    assert repr(recorded) in outcome.message
    assert "ignored" in outcome.message
    assert len(acm.certificates()) == 1


def test_delete_ignores_an_unusable_recorded_arn(acm: AcmEmulator, engine: Engine) -> None:
    material = leaf()
    engine.sync(desired_for(material), material, {})

    outcome = engine.delete(OWNER, {"us-east-1": RegionRecord("us-east-1", arn="not-an-arn")})

    assert outcome["us-east-1"].reason == "Deleted"
    assert "'not-an-arn'" in outcome["us-east-1"].message
    assert acm.certificates() == []


def test_a_region_without_acm_is_refused_without_a_call(acm: AcmEmulator, engine: Engine) -> None:
    material = leaf()

    outcomes = engine.sync(desired_for(material, ("us-east-1", "us-east-7")), material, {})

    assert outcomes["us-east-1"].state is RegionState.SYNCED
    refused = outcomes["us-east-7"]
    assert (refused.state, refused.reason) == (RegionState.BLOCKED, "InvalidRegion")
    assert "us-east-7" in refused.message
    assert "--allowed-regions" in refused.message
    assert {c["region"] for c in acm.calls()} == {"us-east-1"}
    # Nothing can exist there: deleting the object is not blocked by the typo.
    deleted = engine.delete(OWNER, {"us-east-7": RegionRecord("us-east-7")})["us-east-7"]
    assert (deleted.state, deleted.reason) == (RegionState.SYNCED, "NotFound")
    assert {c["region"] for c in acm.calls()} == {"us-east-1"}


def test_a_region_listed_in_allowed_regions_is_trusted_over_botocore(
    acm: AcmEmulator, make_engine: Callable[..., Engine]
) -> None:
    acm.add_regions(["us-east-7"])  # a region newer than the installed botocore
    engine = make_engine(allowed_regions=frozenset({"us-east-1", "us-east-7"}))
    material = leaf()

    outcome = engine.sync(desired_for(material, ("us-east-7",)), material, {})["us-east-7"]

    assert outcome.state is RegionState.SYNCED
    assert ":us-east-7:" in str(outcome.arn)


def test_the_sweep_skips_an_unusable_recorded_arn_and_still_sees_drift(
    acm: AcmEmulator, engine: Engine
) -> None:
    material = leaf()
    outcome = engine.sync(desired_for(material), material, {})["us-east-1"]
    acm.acm.handle("us-east-1", "DeleteCertificate", {"CertificateArn": outcome.arn})
    edited = RegionRecord("us-east-1", arn="not-an-arn")

    drifts = engine.sweep("us-east-1", [(OWNER, edited), (OWNER, outcome.record())])

    assert [(d.arn, d.kind.value) for d in drifts] == [(outcome.arn, "Deleted")]
