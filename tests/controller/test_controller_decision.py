"""The pure sync decision: when the status alone proves an object in sync, and retry delays."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from acm_sync.controller.sync import decide as decision
from acm_sync.controller.sync.spec import TLS_SECRET_TYPE
from acm_sync.controller.sync.statusfields import Verdict
from acm_sync.controller.sync.statuslayout import pack
from acm_sync.controller.sync.write import new_status
from acm_sync.controller.watch.view import SecretFacts, WatchView, content_hash
from acm_sync.core.state import RegionOutcome, RegionState

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DATA = {"tls.crt": "Y2VydA==", "tls.key": "a2V5", "ca.crt": "Y2E="}
HASH = content_hash(DATA)
ARN = "arn:aws:acm:{}:123456789012:certificate/0f6a1f3e-1c1b-4a55-9d1a-1a2b3c4d5e6f"


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def synced(regions: tuple[str, ...] = ("us-east-1", "eu-west-1")) -> dict[str, Any]:
    """An object whose last full pass found every region in sync."""
    obj = previous_layout(regions)
    obj["status"] = pack(obj["status"])
    obj["status"]["regionList"] = ",".join(regions)
    return obj


def previous_layout(regions: tuple[str, ...] = ("us-east-1", "eu-west-1")) -> dict[str, Any]:
    """``synced()`` as the previous version stored it: digests beside what they describe."""
    return {
        "metadata": {"namespace": "ns", "name": "web", "generation": 2, "resourceVersion": "9"},
        "spec": {"secretName": "web-tls", "regions": list(regions)},
        "status": {
            "observedGeneration": 2,
            "secret": {
                "fingerprint": "f1",
                "contentHash": HASH,
                "notBefore": stamp(NOW - timedelta(days=1)),
                "notAfter": stamp(NOW + timedelta(days=80)),
            },
            "regions": [
                {"region": r, "arn": ARN.format(r), "fingerprint": "f1", "state": "Synced"}
                for r in regions
            ],
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Synced", "message": "imported"},
                {"type": "Warnings", "status": "False", "reason": "NoWarnings", "message": ""},
            ],
        },
    }


def facts(data: dict[str, str] = DATA, secret_type: str = TLS_SECRET_TYPE) -> SecretFacts:
    return SecretFacts.of({"metadata": {"resourceVersion": "5"}, "type": secret_type, "data": data})


def verified(obj: dict[str, Any], seen: SecretFacts | None = None, **kwargs: Any) -> bool:
    return decision.verified_by_status(
        obj, seen or facts(), now=NOW, expiry_warning_days=30, **kwargs
    )


def changed(path: str, value: Any) -> dict[str, Any]:
    """``synced()`` with one field (dotted path, list indexes as numbers) set to ``value``."""
    obj = synced()
    *parents, last = path.split(".")
    node: Any = obj
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is None:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return obj


def test_a_status_written_for_this_content_and_spec_proves_the_object_in_sync() -> None:
    assert verified(synced())


@pytest.mark.parametrize(
    ("obj", "why"),
    [
        (changed("metadata.generation", 3), "the spec changed since"),
        (changed("status.internal.contentHash", None), "a status from before content hashes"),
        (previous_layout(), "the previous version's layout: a full pass rewrites it"),
        (changed("status.regionList", None), "a status from before the REGIONS column"),
        (changed("status.pairs", "2/2"), "a TARGETS column on an object without targets"),
        (changed("spec.regions", ["us-east-1", "eu-west-1", "ap-south-1"]), "a region added"),
        (changed("spec.regions", ["us-east-1"]), "a region removed (delete or retain it)"),
        (changed("status.regions.1.state", "Error"), "a region failed"),
        (
            changed("status.internal.pairs.eu-west-1.fingerprint", "f0"),
            "a region holds an older certificate",
        ),
        (changed("status.regions.0.arn", None), "a region without an ARN"),
        (changed("status.conditions.0.reason", "PartiallySynced"), "not Ready"),
        (changed("spec.suspend", True), "suspended"),
        (changed("spec.targets", [{"target": "prod", "regions": ["us-east-1"]}]), "targets"),
        (
            changed("status.secret.notAfter", stamp(NOW + timedelta(days=10))),
            "ExpiresSoon is due",
        ),
        (
            changed("status.conditions.1.reason", "ExpiresSoon"),
            "the warning must be re-evaluated",
        ),
    ],
)
def test_anything_a_full_pass_would_notice_makes_it_read_the_secret(
    obj: dict[str, Any], why: str
) -> None:
    assert not verified(obj), why


def test_a_changed_secret_or_one_of_another_type_is_read() -> None:
    assert not verified(synced(), facts({**DATA, "tls.key": "b3RoZXI="}))
    assert not verified(synced(), facts({**DATA, "ca.crt": "bmV3IGNh"}))
    assert not verified(synced(), facts(secret_type="Opaque"))


def test_operator_settings_that_refuse_the_spec_force_a_full_pass() -> None:
    assert not verified(synced(), allowed_regions=frozenset({"us-east-1"}))
    adopting = changed("spec.certificateArns", {"us-east-1": ARN.format("us-east-1")})
    assert verified(adopting)
    assert not verified(adopting, adoption_enabled=False)


def test_the_verified_result_rewrites_nothing() -> None:
    obj = synced()
    result = decision.verified_result(obj)
    new = new_status(obj["status"], result, 2, NOW, 30, obj["spec"])
    for field in ("secret", "regions", "observedGeneration", "internal", "regionList"):
        assert new[field] == obj["status"][field]
    ready = new["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("True", "Synced")


def outcome(state: RegionState, retry_after: float | None = None) -> RegionOutcome:
    return RegionOutcome("us-east-1", state, "X", "x", retry_after=retry_after)


def after(*outcomes: RegionOutcome) -> tuple[float | None, bool]:
    result = decision.SyncResult(Verdict(False, "X", "x"), list(outcomes), None)
    return decision.next_run(result)


def test_retries_follow_acm_hints_else_back_off_and_reset_once_synced() -> None:
    assert after(outcome(RegionState.SYNCED)) == (None, False)
    assert after(outcome(RegionState.ERROR)) == (None, True)  # the queue backs off
    hinted = [outcome(RegionState.ERROR, retry_after=0.2), outcome(RegionState.PENDING, 7.0)]
    assert after(*hinted) == (1.0, True)


def test_a_synced_pair_whose_previous_arn_is_still_in_use_looks_again_without_failing() -> None:
    assert after(outcome(RegionState.SYNCED, retry_after=60.0)) == (60.0, False)
    assert after(outcome(RegionState.SYNCED, 60.0), outcome(RegionState.PENDING, 5.0)) == (
        5.0,
        True,
    )


def with_previous(policy: str, consumers: list[str]) -> dict[str, Any]:
    """``synced()`` whose us-east-1 pair keeps an ImportNew's previous ARN."""
    obj = changed(
        "status.regions.0.previousArn", "arn:aws:acm:us-east-1:123456789012:certificate/old"
    )
    obj["spec"]["deletionPolicy"] = policy
    obj["status"]["consumers"] = [
        {"kind": "Ingress", "name": "web", "region": "us-east-1", "arn": arn} for arn in consumers
    ]
    return obj


def test_a_previous_arn_no_consumer_names_needs_a_full_pass_under_delete_only() -> None:
    old = "arn:aws:acm:us-east-1:123456789012:certificate/old"
    assert not verified(with_previous("Delete", []))
    assert not verified(with_previous("Delete", [ARN.format("us-east-1")]))  # switched
    assert verified(with_previous("Delete", [old]))  # a consumer still names it: wait
    assert verified(with_previous("Retain", []))  # kept until the object is deleted


def test_the_view_keeps_a_digest_of_secrets_and_compact_objects() -> None:
    view = WatchView()
    body = {"metadata": {"namespace": "ns", "name": "web-tls", "resourceVersion": "5"}}
    view.secret_event(None, {**body, "type": TLS_SECRET_TYPE, "data": DATA})
    kept = view.secret("ns", "web-tls")
    assert kept is not None
    assert kept.content_hash == HASH
    assert "a2V5" not in repr(view.__dict__)  # tls.key's data is not kept

    obj = copy.deepcopy(synced())
    obj["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    assert view.object_event(None, obj) is True  # first sight
    assert view.object_event("MODIFIED", obj) is False
    assert view.referencing("ns", "web-tls") == [("ns", "web")]
    seen = view.acmcert(("ns", "web"))
    assert seen is not None
    assert "managedFields" not in seen["metadata"]
    # An event older than what is kept (a write's response came first) is ignored.
    older = copy.deepcopy(obj)
    older["metadata"]["resourceVersion"] = "8"
    older["status"]["observedGeneration"] = 1
    view.object_event("MODIFIED", older)
    assert (view.acmcert(("ns", "web")) or {})["status"]["observedGeneration"] == 2
    view.object_event("DELETED", obj)
    assert view.acmcert(("ns", "web")) is None
