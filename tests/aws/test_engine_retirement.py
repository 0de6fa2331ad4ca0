"""The previous ARN of an ``onKeyChange: ImportNew`` under deletionPolicy Delete: deleted by the
sync once nothing names it, kept while a wired consumer names it or ACM says it is in use (a
load balancer acm-sync did not wire), and the pair stays Synced throughout."""

from __future__ import annotations

from acm_sync.aws.engine import Engine
from acm_sync.core.state import DeletionPolicy, KeyChangePolicy, RegionOutcome, RegionState
from acm_sync_testbed.emulators.acm.server import AcmEmulator
from tests.aws.acm_testkit import desired_for
from tests.certkit import leaf


def _switched(
    acm: AcmEmulator, engine: Engine, policy: DeletionPolicy, *, wired: bool = False
) -> tuple[str, RegionOutcome]:
    """Sync RSA, then EC with ImportNew (``wired``: a consumer names the first ARN);
    (the first ARN, the second sync's outcome)."""
    rsa = leaf("RSA_2048")
    first = engine.sync(desired_for(rsa, deletion_policy=policy), rsa, {})["us-east-1"]
    assert first.arn is not None
    ec = leaf("EC_prime256v1")
    desired = desired_for(
        ec,
        algorithm="EC_prime256v1",
        on_key_change=KeyChangePolicy.IMPORT_NEW,
        deletion_policy=policy,
        consumer_arns=frozenset({first.arn}) if wired else frozenset(),
    )
    return first.arn, engine.sync(desired, ec, {"us-east-1": first.record()})["us-east-1"]


def _arns(acm: AcmEmulator) -> set[str]:
    return {c["arn"] for c in acm.certificates()}


def test_nothing_names_it_so_the_sync_deletes_it(acm: AcmEmulator, engine: Engine) -> None:
    old, outcome = _switched(acm, engine, DeletionPolicy.DELETE)

    assert outcome.state is RegionState.SYNCED
    assert outcome.reason == "ImportedNewKey"
    assert outcome.previous_arn is None
    assert outcome.retired == old
    assert _arns(acm) == {outcome.arn}


def test_retain_keeps_it(acm: AcmEmulator, engine: Engine) -> None:
    old, outcome = _switched(acm, engine, DeletionPolicy.RETAIN)

    assert outcome.previous_arn == old
    assert outcome.retired is None
    assert _arns(acm) == {old, outcome.arn}


def test_a_wired_consumer_naming_it_keeps_it(acm: AcmEmulator, engine: Engine) -> None:
    old, outcome = _switched(acm, engine, DeletionPolicy.DELETE, wired=True)

    assert outcome.state is RegionState.SYNCED
    assert outcome.previous_arn == old
    assert "status.consumers" in outcome.message
    assert _arns(acm) == {old, outcome.arn}
    assert "DeleteCertificate" not in {c["api"] for c in acm.calls()}


def test_in_use_elsewhere_it_is_kept_and_retried_later_without_failing(
    acm: AcmEmulator, engine: Engine
) -> None:
    rsa = leaf("RSA_2048")
    desired = desired_for(rsa, deletion_policy=DeletionPolicy.DELETE)
    first = engine.sync(desired, rsa, {})["us-east-1"]
    assert first.arn is not None
    acm.set_in_use(first.arn)  # a listener acm-sync did not wire
    ec = leaf("EC_prime256v1")
    new_key = desired_for(
        ec,
        algorithm="EC_prime256v1",
        on_key_change=KeyChangePolicy.IMPORT_NEW,
        deletion_policy=DeletionPolicy.DELETE,
    )

    outcome = engine.sync(new_key, ec, {"us-east-1": first.record()})["us-east-1"]

    assert outcome.state is RegionState.SYNCED
    assert outcome.previous_arn == first.arn
    assert outcome.retry_after == engine.settings.in_use_retry_after
    assert "in use by" in outcome.message
    assert first.arn in _arns(acm)

    # Detached: the next pass (nothing else to write) deletes it.
    acm.set_in_use(first.arn, False)
    again = engine.sync(new_key, ec, {"us-east-1": outcome.record()})["us-east-1"]
    assert again.retired == first.arn
    assert again.previous_arn is None
    assert _arns(acm) == {outcome.arn}
