"""Every ACM write whose outcome the client cannot know: the call took effect, then the answer
was lost, was a 5xx, or came after the read timeout. The engine must converge with no
duplicate and no lost change (issue 14's emulator faults, one test per write API and kind)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography import x509

from acm_sync.aws.engine import Engine
from acm_sync.core.state import OWNER_TAG, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import OWNER, desired_for
from tests.certkit import leaf

KINDS = ["lost", "5xx-after-commit", "timeout"]


def _arm(acm: AcmEmulator, kind: str, api: str) -> None:
    if kind == "lost":
        acm.lose_responses(1, api=api)
    elif kind == "5xx-after-commit":
        acm.fail_after_commit(1, api=api)
    else:
        acm.add_latency(1, 1.5, api=api)  # past the engine's 0.5 s read timeout


def _faulted(acm: AcmEmulator, api: str) -> list[str]:
    base = api.split(":")[0]
    return [c["outcome"] for c in acm.calls() if c["api"] == base]


def _assert_fired(acm: AcmEmulator, kind: str, api: str) -> None:
    """The fault hit a call that took effect (else the test would prove nothing)."""
    pending = acm.acm.faults.snapshot()
    assert pending["after_commit"] == [], pending
    assert pending["latency"] == [], pending
    expected = {"lost": "ResponseLost", "5xx-after-commit": "InternalFailureAfterCommit"}
    if kind in expected:
        assert expected[kind] in _faulted(acm, api), acm.calls()


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    return make_engine(read_timeout=0.5)


@pytest.mark.parametrize("kind", KINDS)
def test_first_import(acm: AcmEmulator, engine: Engine, kind: str) -> None:
    material = leaf()
    _arm(acm, kind, "ImportCertificate:new")

    outcome = engine.sync(desired_for(material), material, {})["us-east-1"]

    _assert_fired(acm, kind, "ImportCertificate:new")
    (stored,) = acm.certificates()
    assert outcome.state is RegionState.SYNCED, outcome.message
    assert outcome.arn == stored["arn"]


@pytest.mark.parametrize("kind", KINDS)
def test_reimport(acm: AcmEmulator, engine: Engine, kind: str) -> None:
    first = leaf()
    record = engine.sync(desired_for(first), first, {})["us-east-1"].record()
    renewed = leaf()
    _arm(acm, kind, "ImportCertificate:reimport")

    outcome = engine.sync(desired_for(renewed), renewed, {"us-east-1": record})["us-east-1"]
    if outcome.state is not RegionState.SYNCED:  # the next reconcile, as the operator does
        outcome = engine.sync(desired_for(renewed), renewed, {"us-east-1": outcome.record()})[
            "us-east-1"
        ]

    _assert_fired(acm, kind, "ImportCertificate:reimport")
    (stored,) = acm.certificates()
    assert outcome.state is RegionState.SYNCED, outcome.message
    assert outcome.arn == record.arn == stored["arn"]
    serial = x509.load_pem_x509_certificate(renewed.certificate).serial_number
    assert stored["serial"] == format(serial, "x")  # the rotation is not lost
    assert len(_faulted(acm, "ImportCertificate")) >= 2


@pytest.mark.parametrize("kind", KINDS)
def test_add_tags(acm: AcmEmulator, engine: Engine, kind: str) -> None:
    material = leaf()
    record = engine.sync(desired_for(material), material, {})["us-east-1"].record()
    _arm(acm, kind, "AddTagsToCertificate")

    tagged = desired_for(material, tags={"team": "web"})
    outcome = engine.sync(tagged, material, {"us-east-1": record})["us-east-1"]
    if outcome.state is not RegionState.SYNCED:
        outcome = engine.sync(tagged, material, {"us-east-1": outcome.record()})["us-east-1"]

    _assert_fired(acm, kind, "AddTagsToCertificate")
    (stored,) = acm.certificates()
    assert outcome.state is RegionState.SYNCED, outcome.message
    assert stored["tags"]["team"] == "web"


@pytest.mark.parametrize("kind", KINDS)
def test_remove_tags(acm: AcmEmulator, engine: Engine, kind: str) -> None:
    material = leaf()
    tagged = desired_for(material, tags={"team": "web"})
    record = engine.sync(tagged, material, {})["us-east-1"].record()
    _arm(acm, kind, "RemoveTagsFromCertificate")

    untagged = desired_for(material)
    outcome = engine.sync(untagged, material, {"us-east-1": record})["us-east-1"]
    if outcome.state is not RegionState.SYNCED:
        outcome = engine.sync(untagged, material, {"us-east-1": outcome.record()})["us-east-1"]

    _assert_fired(acm, kind, "RemoveTagsFromCertificate")
    (stored,) = acm.certificates()
    assert outcome.state is RegionState.SYNCED, outcome.message
    assert "team" not in stored["tags"]
    assert stored["tags"][OWNER_TAG] == OWNER.tag_value


@pytest.mark.parametrize("kind", KINDS)
def test_delete(acm: AcmEmulator, engine: Engine, kind: str) -> None:
    material = leaf()
    record = engine.sync(desired_for(material), material, {})["us-east-1"].record()
    _arm(acm, kind, "DeleteCertificate")

    outcome = engine.delete(OWNER, {"us-east-1": record})["us-east-1"]
    if acm.certificates() or outcome.state is not RegionState.SYNCED:
        outcome = engine.delete(OWNER, {"us-east-1": outcome.record()})["us-east-1"]

    _assert_fired(acm, kind, "DeleteCertificate")
    assert acm.certificates() == []
    assert outcome.state is RegionState.SYNCED, outcome.message
    assert "DeleteCertificate" in [c["api"] for c in acm.calls()]
