"""Owner-tag lookups in bulk: AWS calls of a cold sync with foreign certificates present.

A new object's first sync looks its region up by owner tag (an import whose status write was
lost must not be imported twice). These tests count what that costs against the strict ACM
emulator's call log: one shared GetResources a region, however many objects and lookups, and
the ListCertificates + ListTagsForCertificate fallback where GetResources is denied.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import pytest

from acm_sync.aws.adapter import AcmAdapter
from acm_sync.aws.engine import Engine
from acm_sync.aws.errors import AwsCallError, ErrorClass
from acm_sync.aws.owner_index import OwnerIndex
from acm_sync.core.state import OWNER_TAG, Owner, RegionRecord, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import OWNER, desired_for
from tests.certkit import leaf

REGION = "eu-west-1"
FOREIGN = 100  # certificates of other owners already in the region (issue 13's figure)
COLD = 20  # new objects of a cold sync


def _foreign(acm: AcmEmulator, count: int = FOREIGN) -> None:
    """Half tagged by acm-sync for other owners (another cluster too), half by someone else."""
    material = leaf("EC_prime256v1")  # an EC key: the emulator loads RSA keys slowly
    for n in range(count):
        if n % 2:
            tags = Owner("other-cluster" if n % 4 == 1 else "c-1234", "apps", f"x{n}").system_tags()
        else:
            tags = {"team": f"t{n}"}
        params = {
            "Certificate": base64.b64encode(material.certificate).decode(),
            "PrivateKey": base64.b64encode(material.private_key).decode(),
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        }
        acm.acm.handle(REGION, "ImportCertificate", params)


def _calls(acm: AcmEmulator, since: int) -> Counter[str]:
    return Counter(c["api"] for c in acm.calls()[since:] if c["region"] == REGION)


def _sync_new(engine: Engine, name: str) -> RegionState:
    material = leaf()
    desired = desired_for(material, (REGION,), owner=Owner(OWNER.cluster_id, "web", name))
    return engine.sync(desired, material, {})[REGION].state


def test_cold_sync_with_100_foreign_certificates_costs_one_lookup_call_a_region(
    acm: AcmEmulator, engine: Engine
) -> None:
    _foreign(acm)
    since = len(acm.calls())

    states = [_sync_new(engine, f"shop{n}") for n in range(5)]

    assert states == [RegionState.SYNCED] * 5
    calls = _calls(acm, since)
    # Before: ListCertificates per object and a tag read per foreign certificate (828
    # ListTagsForCertificate for 40 imports in issue 13). Now one GetResources for all five;
    # an import alone in its region reads back its ImportedAt with one DescribeCertificate.
    assert calls == Counter({"GetResources": 1, "ImportCertificate": 5, "DescribeCertificate": 5})


@pytest.mark.parametrize("foreign", [FOREIGN, 0], ids=["100-foreign", "no-foreign"])
def test_a_cold_sync_makes_at_most_1_5_calls_a_new_import(
    acm: AcmEmulator, make_engine: Callable[..., Engine], foreign: int
) -> None:
    _foreign(acm, foreign)
    # ACM's import rate scaled up 20 times (at 1/s this test would last N seconds): the
    # imports of a cold sync are in flight together, as the operator sends them.
    engine = make_engine(rates={"ImportCertificate": 20.0})
    since = len(acm.calls())

    with ThreadPoolExecutor(8) as pool:
        states = list(pool.map(lambda n: _sync_new(engine, f"shop{n}"), range(COLD)))

    assert states == [RegionState.SYNCED] * COLD
    calls = _calls(acm, since)
    assert calls["ImportCertificate"] == COLD
    assert sum(calls.values()) / COLD <= 1.5, calls


def test_concurrent_lookups_share_one_load(acm: AcmEmulator, engine: Engine) -> None:
    _foreign(acm, 10)
    acm.add_latency(1, 0.3, api="GetResources")  # the first load is slow: the rest arrive
    since = len(acm.calls())

    with ThreadPoolExecutor(8) as pool:
        states = list(pool.map(lambda n: _sync_new(engine, f"shop{n}"), range(8)))

    assert states == [RegionState.SYNCED] * 8
    assert _calls(acm, since)["GetResources"] == 1


def test_denied_tagging_api_falls_back_to_listing_and_reads_each_tag_once(
    acm: AcmEmulator, engine: Engine
) -> None:
    _foreign(acm, 20)
    acm.deny_tagging()
    since = len(acm.calls())

    assert _sync_new(engine, "shop1") is RegionState.SYNCED
    first = _calls(acm, since)
    assert first["GetResources"] == 1  # refused: AccessDeniedException
    assert first["ListCertificates"] == 1
    assert first["ListTagsForCertificate"] == 20
    # A certificate's owner tag is read once for the life of the process; the refused API
    # is not asked again.
    engine.owner_index._max_age = 0.0  # every lookup lists the region again
    since = len(acm.calls())
    assert _sync_new(engine, "shop2") is RegionState.SYNCED
    second = _calls(acm, since)
    assert "GetResources" not in second
    assert second["ListCertificates"] == 1
    assert "ListTagsForCertificate" not in second


def test_an_import_of_this_process_is_found_without_a_new_load(
    acm: AcmEmulator, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(owner_index_max_age=3600.0)
    assert _sync_new(engine, "other") is RegionState.SYNCED  # loads the index
    material = leaf()
    desired = desired_for(material, (REGION,))
    first = engine.sync(desired, material, {})[REGION]
    since = len(acm.calls())

    # Its status write was lost: the next sync looks it up by owner tag.
    again = engine.sync(desired, material, {})[REGION]

    assert again.arn == first.arn
    assert f"found {first.arn} by owner tag" in again.message
    assert "GetResources" not in _calls(acm, since)
    assert "ImportCertificate" not in _calls(acm, since)


def test_a_deletion_reloads_the_index_to_find_another_process_import(
    acm: AcmEmulator, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(owner_index_max_age=3600.0)
    assert _sync_new(engine, "other") is RegionState.SYNCED  # loads the index
    # A previous leader imported this object's certificate; its status write was lost.
    material = leaf("EC_prime256v1")
    orphan = acm.acm.handle(
        REGION,
        "ImportCertificate",
        {
            "Certificate": base64.b64encode(material.certificate).decode(),
            "PrivateKey": base64.b64encode(material.private_key).decode(),
            "Tags": [{"Key": k, "Value": v} for k, v in OWNER.system_tags().items()],
        },
    )["CertificateArn"]
    since = len(acm.calls())

    deleted = engine.delete(OWNER, {REGION: RegionRecord(REGION)})[REGION]

    assert deleted.reason == "Deleted"
    assert orphan in deleted.message
    assert _calls(acm, since)["GetResources"] == 1


def test_a_stale_index_entry_costs_one_read_and_is_dropped(
    acm: AcmEmulator, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(owner_index_max_age=3600.0)
    material = leaf()
    arn = engine.sync(desired_for(material, (REGION,)), material, {})[REGION].arn
    assert arn is not None
    acm.acm.handle(REGION, "DeleteCertificate", {"CertificateArn": arn})  # behind our back
    since = len(acm.calls())

    again = leaf()
    outcome = engine.sync(desired_for(again, (REGION,)), again, {})[REGION]

    assert outcome.reason == "Imported"
    assert outcome.arn != arn
    calls = _calls(acm, since)
    assert calls["DescribeCertificate"] == 2  # the gone one, then the new import's
    assert engine.owner_index.owner_of(arn) is None


class _FakeAdapter:
    """GetResources failing as told; a listing with one certificate of OWNER's."""

    def __init__(self, failure: AwsCallError | None) -> None:
        self.failure = failure
        self.calls: list[str] = []

    def tagged(self, region: str, filters: object) -> Iterator[tuple[str, dict[str, str]]]:
        self.calls.append("GetResources")
        if self.failure is not None:
            raise self.failure
        yield ARN, {OWNER_TAG: OWNER.tag_value}

    def list_all(self, region: str) -> Iterator[dict[str, str]]:
        self.calls.append("ListCertificates")
        yield {"CertificateArn": ARN, "Type": "IMPORTED"}

    def list_tags(self, region: str, arn: str) -> dict[str, str]:
        self.calls.append("ListTagsForCertificate")
        return {OWNER_TAG: OWNER.tag_value}


ARN = f"arn:aws:acm:{REGION}:123456789012:certificate/fake"


@pytest.mark.parametrize(
    ("failure", "asked_again"),
    [
        # The endpoint cannot be reached at all (no Tagging VPC endpoint): not asked again.
        (
            AwsCallError(
                "GetResources", REGION, ErrorClass.RETRYABLE, "EndpointConnectionError", ""
            ),
            False,
        ),
        (
            AwsCallError(
                "GetResources", REGION, ErrorClass.ACCESS_DENIED, "AccessDeniedException", ""
            ),
            False,
        ),
        # A 5xx may pass: asked again at the next load.
        (
            AwsCallError(
                "GetResources", REGION, ErrorClass.RETRYABLE, "InternalFailure", "", ambiguous=True
            ),
            True,
        ),
    ],
    ids=["unreachable", "denied", "server-error"],
)
def test_a_failed_get_resources_falls_back_to_listing(
    failure: AwsCallError, asked_again: bool
) -> None:
    adapter = _FakeAdapter(failure)
    index = OwnerIndex(cast(AcmAdapter, adapter), max_age=0.0)

    assert index.owned_by(REGION, OWNER.owns) == [ARN]
    assert adapter.calls == ["GetResources", "ListCertificates", "ListTagsForCertificate"]
    adapter.calls.clear()
    assert index.owned_by(REGION, OWNER.owns) == [ARN]
    expected = ["GetResources", "ListCertificates"] if asked_again else ["ListCertificates"]
    assert adapter.calls == expected  # the tag read is kept for the life of the process


def test_throttled_get_resources_is_raised_not_hidden() -> None:
    throttled = AwsCallError(
        "GetResources", REGION, ErrorClass.THROTTLED, "ThrottlingException", ""
    )
    index = OwnerIndex(cast(AcmAdapter, _FakeAdapter(throttled)), max_age=60.0)
    with pytest.raises(AwsCallError):
        index.owned_by(REGION, OWNER.owns)
