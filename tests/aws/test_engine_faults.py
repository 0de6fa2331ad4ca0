"""Engine behaviour under ACM's failure modes: lost responses, 5xx, throttling, outages."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from acm_sync.aws.engine import Engine
from acm_sync.core.state import Owner, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import OWNER, desired_for
from tests.certkit import leaf


def _imports(acm: AcmEmulator) -> list[dict[str, object]]:
    return [c for c in acm.calls() if c["api"] == "ImportCertificate"]


def test_lost_response_after_commit_finds_it_no_duplicate(acm: AcmEmulator, engine: Engine) -> None:
    acm.lose_import_responses(1)
    material = leaf()

    outcome = engine.sync(desired_for(material), material, {})["us-east-1"]

    (stored,) = acm.certificates()
    assert outcome.state is RegionState.SYNCED
    assert outcome.reason == "Imported"
    assert outcome.arn == stored["arn"]
    assert len(_imports(acm)) == 1  # never retried blindly


def test_5xx_on_import_looks_up_then_retries_once(acm: AcmEmulator, engine: Engine) -> None:
    acm.fail_next(2, api="ImportCertificate")
    material = leaf()

    outcome = engine.sync(desired_for(material), material, {})["us-east-1"]

    assert outcome.state is RegionState.SYNCED
    assert len(acm.certificates()) == 1
    apis = [c["api"] for c in acm.calls()]
    # each failed import is followed by a lookup before the next import
    first_fail = apis.index("ImportCertificate")
    assert apis[first_fail + 1] == "ListCertificates"
    assert [c["outcome"] for c in _imports(acm)] == ["InternalFailure", "InternalFailure", "ok"]


def test_throttling_storm_ends_in_success_with_bounded_retries(
    acm: AcmEmulator, make_engine: Callable[..., Engine]
) -> None:
    acm.set_rates({"ImportCertificate": 2, "ListCertificates": 4, "ListTagsForCertificate": 8})
    # No client-side limit here, so the emulator throttles and the retries must absorb it.
    # Enough attempts and backoff that the storm drains even on a loaded 2-core CI machine
    # (10 imports at 2/s need 5 s of retrying); still a hard bound per certificate.
    attempts = 12
    engine = make_engine(max_attempts=attempts, backoff_base=0.2, backoff_cap=2.0, region_workers=8)
    owners = [Owner("c-1234", "web", f"site-{i}") for i in range(10)]
    materials = [leaf() for _ in owners]

    with ThreadPoolExecutor(len(owners)) as pool:
        outcomes = list(
            pool.map(
                lambda pair: engine.sync(desired_for(pair[1], owner=pair[0]), pair[1], {}),
                zip(owners, materials, strict=True),
            )
        )

    assert all(o["us-east-1"].state is RegionState.SYNCED for o in outcomes)
    assert len(acm.certificates()) == len(owners)
    calls = acm.calls()
    throttled = sum(c["outcome"] == "ThrottlingException" for c in calls)
    assert throttled > 0  # there was a storm (10 concurrent lookups at 4 lists/s)
    assert len(_imports(acm)) <= len(owners) * attempts  # bounded per certificate
    # the engine's counters (for metrics) saw the same storm
    counted = sum(
        n for (_, _, outcome), n in engine.call_counts().items() if outcome == "ThrottlingException"
    )
    assert counted == throttled


def test_client_side_rate_limit_avoids_throttling(
    acm: AcmEmulator, make_engine: Callable[..., Engine]
) -> None:
    acm.set_rates({"ImportCertificate": 5})
    engine = make_engine(rates={"ImportCertificate": 5.0}, region_workers=4)
    owners = [Owner("c-1234", "web", f"site-{i}") for i in range(6)]

    with ThreadPoolExecutor(len(owners)) as pool:
        list(pool.map(lambda o: engine.sync(desired_for(leaf(), owner=o), leaf(), {}), owners))

    assert all(c["outcome"] == "ok" for c in _imports(acm))


def test_one_region_down_does_not_stop_the_others(
    acm: AcmEmulator, make_engine: Callable[..., Engine]
) -> None:
    acm.set_region_down("eu-west-1")
    engine = make_engine(max_attempts=2)
    material = leaf()

    outcomes = engine.sync(
        desired_for(material, ("us-east-1", "eu-west-1", "ap-south-1")), material, {}
    )

    assert outcomes["us-east-1"].state is RegionState.SYNCED
    assert outcomes["ap-south-1"].state is RegionState.SYNCED
    down = outcomes["eu-west-1"]
    assert down.state is RegionState.PENDING
    assert down.reason == "AwsError"
    assert "eu-west-1" in down.message
    assert down.retry_after is not None
    assert down.arn is None
    assert acm.certificates("eu-west-1") == []


def test_import_quota_exceeded_is_reported(acm: AcmEmulator, engine: Engine) -> None:
    acm.set_import_quota(0)
    material = leaf()

    outcome = engine.sync(desired_for(material), material, {})["us-east-1"]

    assert outcome.state is RegionState.ERROR
    assert outcome.reason == "QuotaExceeded"
    assert "limit" in outcome.message
    assert len(_imports(acm)) == 1  # a quota error is not retried


def test_delete_in_use_is_retried_then_reported(
    acm: AcmEmulator, make_engine: Callable[..., Engine]
) -> None:
    engine = make_engine(max_attempts=3)
    material = leaf()
    record = engine.sync(desired_for(material), material, {})["us-east-1"].record()
    assert record.arn is not None
    acm.set_in_use(record.arn)

    outcome = engine.delete(OWNER, {"us-east-1": record})["us-east-1"]

    assert outcome.state is RegionState.PENDING
    assert outcome.reason == "ResourceInUse"
    assert outcome.retry_after is not None
    assert outcome.arn == record.arn  # still recorded, so the next attempt knows it
    deletes = [c for c in acm.calls() if c["api"] == "DeleteCertificate"]
    assert len(deletes) == 3
    acm.set_in_use(record.arn, False)

    done = engine.delete(OWNER, {"us-east-1": record})["us-east-1"]

    assert done.state is RegionState.SYNCED
    assert done.reason == "Deleted"
    assert done.arn is None
    assert acm.certificates() == []


def test_access_denied_on_the_ownership_tags_reimports_nothing(
    acm: AcmEmulator, engine: Engine
) -> None:
    # A certificate someone imported by hand, untagged, adopted explicitly.
    material = leaf()
    arn = str(
        acm.acm.handle(
            "us-east-1",
            "ImportCertificate",
            {
                "Certificate": _b64(material.certificate),
                "PrivateKey": _b64(material.private_key),
                # The account's consent to hand it to this object.
                "Tags": [{"Key": "acmsync.io/owner", "Value": OWNER.tag_value}],
            },
        )["CertificateArn"]
    )
    acm.fail_next(1, status=400, error="AccessDeniedException", api="AddTagsToCertificate")
    desired = desired_for(material, adopt_arns={"us-east-1": arn})
    before = len(_imports(acm))

    outcome = engine.sync(desired, material, {})["us-east-1"]

    assert outcome.state is RegionState.ERROR
    assert outcome.reason == "AccessDenied"
    # The ownership tags come first: without them nothing is reimported (IAM would refuse).
    assert len(_imports(acm)) == before
    assert outcome.arn is None
    again = engine.sync(desired, material, {"us-east-1": outcome.record()})["us-east-1"]
    assert (again.state, again.reason, again.arn) == (RegionState.SYNCED, "Adopted", arn)
    assert len(_imports(acm)) == before + 1  # the chain ACM lacked, once


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()
