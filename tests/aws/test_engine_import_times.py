"""A new import's ImportedAt, read in batches: what the status gets, and what it costs.

The imports of a cold sync that finish together in a region share one ListCertificates
(aws/import_times.py). These tests check what a user relies on: every status holds ACM's own
ImportedAt (the sweep compares it), a failed listing costs a DescribeCertificate per import
and nothing else, and nothing is imported twice.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import pytest

from acm_sync.aws.adapter import AcmAdapter, utc
from acm_sync.aws.engine import Engine
from acm_sync.aws.import_times import ImportTimes
from acm_sync.core.planner import DriftKind
from acm_sync.core.state import OWNER_TAG, Owner, RegionOutcome, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import OWNER, desired_for
from tests.certkit import leaf

REGION = "eu-west-1"
COLD = 12


def _owner(n: int) -> Owner:
    return Owner(OWNER.cluster_id, "web", f"shop{n}")


def _cold_sync(engine: Engine, count: int = COLD) -> list[RegionOutcome]:
    def one(n: int) -> RegionOutcome:
        material = leaf("EC_prime256v1")
        desired = desired_for(material, (REGION,), owner=_owner(n), algorithm="EC_prime256v1")
        return engine.sync(desired, material, {})[REGION]

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def _calls(acm: AcmEmulator, since: int) -> Counter[str]:
    return Counter(c["api"] for c in acm.calls()[since:] if c["region"] == REGION)


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    # ACM's 1 import/s scaled up: imports are in flight together, as in a cold sync.
    return make_engine(rates={"ImportCertificate": 20.0})


def test_every_status_holds_acm_s_own_imported_at(acm: AcmEmulator, engine: Engine) -> None:
    since = len(acm.calls())
    outcomes = _cold_sync(engine)

    assert [o.state for o in outcomes] == [RegionState.SYNCED] * COLD
    calls = _calls(acm, since)
    assert calls["ListCertificates"] >= 1  # batched: fewer reads than imports
    assert calls["ListCertificates"] + calls["DescribeCertificate"] < COLD
    for outcome in outcomes:
        assert outcome.arn is not None
        described = engine.adapter.describe(REGION, outcome.arn)
        assert outcome.imported_at == utc(described["ImportedAt"])
        assert outcome.not_after == utc(described["NotAfter"])
    # One certificate an object: none imported twice.
    owners = Counter(c["tags"].get(OWNER_TAG) for c in acm.certificates(REGION))
    assert sorted(owners.values()) == [1] * COLD


def test_the_sweep_sees_no_drift_after_a_batched_cold_sync_and_then_one_reimport(
    acm: AcmEmulator, engine: Engine
) -> None:
    outcomes = _cold_sync(engine, 4)
    records = [(_owner(n), o.record()) for n, o in enumerate(outcomes)]
    assert engine.sweep(REGION, records) == []

    time.sleep(1.05)  # ImportedAt has a resolution of one second
    victim = leaf("EC_prime256v1")
    acm.acm.handle(
        REGION,
        "ImportCertificate",
        {
            "CertificateArn": outcomes[2].arn,
            "Certificate": base64.b64encode(victim.certificate).decode(),
            "PrivateKey": base64.b64encode(victim.private_key).decode(),
        },
    )
    drifts = engine.sweep(REGION, records)

    assert [(d.kind, d.arn) for d in drifts] == [(DriftKind.REIMPORTED, outcomes[2].arn)]


def test_a_failed_listing_falls_back_to_one_describe_an_import(
    acm: AcmEmulator, engine: Engine
) -> None:
    acm.fail_next(1000, status=400, error="AccessDeniedException", api="ListCertificates")
    since = len(acm.calls())

    outcomes = _cold_sync(engine)

    assert [o.state for o in outcomes] == [RegionState.SYNCED] * COLD
    assert all(o.imported_at is not None for o in outcomes)
    calls = _calls(acm, since)
    assert calls["DescribeCertificate"] == COLD
    assert calls["ImportCertificate"] == COLD


def test_no_batching_when_switched_off(
    acm: AcmEmulator, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(rates={"ImportCertificate": 20.0}, imported_at_batch_wait=0.0)
    since = len(acm.calls())

    outcomes = _cold_sync(engine, 6)

    assert [o.state for o in outcomes] == [RegionState.SYNCED] * 6
    calls = _calls(acm, since)
    assert calls["DescribeCertificate"] == 6
    assert "ListCertificates" not in calls


class _FakeAdapter:
    """Counts the reads; the listing shows every ARN but ``hidden``."""

    def __init__(self, hidden: frozenset[str] = frozenset()) -> None:
        self.hidden = hidden
        self.calls: list[str] = []

    def list_newest(self, region: str) -> list[dict[str, str]]:
        self.calls.append("ListCertificates")
        return [
            {"CertificateArn": a, "ImportedAt": "listed"}
            for a in ("a", "b", "c", "d")
            if a not in self.hidden
        ]

    def describe(self, region: str, arn: str) -> dict[str, str]:
        self.calls.append(f"DescribeCertificate {arn}")
        return {"CertificateArn": arn, "ImportedAt": "described"}


def _read_all(times: ImportTimes, arns: list[str]) -> dict[str, str]:
    with ThreadPoolExecutor(len(arns)) as pool:
        answers = list(pool.map(lambda arn: times.read(REGION, arn)["ImportedAt"], arns))
    return dict(zip(arns, answers, strict=True))


def test_imports_that_finish_together_share_one_listing() -> None:
    adapter = _FakeAdapter(hidden=frozenset({"c"}))
    times = ImportTimes(cast(AcmAdapter, adapter), max_wait=5.0)
    for arn in ("a", "b", "c"):
        with times.importing(REGION) as got:
            got(arn)

    answers = _read_all(times, ["a", "b", "c"])

    # The listing did not show "c": it alone is described.
    assert answers == {"a": "listed", "b": "listed", "c": "described"}
    assert adapter.calls == ["ListCertificates", "DescribeCertificate c"]


def test_a_lone_import_is_described_at_once() -> None:
    adapter = _FakeAdapter()
    times = ImportTimes(cast(AcmAdapter, adapter), max_wait=5.0)
    with times.importing(REGION) as got:
        got("a")
    start = time.monotonic()

    assert times.read(REGION, "a")["ImportedAt"] == "described"
    assert time.monotonic() - start < 1.0
    assert adapter.calls == ["DescribeCertificate a"]


def test_an_import_still_in_flight_delays_the_read_at_most_max_wait() -> None:
    adapter = _FakeAdapter()
    times = ImportTimes(cast(AcmAdapter, adapter), max_wait=0.3)
    for arn in ("a", "b"):
        with times.importing(REGION) as got:
            got(arn)
    with times.importing(REGION):  # a third import that does not answer in time
        start = time.monotonic()
        answers = _read_all(times, ["a", "b"])
        waited = time.monotonic() - start

    assert answers == {"a": "listed", "b": "listed"}
    assert 0.3 <= waited < 2.0
    assert adapter.calls == ["ListCertificates"]
