"""Adoption under the shipped IAM policy, and tags: acm-sync removes only what it applied.

Adoption needs consent where the certificate lives (``AdoptionMode.TAGGED``, the default): the
certificate carries this object's owner tag before acm-sync writes anything to it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import replace

from acm_sync.aws.engine import Engine
from acm_sync.core.model import Material
from acm_sync.core.state import OWNER_TAG, AdoptionMode, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import OWNER, desired_for
from tests.certkit import leaf

WRITES = {"ImportCertificate", "AddTagsToCertificate", "RemoveTagsFromCertificate"}


def _by_hand(
    acm: AcmEmulator, material: Material, tags: dict[str, str], *, consent: bool = True
) -> str:
    """A certificate someone imported outside acm-sync, with their own tags; ``consent`` adds
    the owner tag that hands it to ``OWNER`` (what the account's owner does to allow it)."""
    tags = {OWNER_TAG: OWNER.tag_value, **tags} if consent else tags
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


def test_an_untagged_certificate_is_not_adopted_and_not_touched(
    acm: AcmEmulator, engine: Engine
) -> None:
    original = leaf()
    arn = _by_hand(acm, original, {"CostCenter": "42"}, consent=False)
    since = len(acm.calls())
    material = leaf()

    outcome = engine.sync(desired_for(material, adopt_arns={"us-east-1": arn}), material, {})

    blocked = outcome["us-east-1"]
    assert (blocked.state, blocked.reason) == (RegionState.BLOCKED, "AdoptionNotAuthorized")
    assert f"--certificate-arn {arn}" in blocked.message
    assert _writes(acm, since) == []
    assert _tags(acm) == {"CostCenter": "42"}


def test_adoption_any_takes_an_untagged_certificate(
    acm: AcmEmulator, make_engine: Callable[..., Engine]
) -> None:
    arn = _by_hand(acm, leaf(), {}, consent=False)
    material = leaf()
    engine = make_engine(adoption=AdoptionMode.ANY)

    outcome = engine.sync(desired_for(material, adopt_arns={"us-east-1": arn}), material, {})

    assert (outcome["us-east-1"].reason, outcome["us-east-1"].arn) == ("Adopted", arn)


def test_a_refused_reimport_writes_no_tag_first(acm: AcmEmulator, engine: Engine) -> None:
    # The consented certificate serves client and server auth; the Secret's drops server
    # auth, which ACM refuses on reimport. Claiming it first would leave acm-sync's tags on a
    # certificate it then cannot serve.
    arn = _by_hand(acm, leaf(server_auth=True, client_auth=True), {"Name": "lb"})
    since = len(acm.calls())
    narrower = leaf(server_auth=False, client_auth=True)

    outcome = engine.sync(desired_for(narrower, adopt_arns={"us-east-1": arn}), narrower, {})

    assert outcome["us-east-1"].reason == "ReimportUsageRemoved"
    assert _writes(acm, since) == []
    assert _tags(acm) == {OWNER_TAG: OWNER.tag_value, "Name": "lb"}


def test_an_acm_issued_certificate_is_never_claimed(
    acm: AcmEmulator, make_engine: Callable[..., Engine]
) -> None:
    issued = acm.acm.handle("us-east-1", "RequestCertificate", {"DomainName": "app.example.com"})
    arn = str(issued["CertificateArn"])
    since = len(acm.calls())
    material = leaf()
    engine = make_engine(adoption=AdoptionMode.ANY)

    outcome = engine.sync(desired_for(material, adopt_arns={"us-east-1": arn}), material, {})

    assert (outcome["us-east-1"].state, outcome["us-east-1"].reason) == (
        RegionState.BLOCKED,
        "NotImported",
    )
    assert _writes(acm, since) == []
