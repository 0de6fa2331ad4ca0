"""Adoption under the shipped IAM policy, and tags: acm-sync removes only what it applied."""

from __future__ import annotations

import base64
from dataclasses import replace

from acm_sync.aws.engine import Engine
from acm_sync.core.model import Material
from acm_sync.core.state import RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import OWNER, desired_for
from tests.certkit import leaf

WRITES = {"ImportCertificate", "AddTagsToCertificate", "RemoveTagsFromCertificate"}


def _by_hand(acm: AcmEmulator, material: Material, tags: dict[str, str]) -> str:
    """A certificate someone imported outside acm-sync, with their own tags."""
    params: dict[str, object] = {
        "Certificate": base64.b64encode(material.certificate).decode(),
        "PrivateKey": base64.b64encode(material.private_key).decode(),
        "CertificateChain": base64.b64encode(material.chain or b"").decode(),
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    return str(acm.acm.handle("us-east-1", "ImportCertificate", params)["CertificateArn"])


def _writes(acm: AcmEmulator, since: int) -> list[tuple[str, str | None, bool]]:
    """(API, ARN, whether the call was a reimport) for each write since call ``since``."""
    return [
        (str(c["api"]), c["arn"], "CertificateArn" in c["params"] and "Tags" not in c["params"])
        for c in acm.calls()[since:]
        if c["api"] in WRITES
    ]


def _tags(acm: AcmEmulator) -> dict[str, str]:
    (stored,) = acm.certificates()
    return dict(stored["tags"])


def test_adoption_tags_ownership_before_the_reimport_and_keeps_foreign_tags(
    acm: AcmEmulator, engine: Engine
) -> None:
    arn = _by_hand(acm, leaf(), {"CostCenter": "42", "Name": "prod-lb"})
    since = len(acm.calls())
    material = leaf()
    desired = desired_for(material, adopt_arns={"us-east-1": arn}, tags={"team": "web"})

    outcome = engine.sync(desired, material, {})["us-east-1"]

    assert (outcome.state, outcome.reason, outcome.arn) == (RegionState.SYNCED, "Adopted", arn)
    # docs/iam-policy.json allows a reimport only of a certificate carrying the owner tags.
    assert _writes(acm, since) == [
        ("AddTagsToCertificate", arn, False),
        ("ImportCertificate", arn, True),
        ("AddTagsToCertificate", arn, False),
    ]
    assert _tags(acm) == {"CostCenter": "42", "Name": "prod-lb", "team": "web"} | (
        OWNER.system_tags()
    )
    assert outcome.managed_tag_keys == ("team",)

    calls = len(acm.calls())
    again = engine.sync(desired, material, {"us-east-1": outcome.record()})["us-east-1"]
    assert again.state is RegionState.SYNCED
    assert len(acm.calls()) == calls  # in sync: not a single call

    dropped = engine.sync(replace(desired, tags={}), material, {"us-east-1": again.record()})
    assert dropped["us-east-1"].state is RegionState.SYNCED
    assert _writes(acm, calls) == [("RemoveTagsFromCertificate", arn, False)]
    assert _tags(acm) == {"CostCenter": "42", "Name": "prod-lb"} | OWNER.system_tags()
    assert dropped["us-east-1"].managed_tag_keys == ()


def test_a_failed_claim_is_claimed_first_again_at_the_next_renewal(
    acm: AcmEmulator, engine: Engine
) -> None:
    material = leaf()
    arn = _by_hand(acm, material, {})  # ACM already holds the content: nothing to reimport
    acm.fail_next(1, status=400, error="AccessDeniedException", api="AddTagsToCertificate")
    desired = desired_for(material, adopt_arns={"us-east-1": arn})
    failed = engine.sync(desired, material, {})["us-east-1"]
    assert (failed.state, failed.reason, failed.arn) == (RegionState.ERROR, "AccessDenied", arn)

    renewed = leaf()
    since = len(acm.calls())
    outcome = engine.sync(
        desired_for(renewed, adopt_arns={"us-east-1": arn}), renewed, {"us-east-1": failed.record()}
    )["us-east-1"]

    assert outcome.state is RegionState.SYNCED
    assert _writes(acm, since) == [
        ("AddTagsToCertificate", arn, False),
        ("ImportCertificate", arn, True),
    ]


def test_tags_set_by_others_after_import_survive_a_spec_change(
    acm: AcmEmulator, engine: Engine
) -> None:
    material = leaf()
    desired = desired_for(material, tags={"team": "web", "env": "prod"})
    first = engine.sync(desired, material, {})["us-east-1"]
    assert first.managed_tag_keys == ("env", "team")
    arn = str(first.arn)
    acm.acm.handle(
        "us-east-1",
        "AddTagsToCertificate",
        {"CertificateArn": arn, "Tags": [{"Key": "Billing", "Value": "x"}]},
    )

    second = engine.sync(
        replace(desired, tags={"team": "api"}), material, {"us-east-1": first.record()}
    )

    assert second["us-east-1"].state is RegionState.SYNCED
    assert _tags(acm) == {"team": "api", "Billing": "x"} | OWNER.system_tags()


def test_a_status_without_managed_keys_removes_no_user_tag(
    acm: AcmEmulator, engine: Engine
) -> None:
    material = leaf()
    desired = desired_for(material, tags={"team": "web"})
    first = engine.sync(desired, material, {})["us-east-1"]
    old_status = replace(first.record(), managed_tag_keys=None)

    after = engine.sync(replace(desired, tags={}), material, {"us-east-1": old_status})

    assert after["us-east-1"].state is RegionState.SYNCED
    assert _tags(acm) == {"team": "web"} | OWNER.system_tags()
    assert after["us-east-1"].managed_tag_keys == ()
